"""Per-stage augmentation, applied to whole batches on the training device.

Images arrive as uint8 (B, 3, S, S) tensors from the decoded-image store; augmenting after
the host-to-device copy keeps the copy 4x smaller (uint8) and lets a GPU do the warping.
Every sample in a batch draws its own random parameters.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

AUGMENTATIONS = ("rotate_zoom", "flips", "none")


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [0, 1]; float input is returned unchanged."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images


class RotateZoom(torch.nn.Module):
    """Random rotation within +-`degrees` and random zoom in [zoom_min, zoom_max].

    zoom > 1 magnifies (crops in), zoom < 1 shrinks the painting inside the frame. The border
    that a rotation or a shrink uncovers is filled by mirroring the painting (grid_sample's
    'reflection' padding), never left black: black corners would teach the model a cue that
    real paintings do not have.
    """

    def __init__(self, degrees: float = 30.0, zoom_min: float = 0.5, zoom_max: float = 1.5):
        super().__init__()
        self.degrees, self.zoom_min, self.zoom_max = degrees, zoom_min, zoom_max

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        images = to_float(images)
        batch = images.shape[0]
        kw = dict(device="cpu", generator=generator)
        angle = (torch.rand(batch, **kw) * 2 - 1) * math.radians(self.degrees)
        zoom = self.zoom_min + torch.rand(batch, **kw) * (self.zoom_max - self.zoom_min)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        # affine_grid maps output coordinates to input coordinates: the inverse transform.
        theta = torch.stack([torch.stack([cos, -sin, torch.zeros(batch)], 1),
                             torch.stack([sin, cos, torch.zeros(batch)], 1)], 1)
        theta = theta.to(device=images.device, dtype=images.dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


class RandomFlips(torch.nn.Module):
    """Independent random horizontal and (if `vertical`) vertical flips: 4 or 2 variants per image."""

    def __init__(self, vertical: bool = True):
        super().__init__()
        self.vertical = vertical

    @property
    def variants(self) -> int:
        return 4 if self.vertical else 2

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        images = to_float(images)
        batch = images.shape[0]
        flip_h = torch.rand(batch, generator=generator) < 0.5
        shape = (batch, 1, 1, 1)
        images = torch.where(flip_h.view(shape).to(images.device), images.flip(-1), images)
        if not self.vertical:
            return images
        flip_v = torch.rand(batch, generator=generator) < 0.5
        return torch.where(flip_v.view(shape).to(images.device), images.flip(-2), images)


class NoAugment(torch.nn.Module):
    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return to_float(images)


def build_augmentation(name: str, degrees: float = 30.0, zoom: tuple[float, float] = (0.5, 1.5),
                       vertical_flips: bool = True) -> torch.nn.Module:
    """`degrees` and `zoom` set the strength of `rotate_zoom` (the study: 30 and 0.5-1.5);
    `vertical_flips=False` makes `flips` mirror only (the study flips both ways)."""
    if name == "rotate_zoom":
        if degrees < 0 or not 0 < zoom[0] <= zoom[1]:
            raise ValueError(f"rotate_zoom needs degrees >= 0 and 0 < zoom min <= zoom max, got {degrees}, {zoom}")
        return RotateZoom(degrees, zoom[0], zoom[1])
    if name == "flips":
        return RandomFlips(vertical=vertical_flips)
    if name == "none":
        return NoAugment()
    raise ValueError(f"Unknown augmentation {name!r}; choose one of {AUGMENTATIONS}")
