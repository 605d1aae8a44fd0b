"""The figures and tables a person reads after a stage, written by `reports/`.

In the stage folder: `per_artist.csv`, `confusions.csv`, `curves.png`, `confusion.png`,
`gradcam.png`; in the run folder: `data_overview.png`, `augmentation_preview.png` and
`report.md`. With a W&B logger the same analysis goes to W&B as native charts and tables.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_only

from callbacks.stage_history import best_checkpoint_callback
from lightning_modules.gradcam import grad_cam
from reports.plots import plot_augmentation_preview, plot_confusion, plot_curves, plot_data_overview, plot_gradcams
from reports.run_report import write_run_report
from reports.validation_analysis import analyse_validation
from reports.wandb_media import log_stage_media
from transforms import AUGMENTATIONS

log = logging.getLogger(__name__)


class StageReport(Callback):
    """Reports of the stage's best weights, written once the stage has ended (after `StageHistory`).

    Args:
        enabled: `False` skips every figure and table (the numbers in metrics.json stay).
        n_samples: validation predictions (worst mistakes first) in the W&B table.
        n_gradcam: paintings with Grad-CAM overlays.

    A report never costs a stage its results: any failure is logged as a warning.
    """

    def __init__(self, enabled: bool = True, n_samples: int = 48, n_gradcam: int = 6):
        self.enabled, self.n_samples, self.n_gradcam = enabled, n_samples, n_gradcam

    # ---- run-level figures, once per run ----------------------------------------------------
    @rank_zero_only
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule = trainer.datamodule
        if not self.enabled or datamodule is None or not hasattr(datamodule, "split"):
            return
        run_dir = Path(datamodule.run_dir)
        try:
            if not (run_dir / "data_overview.png").is_file():
                plot_data_overview(datamodule.split, original_sizes(datamodule.split["path"]),
                                   run_dir / "data_overview.png")
            if not (run_dir / "augmentation_preview.png").is_file() and datamodule.store is not None:
                self._augmentation_preview(datamodule, run_dir / "augmentation_preview.png")
        except Exception as error:  # a figure must never cost a training run
            log.warning("Run overview figures failed: %s", error)

    @staticmethod
    def _augmentation_preview(datamodule, path: Path) -> None:
        """Five draws of every augmentation that changes a painting, at the run's own strengths."""
        row = int(np.flatnonzero(datamodule.store.ok)[0])
        original = torch.from_numpy(datamodule.store.pixels[row].copy()).permute(2, 0, 1)
        batch = original.unsqueeze(0).expand(5, -1, -1, -1)
        generator = torch.Generator().manual_seed(0)
        as_images = lambda t: [x.permute(1, 2, 0).numpy() for x in t]  # noqa: E731
        names = [name for name, cls in AUGMENTATIONS.items() if getattr(cls, "variants", None) != 1]
        plot_augmentation_preview(original.permute(1, 2, 0).numpy() / 255.0,
                                  {name: as_images(datamodule.augmentation(name)(batch, generator)) for name in names},
                                  path)

    # ---- the stage's reports ----------------------------------------------------------------
    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        checkpoint = best_checkpoint_callback(trainer)
        if not self.enabled or checkpoint is None:
            return
        stage_dir = Path(checkpoint.dirpath)
        metrics_path = stage_dir / "metrics.json"
        if not metrics_path.is_file():
            return  # StageHistory wrote nothing: no epoch finished
        try:
            metrics = json.loads(metrics_path.read_text())
            self._write_reports(trainer, pl_module, stage_dir, metrics)
        except Exception as error:  # reports must never cost the stage's results
            log.warning("Stage report failed: %s", error)

    def _write_reports(self, trainer, pl_module, stage_dir: Path, metrics: dict) -> None:
        stage = metrics["stage"]
        plot_curves(metrics["history"], metrics["best_epoch"], stage_dir / "curves.png", title=stage)
        datamodule = trainer.datamodule
        best_path = best_checkpoint_callback(trainer).best_model_path
        if datamodule is None or not best_path or not Path(best_path).is_file():
            write_run_report(stage_dir.parent)
            return
        current = {k: v.detach().clone() for k, v in pl_module.state_dict().items()}
        pl_module.load_state_dict(torch.load(best_path, map_location=pl_module.device, weights_only=True)["state_dict"])
        try:
            analysis = analyse_validation(pl_module, datamodule)
            per_artist = analysis.per_artist()
            per_artist.to_csv(stage_dir / "per_artist.csv", index=False)
            analysis.top_confusions().to_csv(stage_dir / "confusions.csv", index=False)
            plot_confusion(analysis.confusion(), analysis.artists, stage_dir / "confusion.png",
                           title=f"{stage}: validation, best epoch (row-normalised)")
            gradcams = self._gradcam(pl_module, datamodule, analysis, stage_dir / "gradcam.png")
            log_stage_media(trainer, analysis, per_artist, lambda row: np.asarray(datamodule.store.pixels[row]),
                            self.n_samples, gradcams)
        finally:
            pl_module.load_state_dict(current)
        write_run_report(stage_dir.parent)

    def _gradcam(self, model, datamodule, analysis, path: Path) -> list:
        """Overlays for the most confident right answers and the worst mistakes: (row, overlay, caption)."""
        order = analysis.worst_first()
        half = max(self.n_gradcam // 2, 1)
        chosen = torch.cat([order[-half:].flip(0), order[:half]]).unique_consecutive()[: self.n_gradcam]
        rows = analysis.rows[chosen]
        pixels = torch.from_numpy(np.stack([datamodule.store.pixels[int(r)] for r in rows])).permute(0, 3, 1, 2)
        images = datamodule.eval_augmentation(pixels).to(model.device)
        cams = grad_cam(model, images, analysis.preds[chosen])
        truths = [analysis.artists[int(analysis.labels[i])] for i in chosen.tolist()]
        guesses = [analysis.artists[int(analysis.preds[i])] for i in chosen.tolist()]
        overlays = plot_gradcams(images.cpu(), cams, truths, guesses, path)
        return [(int(analysis.rows[i]), overlay, f"true: {t}\npredicted: {g}")
                for i, overlay, t, g in zip(chosen.tolist(), overlays, truths, guesses)]


def original_sizes(paths) -> list[tuple[int, int]]:
    """(width, height) of every readable file, from its header."""
    sizes = []
    for path in paths:
        try:
            with Image.open(path) as image:
                sizes.append(image.size)
        except OSError:
            continue
    return sizes
