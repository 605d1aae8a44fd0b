"""Evaluate a checkpoint on any folder of paintings (all images, no split).

    python -m artist_cli.evaluate --ckpt runs/default/stage3/best.ckpt --data data/sample [--out eval.json]
    python -m artist_cli.evaluate --ckpt runs/default-all49/stage2/best.ckpt --split runs/default-all49/split.csv --views plain,hflip,x1.25

`--split` scores the validation part of a run's split.csv instead of a whole folder (the same
paintings the training loop validated on); `--views plain,hflip,x1.25` averages the probabilities
of those test-time views, `--flips` of the 4 flips (the training loop reports the plain forward).

Prints one JSON object: top1, top2, macro_f1, n_images, n_skipped, n_unknown_artist,
per_artist (precision, recall, f1, support) and confusion (artist names and matrix).
Images of artists the checkpoint does not know are counted and left out of the metrics.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from artist_cli.view_args import add_view_arguments, views_from_args
from inference.scoring import evaluate


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, type=Path)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a folder or CSV manifest: every painting is scored")
    source.add_argument("--split", type=Path, help="a run's split.csv: its validation part is scored")
    add_view_arguments(parser)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cache-dir", default=".cache/artist-trainer")
    args = parser.parse_args(argv)
    if not args.ckpt.is_file():
        sys.exit(f"error: checkpoint {args.ckpt} does not exist")
    try:
        views = views_from_args(args)
        result = evaluate(args.ckpt, args.data, args.cache_dir, args.batch_size, args.split, views)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
