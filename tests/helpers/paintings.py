"""Tiny painting collections generated on the fly, in the Kaggle layout."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Distinct base colours so a tiny model can learn who "painted" what.
PALETTE = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (200, 30, 200), (30, 200, 200)]


def write_painting(path: Path, seed: int, colour=(128, 128, 128), size=(48, 40), mode="RGB", fmt=None) -> Path:
    rng = np.random.default_rng(seed)
    base = np.array(colour, dtype=np.float64)
    pixels = np.clip(base + rng.normal(0, 25, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    if mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)
    return path


def make_collection(root: Path, counts: dict[str, int], nested: bool = False, artists_csv: list[str] | None = None,
                    size=(48, 40)) -> Path:
    """Kaggle layout: root/images[/images]/<Artist_Name>/<Artist_Name>_<n>.jpg (+ artists.csv)."""
    image_root = root / "images" / "images" if nested else root / "images"
    for a, (folder, n) in enumerate(counts.items()):
        for i in range(n):
            write_painting(image_root / folder / f"{folder}_{i + 1}.jpg", seed=a * 1000 + i,
                           colour=PALETTE[a % len(PALETTE)], size=size)
    if artists_csv is not None:
        lines = ["id,name,years,genre,nationality,bio,wikipedia,paintings"]
        lines += [f'{i},{name},1800 - 1900,Genre,Nat,"bio",http://x,{10}' for i, name in enumerate(artists_csv)]
        (root / "artists.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
