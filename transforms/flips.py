"""The flips of a painting, in one table: stage 2's augmentation, its feature cache and the test-time
views all read it. Order matters: the feature cache stores variant i as FLIPS[i]; mirroring only
uses the first two."""
from __future__ import annotations

import torch

FLIPS = {
    "plain": lambda images: images,
    "hflip": lambda images: images.flip(-1),
    "vflip": lambda images: images.flip(-2),
    "hvflip": lambda images: images.flip(-1).flip(-2),
}


def flip(images: torch.Tensor, name: str) -> torch.Tensor:
    """`images` (…, H, W) as flip `name` sees them."""
    return FLIPS[name](images)


def flip_names(vertical: bool) -> tuple[str, ...]:
    """The flips a training run draws from: all 4, or plain and mirrored when `vertical` is off."""
    return tuple(FLIPS) if vertical else ("plain", "hflip")
