"""Warnings for paintings the model will read poorly: far below its size, an upscale of a small image, or soft.

Measured on the 128 px thumbnails of best-artworks-128: shrinking a painting 4x and growing it back
changes its pixels by at least 3.3 grey levels on average (median 12), and by under 1.0 for 95% of
8x bicubic upscales. A picture that survives that round trip almost unchanged has no detail finer
than 4 of its pixels: its real resolution is a quarter of its size or less.

Softness is judged on what the model gets (the picture at its size), by `blur_ratio`. On 400
validation thumbnails of best-artworks-128 the 0.5th
percentile of clean, recompressed and colour-cast ones and of photos of the canvas is 1.65 or more, of
full-size stand-ins shrunk by the loader 1.42 or more; blurred at sigma 1.2 (which costs `default` about
0.3 top-1), the 99th percentile is 1.41 (the script that measured it is in commit 82eec8b:
`bench/softness_by_condition.py`).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

ROUND_TRIP = 4
UPSCALE_ERROR = 1.0  # grey levels (0-255): below this, the 4x round trip lost nothing
SOFT_RATIO = 1.4  # blur_ratio below this: as soft as a blur of sigma 1 or more at the model's size
FLAT_CHANGE = 1.0  # grey levels between neighbouring pixels, on average: below this, almost a flat picture


class PaintingInputWarning(UserWarning):
    """A painting the model can read only poorly; the message says why."""


def round_trip_error(image: Image.Image, factor: int = ROUND_TRIP) -> float:
    """Mean absolute grey-level change of shrinking by `factor` (box) and growing back (bicubic)."""
    grey = image.convert("L")
    width, height = grey.size
    small = grey.resize((max(1, width // factor), max(1, height // factor)), Image.Resampling.BOX)
    back = small.resize((width, height), Image.Resampling.BICUBIC)
    return float(np.abs(np.asarray(grey, np.float32) - np.asarray(back, np.float32)).mean())


def grey_levels(pixels: np.ndarray) -> np.ndarray:
    """(..., H, W, 3) uint8 RGB -> (..., H, W) float32 grey levels (0-255, Rec. 601 weights)."""
    return pixels.astype(np.float32) @ np.asarray([0.299, 0.587, 0.114], dtype=np.float32)


def mean_abs_laplacian(grey: np.ndarray) -> np.ndarray:
    """Per picture of (N, H, W) grey levels: mean |4-neighbour Laplacian|, the finest detail per pixel."""
    return np.abs(4 * grey[:, 1:-1, 1:-1] - grey[:, :-2, 1:-1] - grey[:, 2:, 1:-1]
                  - grey[:, 1:-1, :-2] - grey[:, 1:-1, 2:]).mean(axis=(1, 2))


def _mean_first_difference(grey: np.ndarray) -> np.ndarray:
    """Per picture of (N, H, W) grey levels: mean |difference| between horizontal and vertical neighbours."""
    return (np.abs(np.diff(grey, axis=1)).mean(axis=(1, 2)) + np.abs(np.diff(grey, axis=2)).mean(axis=(1, 2))) / 2


def blur_ratio(pixels: np.ndarray) -> np.ndarray:
    """Per picture of (N, H, W, 3) uint8, H and W 3 or more: mean |4-neighbour Laplacian| over mean |first
    difference| of the grey image. Both scale with contrast and with how busy the painting is; their ratio
    is how much of the change happens at the finest scale, which a blur lowers whatever the painting (clean
    thumbnails of best-artworks-128 1.76-2.68, blurred at sigma 1.2 0.96-1.41, 1st-99th percentile; flat 0)."""
    grey = grey_levels(pixels)
    return mean_abs_laplacian(grey) / np.maximum(_mean_first_difference(grey), 1e-3)


def softness_problems(pixels: np.ndarray) -> list[str]:
    """What is wrong with the model's (S, S, 3) uint8 input for softness (empty: nothing)."""
    if min(pixels.shape[:2]) < 3:
        return []
    grey = grey_levels(pixels[None])
    change = float(_mean_first_difference(grey)[0])
    if change < FLAT_CHANGE:  # nothing to blur: say so rather than call it out of focus
        return [f"it reaches the model almost flat (neighbouring pixels differ by {change:.2f} grey levels on "
                f"average): there is next to no detail to read; is it the painting?"]
    ratio = float(mean_abs_laplacian(grey)[0]) / change  # blur_ratio, the grey image computed once
    if ratio >= SOFT_RATIO:
        return []
    return [f"it reaches the model soft (blur ratio {ratio:.2f}, sharp paintings {SOFT_RATIO} or more), as if "
            f"out of focus, motion-blurred or smoothed, and scores lower; use a sharper file or photo if there is "
            f"one, or a model trained with the `robust` preset"]


def input_problems(image: Image.Image, model_size: int) -> list[str]:
    """What is wrong with `image` for a model trained at `model_size` px (empty: nothing)."""
    width, height = image.size
    short = min(width, height)
    if short < model_size:
        return [f"{width}x{height} px: its short side is below the model's {model_size} px, so it is "
                f"read upscaled and scores lower; use a larger file if there is one"]
    if short // ROUND_TRIP < model_size and round_trip_error(image) < UPSCALE_ERROR:
        return [f"{width}x{height} px, but with no detail finer than {ROUND_TRIP} pixels: it looks like an "
                f"upscale of an image about {short // ROUND_TRIP} px on its short side, below the model's "
                f"{model_size} px, and scores lower; use the original file if there is one"]
    return []
