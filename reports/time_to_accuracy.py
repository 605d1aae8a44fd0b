"""Validation macro-F1 against wall-clock minutes, the three stages end to end, from runs' metrics.json.

    python -m reports.time_to_accuracy runs/a=label runs/b ... --out time_to_accuracy.png

A run is a run folder (`stageN/metrics.json`) or a results folder (`stageN_metrics.json`). Each
epoch's minutes come from its `wall_s` (recorded since 2026-11-30); for older runs give the
measured seconds per epoch of each stage (`--epoch-seconds default-all49=stage1:83,stage2:14,stage3:84`),
which also replace a run's own times (a run that shared its cores or was paused): such curves are
drawn dashed and labelled estimated. A stage's curve is its running best, the
score its best.ckpt holds at that moment.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STAGES = ("stage1", "stage2", "stage3")


def stage_metrics(run: Path) -> dict[str, dict]:
    found = {}
    for stage in STAGES:
        for path in (run / stage / "metrics.json", run / f"{stage}_metrics.json"):
            if path.is_file():
                found[stage] = json.loads(path.read_text())
                break
    return found


def curve(run: Path, epoch_seconds: dict[str, float] | None = None, metric: str = "val_macro_f1"):
    """(minutes, running best) per epoch over the stages in order, and whether times are estimated."""
    minutes, best, offset, estimated = [], [], 0.0, False
    for stage, metrics in stage_metrics(run).items():
        running, end = float("-inf"), offset
        for i, record in enumerate(metrics["history"]):
            if epoch_seconds and stage in epoch_seconds:  # given seconds beat recorded ones (e.g. a paused run)
                end, estimated = offset + (i + 1) * epoch_seconds[stage] / 60, True
            elif "wall_s" in record:
                end = offset + record["wall_s"] / 60
            else:
                raise ValueError(f"{run}: {stage} has no wall_s per epoch; pass --epoch-seconds for it")
            running = max(running, record.get(metric, float("-inf")))
            minutes.append(end)
            best.append(running)
        offset = end
    return minutes, best, estimated


def minutes_to_reach(run: Path, target: float, metric: str = "val_macro_f1") -> float | None:
    """Wall-clock minutes until the running best first reaches `target` (None: never)."""
    minutes, best, _ = curve(run, metric=metric)
    return next((m for m, b in zip(minutes, best) if b >= target), None)


def plot(runs: list[tuple[Path, str]], out: Path, epoch_seconds: dict[str, dict[str, float]]) -> None:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for run, label in runs:
        minutes, best, estimated = curve(run, epoch_seconds.get(label) or epoch_seconds.get(run.name))
        ax.step(minutes, best, where="post", linestyle="--" if estimated else "-",
                label=label + (" (times estimated)" if estimated else ""))
    ax.set_xlabel("wall-clock minutes, stages 1-3 (2 CPU cores)")
    ax.set_ylabel("validation macro-F1 (running best, one pass)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def parse_epoch_seconds(items: list[str]) -> dict[str, dict[str, float]]:
    parsed = {}
    for item in items:
        name, stages = item.split("=", 1)
        parsed[name] = {stage: float(sec) for stage, sec in (pair.split(":") for pair in stages.split(","))}
    return parsed


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="run or results folders, each optionally =label")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epoch-seconds", nargs="*", default=[], help="LABEL=stage1:S,stage2:S,stage3:S")
    args = parser.parse_args(argv)
    runs = [(Path(r.split("=", 1)[0]), r.split("=", 1)[-1] if "=" in r else Path(r).name) for r in args.runs]
    plot(runs, args.out, parse_epoch_seconds(args.epoch_seconds))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
