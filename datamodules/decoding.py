"""Turn any image file PIL can read into an RGB array of a fixed square size."""
from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
from PIL import Image, ImageFile

# Never accept half a file as a painting: a truncated JPEG must fail loudly and be reported.
ImageFile.LOAD_TRUNCATED_IMAGES = False

WHITE = (255, 255, 255)
# How the loader resizes a decoded image to the model's size (any size that differs: full-size
# files shrink, small ones grow). Recorded in every checkpoint, so evaluation and prediction read
# paintings the way the model was trained on them.
RESIZE_FILTERS = {
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}
DEFAULT_RESIZE_FILTER = "lanczos"  # measured: docs/experiments.md, "Robustness: paintings as people have them"


@contextmanager
def strict_pixel_limit():
    """Images over PIL's decompression-bomb limit fail instead of only warning.

    PIL raises only above twice its limit and merely warns in between; such a file is skipped
    with the reason. The limit is never lifted silently: raise `Image.MAX_IMAGE_PIXELS` on
    purpose if a collection really holds such scans.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert every mode to 8-bit RGB; transparency is composited on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit grey: scale the actual value range to 8 bits instead of clipping at 255.
        array = np.asarray(image, dtype=np.float64)
        high = 65535.0 if image.mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / high * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(array, mode="L").convert("RGB")
    if image.mode == "F":
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) / (high - low or 1.0) * 255.0
        return Image.fromarray(scaled.astype(np.uint8), mode="L").convert("RGB")
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, WHITE + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def resize_filter_of(meta: dict) -> str:
    """The resize filter a checkpoint was trained with (checkpoints made before it was recorded: bilinear)."""
    return meta.get("resize_filter", "bilinear")


def load_rgb(path, size: int, resize_filter: str = DEFAULT_RESIZE_FILTER) -> np.ndarray:
    """Decode `path` to a (size, size, 3) uint8 array; aspect is not kept (as in the study).

    Large JPEGs are decoded at a reduced scale (PIL draft mode), which is several times faster
    than a full decode followed by a resize and gives the same picture at `size`.
    """
    with strict_pixel_limit(), Image.open(path) as image:
        if image.format == "JPEG":
            image.draft("RGB", (size, size))
        image.load()
        return square_rgb(image, size, resize_filter)


def square_rgb(image: Image.Image, size: int, resize_filter: str = DEFAULT_RESIZE_FILTER) -> np.ndarray:
    """A decoded PIL image as a (size, size, 3) uint8 array (any mode; aspect not kept), resized with
    one of `RESIZE_FILTERS`."""
    if resize_filter not in RESIZE_FILTERS:
        raise ValueError(f"unknown resize filter {resize_filter!r}; choose one of {', '.join(RESIZE_FILTERS)}")
    rgb = to_rgb(image)
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), RESIZE_FILTERS[resize_filter], reducing_gap=3.0)
    return np.array(rgb, dtype=np.uint8)  # a writable copy
