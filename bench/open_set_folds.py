"""Unknown artists on trained models: the default recipe trained without whole artists, then shown them.

    .venv/bin/python bench/open_set_folds.py --data ../shared/data/best-artworks-128 \
        --preset default,all --out results/open-set-folds-all49

Each fold leaves out the same artists as `open_set_scores.py folds` (seeded, disjoint). The three
stages of PRESET train on the other artists (`--data.exclude_artists`, through `recipe_run.sh`), so
the checkpoint's unknown-artist threshold is calibrated on their validation part as always; then
`make evaluate PART=test UNKNOWN=DATA` scores the known artists' test part (which nothing in
training saw) against every painting of the left-out artists, with the default views and one pass.
Writes fold<k>_{views,plain}.json, each fold's recipe results in <run-prefix><k>/ and
open_set_folds.md (per fold and the mean) to --out. Rerunning resumes: finished stages are kept and
a fold's evaluation JSON, once written, is read back instead of scored again.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from open_set_scores import left_out_artists, markdown  # noqa: E402

from datamodules.discovery import discover  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def train_fold(run: str, left_out: set[str], args) -> None:
    # One shell word for the recipe's `make ... ARGS=...`, whatever the names hold (spaces, accents, quotes).
    exclude = shlex.quote("--data.exclude_artists=" + json.dumps(sorted(left_out), ensure_ascii=False))
    env = {**os.environ, "RUNS": args.runs, "RESULTS": str(args.out), "ARGS": f"{exclude} {args.args}".strip()}
    subprocess.run(["bash", "bench/recipe_run.sh", run, str(args.seed), args.preset, str(args.data)],
                   cwd=REPO, env=env, check=True)


def score_fold(run: str, views: str, out: Path, args) -> dict:
    if out.is_file():
        return json.loads(out.read_text())
    ckpt, split = f"{args.runs}/{run}/stage3/best.ckpt", f"{args.runs}/{run}/split.csv"
    subprocess.run(["make", "evaluate", f"CKPT={ckpt}", f"SPLIT={split}", "PART=test", f"UNKNOWN={args.data}",
                    f"OUT={out}", *(["VIEWS=plain"] if views == "plain" else [])], cwd=REPO, check=True)
    return json.loads(out.read_text())


def row(fold: int, left_out: set[str], views: str, report: dict) -> dict:
    if report["unknown_artists"] != sorted(left_out):  # e.g. a preset that also drops artists
        raise SystemExit(f"fold {fold}: the unknown artists {report['unknown_artists']} are not the ones left out "
                         f"{sorted(left_out)}")
    open_set = report["open_set"]
    return {"fold": fold, "left out": ", ".join(report["unknown_artists"]), "views": views,
            "known test paintings": report["n_images"], "unknown paintings": report["n_unknown_artist"],
            "known macro-F1": report["macro_f1"], "AUROC": open_set["auroc"],
            "FPR at 95% TPR": open_set["fpr_at_95_tpr"], "known rejected": open_set.get("known_rejected"),
            "unknown rejected": open_set.get("unknown_rejected"), "known top-1": open_set["known_top1"],
            "known top-1 with rejection": open_set.get("known_top1_with_rejection")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--preset", default="default,all")
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--fold-size", type=int, default=5)
    parser.add_argument("--fold-seed", type=int, default=0, help="which artists each fold leaves out")
    parser.add_argument("--seed", type=int, default=42,
                        help="training seed (--seed_everything); the split's is data.seed of the configs")
    parser.add_argument("--runs", default="runs")
    parser.add_argument("--run-prefix", default="open-set-fold")
    parser.add_argument("--args", default="", help='more CLI overrides for every stage, as one word: --args="--model.lr=1e-4"')
    parser.add_argument("--out", type=Path, default=Path("results/open-set-folds"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    artists = discover(args.data).index["artist"].unique()
    if args.folds * args.fold_size >= len(artists):
        parser.error(f"{args.folds} folds of {args.fold_size} would leave out {args.folds * args.fold_size} "
                     f"of the {len(artists)} artists; each fold must keep some")
    rows = []
    for fold, left_out in enumerate(left_out_artists(artists, args.folds, args.fold_size, args.fold_seed), start=1):
        run = f"{args.run_prefix}{fold}"
        train_fold(run, left_out, args)
        for views in ("views", "plain"):
            rows.append(row(fold, left_out, views, score_fold(run, views, args.out / f"fold{fold}_{views}.json", args)))
    table = pd.DataFrame(rows)
    means = table.drop(columns=["fold", "left out"]).groupby("views", sort=False).mean().reset_index()
    counts = ["known test paintings", "unknown paintings"]
    means[counts] = means[counts].round().astype(int)
    text = (f"Per fold:\n\n{markdown(table)}\n\nMean over {args.folds} folds:\n\n{markdown(means)}\n")
    (args.out / "open_set_folds.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
