"""Time to accuracy on the embedded sample: the default recipe against the study's (`PRESET=seed`)
at the same backbone and image size, both three stages end to end in the same `make bench` run.

Minutes until the running best validation macro-F1 of the three stages first reaches `target`
(`reports.time_to_accuracy.minutes_to_reach`, from each epoch's recorded `wall_s`). The split is the
same for both (the seed run keeps the default's test part), so only the recipe differs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from reports.time_to_accuracy import curve, minutes_to_reach

REPO = Path(__file__).resolve().parents[1]
# The study's recipe with the default's backbone and size, so the comparison is the recipe alone.
SEED_AT_DEFAULT_SIZE = ("--model.backbone=efficientnet_lite0 --data.image_size=128 --data.test_fraction=0.1")


def train(run: str, preset: str, args: str = "") -> float:
    """Wall seconds of `make stage1 stage2 stage3` for a fresh run on the embedded sample."""
    shutil.rmtree(REPO / "runs" / run, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run(["make", "stage1", "stage2", "stage3", f"RUN={run}", f"PRESET={preset}",
                    f"ARGS=--trainer.enable_progress_bar=false {args}".strip()],
                   cwd=REPO, check=True, env=dict(os.environ, WANDB_MODE="disabled"))
    return time.perf_counter() - start


def summary(run: Path, target: float) -> dict:
    minutes, best, _ = curve(run)
    return {"minutes_to_target": minutes_to_reach(run, target), "training_minutes": round(minutes[-1], 2),
            "best_val_macro_f1": round(best[-1], 4)}


def time_to_accuracy(target: float = 0.65, default_run: str = "bench-default", seed_run: str = "bench-seed-lite0-128",
                     train_default: bool = False) -> dict:
    """The `time_to_accuracy` entry of bench/results.json (trains the runs it needs)."""
    if train_default or not (REPO / "runs" / default_run / "stage3" / "metrics.json").is_file():
        train(default_run, "default")
    train(seed_run, "seed", SEED_AT_DEFAULT_SIZE)
    default, seed = summary(REPO / "runs" / default_run, target), summary(REPO / "runs" / seed_run, target)
    ratio = (seed["minutes_to_target"] / default["minutes_to_target"]
             if default["minutes_to_target"] and seed["minutes_to_target"] else None)
    return {"time_to_accuracy": {"target_val_macro_f1": target, "default": default,
                                 f"seed ({SEED_AT_DEFAULT_SIZE})": seed, "seed_over_default": ratio}}
