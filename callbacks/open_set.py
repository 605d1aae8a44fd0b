"""At the end of a stage, calibrate the unknown-artist threshold of its best checkpoint."""
from __future__ import annotations

import io
import logging
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_only

from callbacks.stage_history import best_checkpoint_callback
from datamodules.artist_names import artist_labels
from datamodules.image_store import known_paintings
from datamodules.split import validation_part
from fileio import atomic_write_bytes
from lightning_modules.checkpoints import read_checkpoint, rebuild_model
from lightning_modules.classifier import CHECKPOINT_KEY
from lightning_modules.open_set import META_KEY, SCORES, open_set_score, threshold_keeping, views_key
from transforms.views import default_views, predict_logits

log = logging.getLogger(__name__)


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


class OpenSetCalibration(Callback):
    """Store in best.ckpt the open-set score threshold that keeps `keep_known` of the validation
    paintings, for one pass and for the default test-time views (`calibrate_checkpoint`).

    Args:
        score: `max_softmax`, `max_logit` or `energy` (`lightning_modules.open_set.SCORES`).
        keep_known: share of known-artist validation paintings above the threshold.
        enabled: off skips the calibration (predict then never answers "unknown artist").
    """

    def __init__(self, score: str = "max_softmax", keep_known: float = 0.95, enabled: bool = True):
        if score not in SCORES:
            raise ValueError(f"unknown open-set score {score!r}; choose from {', '.join(SCORES)}")
        if not 0.0 < keep_known <= 1.0:
            raise ValueError(f"keep_known must lie in (0, 1], got {keep_known}")
        self.score, self.keep_known, self.enabled = score, keep_known, enabled

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        callback = best_checkpoint_callback(trainer)
        best = Path(callback.best_model_path) if callback and callback.best_model_path else None
        datamodule = trainer.datamodule
        if not self.enabled or best is None or not best.is_file() or trainer.interrupted or datamodule is None:
            return
        calibration = calibrate_checkpoint(best, datamodule.run_dir / "split.csv", [["plain"], default_views()],
                                           self.score, self.keep_known, datamodule.hparams.cache_dir)
        thresholds = ", ".join(f"{views}: {value:.3f}" for views, value in calibration["thresholds"].items())
        print(f"[open set] {self.score} thresholds keeping {self.keep_known:.0%} of {calibration['n_validation']} "
              f"validation paintings ({thresholds}) stored in {best}", flush=True)
