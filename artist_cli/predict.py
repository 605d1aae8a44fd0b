"""Who painted this? Top-3 artists per image, from a checkpoint.

    python -m artist_cli.predict --ckpt runs/default/stage3/best.ckpt --input painting.jpg
    python -m artist_cli.predict --ckpt ... --input folder/ --sizes 224,260,296 --flips --out preds.csv
    python -m artist_cli.predict --ckpt ... --input folder/ --views plain,hflip,x1.25

With several sizes, each size votes for its top-1 artist and the majority wins; a tie goes to
the tied artist with the highest mean probability over the sizes (the study's multi-size test).
At each size, `--views` averages the probabilities of those test-time views (`--flips`: the 4 flips).
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import torch

from artist_cli.evaluate import load_model
from artist_cli.test_time_views import add_view_arguments, mean_probabilities, views_from_args
from datamodules.decoding import load_rgb
from datamodules.discovery import IMAGE_EXTENSIONS, check_header


def vote(probs_per_size: torch.Tensor) -> int:
    """Majority vote of each size's top-1 over (S, K) probabilities; ties by mean probability."""
    votes = torch.bincount(probs_per_size.argmax(dim=1), minlength=probs_per_size.shape[1])
    tied = torch.nonzero(votes == votes.max()).flatten()
    mean = probs_per_size.mean(dim=0)
    return int(tied[mean[tied].argmax()])


@torch.inference_mode()
def probabilities(model, path, size: int, views=("plain",)) -> torch.Tensor:
    image = torch.from_numpy(load_rgb(path, size)).permute(2, 0, 1).unsqueeze(0)
    return mean_probabilities(model, image, views)[0]


def predict_image(model, artists: list[str], path, sizes: list[int], views=("plain",), k: int = 3) -> dict:
    per_size = torch.stack([probabilities(model, path, size, views) for size in sizes])
    mean = per_size.mean(dim=0)
    winner = vote(per_size)
    ranked = [winner] + [int(i) for i in mean.argsort(descending=True) if int(i) != winner]
    result = {"path": str(path)}
    for rank, label in enumerate(ranked[: min(k, len(artists))], start=1):
        result[f"artist_{rank}"] = artists[label]
        result[f"p_{rank}"] = round(float(mean[label]), 6)
    return result


def list_images(target: Path) -> list[Path]:
    if target.is_file():
        return [target]
    if not target.is_dir():
        raise FileNotFoundError(f"No such image or folder: {target}")
    return sorted(p for p in target.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith("."))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, type=Path)
    parser.add_argument("--input", required=True, type=Path)
    parser.add_argument("--sizes", default="", help="comma-separated sizes, e.g. 224,260,296 (default: training size)")
    add_view_arguments(parser)
    parser.add_argument("--out", type=Path, help="CSV file (default: stdout)")
    args = parser.parse_args(argv)
    if not args.ckpt.is_file():
        sys.exit(f"error: checkpoint {args.ckpt} does not exist")
    try:
        views = views_from_args(args)
    except ValueError as error:
        sys.exit(f"error: {error}")
    model, meta = load_model(args.ckpt)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()] or [meta["image_size"]]
    try:
        images = list_images(args.input)
    except FileNotFoundError as error:
        sys.exit(f"error: {error}")
    rows, skipped = [], 0
    for path in images:
        problem = check_header(path)
        if problem is None:
            try:
                rows.append(predict_image(model, meta["artists"], path, sizes, views))
                continue
            except Exception as error:  # a bad file is reported, the rest still get answers
                problem = ("decode_failed", f"{type(error).__name__}: {error}")
        skipped += 1
        print(f"skipped {path}: {problem[0]} ({problem[1]})", file=sys.stderr)
    fields = list(rows[0]) if rows else ["path"]
    handle = args.out.open("w", newline="") if args.out else sys.stdout
    writer = csv.DictWriter(handle, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    if args.out:
        handle.close()
        print(f"{len(rows)} image(s) -> {args.out}; {skipped} skipped", file=sys.stderr)


if __name__ == "__main__":
    main()
