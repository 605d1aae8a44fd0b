"""Images per second and wall time of finished runs, from their metrics.json and split.csv.

`python bench/gpu_runs.py RUN [RUN ...] --out FILE` (run names under runs/). Training images per
second counts each epoch's training images over its wall time, validation included, as a user waits
for it; `bench/gpu_check.sh` writes the result beside its throughput check.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from reports.time_to_accuracy import stage_metrics


def run_speed(run: Path) -> dict:
    split = pd.read_csv(run / "split.csv")
    train = int((split["split"] == "train").sum())
    stages = {}
    for metrics in stage_metrics(run).values():
        wall = metrics.get("wall_s") or metrics["history"][-1].get("wall_s")
        stages[metrics["stage"]] = {
            "epochs": metrics["epochs"], "stopped_by": metrics.get("stopped_by"), "wall_s": wall,
            "train_img_s": round(train * metrics["epochs"] / wall, 1) if wall else None,
            "val_macro_f1": round(metrics["macro_f1"], 4), "val_top1": round(metrics["top1"], 4),
        }
    return {"train_images": train, "validation_images": int((split["split"] == "val").sum()),
            "artists": int(split["artist"].nunique()), "stages": stages,
            "fit_wall_s": round(sum(s["wall_s"] or 0 for s in stages.values()), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    result = {name: run_speed(Path(args.runs_dir) / name) for name in args.runs}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
