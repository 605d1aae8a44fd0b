"""Decode every image once into a memory-mapped uint8 store, reused by later epochs and stages.

The store is keyed by the file list (path, size, mtime) and the pixel size, so a changed or
added file produces a new store instead of stale pixels. Files that fail to decode are
recorded with the reason and left out; a training epoch never touches a raw file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from filelock import FileLock
from tqdm.auto import tqdm

from datamodules.decoding import DEFAULT_RESIZE_FILTER, load_rgb, resize_filter_of

if TYPE_CHECKING:
    import pandas as pd

    from datamodules.discovery import Discovery

log = logging.getLogger(__name__)


def store_key(paths: list[str], size: int, resize_filter: str = DEFAULT_RESIZE_FILTER) -> str:
    digest = hashlib.sha1(f"size={size}|filter={resize_filter}".encode())
    for path in paths:
        try:
            stat = os.stat(path)
            digest.update(f"{path}|{stat.st_size}|{stat.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path}|missing\n".encode())
    return digest.hexdigest()[:16]


class ImageStore:
    """uint8 pixels of shape (N, size, size, 3), row i for paths[i]; `failed` maps row -> reason."""

    def __init__(self, pixels: np.ndarray, failed: dict[int, str]):
        self.pixels = pixels
        self.failed = failed

    @property
    def ok(self) -> np.ndarray:
        mask = np.ones(len(self.pixels), dtype=bool)
        mask[list(self.failed)] = False
        return mask

    @classmethod
    def open_or_build(cls, paths: list[str], size: int, cache_dir, workers: int = 2,
                      resize_filter: str = DEFAULT_RESIZE_FILTER) -> "ImageStore":
        cache_dir = Path(cache_dir)
        cache_dir.mkdir(parents=True, exist_ok=True)
        key = store_key(paths, size, resize_filter)
        data_path = cache_dir / f"images-{size}px-{key}.u8"
        meta_path = cache_dir / f"images-{size}px-{key}.json"
        # One builder at a time (DDP ranks, parallel runs); the others wait and then reuse.
        with FileLock(str(cache_dir / f"images-{key}.lock")):
            if not meta_path.is_file():
                cls._build(paths, size, data_path, meta_path, workers, resize_filter)
            else:
                log.info("Reusing decoded-image cache %s", data_path)
        meta = json.loads(meta_path.read_text())
        pixels = np.memmap(data_path, dtype=np.uint8, mode="r", shape=(len(paths), size, size, 3))
        return cls(pixels, {int(k): v for k, v in meta["failed"].items()})

    @staticmethod
    def _build(paths, size, data_path: Path, meta_path: Path, workers: int, resize_filter: str) -> None:
        tmp_data = data_path.with_suffix(".u8.tmp")
        pixels = np.memmap(tmp_data, dtype=np.uint8, mode="w+", shape=(len(paths), size, size, 3))
        failed: dict[int, str] = {}

        def decode(i: int):
            try:
                pixels[i] = load_rgb(paths[i], size, resize_filter)
            except Exception as error:  # any unreadable file is reported, never fatal
                failed[i] = f"{type(error).__name__}: {error}"

        # Pillow releases the GIL while decoding and resizing, so threads scale over cores.
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            list(tqdm(pool.map(decode, range(len(paths))), total=len(paths),
                      desc=f"Decoding images to {size}px cache", unit="img", mininterval=2.0))
        pixels.flush()
        os.replace(tmp_data, data_path)
        meta_path.write_text(json.dumps({"size": size, "n": len(paths), "failed": failed}))


def known_paintings(meta: dict, found: Discovery, labels: pd.Series, cache_dir) -> tuple[ImageStore, torch.Tensor]:
    """(image store, labels of the decoded ones) for the paintings by artists the checkpoint knows."""
    known = found.index[labels >= 0].reset_index(drop=True)
    known_labels = torch.tensor(labels[labels >= 0].to_numpy(), dtype=torch.long)
    store = ImageStore.open_or_build(known["path"].tolist(), meta["image_size"], cache_dir,
                                     resize_filter=resize_filter_of(meta))
    return store, known_labels[torch.from_numpy(store.ok)]


def unknown_paintings(meta: dict, found: Discovery, labels: pd.Series, cache_dir) -> ImageStore | None:
    """The decoded paintings by artists the checkpoint does not know (None when there are none)."""
    unknown = found.index[labels < 0]
    if unknown.empty:
        return None
    return ImageStore.open_or_build(unknown["path"].tolist(), meta["image_size"], cache_dir,
                                    resize_filter=resize_filter_of(meta))
