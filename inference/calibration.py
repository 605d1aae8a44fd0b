"""Calibrate a checkpoint's unknown-artist threshold on the validation part of its run, in place."""
from __future__ import annotations

import io
from pathlib import Path

import torch

from fileio import atomic_write_bytes
from inference.open_set import META_KEY, open_set_score, threshold_keeping, views_key
from inference.scoring import artist_labels, known_paintings, predict_logits, validation_part
from lightning_modules.checkpoints import read_checkpoint, rebuild_model
from lightning_modules.classifier import CHECKPOINT_KEY


def calibrate_checkpoint(ckpt, split_csv, view_sets, score: str = "max_softmax", keep_known: float = 0.95,
                         cache_dir=".cache/artist-trainer", batch_size: int = 64) -> dict:
    """Score the validation paintings of `split_csv` with `ckpt` under each set of test-time views,
    set each threshold to keep `keep_known` of them, and store the result in the checkpoint's
    metadata (`open_set`). Returns what was stored."""
    checkpoint = read_checkpoint(ckpt)
    model, meta = rebuild_model(checkpoint), checkpoint[CHECKPOINT_KEY]
    found = validation_part(split_csv)
    store, _ = known_paintings(meta, found, artist_labels(found.index["artist"], meta["artists"]), cache_dir)
    views = list(dict.fromkeys(v for view_set in view_sets for v in view_set))
    logits = predict_logits(model, store.pixels[store.ok], batch_size, views)
    index = {view: i for i, view in enumerate(views)}
    thresholds = {}
    for view_set in view_sets:
        scores = open_set_score(score, logits[[index[v] for v in view_set]])
        thresholds[views_key(view_set)] = threshold_keeping(scores, keep_known)
    calibration = {"score": score, "keep_known": keep_known, "thresholds": thresholds,
                   "n_validation": int(logits.shape[1])}
    checkpoint[CHECKPOINT_KEY][META_KEY] = calibration
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write_bytes(Path(ckpt), buffer.getvalue(), shared_tmp=True)
    return calibration
