"""Per-stage results and reports.

In the stage folder: `metrics.json` (best epoch's numbers and the per-epoch history),
`per_artist.csv`, `confusions.csv`, `curves.png`, `confusion.png`, `gradcam.png`; in the run
folder: `summary.json` across stages, `data_overview.png`, `augmentation_preview.png` and
`report.md`. With a W&B logger the same analysis goes to W&B as native charts and tables.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image
from pytorch_lightning.callbacks import Callback, ModelCheckpoint
from pytorch_lightning.utilities import rank_zero_only

from callbacks.plots import (heatmap_overlay, plot_augmentation_preview, plot_confusion, plot_curves,
                             plot_data_overview)
from callbacks.run_report import write_run_report
from callbacks.validation_analysis import analyse_validation
from callbacks.wandb_media import log_stage_media
from datamodules.split import atomic_write_text
from lightning_modules.gradcam import grad_cam

log = logging.getLogger(__name__)
REPORTED = ("top1", "top2", "macro_f1", "loss")


def atomic_write_json(path: Path, payload: dict) -> None:
    """Indented JSON, except that each `history` record (with its confusion matrix) is one line:
    a 49-artist stage's file is a fifth of the fully indented size and reads one epoch per line."""
    history = payload.get("history")
    if not isinstance(history, list) or not history or len(payload) == 1:
        atomic_write_text(path, json.dumps(payload, indent=2))
        return
    head = json.dumps({k: v for k, v in payload.items() if k != "history"}, indent=2)
    rows = ",\n".join("    " + json.dumps(record) for record in history)
    atomic_write_text(path, head[:-2] + ',\n  "history": [\n' + rows + "\n  ]\n}")


