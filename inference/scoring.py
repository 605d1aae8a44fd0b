"""Score a checkpoint on labelled paintings: a folder, a manifest, or the validation part of a run's split.

Images of artists the checkpoint does not know are counted and left out of the metrics.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import torch
from torchmetrics.classification import (MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score,
                                         MulticlassPrecision, MulticlassRecall)

from datamodules.artist_names import match_key
from datamodules.decoding import resize_filter_of
from datamodules.discovery import Discovery, discover
from datamodules.image_store import ImageStore
from lightning_modules.checkpoints import CheckpointMismatchError, describe_difference, load_model
from transforms.views import mean_probabilities


@torch.inference_mode()
def predict_probabilities(model, pixels, batch_size: int = 64, views=("plain",)) -> torch.Tensor:
    """Softmax probabilities for (N, S, S, 3) uint8 pixels, averaged over the test-time views."""
    out = []
    for start in range(0, len(pixels), batch_size):
        batch = torch.from_numpy(pixels[start:start + batch_size].copy()).permute(0, 3, 1, 2)
        out.append(mean_probabilities(model, batch, views))
    return torch.cat(out) if out else torch.empty(0, model.hparams.num_classes)


def validation_part(split_csv) -> Discovery:
    """The `val` rows of a run's split.csv (paths as the run recorded them)."""
    split = pd.read_csv(split_csv)
    missing = {"path", "artist", "split"} - set(split.columns)
    if missing:
        raise ValueError(f"{split_csv} is not a run's split.csv: no column(s) {sorted(missing)}")
    val = split.loc[split["split"] == "val", ["path", "artist"]].reset_index(drop=True)
    if val.empty:
        raise ValueError(f"{split_csv} has no validation rows")
    return Discovery(root=Path(split_csv).parent, layout="split", index=val)


def artist_labels(names: pd.Series, artists: list[str]) -> pd.Series:
    """Each painting's label in the checkpoint's artist order; -1 for artists it does not know."""
    label_of = {match_key(name): i for i, name in enumerate(artists)}
    return names.map(lambda a: label_of.get(match_key(a), -1))


def known_paintings(meta: dict, found: Discovery, labels: pd.Series, cache_dir) -> tuple[ImageStore, torch.Tensor]:
    """(image store, labels of the decoded ones) for the paintings by artists the checkpoint knows."""
    known = found.index[labels >= 0].reset_index(drop=True)
    known_labels = torch.tensor(labels[labels >= 0].to_numpy(), dtype=torch.long)
    store = ImageStore.open_or_build(known["path"].tolist(), meta["image_size"], cache_dir,
                                     resize_filter=resize_filter_of(meta))
    return store, known_labels[torch.from_numpy(store.ok)]


def known_probabilities(model, meta: dict, found: Discovery, labels: pd.Series,
                        cache_dir, batch_size: int = 64, views=("plain",)):
    """(probabilities, labels, image store) for the paintings by known artists that decode."""
    store, target = known_paintings(meta, found, labels, cache_dir)
    return predict_probabilities(model, store.pixels[store.ok], batch_size, views), target, store


def evaluate(ckpt, data=None, cache_dir=".cache/artist-trainer", batch_size: int = 64, split=None,
             views=("plain",)) -> dict:
    """Score `ckpt` on every painting under `data`, or on the validation part of `split`.

    Returns top1, top2, macro_f1, n_images, n_skipped, n_unknown_artist, unknown_artists,
    per_artist (precision, recall, f1, support) and confusion (artist names and matrix).
    """
    if (data is None) == (split is None):
        raise ValueError("give either data (a folder or manifest) or split (a run's split.csv)")
    model, meta = load_model(ckpt)
    artists = meta["artists"]
    found = discover(data) if split is None else validation_part(split)
    labels = artist_labels(found.index["artist"], artists)
    if not (labels >= 0).any():
        raise CheckpointMismatchError(
            f"None of the paintings in {data} is by an artist that {ckpt} knows:\n"
            + describe_difference(sorted(found.index["artist"].unique()), list(artists)))
    probs, target, store = known_probabilities(model, meta, found, labels, cache_dir, batch_size, views)
    k = len(artists)
    per_class = dict(
        precision=MulticlassPrecision(k, average="none")(probs, target),
        recall=MulticlassRecall(k, average="none")(probs, target),
        f1=MulticlassF1Score(k, average="none")(probs, target),
    )
    support = torch.bincount(target, minlength=k)
    return {
        "checkpoint": str(ckpt),
        "data": str(data if split is None else f"{split} (validation part)"),
        "views": list(views),
        "top1": float(MulticlassAccuracy(k, top_k=1, average="micro")(probs, target)),
        "top2": float(MulticlassAccuracy(k, top_k=min(2, k), average="micro")(probs, target)),
        "macro_f1": float(MulticlassF1Score(k, average="macro")(probs, target)),
        "n_images": int(len(target)),
        "n_skipped": len(found.skipped) + len(store.failed),
        "n_unknown_artist": int((labels < 0).sum()),
        "unknown_artists": sorted(found.index.loc[labels < 0, "artist"].unique().tolist()),
        "per_artist": {
            name: {"precision": float(per_class["precision"][i]), "recall": float(per_class["recall"][i]),
                   "f1": float(per_class["f1"][i]), "support": int(support[i])}
            for i, name in enumerate(artists)
        },
        "confusion": {"artists": artists,
                      "matrix": MulticlassConfusionMatrix(k)(probs, target).tolist()},
    }
