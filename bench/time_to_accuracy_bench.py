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


def summary(run: Path, target: float, wall_seconds: float | None = None) -> dict:
    """Minutes to `target` counted in epochs (each stage's start-up and feature cache are not in the
    curve), and the wall-clock minutes of the whole `make` when it was timed here."""
    minutes, best, _ = curve(run)
    part = {"minutes_to_target": minutes_to_reach(run, target), "training_minutes": round(minutes[-1], 2),
            "best_val_macro_f1": round(best[-1], 4)}
    if wall_seconds is not None:
        part["wall_minutes"] = round(wall_seconds / 60, 2)
    return part


def time_to_accuracy(target: float = 0.65, default_seconds: float | None = None, default_run: str = "bench-default",
                     seed_run: str = "bench-seed-lite0-128") -> dict:
    """The `time_to_accuracy` entry of bench/results.json. Trains the seed run, and the default run
    too unless `default_seconds` says it was just trained (by `make bench`'s own default run)."""
    if default_seconds is None:
        default_seconds = train(default_run, "default")
    seed_seconds = train(seed_run, "seed", SEED_AT_DEFAULT_SIZE)
    default = summary(REPO / "runs" / default_run, target, default_seconds)
    seed = summary(REPO / "runs" / seed_run, target, seed_seconds)
    ratio = (seed["minutes_to_target"] / default["minutes_to_target"]
             if default["minutes_to_target"] and seed["minutes_to_target"] else None)
    return {"time_to_accuracy": {"target_val_macro_f1": target, "default": default,
                                 f"seed ({SEED_AT_DEFAULT_SIZE})": seed, "seed_over_default": ratio}}


def table_rows(tta: dict) -> list[tuple[str, str, str]]:
    """The rows of bench/results.md for the `time_to_accuracy` entry."""
    seed_key = next(key for key in tta if key.startswith("seed ("))

    def reached(part: dict) -> str:
        wall = f"; {part['wall_minutes']:.1f} min wall clock" if "wall_minutes" in part else ""
        if part["minutes_to_target"] is None:
            return f"not reached in {part['training_minutes']:.1f} min of epochs (best {part['best_val_macro_f1']:.3f}{wall})"
        return (f"{part['minutes_to_target']:.1f} min of epochs (best {part['best_val_macro_f1']:.3f} after "
                f"{part['training_minutes']:.1f}{wall})")
    ratio = tta["seed_over_default"]
    return [(f"time to validation macro-F1 {tta['target_val_macro_f1']:.2f}, embedded sample, `default`",
             reached(tta["default"]), ""),
            ("the same, the study's recipe (`PRESET=seed`) with Lite0 at 128 px", reached(tta[seed_key]),
             f"seed / default = {ratio:.2f}" if ratio else "no ratio: a run never reached it")]
