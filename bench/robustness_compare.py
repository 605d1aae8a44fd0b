"""Several robustness reports side by side: per condition the top-1 of each, and the summary that
issue #16's goal reads (clean, mean over conditions, worst drop other than nearest neighbour, the
nearest-neighbour drop).

    .venv/bin/python bench/robustness_compare.py default=runs/bench-default/stage1/robustness.json \\
        all=runs/rob-all/stage1/robustness.json [--views "default views"] [--conditions]

Each argument is name=path to a `robustness.json` (`make robustness`, or a subset of its conditions with
`--conditions`): only the conditions every report has are compared. Prints Markdown.
"""
from __future__ import annotations

import argparse
import json

NEAREST = "down-nearest-q75"


def summary(conditions: dict) -> dict:
    clean = conditions["clean"]["top1"]
    drops = {name: m["top1"] - clean for name, m in conditions.items() if name != "clean"}
    worst = min((name for name in drops if name != NEAREST), key=drops.get)
    return {"clean top-1": clean, "clean macro-F1": conditions["clean"]["macro_f1"],
            "mean top-1 over conditions": sum(m["top1"] for m in conditions.values()) / len(conditions),
            "worst drop (not nearest)": drops[worst], "worst condition": worst,
            "nearest-neighbour drop": drops.get(NEAREST, float("nan"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", nargs="+", help="name=path/to/robustness.json")
    parser.add_argument("--views", default="one pass", help="view set of the reports ('one pass', 'default views')")
    parser.add_argument("--conditions", action="store_true", help="also one row per condition")
    args = parser.parse_args()
    reports = {}
    for item in args.reports:
        name, path = item.split("=", 1)
        reports[name] = json.load(open(path))["view_sets"][args.views]["conditions"]
    names = list(reports)
    shared = [c for c in reports[names[0]] if all(c in r for r in reports.values())]
    left_out = sorted({c for r in reports.values() for c in r} - set(shared))
    if left_out:
        print(f"Compared on the {len(shared)} conditions all reports have; left out: {', '.join(left_out)}\n")
    reports = {name: {c: r[c] for c in shared} for name, r in reports.items()}
    print(f"{args.views}:\n\n| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names))
    summaries = {name: summary(c) for name, c in reports.items()}
    for key in summaries[names[0]]:
        cells = [f"{s[key]:+.3f}" if "drop" in key else (f"{s[key]:.3f}" if isinstance(s[key], float) else s[key])
                 for s in summaries.values()]
        print(f"| {key} | " + " | ".join(cells) + " |")
    if args.conditions:
        print("\nPer condition, top-1 (loss against clean):\n\n| condition | " + " | ".join(names) + " |\n|---|"
              + "---|" * len(names))
        for condition in shared:
            cells = (f"{reports[n][condition]['top1']:.3f} ({reports[n][condition]['top1'] - reports[n]['clean']['top1']:+.3f})"
                     for n in names)
            print(f"| {condition} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
