"""Each stage's numbers: the per-epoch history and the best epoch, in `metrics.json` and `summary.json`."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, EarlyStopping, ModelCheckpoint, Timer

from fileio import atomic_write_json
from reports.wandb_media import wandb_loggers

REPORTED = ("top1", "top2", "macro_f1", "loss", "consistency")  # consistency: training, with --model.consistency_weight


def best_checkpoint_callback(trainer: pl.Trainer) -> ModelCheckpoint | None:
    """The checkpoint that follows the monitored metric (not the every-epoch last.ckpt)."""
    return next((c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)


def shown_path(path: Path) -> str:
    """`path` relative to the working folder when it lies inside it (runs/<run>/...), else absolute:
    a metrics.json copied into results/ then names no folder of the machine it was made on."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def stop_reason(trainer: pl.Trainer, pl_module: pl.LightningModule) -> str:
    """Why a stage ended: `lr_floor`, `early_stopping`, `max_time`, `max_epochs` or `interrupted`."""
    reason = getattr(pl_module, "stop_reason", None)  # set by the model when the LR hits its floor
    if reason:
        return reason
    for callback in trainer.callbacks:
        if isinstance(callback, EarlyStopping) and callback.stopped_epoch > 0:
            return "early_stopping"
        if isinstance(callback, Timer) and (callback.time_remaining() or 0) <= 0:
            return "max_time"
    if trainer.max_epochs is not None and trainer.max_epochs >= 0 and trainer.current_epoch >= trainer.max_epochs:
        return "max_epochs"
    if trainer.max_steps is not None and 0 <= trainer.max_steps <= trainer.global_step:
        return "max_steps"
    return "interrupted" if trainer.interrupted else "other"


def learning_rates(trainer: pl.Trainer) -> list[float]:
    return [group["lr"] for group in trainer.optimizers[0].param_groups] if trainer.optimizers else []


def rank_states(trainer: pl.Trainer, pl_module: pl.LightningModule) -> list[dict]:
    """Each process's epoch, learning rate and parameter checksum at the end of the stage, gathered
    from every rank: under DDP they must be equal (the same schedule and stop on synced metrics)."""
    checksum = float(sum(p.detach().double().sum() for p in pl_module.parameters()).item())
    state = {"epoch": trainer.current_epoch, "lr": learning_rates(trainer), "parameter_checksum": round(checksum, 6)}
    if trainer.world_size > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
        states: list = [None] * trainer.world_size
        torch.distributed.all_gather_object(states, state)
        return states
    return [state]


class StageHistory(Callback):
    """Record train/val metrics every epoch; at the end, write the best epoch's numbers.

    Args:
        monitor: metric that defines the best epoch (the checkpoint callback's monitor).
        stage: stage name used in `summary.json`; defaults to the stage folder's name.

    Writes `metrics.json` (best epoch's numbers, why the stage stopped, and the per-epoch history
    with the wall-clock seconds since the stage started and the validation confusion matrix) into
    the stage folder, which is the checkpoint callback's folder, and adds the stage to the run's
    `summary.json`. The history travels in checkpoints: a resumed stage keeps its earlier epochs
    and counts its wall time on from where it stopped.
    """

    def __init__(self, monitor: str = "val/macro_f1", stage: str | None = None):
        self.monitor, self.stage = monitor, stage
        self.history: list[dict] = []
        self._started = None

    def state_dict(self) -> dict:
        return {"history": self.history}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict.get("history", []))

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        earlier = self.history[-1].get("wall_s", 0.0) if self.history else 0.0
        self._started = time.perf_counter() - earlier

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Both the epoch's training metrics and its validation metrics are final here.
        logged = trainer.callback_metrics
        record = {"epoch": trainer.current_epoch}
        for name in REPORTED:
            for part in ("val", "train"):
                if f"{part}/{name}" in logged:
                    record[f"{part}_{name}"] = float(logged[f"{part}/{name}"])
        record["lr"] = learning_rates(trainer)
        if self._started is not None:
            record["wall_s"] = round(time.perf_counter() - self._started, 2)
        confusion = getattr(pl_module, "last_confusion", None)
        if confusion is not None:
            record["val_confusion"] = confusion.tolist()  # rows: true artist, columns: predicted
        self.history.append(record)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Every rank, so the gather below cannot hang; then rank 0 alone writes.
        ranks = rank_states(trainer, pl_module)
        if trainer.is_global_zero:
            self._write(trainer, pl_module, ranks)

    def _write(self, trainer: pl.Trainer, pl_module: pl.LightningModule, ranks: list[dict]) -> None:
        checkpoint = best_checkpoint_callback(trainer)
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
            "stopped_by": stop_reason(trainer, pl_module),
            "world_size": trainer.world_size,
            "ranks_agree": all(r == ranks[0] for r in ranks[1:]),
            "ranks": ranks,
            "wall_s": self.history[-1].get("wall_s"),
            "best_checkpoint": shown_path(stage_dir / "best.ckpt"),
            "history": self.history,
        }
        atomic_write_json(stage_dir / "metrics.json", metrics)
        summary_path = stage_dir.parent / "summary.json"
        summary = json.loads(summary_path.read_text()) if summary_path.is_file() else {}
        summary[stage] = {k: v for k, v in metrics.items() if k != "history"}
        atomic_write_json(summary_path, dict(sorted(summary.items())))
        for logger in wandb_loggers(trainer):
            # W&B's run summary keeps each metric's last logged value; the stage's result is its best
            # epoch (what best.ckpt holds and metrics.json says).
            logger.experiment.summary.update({f"val/{n}": best[f"val_{n}"] for n in REPORTED if f"val_{n}" in best}
                                             | {"best_epoch": best["epoch"]})
        shown = "  ".join(f"{n} {best['val_' + n]:.3f}" for n in ("top1", "top2", "macro_f1") if f"val_{n}" in best)
        print(f"[{stage}] best epoch {best['epoch']} of {len(self.history)}: validation {shown}", flush=True)
