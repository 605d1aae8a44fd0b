"""Mean and spread of a recipe over seeds: the headline row of the README from the runs' own files.

    python -m reports.seeds results/default-cosine-all49 results/default-cosine-all49-seed1

Each folder holds `make evaluate` reports of stage 3 (`stage3_{views,plain}_{test,val}.json`) and
`wall_clock.json`, as `bench/recipe_run.sh` leaves them in results/RUN.
Prints one line per measure: the mean, the spread (half the range: with two seeds, each is mean ±
spread) and every seed's value; `--json` prints the same as JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# (label, file, key): what the headline table reports.
MEASURES = [
    ("test macro-F1, one pass", "stage3_plain_test.json", "macro_f1"),
    ("test macro-F1, views", "stage3_views_test.json", "macro_f1"),
    ("test top-1, one pass", "stage3_plain_test.json", "top1"),
    ("test top-1, views", "stage3_views_test.json", "top1"),
    ("test top-2, views", "stage3_views_test.json", "top2"),
    ("validation macro-F1, one pass", "stage3_plain_val.json", "macro_f1"),
    ("validation macro-F1, views", "stage3_views_val.json", "macro_f1"),
]


def run_values(folder: Path) -> dict[str, float]:
    """The measures one run has (a missing report leaves its measures out)."""
    reports = {name: json.loads((folder / name).read_text())
               for name in {name for _, name, _ in MEASURES} | {"wall_clock.json"} if (folder / name).is_file()}
    values = {label: float(reports[name][key]) for label, name, key in MEASURES if name in reports}
    if "wall_clock.json" in reports:
        values["wall minutes, 3 stages"] = reports["wall_clock.json"]["total_s"] / 60
    sampling = reports.get("stage3_views_test.json", {}).get("macro_f1_sampling_error")
    if sampling:
        values["test macro-F1 sampling error (std), views"] = sampling["std"]
    return values


def spread(folders: list[Path]) -> dict[str, dict]:
    """Per measure that every run has: mean, spread (half the range) and the values in run order."""
    runs = [run_values(folder) for folder in folders]
    common = [label for label in runs[0] if all(label in run for run in runs)]
    summary = {}
    for label in common:
        values = [run[label] for run in runs]
        summary[label] = {"mean": sum(values) / len(values), "spread": (max(values) - min(values)) / 2,
                          "values": values}
    return summary


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="one results (or runs) folder per seed")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    missing = [str(f) for f in args.folders if not f.is_dir()]
    if missing:
        sys.exit(f"error: not a folder: {', '.join(missing)}")
    summary = spread(args.folders)
    if not summary:
        sys.exit("error: no measure is in every folder (expected stage3_views_test.json and the like)")
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    for label, s in summary.items():
        digits = 1 if "minutes" in label else 3
        each = ", ".join(f"{v:.{digits}f}" for v in s["values"])
        print(f"{label:<42} {s['mean']:.{digits}f} ±{s['spread']:.{digits}f}  ({each})")


if __name__ == "__main__":
    main()
