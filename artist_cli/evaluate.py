"""Evaluate a checkpoint on any folder of paintings (all images, no split).

    python -m artist_cli.evaluate --ckpt runs/default/stage3/best.ckpt --data data/sample [--out eval.json]
    python -m artist_cli.evaluate --ckpt runs/default-all49/stage2/best.ckpt --split runs/default-all49/split.csv --views plain,hflip,x1.25
    python -m artist_cli.evaluate --ckpt runs/default/stage3/best.ckpt --split runs/default/split.csv --part test
    python -m artist_cli.evaluate --ckpt runs/fold1/stage3/best.ckpt --split runs/fold1/split.csv --part test --unknown ../shared/data/best-artworks-128

`--split` scores a part of a run's split.csv instead of a whole folder: `--part val` (default; the
paintings the training loop validated on and picked checkpoints with) or `--part test` (the part
nothing in training looked at); `--views plain,hflip,x1.25` averages the probabilities
of those test-time views, `--flips` of the 4 flips (the training loop reports the plain forward).

Prints a one-line summary and writes a JSON report (default: evaluation.json beside the checkpoint):
top1, top2, macro_f1, n_images, n_skipped, n_unknown_artist, per_artist (precision, recall, f1,
support) and confusion (artist names, one matrix row per line). Images of artists the checkpoint
does not know are left out of those and scored as unknown artists: `open_set` has the AUROC of
known against unknown, the FPR at 95% TPR, the shares rejected at the checkpoint's threshold and
known-artist top-1 without and with rejection. `--unknown DATA` adds DATA's paintings by artists the
checkpoint does not know to a `--split` part (leave-artists-out runs: known = the test part,
unknown = the artists left out).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from artist_cli.view_args import add_view_arguments, views_from_args
from artist_inference.scoring import evaluate, report_json, summary_line


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, type=Path)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="a folder or CSV manifest: every painting is scored")
    source.add_argument("--split", type=Path, help="a run's split.csv: its --part is scored")
    parser.add_argument("--part", choices=["val", "test"], default="val",
                        help="with --split: the validation part (default) or the test part")
    parser.add_argument("--unknown", type=Path, metavar="DATA",
                        help="also score the paintings under DATA by artists the checkpoint does not know "
                             "as unknown ones (e.g. the artists a run left out with --data.exclude_artists)")
    add_view_arguments(parser)
    parser.add_argument("--out", type=Path, help="JSON report (default: evaluation.json beside the checkpoint)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--cache-dir", default=".cache/artist-trainer")
    args = parser.parse_args(argv)
    if not args.ckpt.is_file():
        sys.exit(f"error: checkpoint {args.ckpt} does not exist")
    try:
        views = views_from_args(args)
        if args.part != "val" and args.split is None:
            raise ValueError("--part needs --split (a run's split.csv)")
        result = evaluate(args.ckpt, args.data, args.cache_dir, args.batch_size, args.split, views, args.part,
                          args.unknown)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    out = args.out or args.ckpt.with_name("evaluation.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report_json(result) + "\n")
    print(summary_line(result))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
