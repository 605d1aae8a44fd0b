"""Stratified, seeded train/val split and its manifest (the single record every stage reads)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from fileio import atomic_write_text

MANIFEST_NAME = "split.csv"
PARAMS_NAME = "split.json"


def stratified_split(index: pd.DataFrame, val_fraction: float, seed: int) -> pd.DataFrame:
    """Per artist, `round(n * val_fraction)` images (at least 1, at most n-1) go to validation."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    rng = np.random.default_rng(seed)
    artists = sorted(index["artist"].unique())
    label_of = {artist: label for label, artist in enumerate(artists)}
    parts = []
    for artist in artists:
        group = index[index["artist"] == artist].sort_values("path")
        n = len(group)
        n_val = min(max(int(round(n * val_fraction)), 1), n - 1)
        order = rng.permutation(n)
        split = np.full(n, "train", dtype=object)
        split[order[:n_val]] = "val"
        parts.append(group.assign(label=label_of[artist], split=split))
    return pd.concat(parts, ignore_index=True)[["path", "artist", "label", "split"]]


def write_manifest(split: pd.DataFrame, run_dir: Path, params: dict) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / MANIFEST_NAME, split.to_csv(index=False))
    atomic_write_text(run_dir / PARAMS_NAME, json.dumps(params, indent=2, sort_keys=True))


def read_manifest(run_dir: Path) -> tuple[pd.DataFrame, dict] | None:
    path = Path(run_dir) / MANIFEST_NAME
    if not path.is_file():
        return None
    split = pd.read_csv(path)
    params_path = Path(run_dir) / PARAMS_NAME
    params = json.loads(params_path.read_text()) if params_path.is_file() else {}
    return split, params


def artists_from_manifest(split: pd.DataFrame) -> list[str]:
    """Artist names in label order."""
    pairs = split[["label", "artist"]].drop_duplicates().sort_values("label")
    if pairs["label"].tolist() != list(range(len(pairs))):
        raise ValueError("Split manifest labels are not 0..K-1 with one artist each")
    return pairs["artist"].tolist()
