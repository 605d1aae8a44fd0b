"""Export a checkpoint to ONNX and check it against PyTorch on real paintings.

    python -m artist_cli.export --ckpt runs/default/stage3/best.ckpt [--out model.onnx] [--data data/sample]

Writes `<out>.onnx` (input `image`: float32 RGB in [0, 1], NCHW, dynamic batch; dynamic height
and width for SPP heads; output `logits`) and `<out>.json` (artists in output order and the
preprocessing). Then runs both models with onnxruntime on a few real images and fails unless
every logit agrees within 1e-4.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from artist_cli.evaluate import load_model
from datamodules.decoding import load_rgb
from datamodules.discovery import discover

TOLERANCE = 1e-4


def export_onnx(model, meta: dict, out: Path, opset: int = 17) -> tuple[Path, Path]:
    size = meta["image_size"]
    dynamic = {0: "batch"}
    if meta.get("head") == "spp":
        dynamic.update({2: "height", 3: "width"})
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx_path, json_path = out.with_suffix(".onnx"), out.with_suffix(".json")
    torch.onnx.export(model.float().eval(), (torch.rand(1, 3, size, size),), str(onnx_path),
                      input_names=["image"], output_names=["logits"], opset_version=opset, dynamo=False,
                      dynamic_axes={"image": dynamic, "logits": {0: "batch"}})
    json_path.write_text(json.dumps({
        "artists": meta["artists"],
        "input": {"name": "image", "layout": "NCHW", "dtype": "float32", "range": [0.0, 1.0], "color": "RGB",
                  "height": size, "width": size, "any_size": meta.get("head") == "spp"},
        "preprocessing": f"resize to {size}x{size} (aspect not kept), scale to [0, 1]; the model "
                         f"normalises with mean {meta['mean']} and std {meta['std']} itself",
        "output": {"name": "logits", "softmax_for_probabilities": True},
        "backbone": meta["backbone"], "head": meta.get("head"),
    }, indent=2))
    return onnx_path, json_path


def check_against_torch(model, onnx_path: Path, images: list[np.ndarray]) -> float:
    """Largest absolute logit difference between PyTorch and onnxruntime on `images` (H, W, 3 uint8)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        reference = model(batch).numpy()
    exported = session.run(None, {"image": batch.numpy()})[0]
    return float(np.abs(exported - reference).max())


def sample_images(data: Path, size: int, n: int = 8) -> list[np.ndarray]:
    paths = discover(data).index["path"].tolist()
    step = max(len(paths) // n, 1)
    return [load_rgb(p, size) for p in paths[::step][:n]]


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
