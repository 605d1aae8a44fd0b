"""Weights-only initialisation from a checkpoint (never a resume of its trainer state)."""
from __future__ import annotations

from pathlib import Path

import torch

from lightning_modules.classifier import CHECKPOINT_KEY


class CheckpointMismatchError(ValueError):
    """A checkpoint does not fit the model or data it is asked to serve."""


def read_checkpoint(path) -> dict:
    """Load a Lightning checkpoint without unpickling arbitrary objects."""
    return torch.load(Path(path), map_location="cpu", weights_only=True)


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
    model.load_state_dict(checkpoint["state_dict"], strict=True)
    return meta
