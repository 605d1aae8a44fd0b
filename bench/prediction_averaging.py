"""Does averaging predictions (several checkpoints, or several views of each painting) raise macro-F1?

    .venv/bin/python bench/prediction_averaging.py --split runs/lite0-regularised-all49/split.csv \
        --ckpts runs/lite0-regularised-all49/stage3/best.ckpt,runs/lite0-mix-bothflips-resumed-all49/stage2_long/best.ckpt --views plain,hflip,x1.25

Scores the validation part of a run's split with each checkpoint alone, each view alone, and the
softmax averages: over the views of each checkpoint, over the checkpoints (plain view), and over
everything. Views are those of `make evaluate VIEWS=...` (artist_cli/test_time_views.py): `plain`,
`hflip`, `vflip`, `hvflip` or a scale such as `x1.25`. All checkpoints must know the same artists.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

from inference.scoring import artist_labels, known_paintings, predict_probabilities, validation_part
from lightning_modules.checkpoints import load_model
from transforms.views import parse_views


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", type=Path, required=True, help="a run's split.csv (its validation part is scored)")
    parser.add_argument("--ckpts", required=True, help="comma-separated checkpoints")
    parser.add_argument("--views", default="plain")
    parser.add_argument("--cache-dir", default=".cache/artist-trainer")
    args = parser.parse_args()
    views = parse_views(args.views)
    val = validation_part(args.split)
    probs: dict[tuple[str, str], torch.Tensor] = {}
    artists = None
    for ckpt in args.ckpts.split(","):
        model, meta = load_model(ckpt)
        if artists is not None and meta["artists"] != artists:
            sys.exit(f"error: {ckpt} knows other artists than the first checkpoint; averages need the same ones")
        artists = meta["artists"]
        # One store per checkpoint (its image size), scored once per view.
        store, target = known_paintings(meta, val, artist_labels(val.index["artist"], artists), args.cache_dir)
        for view in views:
            probs[ckpt, view] = predict_probabilities(model, store.pixels[store.ok], views=[view])

    k = len(artists)

    def row(name: str, p: torch.Tensor) -> str:
        return (f"| {name} | {float(multiclass_f1_score(p, target, k, average='macro')):.3f} "
                f"| {float(multiclass_accuracy(p, target, k, average='micro')):.3f} "
                f"| {float(multiclass_accuracy(p, target, k, top_k=min(2, k), average='micro')):.3f} |")

    mean = lambda keys: torch.stack([probs[key] for key in keys]).mean(0)  # noqa: E731
    ckpts = list(dict.fromkeys(c for c, _ in probs))
    print(f"{len(target)} validation paintings, {k} artists\n")
    print("| prediction | macro-F1 | top-1 | top-2 |\n|---|---|---|---|")
    for ckpt in ckpts:
        for view in views:
            print(row(f"{ckpt} [{view}]", probs[ckpt, view]))
        if len(views) > 1:
            print(row(f"{ckpt} [mean of {'+'.join(views)}]", mean([(ckpt, v) for v in views])))
    if len(ckpts) > 1:
        print(row(f"mean of the {len(ckpts)} checkpoints [{views[0]}]", mean([(c, views[0]) for c in ckpts])))
        if len(views) > 1:
            print(row(f"mean of the {len(ckpts)} checkpoints [mean of {'+'.join(views)}]", mean(list(probs))))


if __name__ == "__main__":
    main()
