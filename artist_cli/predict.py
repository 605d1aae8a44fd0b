"""Who painted this? Top-3 artists per image, from a checkpoint.

    python -m artist_cli.predict --ckpt runs/default/stage3/best.ckpt --input painting.jpg
    python -m artist_cli.predict --ckpt ... --input folder/ --sizes 224,260,296 --flips --out preds.csv
    python -m artist_cli.predict --ckpt ... --input folder/ --views plain,hflip,x1.25

The `answer` column names the artist, or "unknown artist" when the painting scores below the
checkpoint's open-set threshold (calibrated at the end of training); `--reject false` always names one.
Skipped files go to stderr with their reason; nothing predicted at all exits with status 1.

With several sizes, each size votes for its top-1 artist and the majority wins; a tie goes to
the tied artist with the highest mean probability over the sizes (the study's multi-size test).
At each size, `--views` averages the probabilities of those test-time views (`--flips`: the 4 flips).
"""
from __future__ import annotations

import argparse
import csv
import sys
import warnings
from pathlib import Path

from artist_cli.view_args import add_view_arguments, views_from_args
from datamodules.discovery import IMAGE_EXTENSIONS, check_header
from artist_inference.input_checks import PaintingInputWarning
from artist_inference.predictor import Predictor, rank_over_sizes


def list_images(target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    if not target.is_dir():
        raise FileNotFoundError(f"No such image or folder: {target}")
    return sorted(p for p in target.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))


def true_or_false(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, type=Path)
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--sizes", default="", help="comma-separated sizes, e.g. 224,260,296 (default: training size)")
    add_view_arguments(parser)
    parser.add_argument("--out", type=Path, help="CSV file (default: stdout)")
    parser.add_argument("--reject", type=true_or_false, default=True,
                        help="answer 'unknown artist' below the checkpoint's open-set threshold (default true)")
    args = parser.parse_args(argv)
    try:
        predictor = Predictor.load(args.ckpt, views=views_from_args(args), reject=args.reject)
        images = list_images(args.input)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()] or [predictor.image_size]
    rows, skipped = [], 0
    for path in images:
        problem = check_header(path)
        if problem is None:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always", PaintingInputWarning)
                    rows.append(rank_over_sizes(predictor, path, sizes))
                for warning in dict.fromkeys(str(w.message) for w in caught if issubclass(w.category, PaintingInputWarning)):
                    print(f"warning: {warning}", file=sys.stderr)
                continue
            except Exception as error:  # a bad file is reported, the rest still get answers
                problem = ("decode_failed", f"{type(error).__name__}: {error}")
        skipped += 1
        print(f"skipped {path}: {problem[0]} ({problem[1]})", file=sys.stderr)
    if not rows:
        reason = f"all {skipped} image(s) were skipped" if skipped else "it holds no image " \
            f"({', '.join(sorted(IMAGE_EXTENSIONS))})"
        sys.exit(f"error: nothing was predicted from {args.input}: {reason}")
    fields = list(rows[0])
    handle = args.out.open("w", newline="") if args.out else sys.stdout
    writer = csv.DictWriter(handle, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    if args.out:
        handle.close()
        print(f"{len(rows)} image(s) -> {args.out}; {skipped} skipped", file=sys.stderr)


if __name__ == "__main__":
    main()
