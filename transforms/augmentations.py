"""Training augmentations, applied to whole batches on the training device, chosen by name.

Images arrive as uint8 (B, 3, S, S) tensors from the decoded-image store; augmenting after
the host-to-device copy keeps the copy 4x smaller (uint8) and lets a GPU do the warping.
Every sample in a batch draws its own random parameters.

An augmentation is a module registered under a name with `@register_augmentation("name")`; its
builder receives the run's strengths (`degrees`, `zoom`, `vertical_flips`) as keyword arguments
and takes the ones it needs. Its `variants` says how many distinct images it can make of one
painting (None: unbounded); one with a finite number also gives the i-th of them with
`variant(images, i)`, which lets stage 2 cache the frozen backbone's features for each.
"""
from __future__ import annotations

import inspect
import math
from typing import Callable

import torch
import torch.nn.functional as F

from transforms.flips import FLIPS, flip_names

AUGMENTATIONS: dict[str, Callable[..., torch.nn.Module]] = {}


def register_augmentation(name: str):
    """Class decorator: make the augmentation available as `--data.train_augment=<name>`."""
    def register(cls):
        if name in AUGMENTATIONS:
            raise ValueError(f"augmentation {name!r} is registered twice")
        AUGMENTATIONS[name] = cls
        return cls
    return register


def build_augmentation(name: str, **strengths) -> torch.nn.Module:
    """The augmentation `name`, given the strengths its constructor takes (others are ignored)."""
    if name not in AUGMENTATIONS:
        raise ValueError(f"Unknown augmentation {name!r}; choose one of {', '.join(AUGMENTATIONS)}")
    cls = AUGMENTATIONS[name]
    accepted = inspect.signature(cls).parameters
    return cls(**{k: v for k, v in strengths.items() if k in accepted})


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float32 [0, 1]; float input is returned unchanged."""
    return images.float().div_(255.0) if images.dtype == torch.uint8 else images


@register_augmentation("rotate_zoom")
class RotateZoom(torch.nn.Module):
    """Random rotation within +-`degrees` and random zoom in `zoom` = (min, max) (the study: 30, 0.5-1.5).

    zoom > 1 magnifies (crops in), zoom < 1 shrinks the painting inside the frame. The border
    that a rotation or a shrink uncovers is filled by mirroring the painting (grid_sample's
    'reflection' padding), never left black: black corners would teach the model a cue that
    real paintings do not have.
    """

    variants = None

    def __init__(self, degrees: float = 30.0, zoom: tuple[float, float] = (0.5, 1.5)):
        super().__init__()
        if degrees < 0 or not 0 < zoom[0] <= zoom[1]:
            raise ValueError(f"rotate_zoom needs degrees >= 0 and 0 < zoom min <= zoom max, got {degrees}, {zoom}")
        self.degrees, self.zoom_min, self.zoom_max = degrees, zoom[0], zoom[1]

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


@register_augmentation("flips")
class RandomFlips(torch.nn.Module):
    """Independent random horizontal and (if `vertical_flips`) vertical flips: 4 or 2 variants per image,
    in the order of `transforms.flips.FLIPS`."""

    def __init__(self, vertical_flips: bool = True):
        super().__init__()
        self.vertical = vertical_flips

    @property
    def flips(self) -> tuple[str, ...]:
        return flip_names(self.vertical)

    @property
    def variants(self) -> int:
        return len(self.flips)

    def variant(self, images: torch.Tensor, index: int) -> torch.Tensor:
        return FLIPS[self.flips[index]](to_float(images))

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        images = to_float(images)
        batch = images.shape[0]
        flip_h = torch.rand(batch, generator=generator) < 0.5
        shape = (batch, 1, 1, 1)
        images = torch.where(flip_h.view(shape).to(images.device), FLIPS["hflip"](images), images)
        if not self.vertical:
            return images
        flip_v = torch.rand(batch, generator=generator) < 0.5
        return torch.where(flip_v.view(shape).to(images.device), FLIPS["vflip"](images), images)


@register_augmentation("none")
class NoAugment(torch.nn.Module):
    variants = 1

    def variant(self, images: torch.Tensor, index: int) -> torch.Tensor:
        return to_float(images)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return to_float(images)