class StageSummary(Callback):
    """Record train/val metrics every epoch; at the end, report the best epoch.

    Args:
        monitor: metric that defines the best epoch (the checkpoint callback's monitor).
        stage: stage name used in `summary.json`; defaults to the stage folder's name.
        report: also write plots, per-artist and confusion tables, W&B media and `report.md`.
        n_samples: validation predictions (worst mistakes first) in the W&B table.
        n_gradcam: paintings with Grad-CAM overlays.

    The stage folder is the checkpoint callback's folder, so the files land next to `best.ckpt`.
    """

    def __init__(self, monitor: str = "val/macro_f1", stage: str | None = None, report: bool = True,
                 n_samples: int = 48, n_gradcam: int = 6):
        self.monitor, self.stage, self.report = monitor, stage, report
        self.n_samples, self.n_gradcam = n_samples, n_gradcam
        self.history: list[dict] = []

    # ---- recording --------------------------------------------------------------------------
    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Both the epoch's training metrics and its validation metrics are final here.
        logged = trainer.callback_metrics
        record = {"epoch": trainer.current_epoch}
        for name in REPORTED:
            for part in ("val", "train"):
                if f"{part}/{name}" in logged:
                    record[f"{part}_{name}"] = float(logged[f"{part}/{name}"])
        record["lr"] = [group["lr"] for group in trainer.optimizers[0].param_groups] if trainer.optimizers else []
        confusion = getattr(pl_module, "last_confusion", None)
        if confusion is not None:
            record["val_confusion"] = confusion.tolist()  # rows: true artist, columns: predicted
        self.history.append(record)

    # ---- run-level figures, once per run ----------------------------------------------------
    @rank_zero_only
    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        datamodule = trainer.datamodule
        if not self.report or datamodule is None or not hasattr(datamodule, "split"):
            return
        run_dir = Path(datamodule.run_dir)
        try:
            if not (run_dir / "data_overview.png").is_file():
                sizes = []
                for path in datamodule.split["path"]:
                    try:
                        with Image.open(path) as image:
                            sizes.append(image.size)
                    except OSError:
                        continue
                plot_data_overview(datamodule.split, sizes, run_dir / "data_overview.png")
            if not (run_dir / "augmentation_preview.png").is_file() and datamodule.store is not None:
                row = int(np.flatnonzero(datamodule.store.ok)[0])
                original = torch.from_numpy(datamodule.store.pixels[row].copy()).permute(2, 0, 1)
                batch = original.unsqueeze(0).expand(5, -1, -1, -1)
                generator = torch.Generator().manual_seed(0)
                as_images = lambda t: [x.permute(1, 2, 0).numpy() for x in t]  # noqa: E731
                plot_augmentation_preview(  # at the run's own strengths, not the study's defaults
                    original.permute(1, 2, 0).numpy() / 255.0,
                    {name: as_images(datamodule.augmentation(name)(batch, generator))
                     for name in ("rotate_zoom", "flips")},
                    run_dir / "augmentation_preview.png")
        except Exception as error:  # a figure must never cost a training run
            log.warning("Run overview figures failed: %s", error)

    # ---- the stage's results ----------------------------------------------------------------
    @staticmethod
    def best_checkpoint_callback(trainer: pl.Trainer) -> ModelCheckpoint | None:
        """The checkpoint that follows the monitored metric (not the every-epoch last.ckpt)."""
        return next((c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        checkpoint = self.best_checkpoint_callback(trainer)
        if not self.history or checkpoint is None:
            return
        key = "val_" + self.monitor.split("/", 1)[-1]
        best = max(self.history, key=lambda r: r.get(key, float("-inf")))  # first of equals, like ModelCheckpoint
        stage_dir = Path(checkpoint.dirpath)
        stage = self.stage or stage_dir.name
        metrics = {
            "stage": stage,
            **{name: best[f"val_{name}"] for name in REPORTED if f"val_{name}" in best},
            "best_epoch": best["epoch"],
            "epochs": len(self.history),
            "best_checkpoint": str(stage_dir / "best.ckpt"),
            "history": self.history,
        }
        stage_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_json(stage_dir / "metrics.json", metrics)
        summary_path = stage_dir.parent / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        summary[stage] = {k: v for k, v in metrics.items() if k != "history"}
        atomic_write_json(summary_path, dict(sorted(summary.items())))
        if self.report:
            try:
                self._write_reports(trainer, pl_module, stage_dir, stage, best["epoch"])
            except Exception as error:  # reports must never cost the stage's results
                log.warning("Stage report failed: %s", error)
        shown = "  ".join(f"{n} {best['val_' + n]:.3f}" for n in ("top1", "top2", "macro_f1") if f"val_{n}" in best)
        print(f"[{stage}] best epoch {best['epoch']} of {len(self.history)}: validation {shown}", flush=True)

    def _write_reports(self, trainer, pl_module, stage_dir: Path, stage: str, best_epoch: int) -> None:
        plot_curves(self.history, best_epoch, stage_dir / "curves.png", title=stage)
        datamodule = trainer.datamodule
        best_path = self.best_checkpoint_callback(trainer).best_model_path
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
        """Overlays for the most confident right answers and the worst mistakes."""
        order = analysis.worst_first()
        half = max(self.n_gradcam // 2, 1)
        chosen = torch.cat([order[-half:].flip(0), order[:half]]).unique_consecutive()[: self.n_gradcam]
        rows = analysis.rows[chosen]
        pixels = torch.from_numpy(np.stack([datamodule.store.pixels[int(r)] for r in rows])).permute(0, 3, 1, 2)
        images = datamodule.eval_augmentation(pixels).to(model.device)
        cams = grad_cam(model, images, analysis.preds[chosen])
        items = []
        fig, axes = plt.subplots(1, len(chosen), figsize=(2.6 * len(chosen), 3), squeeze=False)
        for ax, i, image, cam in zip(axes[0], chosen.tolist(), images.cpu(), cams):
            overlay = heatmap_overlay(image.permute(1, 2, 0).numpy(), cam.numpy())
            true, pred = analysis.artists[int(analysis.labels[i])], analysis.artists[int(analysis.preds[i])]
            caption = f"true: {true}\npredicted: {pred}"
            items.append((int(analysis.rows[i]), overlay, caption))
            ax.imshow(overlay)
            ax.set_title(caption, fontsize=7, color="black" if true == pred else "red")
            ax.axis("off")
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return items
