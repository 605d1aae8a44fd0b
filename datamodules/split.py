"""Stratified, seeded train/val split and its manifest (the single record every stage reads)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.discovery import Discovery
from fileio import atomic_write_text

MANIFEST_NAME = "split.csv"
PARAMS_NAME = "split.json"


def part_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """(validation, test) paintings of an artist with `n`: each at least 1 when its fraction is
    above 0, and at least one painting left to train on."""
    n_val = min(max(int(round(n * val_fraction)), 1), n - 1)
    n_test = min(max(int(round(n * test_fraction)), 1), n - n_val - 1) if test_fraction > 0 else 0
    return n_val, max(n_test, 0)


def stratified_split(index: pd.DataFrame, val_fraction: float, seed: int, test_fraction: float = 0.0,
                     groups: np.ndarray | None = None) -> pd.DataFrame:
    """Per artist, about `n * val_fraction` paintings go to validation and `n * test_fraction` to
    test (`part_sizes`), the rest to training; a group of near-duplicates (`groups`, one id per row
    of `index`) goes whole into one part.

    Validation is drawn first from the seeded order, so adding a test part takes it from what was
    training and leaves validation as it was; with no groups and no test part this is the split
    earlier versions made with the same seed.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if not 0.0 <= test_fraction < 1.0 - val_fraction:
        raise ValueError(f"test_fraction must be in [0, 1 - val_fraction), got {test_fraction}")
    index = index.reset_index(drop=True).assign(group=groups if groups is not None else np.arange(len(index)))
    rng = np.random.default_rng(seed)
    parts = []
    # One pass per artist in name order (labels follow it); groupby keeps this linear in paintings.
    for label, (_, paintings) in enumerate(index.groupby("artist", sort=True)):
        paintings = paintings.sort_values("path", kind="stable")
        n_val, n_test = part_sizes(len(paintings), val_fraction, test_fraction)
        unit_of, _ = pd.factorize(paintings["group"])  # groups in path order; most are single paintings
        unit_sizes = np.bincount(unit_of)
        unit_part = np.full(len(unit_sizes), "train", dtype=object)
        filled = {"val": 0, "test": 0}
        for unit in rng.permutation(len(unit_sizes)):
            part = "val" if filled["val"] < n_val else "test" if filled["test"] < n_test else "train"
            if part == "train":
                break
            filled[part] += int(unit_sizes[unit])
            unit_part[unit] = part
        parts.append(paintings.assign(label=label, split=unit_part[unit_of]))
    return pd.concat(parts, ignore_index=True)[["path", "artist", "label", "split", "group"]]


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


PART_NAMES = {"val": "validation", "test": "test"}


def split_part(split_csv, part: str = "val") -> Discovery:
    """The rows of one part (`val` or `test`) of a run's split.csv (paths as the run recorded them)."""
    if part not in PART_NAMES:
        raise ValueError(f"part must be one of {sorted(PART_NAMES)}, got {part!r}")
    split = pd.read_csv(split_csv)
    missing = {"path", "artist", "split"} - set(split.columns)
    if missing:
        raise ValueError(f"{split_csv} is not a run's split.csv: no column(s) {sorted(missing)}")
    rows = split.loc[split["split"] == part, ["path", "artist"]].reset_index(drop=True)
    if rows.empty:
        hint = " (the run was split without one: --data.test_fraction=0)" if part == "test" else ""
        raise ValueError(f"{split_csv} has no {PART_NAMES[part]} part{hint}")
    return Discovery(root=Path(split_csv).parent, layout="split", index=rows)


def validation_part(split_csv) -> Discovery:
    """The `val` rows of a run's split.csv: what picks checkpoints, views and thresholds."""
    return split_part(split_csv, "val")
