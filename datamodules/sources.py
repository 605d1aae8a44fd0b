"""Several collections in one run: each painting keeps its source, and a painter has one name in all.

`DATA=a,b` (`--data.root a,b`) reads each root in its own layout (`datamodules.discovery`). A painter's
paintings from every source go under one name: spellings that share a `match_key` (case, accents,
separators: `claude-monet` is `Claude_Monet`) are one painter, and `configs/artist_aliases.yaml` joins
the spellings that differ more (`rembrandt-van-rijn` is `Rembrandt`). The name shown is the spelling of
the first source that has the painter. `artist_table` says, painter by painter, which sources have them.
"""
from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import yaml

from datamodules.artist_names import match_key
from datamodules.discovery import DataError, Discovery, discover

log = logging.getLogger(__name__)

ALIASES = Path(__file__).resolve().parents[1] / "configs" / "artist_aliases.yaml"


def split_roots(root) -> list[str]:
    """`a,b` (or a list) -> ['a', 'b']: the data roots of a run, in order."""
    roots = root if isinstance(root, (list, tuple)) else str(root).split(",")
    roots = [str(r).strip() for r in roots if str(r).strip()]
    if not roots:
        raise DataError("no data root given")
    return roots


def source_names(roots: list[str]) -> list[str]:
    """A short name per root: its folder (or manifest) name, numbered where two are the same."""
    names = [Path(root).expanduser().resolve().name or str(root) for root in roots]
    return [f"{name}-{i + 1}" if names.count(name) > 1 else name for i, name in enumerate(names)]


def alias_keys(path: Path = ALIASES) -> dict[str, str]:
    """{match_key of a spelling: match_key of the painter's canonical name} from the alias table."""
    if not path.is_file():
        return {}
    table = yaml.safe_load(path.read_text()) or {}
    return {match_key(spelling): match_key(name) for name, spellings in table.items() for spelling in spellings}


def painter_key(name: str, aliases: dict[str, str]) -> str:
    key = match_key(name)
    return aliases.get(key, key)


def discover_sources(root, aliases: dict[str, str] | None = None) -> Discovery:
    """Every painting under each root of `root` (`a,b`), with its `source`, under one name per painter."""
    roots = split_roots(root)
    aliases = alias_keys() if aliases is None else aliases
    found = [discover(root_path) for root_path in roots]
    index = pd.concat([f.index.assign(source=source) for f, source in zip(found, source_names(roots))],
                      ignore_index=True)
    keys = index["artist"].map(lambda name: painter_key(name, aliases))
    shown = index.assign(key=keys).drop_duplicates("key").set_index("key")["artist"]  # first source's spelling
    index["artist"] = keys.map(shown)
    root_label = Path(roots[0]) if len(roots) == 1 else Path(",".join(roots))
    return Discovery(root_label, "+".join(f.layout for f in found), index[["path", "artist", "source"]],
                     [row for f in found for row in f.skipped], found[0].artists_info if len(roots) == 1 else None)


def artist_table(index: pd.DataFrame, spellings: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per painter: paintings in each source, how many sources have them, and its role
    (`class` or `other artist`) where `index` has a `label` column (-1: other artist)."""
    counts = index.pivot_table(index="artist", columns="source", values="path", aggfunc="count", fill_value=0)
    counts.columns = [f"paintings_{source}" for source in counts.columns]
    table = counts.reset_index()
    table["sources"] = (counts > 0).sum(axis=1).to_numpy()
    if "label" in index.columns:
        is_class = index.groupby("artist")["label"].max() >= 0
        table["role"] = table["artist"].map(lambda a: "class" if is_class[a] else "other artist")
    return table.sort_values(["sources", "artist"], ascending=[False, True]).reset_index(drop=True)


def log_matches(table: pd.DataFrame) -> None:
    """What the data report says of the sources: who matched across them, and who did not."""
    source_columns = [c for c in table.columns if c.startswith("paintings_")]
    if len(source_columns) < 2:
        return
    matched = table[table["sources"] >= 2]["artist"].tolist()
    log.info("%d painter(s) in several sources: %s", len(matched), ", ".join(matched) or "none")
    for column in source_columns:
        alone = table[(table["sources"] == 1) & (table[column] > 0)]
        roles = alone["role"].value_counts().to_dict() if "role" in alone else {}
        log.info("%d painter(s) only in %s (%s)", len(alone), column.removeprefix("paintings_"),
                 ", ".join(f"{n} {role}" for role, n in roles.items()) or "")
