"""Exposure normalisation: each picture's grey level brought to one mean and one spread before the backbone.

A photo of a painting comes dimmer or brighter, flatter or punchier than the scan the model learnt
from. Brightness and contrast act on the three channels alike, x -> a * x + b, and so on the grey
image: subtracting the grey mean and dividing by the grey spread undoes any such change exactly
(short of clipping and rounding), while the colours and the shape of the painting's tones stay as
they were. What it gives up is the absolute key of a painting (how dark or bright, how contrasted
overall), which is also what the lighting of a photo changes.
"""
from __future__ import annotations

import torch

GREY = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as PIL's "L" mode and ImageEnhance.Contrast use
MIN_SPREAD = 0.02  # a near-uniform picture is not stretched into noise


def grey_of(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) floats -> (B, 1, H, W) grey levels (luma weights GREY)."""
    weights = torch.tensor(GREY, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images * weights).sum(dim=1, keepdim=True)


def normalise_exposure(images: torch.Tensor, mean: float, spread: float) -> torch.Tensor:
    """(B, 3, H, W) floats in [0, 1] -> the same pictures with grey mean `mean` and grey standard
    deviation `spread` (values may leave [0, 1]; the backbone's normalisation follows)."""
    grey = grey_of(images)
    grey_mean = grey.mean(dim=(2, 3), keepdim=True)
    grey_spread = grey.std(dim=(2, 3), keepdim=True).clamp_min(MIN_SPREAD)
    return (images - grey_mean) / grey_spread * spread + mean

