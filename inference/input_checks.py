"""Warnings for paintings the model will read poorly: far below its size, or an upscale of a small image.

Measured on the 128 px thumbnails of best-artworks-128: shrinking a painting 4x and growing it back
changes its pixels by at least 3.3 grey levels on average (median 12), and by under 1.0 for 95% of
8x bicubic upscales. A picture that survives that round trip almost unchanged has no detail finer
than 4 of its pixels: its real resolution is a quarter of its size or less.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

ROUND_TRIP = 4
UPSCALE_ERROR = 1.0  # grey levels (0-255): below this, the 4x round trip lost nothing


class PaintingInputWarning(UserWarning):
    """A painting the model can read only poorly; the message says why."""


def round_trip_error(image: Image.Image, factor: int = ROUND_TRIP) -> float:
    """Mean absolute grey-level change of shrinking by `factor` (box) and growing back (bicubic)."""
    grey = image.convert("L")
    width, height = grey.size
    small = grey.resize((max(1, width // factor), max(1, height // factor)), Image.Resampling.BOX)
    back = small.resize((width, height), Image.Resampling.BICUBIC)
    return float(np.abs(np.asarray(grey, np.float32) - np.asarray(back, np.float32)).mean())


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
