"""ONNX export of a checkpoint, and the check that onnxruntime computes what PyTorch computes."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from datamodules.decoding import load_rgb
from datamodules.discovery import discover

TOLERANCE = 1e-4


def export_onnx(model, meta: dict, out: Path, opset: int = 17) -> tuple[Path, Path]:
    """Write `<out>.onnx` (input `image`: float32 RGB in [0, 1], NCHW, dynamic batch; dynamic height
    and width for SPP heads; output `logits`) and `<out>.json` (artists in output order, preprocessing)."""
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
        "preprocessing": f"resize to {size}x{size} (aspect not kept), scale to [0, 1]; the model itself "
                         + f"normalises with mean {meta['mean']} and std {meta['std']}",
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
    """`n` paintings spread over a collection, decoded at `size`."""
    paths = discover(data).index["path"].tolist()
    step = max(len(paths) // n, 1)
    return [load_rgb(p, size) for p in paths[::step][:n]]
