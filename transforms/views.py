"""Test-time views: transformed copies of each painting whose predicted probabilities are averaged.

A view is a flip of `transforms.flips.FLIPS` (`plain`, `hflip`, `vflip`, `hvflip`), a scale such
as `x1.25` (the painting resized to 1.25 times the size it was decoded at), or a correction of how
a photo came out: `autolevels` (the grey levels stretched to the full range, undoing a dim or flat
exposure) and `unsharp` (an unsharp mask, undoing some of a soft focus). The default views of
evaluate and predict live in configs/inference.yaml.
"""
from __future__ import annotations

from pathlib import Path

import torch
import yaml
from torchvision.transforms.v2 import functional as TF

from lightning_modules.exposure import grey_of
from transforms.augmentations import to_float
from transforms.degradations import unsharp_mask
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


# autolevels: the darkest and brightest 0.5% of grey values go to black and white; pictures whose
# grey spans less than MIN_LEVEL_SPAN are left as they are rather than stretched into noise.
LEVEL_QUANTILES = (0.005, 0.995)
MIN_LEVEL_SPAN = 0.25
# unsharp: the middle of what stage 1's `blur` kind draws (radius 0.5-2, amount 0.3-1.2).
UNSHARP_RADIUS, UNSHARP_AMOUNT = 1.0, 0.6


def autolevels(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) floats in [0, 1] with each picture's grey levels stretched to [0, 1]: one gain and
    one offset for all three channels, so colours keep their balance."""
    grey = grey_of(images).flatten(1)
    low, high = torch.quantile(grey, torch.tensor(LEVEL_QUANTILES, dtype=grey.dtype, device=grey.device), dim=1)
    span, low = (high - low).view(-1, 1, 1, 1), low.view(-1, 1, 1, 1)
    stretched = ((images - low) / span.clamp_min(MIN_LEVEL_SPAN)).clamp(0, 1)
    return torch.where(span < MIN_LEVEL_SPAN, images, stretched)


def unsharp(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) floats in [0, 1] sharpened by an unsharp mask."""
    # Every channel of every picture alike, as one (N*3, H, W) stack.
    return unsharp_mask(images.flatten(0, 1), UNSHARP_RADIUS, UNSHARP_AMOUNT).view_as(images)


CORRECTIONS = {"autolevels": autolevels, "unsharp": unsharp}


def corrected(batch: torch.Tensor, view: str) -> torch.Tensor:
    """`batch` (uint8 or floats in [0, 1]) through correction `view`, in its own dtype."""
    out = CORRECTIONS[view](to_float(batch))
    return out.mul(255).round().to(torch.uint8) if batch.dtype == torch.uint8 else out


def default_views() -> list[str]:
    """The `views` of configs/inference.yaml."""
    return parse_views(",".join(yaml.safe_load(INFERENCE_CONFIG.read_text())["views"]))


def parse_views(text: str) -> list[str]:
    """'plain,hflip,x1.25' -> a checked list; unknown names fail before any image is scored."""
    views = [v.strip() for v in text.split(",") if v.strip()]
    if not views:
        raise ValueError("no test-time views given")
    for view in views:
        if view not in FLIPS and view not in CORRECTIONS and scale_of(view) is None:
            raise ValueError(f"unknown test-time view {view!r}: use {', '.join([*FLIPS, *CORRECTIONS])} "
                             "or a scale like x1.25")
    return views


def apply_view(batch: torch.Tensor, view: str) -> torch.Tensor:
    """An (N, C, H, W) batch as the view sees it (uint8 stays uint8)."""
    if view in FLIPS:
        return FLIPS[view](batch)
    if view in CORRECTIONS:
        return corrected(batch, view)
    scale = scale_of(view)
    height, width = batch.shape[-2:]
    return TF.resize(batch, [max(1, round(height * scale)), max(1, round(width * scale))], antialias=True)


def view_logits(model, batch: torch.Tensor, views) -> torch.Tensor:
    """(V, N, K) logits of `model` for each view of each image in `batch`."""
    return torch.stack([model(apply_view(batch, view)) for view in views])


def mean_probabilities(model, batch: torch.Tensor, views) -> torch.Tensor:
    """Softmax probabilities of `model` averaged over the views of each image in `batch`."""
    return view_logits(model, batch, views).softmax(dim=2).mean(dim=0)
