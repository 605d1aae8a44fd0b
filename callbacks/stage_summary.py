"""Per-stage results: `metrics.json` in the stage folder and `summary.json` across the run."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.utilities import rank_zero_only

REPORTED = ("top1", "top2", "macro_f1", "loss")


def atomic_write_json(path: Path, payload) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, path)


class StageSummary(Callback):
    """Record validation metrics every epoch; at the end, write the best epoch's numbers.

    Args:
        monitor: metric that defines the best epoch (the checkpoint callback's monitor).
        stage: stage name used in `summary.json`; defaults to the stage folder's name.

    The stage folder is the checkpoint callback's folder, so the files land next to `best.ckpt`.
    """

    def __init__(self, monitor: str = "val/macro_f1", stage: str | None = None):
        self.monitor, self.stage = monitor, stage
        self.history: list[dict] = []

    def on_validation_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        logged = trainer.callback_metrics
        record = {"epoch": trainer.current_epoch}
        for name in REPORTED:
            if f"val/{name}" in logged:
                record[name] = float(logged[f"val/{name}"])
        record["lr"] = [group["lr"] for group in trainer.optimizers[0].param_groups] if trainer.optimizers else []
        self.history.append(record)

    @rank_zero_only
    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.history or trainer.checkpoint_callback is None:
            return
        key = self.monitor.split("/", 1)[-1]
        best = max(self.history, key=lambda r: r.get(key, float("-inf")))  # first of equals, like ModelCheckpoint
        stage_dir = Path(trainer.checkpoint_callback.dirpath)
        stage = self.stage or stage_dir.name
        metrics = {
            "stage": stage,
            **{name: best[name] for name in REPORTED if name in best},
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
        shown = "  ".join(f"{name} {best[name]:.3f}" for name in ("top1", "top2", "macro_f1") if name in best)
        print(f"[{stage}] best epoch {best['epoch']} of {len(self.history)}: validation {shown}", flush=True)
