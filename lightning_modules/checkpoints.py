"""Checkpoints of this project: read them safely, rebuild a model from one, or start a stage from one.

A stage that starts from another copies its best weights only (never a resume of its trainer
state); a resumed stage is Lightning's own `ckpt_path`.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import torch

from lightning_modules.classifier import CHECKPOINT_KEY, ArtistClassifier


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model or data it is asked to serve."""


# Options of earlier versions that changed the pictures before the backbone: weights trained with one
# read pictures prepared otherwise wrongly. Measured and dropped; the commit still has them.
REMOVED_INPUT_OPTIONS = {"exposure_target": None, "input_blur_sigma": 0.0}
REMOVED_IN = "82eec8b"


def removed_option_in(hparams: dict) -> str | None:
    """Why a checkpoint trained with an input option this version no longer has cannot be used here."""
    for key, off in REMOVED_INPUT_OPTIONS.items():
        if hparams.get(key) not in (None, off):
            return (f"was trained with --model.{key} {hparams[key]}, which this version no longer has; "
                    f"score it with the code of commit {REMOVED_IN} (git checkout {REMOVED_IN})")
    return None


class NotACheckpointError(ValueError):
    """A file given as a checkpoint is not one of this project's."""


def what_file_is(path: Path) -> str:
    """A short guess at what a file is, from its first bytes: for messages, never for decisions."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head:
        return "an empty file"
    if path.suffix.lower() == ".onnx" or (head[:1] == b"\x08" and b"pytorch" in head[:64]):
        return "an ONNX model (made by `make export`; run it with onnxruntime, see docs/usage.md)"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive"
    if head[:1] == b"\x80":
        return "a pickle file"
    if head.startswith((b"\xff\xd8", b"\x89PNG")):
        return "an image"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary file"
    return "a CSV file" if "," in text.splitlines()[0] else "a text file"


def read_checkpoint(path) -> dict:
    """Load a checkpoint of this project without unpickling arbitrary objects; NotACheckpointError
    (one line: what the file seems to be) for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch's own message advises unpickling, which a checkpoint of ours never needs
        raise NotACheckpointError(f"{path} is not a checkpoint of this project: it looks like "
                                  f"{what_file_is(path)}") from None
    if not isinstance(checkpoint, dict) or CHECKPOINT_KEY not in checkpoint or "state_dict" not in checkpoint:
        raise NotACheckpointError(f"{path} is a PyTorch file but not a checkpoint of this project "
                                  f"(no '{CHECKPOINT_KEY}' metadata): give a stage's best.ckpt or last.ckpt")
    return checkpoint


def init_args(cls, hparams: dict) -> dict:
    """The entries of saved hyper-parameters that `cls` takes: LightningCLI adds bookkeeping keys
    (e.g. `_instantiator`) that are not constructor arguments."""
    accepted = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in hparams.items() if k in accepted}


def rebuild_model(checkpoint: dict) -> ArtistClassifier:
    """The model of a checkpoint already read, in eval mode."""
    removed = removed_option_in(checkpoint["hyper_parameters"])
    if removed:
        raise CheckpointMismatchError(f"the checkpoint {removed}")
    model = ArtistClassifier(**{**init_args(ArtistClassifier, checkpoint["hyper_parameters"]), "pretrained": False})
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    return model.eval()


def load_model(path) -> tuple[ArtistClassifier, dict]:
    """Rebuild the model from a checkpoint alone, in eval mode; returns it and the checkpoint's
    metadata (artists in label order, image size, normalisation, backbone, head, open-set threshold)."""
    checkpoint = read_checkpoint(path)
    return rebuild_model(checkpoint), checkpoint[CHECKPOINT_KEY]


def describe_difference(expected: list[str], found: list[str]) -> str:
    missing = [a for a in expected if a not in found]
    extra = [a for a in found if a not in expected]
    lines = [f"  checkpoint: {len(found)} artists; data: {len(expected)} artists"]
    if missing:
        lines.append(f"  only in the data: {', '.join(missing)}")
    if extra:
        lines.append(f"  only in the checkpoint: {', '.join(extra)}")
    if not missing and not extra:
        lines.append("  same artists in a different label order")
    return "\n".join(lines)


# The model options that decide which tensors a network has.
ARCHITECTURE = ("backbone", "head", "spp_bins", "dense_units")


def describe_architecture_difference(saved: dict, current: dict) -> str:
    lines = [f"  {key}: {saved.get(key)!r} in the checkpoint, {current.get(key)!r} here"
             for key in ARCHITECTURE if key in saved and list_or_value(saved[key]) != list_or_value(current.get(key))]
    return "\n".join(lines) or "  (same options; the tensors still differ)"


def list_or_value(value):
    return list(value) if isinstance(value, (list, tuple)) else value


def init_weights_from(model: torch.nn.Module, path, artists: list[str] | None = None,
                      image_size: int | None = None) -> dict:
    """Copy a checkpoint's weights into `model` (strict); returns the checkpoint's metadata."""
    checkpoint = read_checkpoint(path)
    meta = checkpoint.get(CHECKPOINT_KEY, {})
    if artists is not None and meta.get("artists") and list(meta["artists"]) != list(artists):
        raise CheckpointMismatchError(
            f"{path} was trained on other artists than this data:\n"
            + describe_difference(list(artists), list(meta["artists"])))
    if image_size is not None and meta.get("image_size") not in (None, image_size):
        raise CheckpointMismatchError(
            f"{path} was trained at {meta['image_size']} px, this run uses {image_size} px")
    removed = removed_option_in(checkpoint.get("hyper_parameters", {}))
    if removed:
        raise CheckpointMismatchError(f"{path} {removed}")
    try:
        model.load_state_dict(checkpoint["state_dict"], strict=True)
    except RuntimeError as error:
        current = dict(getattr(model, "hparams", {}))
        raise CheckpointMismatchError(
            f"{path} holds a different network than this stage builds:\n"
            + describe_architecture_difference(checkpoint.get("hyper_parameters", {}), current)
            + "\nA stage that starts from another must use the same --model.backbone, --model.head, "
              "--model.spp_bins and --model.dense_units (to search heads on one backbone: make sweep).") from error
    return meta
