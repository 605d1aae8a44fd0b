"""Near-duplicate paintings (the same painting twice, photographed or resized differently), found by
a 64-bit difference hash, so that the split keeps each group in one part.

The hash is the sign of the horizontal gradient on a 9x8 grey thumbnail. On the 49-artist set, two
files of one artist within 3 bits of each other were, when looked at, the same painting (or a
colour variant of one print) in all but a few cases; across artists every such pair was a false
match (a Klee and a Botticelli, a Warhol and a Van Gogh), so only one artist's paintings are grouped
(docs/experiments.md, "Test part and near-duplicates").
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from PIL import Image

NO_HASH = np.uint64(0)  # flat or unreadable images: never grouped


def difference_hash(path: str) -> int:
    """64-bit dHash of an image file; 0 when it cannot be read (the image store reports those)."""
    try:
        with Image.open(path) as image:
            image.draft("L", (64, 64))  # JPEG: decode at 1/2-1/8 scale, enough for a 9x8 thumbnail
            grey = np.asarray(image.convert("L").resize((9, 8), Image.Resampling.BILINEAR), dtype=np.int16)
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0
    bits = (grey[:, 1:] > grey[:, :-1]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def difference_hashes(paths: list[str], workers: int | None = None) -> np.ndarray:
    with ThreadPoolExecutor(workers or os.cpu_count() or 1) as pool:
        return np.array(list(pool.map(difference_hash, paths, chunksize=64)), dtype=np.uint64)


def _find(parent: np.ndarray, i: int) -> int:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def group_near_duplicates(hashes: np.ndarray, artists: np.ndarray, max_bits: int, chunk: int = 2048) -> np.ndarray:
    """Group id per image: images of one artist whose hashes differ in at most `max_bits` bits
    (transitively) share the id of their first member; every other image is its own group.
    `max_bits < 0` groups nothing. Cost grows with the paintings per artist, not the collection."""
    n = len(hashes)
    parent = np.arange(n)
    if max_bits < 0:
        return parent
    for members in pd.Series(artists).groupby(artists, sort=False).indices.values():
        members = members[hashes[members] != NO_HASH]
        codes = hashes[members]
        for start in range(0, len(members), chunk):
            block = codes[start:start + chunk]
            distances = np.bitwise_count(block[:, None] ^ codes[None, :])
            for a, b in zip(*np.nonzero(distances <= max_bits)):
                i, j = members[start + a], members[b]
                if i < j:
                    root_i, root_j = _find(parent, i), _find(parent, j)
                    if root_i != root_j:
                        parent[max(root_i, root_j)] = min(root_i, root_j)
    return np.array([_find(parent, i) for i in range(n)])


def near_duplicate_groups(paths: list[str], artists: np.ndarray, max_bits: int) -> np.ndarray:
    """Group id per painting (`group_near_duplicates` of their hashes); with `max_bits < 0` no file is
    read, since nothing is grouped."""
    if max_bits < 0:
        return np.arange(len(paths))
    return group_near_duplicates(difference_hashes(paths), artists, max_bits)
