"""Robustness benchmark: a checkpoint scored on its run's validation paintings re-rendered the ways people
have paintings (full-size files, other tools' thumbnails, recompression, focus, colour, photos).

    python -m artist_cli.robustness --ckpt runs/default/stage3/best.ckpt --split runs/default/split.csv
    make robustness CKPT=runs/default/stage3/best.ckpt SPLIT=runs/default/split.csv [OUT=robustness.json]

Writes a JSON (default: robustness.json beside the checkpoint) and prints a table: per condition the
sharpness of what the loader made of it, then top-1 and macro-F1 and their drop from clean, in one
forward pass and with the test-time views of configs/inference.yaml.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from datamodules.decoding import RESIZE_FILTERS
from artist_inference.robustness import CONDITIONS, benchmark, markdown_table
from datamodules.artist_names import artist_labels
from datamodules.split import validation_part
from lightning_modules.checkpoints import load_model
from transforms.views import default_views, parse_views


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, type=Path)
    parser.add_argument("--split", required=True, type=Path, help="a run's split.csv: its validation part is scored")
    parser.add_argument("--conditions", default="", help=f"comma-separated subset of: {', '.join(CONDITIONS)}")
    parser.add_argument("--views", default="",
                        help="extra view sets to score, ';' between sets: e.g. 'plain,hflip;plain,x1.25' (each "
                             "distinct view is one forward pass per painting, shared by every set)")
    parser.add_argument("--out", type=Path, help="JSON file (default: robustness.json beside the checkpoint)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--resize-filter", choices=list(RESIZE_FILTERS),
                        help="resize the rendered files with this filter instead of the checkpoint's (to compare filters)")
    args = parser.parse_args(argv)
    if not args.ckpt.is_file():
        sys.exit(f"error: checkpoint {args.ckpt} does not exist")
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()] or None
    unknown = [c for c in conditions or [] if c not in CONDITIONS]
    if unknown:
        sys.exit(f"error: unknown condition(s) {', '.join(unknown)}; choose from {', '.join(CONDITIONS)}")
    try:
        view_sets = {"one pass": ["plain"], "default views": default_views()}
        for text in filter(str.strip, args.views.split(";")):
            view_sets[text.strip()] = parse_views(text)
        model, meta = load_model(args.ckpt)
        part = validation_part(args.split)
    except ValueError as error:
        sys.exit(f"error: {error}")
    labels = artist_labels(part.index["artist"], meta["artists"])
    if (labels < 0).any():
        sys.exit(f"error: {args.split} holds artists that {args.ckpt} does not know: is it this run's split?")
    import torch

    def progress(name, sharpness, by_set):
        shown = "  ".join(f"{s}: top-1 {m['top1']:.3f} macro-F1 {m['macro_f1']:.3f}" for s, m in by_set.items())
        print(f"{name:<24} sharpness {sharpness:5.1f}  {shown}", file=sys.stderr, flush=True)

    report = benchmark(model, meta, part.index["path"].tolist(), torch.tensor(labels.to_numpy()), view_sets,
                       conditions, args.batch_size, progress=progress, resize_filter=args.resize_filter)
    report = {"checkpoint": str(args.ckpt), "split": f"{args.split} (validation part)", **report}
    out = args.out or args.ckpt.with_name("robustness.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown_table(report))
    print(f"\nwrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
