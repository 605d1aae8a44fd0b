"""Several robustness reports side by side: per condition the top-1 of each, and the summary that
issue #16's goal reads (clean, mean over conditions, worst drop other than nearest neighbour, the
nearest-neighbour drop).

    .venv/bin/python bench/robustness_compare.py default=runs/bench-default/stage1/robustness.json \\
        all=runs/rob-all/stage1/robustness.json [--views "default views"] [--conditions]

Each argument is name=path to a `robustness.json` (`make robustness`, or `python -m artist_cli.robustness`
on some of the conditions): only the conditions every report has are compared. Prints Markdown.
"""
from __future__ import annotations

import argparse
import json

from inference.robustness import NEAREST


def summary(conditions: dict) -> dict:
    clean = conditions["clean"]["top1"]
    drops = {name: m["top1"] - clean for name, m in conditions.items() if name != "clean"}
    others = [name for name in drops if name not in NEAREST]
    worst = min(others, key=drops.get) if others else None
    result = {"clean top-1": clean, "clean macro-F1": conditions["clean"]["macro_f1"],
              "mean top-1 over conditions": sum(m["top1"] for m in conditions.values()) / len(conditions),
              "worst drop (not nearest)": drops[worst] if worst else float("nan"), "worst condition": worst or "-"}
    for name in NEAREST:
        if name in drops:
            result["nearest-neighbour drop"] = drops[name]
    return result


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
    if "clean" not in shared:
        parser.error("every report needs the clean condition")
    left_out = {name: sorted(set(r) - set(shared)) for name, r in reports.items() if set(r) - set(shared)}
    if left_out:
        print(f"Compared on the {len(shared)} conditions all reports have; left out: "
              + "; ".join(f"{', '.join(c)} (in {name})" for name, c in left_out.items()) + "\n")
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
