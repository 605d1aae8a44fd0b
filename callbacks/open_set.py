"""At the end of a stage, calibrate the unknown-artist threshold of its best checkpoint."""
from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_only

from callbacks.stage_history import best_checkpoint_callback
from inference.open_set import SCORES

log = logging.getLogger(__name__)


class OpenSetCalibration(Callback):
    """Store in best.ckpt the open-set score threshold that keeps `keep_known` of the validation
    paintings, for one pass and for the default test-time views (`inference.calibration`).

    Args:
        score: `max_softmax`, `max_logit` or `energy` (`inference.open_set.SCORES`).
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
        from inference.calibration import calibrate_checkpoint  # inference imports the model package
        from transforms.views import default_views
        calibration = calibrate_checkpoint(best, datamodule.run_dir / "split.csv", [["plain"], default_views()],
                                           self.score, self.keep_known, datamodule.hparams.cache_dir)
        thresholds = ", ".join(f"{views}: {value:.3f}" for views, value in calibration["thresholds"].items())
        print(f"[open set] {self.score} thresholds keeping {self.keep_known:.0%} of {calibration['n_validation']} "
              f"validation paintings ({thresholds}) stored in {best}", flush=True)
