"""A pair of models routed by how soft the input is: what issue #16's blur loss would be if soft paintings
went to a model trained on soft paintings (`artist_cli.condition_specialist`) and the rest to the main one.

    .venv/bin/python bench/routed_pair.py --main runs/RUN/stage3/best.ckpt \\
        --soft runs/spec-blur-1.2-long24-all49/stage1/last.ckpt --split runs/RUN/split.csv \\
        --conditions clean,blur-0.6,blur-1.2 --out results/RUN/routed_pair.json

Softness is `blur_ratio`: mean absolute Laplacian over mean absolute gradient of the grey picture as the
loader made it. Both grow with contrast and detail, so their ratio measures how fast the picture
changes at its finest scale relative to coarser ones: a blur lowers it whatever the painting. The
threshold is a low quantile of the ratio on clean thumbnails of the training part (never the part
that is scored), so by construction about that fraction of clean paintings goes to the soft model.
Both models read every picture with the default test-time views; the report gives each model alone
and the routed pair, per condition, with the share routed to the soft model.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from datamodules.decoding import load_rgb, resize_filter_of
from inference.input_checks import blur_ratio
from inference.robustness import CONDITIONS, load_condition, scores, view_probabilities
from inference.scoring import artist_labels, validation_part
from lightning_modules.checkpoints import load_model
from transforms.views import default_views


def training_threshold(split_csv: Path, size: int, resize_filter: str, quantile: float, sample: int) -> float:
    """The `quantile` of `blur_ratio` over (a seeded sample of) the training part's clean thumbnails."""
    split = pd.read_csv(split_csv)
    paths = split.loc[split["split"] == "train", "path"]
    paths = paths.sample(n=min(sample, len(paths)), random_state=0).tolist()
    pixels = np.stack([load_rgb(path, size, resize_filter) for path in paths])
    return float(np.quantile(blur_ratio(pixels), quantile))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--main", required=True, type=Path, help="the model for sharp pictures")
    parser.add_argument("--soft", required=True, type=Path, help="the model for soft pictures")
    parser.add_argument("--split", required=True, type=Path)
    parser.add_argument("--conditions", default="clean,blur-0.6,blur-1.2")
    parser.add_argument("--quantile", type=float, default=0.01,
                        help="share of clean training thumbnails that the threshold sends to the soft model")
    parser.add_argument("--threshold-sample", type=int, default=2000)
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    if "clean" not in conditions:
        conditions.insert(0, "clean")
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        sys.exit(f"error: unknown condition(s) {', '.join(unknown)}")
    main_model, meta = load_model(args.main)
    soft_model, soft_meta = load_model(args.soft)
    if soft_meta["artists"] != meta["artists"] or soft_meta["image_size"] != meta["image_size"]:
        sys.exit("error: the two checkpoints know different artists or image sizes")
    size, resize_filter = meta["image_size"], resize_filter_of(meta)
    threshold = training_threshold(args.split, size, resize_filter, args.quantile, args.threshold_sample)
    print(f"threshold: blur ratio {threshold:.3f} ({args.quantile:.0%} of clean training thumbnails)", file=sys.stderr)

    part = validation_part(args.split)
    paths = part.index["path"].tolist()
    labels = torch.tensor(artist_labels(part.index["artist"], meta["artists"]).to_numpy())
    k, views = len(meta["artists"]), default_views()
    report = {"main": str(args.main), "soft": str(args.soft), "split": f"{args.split} (validation part)",
              "views": views, "quantile": args.quantile, "threshold": round(threshold, 4), "conditions": {}}
    for name in conditions:
        pixels = load_condition(paths, name, size, resize_filter=resize_filter)
        soft = torch.from_numpy(blur_ratio(pixels) < threshold)
        probs = {which: torch.stack(list(view_probabilities(model, pixels, views).values())).mean(dim=0)
                 for which, model in (("main", main_model), ("soft", soft_model))}
        probs["routed"] = torch.where(soft[:, None], probs["soft"], probs["main"])
        row = {which: {m: round(v, 4) for m, v in scores(p, labels, k).items()} for which, p in probs.items()}
        row["share_soft"] = round(float(soft.float().mean()), 4)
        report["conditions"][name] = row
        print(f"{name:<24} to soft {row['share_soft']:.3f}  " + "  ".join(
            f"{w}: {row[w]['top1']:.3f} / {row[w]['macro_f1']:.3f}" for w in ("main", "soft", "routed")),
            file=sys.stderr, flush=True)
    clean = report["conditions"]["clean"]
    print("| condition | share to the soft model | main: top-1 (drop) | soft: top-1 | routed: top-1 (drop) |")
    print("|---|---|---|---|---|")
    for name, row in report["conditions"].items():
        print(f"| {name} | {row['share_soft']:.3f} | {row['main']['top1']:.3f} "
              f"({row['main']['top1'] - clean['main']['top1']:+.3f}) | {row['soft']['top1']:.3f} | "
              f"{row['routed']['top1']:.3f} ({row['routed']['top1'] - clean['routed']['top1']:+.3f}) |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
