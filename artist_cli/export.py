"""Export a checkpoint to ONNX and check it against PyTorch on real paintings.

    python -m artist_cli.export --ckpt runs/default/stage3/best.ckpt [--out model.onnx] [--data data/sample]

Writes `<out>.onnx` (input `image`: float32 RGB in [0, 1], NCHW, dynamic batch; dynamic height
and width for SPP heads; output `logits`) and `<out>.json` (artists in output order and the
preprocessing). Then runs both models with onnxruntime on a few real images and fails unless
every logit agrees within 1e-4.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datamodules.decoding import load_rgb
from datamodules.discovery import discover
from artist_inference.export import TOLERANCE, check_against_torch, export_onnx, sample_images
from lightning_modules.checkpoints import load_model


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", required=True, type=Path)
    parser.add_argument("--out", type=Path, help="output path without suffix (default: next to the checkpoint)")
    parser.add_argument("--data", type=Path, default=Path("data/sample"), help="real paintings for the check")
    args = parser.parse_args(argv)
    if not args.ckpt.is_file():
        sys.exit(f"error: checkpoint {args.ckpt} does not exist")
    model, meta = load_model(args.ckpt)
    onnx_path, json_path = export_onnx(model, meta, args.out or args.ckpt.with_suffix(""))
    images = sample_images(args.data, meta["image_size"])
    worst = check_against_torch(model, onnx_path, images)
    print(f"wrote {onnx_path} and {json_path}")
    print(f"onnxruntime vs PyTorch on {len(images)} paintings from {args.data}: max |logit diff| = {worst:.2e}")
    if meta.get("head") == "spp":
        bigger = [load_rgb(p, meta["image_size"] + 64) for p in discover(args.data).index["path"][:2]]
        worst_big = check_against_torch(model, onnx_path, bigger)
        print(f"  at {meta['image_size'] + 64} px (dynamic size): {worst_big:.2e}")
        worst = max(worst, worst_big)
    if worst > TOLERANCE:
        sys.exit(f"error: exported model differs from PyTorch by {worst:.2e} > {TOLERANCE}")


if __name__ == "__main__":
    main()
