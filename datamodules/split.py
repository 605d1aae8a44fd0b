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
                     groups: np.ndarray | None = None, classes: list[str] | None = None) -> pd.DataFrame:
    """Per artist and source, about `n * val_fraction` paintings go to validation and `n * test_fraction` to
    test (`part_sizes`), the rest to training; a group of near-duplicates (`groups`, one id per row
    of `index`) goes whole into one part, across sources too (a group met in an earlier source keeps
    the part it got there).

    Validation is drawn first from the seeded order, so adding a test part takes it from what was
    training and leaves validation as it was; with no groups and no test part this is the split
    earlier versions made with the same seed, and one source splits as before sources existed.

    `classes`: the artists that are the model's classes (labels 0..K-1 in name order; default: every
    artist). Every other painter is an *other artist* (label -1), split by painter, not by painting:
    whole painters go to validation and test in the same fractions, so the other artists of the test
    part are painters nothing in training met.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if not 0.0 <= test_fraction < 1.0 - val_fraction:
        raise ValueError(f"test_fraction must be in [0, 1 - val_fraction), got {test_fraction}")
    index = index.reset_index(drop=True).assign(group=groups if groups is not None else np.arange(len(index)))
    if "source" not in index.columns:
        index["source"] = ""
    sources = list(dict.fromkeys(index["source"]))  # in the order the roots were given
    class_set = set(index["artist"]) if classes is None else set(classes)
    # One generator per source, the first's seeded as before sources existed: adding a source leaves
    # the first one's split exactly as it was.
    rngs = {source: np.random.default_rng(seed if i == 0 else [seed, i]) for i, source in enumerate(sources)}
    parts = []
    labels = {artist: label for label, artist in enumerate(sorted(class_set & set(index["artist"])))}
    # One pass per artist in name order (labels follow it); groupby keeps this linear in paintings.
    for artist, paintings in index[index["artist"].isin(class_set)].groupby("artist", sort=True):
        part_of_group: dict = {}
        for source in (s for s in sources if (paintings["source"] == s).any()):
            stratum = paintings[paintings["source"] == source].sort_values("path", kind="stable")
            unit_part = _assign_units(stratum, val_fraction, test_fraction, rngs[source], part_of_group)
            parts.append(stratum.assign(label=labels[artist], split=unit_part))
    others = index[~index["artist"].isin(class_set)]
    if not others.empty:
        parts.append(_split_by_painter(others, val_fraction, test_fraction, np.random.default_rng([seed, 1_000])))
    return pd.concat(parts, ignore_index=True)[["path", "artist", "label", "split", "group", "source"]]


def _assign_units(paintings: pd.DataFrame, val_fraction: float, test_fraction: float, rng, part_of_group: dict):
    """The part of each painting of one artist in one source (units: near-duplicate groups, in path order)."""
    n_val, n_test = part_sizes(len(paintings), val_fraction, test_fraction)
    unit_of, unit_groups = pd.factorize(paintings["group"])  # groups in path order; most are single paintings
    unit_sizes = np.bincount(unit_of)
    unit_part = np.full(len(unit_sizes), "train", dtype=object)
    filled = {"val": 0, "test": 0}
    placed = set()
    for unit, group in enumerate(unit_groups):  # a group seen in an earlier source keeps its part
        if group in part_of_group:
            unit_part[unit] = part_of_group[group]
            filled[unit_part[unit]] = filled.get(unit_part[unit], 0) + int(unit_sizes[unit])
            placed.add(unit)
    for unit in rng.permutation(len(unit_sizes)):
        if unit in placed:
            continue
        part = "val" if filled["val"] < n_val else "test" if filled["test"] < n_test else "train"
        if part == "train":
            break
        filled[part] += int(unit_sizes[unit])
        unit_part[unit] = part
    part_of_group.update(zip(unit_groups, unit_part))
    return unit_part[unit_of]


def _split_by_painter(others: pd.DataFrame, val_fraction: float, test_fraction: float, rng) -> pd.DataFrame:
    """Other artists (label -1): whole painters to each part, seeded, in the split's fractions."""
    painters = np.array(sorted(others["artist"].unique()), dtype=object)
    order = painters[rng.permutation(len(painters))]
    n_val, n_test = round(len(painters) * val_fraction), round(len(painters) * test_fraction)
    part_of = {painter: "val" if i < n_val else "test" if i < n_val + n_test else "train"
               for i, painter in enumerate(order)}
    others = others.sort_values(["artist", "path"], kind="stable")
    return others.assign(label=-1, split=others["artist"].map(part_of))


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
    """The classes' names in label order (other artists, label -1, are not classes)."""
    pairs = split.loc[split["label"] >= 0, ["label", "artist"]].drop_duplicates().sort_values("label")
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
    columns = ["path", "artist", *(["source"] if split.get("source", pd.Series(dtype=str)).nunique() > 1 else [])]
    rows = split.loc[split["split"] == part, columns].reset_index(drop=True)
    if rows.empty:
        hint = " (the run was split without one: --data.test_fraction=0)" if part == "test" else ""
        raise ValueError(f"{split_csv} has no {PART_NAMES[part]} part{hint}")
    return Discovery(root=Path(split_csv).parent, layout="split", index=rows)


def validation_part(split_csv) -> Discovery:
    """The `val` rows of a run's split.csv: what picks checkpoints, views and thresholds."""
    return split_part(split_csv, "val")
