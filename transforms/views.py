"""Test-time views: transformed copies of each painting whose predicted probabilities are averaged.

A view is a flip of `transforms.flips.FLIPS` (`plain`, `hflip`, `vflip`, `hvflip`) or a scale such
as `x1.25` (the painting resized to 1.25 times the size it was decoded at). The default views of
evaluate and predict live in configs/inference.yaml.
"""
from __future__ import annotations

from pathlib import Path

import torch
import yaml
from torchvision.transforms.v2 import functional as TF

from transforms.flips import FLIPS

INFERENCE_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "inference.yaml"


def scale_of(view: str) -> float | None:
    """1.25 for `x1.25`; None for a flip view."""
    if not view.startswith("x"):
        return None
    try:
        scale = float(view[1:])
    except ValueError:
        scale = 0.0
    if not 0.1 <= scale <= 10:
        raise ValueError(f"bad scale view {view!r}: write it as x<factor> with a factor in 0.1-10, e.g. x1.25")
    return scale


def default_views() -> list[str]:
    """The `views` of configs/inference.yaml."""
    return parse_views(",".join(yaml.safe_load(INFERENCE_CONFIG.read_text())["views"]))


def parse_views(text: str) -> list[str]:
    """'plain,hflip,x1.25' -> a checked list; unknown names fail before any image is scored."""
    views = [v.strip() for v in text.split(",") if v.strip()]
    if not views:
        raise ValueError("no test-time views given")
    for view in views:
        if view not in FLIPS and scale_of(view) is None:
            raise ValueError(f"unknown test-time view {view!r}: use {', '.join(FLIPS)} "
                             "or a scale like x1.25")
    return views


def apply_view(batch: torch.Tensor, view: str) -> torch.Tensor:
    """An (N, C, H, W) batch as the view sees it (uint8 stays uint8)."""
    if view in FLIPS:
        return FLIPS[view](batch)
    scale = scale_of(view)
    height, width = batch.shape[-2:]
    return TF.resize(batch, [max(1, round(height * scale)), max(1, round(width * scale))], antialias=True)


def view_logits(model, batch: torch.Tensor, views) -> torch.Tensor:
    """(V, N, K) logits of `model` for each view of each image in `batch`."""
    return torch.stack([model(apply_view(batch, view)) for view in views])


@torch.inference_mode()
def predict_logits(model, pixels, batch_size: int = 64, views=("plain",)) -> torch.Tensor:
    """(V, N, K) logits for (N, S, S, 3) uint8 pixels, one row per test-time view."""
    out = []
    for start in range(0, len(pixels), batch_size):
        batch = torch.from_numpy(pixels[start:start + batch_size].copy()).permute(0, 3, 1, 2)
        out.append(view_logits(model, batch, views))
    return torch.cat(out, dim=1) if out else torch.empty(len(views), 0, model.hparams.num_classes)


def predict_probabilities(model, pixels, batch_size: int = 64, views=("plain",)) -> torch.Tensor:
    """Softmax probabilities for (N, S, S, 3) uint8 pixels, averaged over the test-time views."""
    return predict_logits(model, pixels, batch_size, views).softmax(dim=2).mean(dim=0)
