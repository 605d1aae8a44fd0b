"""Which artists and paintings take part: left-out artists, top-k, minimum and maximum images per artist."""
from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from datamodules.artist_names import match_key
from datamodules.discovery import DataError

log = logging.getLogger(__name__)

EXCLUDED = "artist_excluded"  # a data_report.csv reason: left out on purpose (exclude_artists), not skipped

# A stratified split needs one image on each side.
MIN_IMAGES_FOR_SPLIT = 2


def select_artists(
    index: pd.DataFrame,
    *,
    top_k_artists: int | None = None,
    min_images_per_artist: int = MIN_IMAGES_FOR_SPLIT,
    max_images_per_artist: int | None = None,
    seed: int = 42,
    exclude_artists: Sequence[str] = (),
) -> tuple[pd.DataFrame, list[dict]]:
    """Apply the selection; returns the kept rows and report rows for images left out by a rule.

    `exclude_artists` (any spelling: "Vincent_van_Gogh", "vincent van gogh") are left out before the
    other rules, e.g. to hold whole artists back as unknown ones; a name that matches no artist is an error.
    """
    report: list[dict] = []
    index = leave_out(index, exclude_artists, report)
    counts = index["artist"].value_counts()
    minimum = max(min_images_per_artist, MIN_IMAGES_FOR_SPLIT)
    too_few = sorted(counts[counts < minimum].index)
    if too_few:
        log.warning(
            "%d artist(s) have fewer than %d images and are left out (a stratified split needs "
            "at least one image on each side): %s", len(too_few), minimum, ", ".join(too_few))
        for row in index[index["artist"].isin(too_few)].itertuples():
            report.append({"path": row.path, "artist": row.artist, "reason": "artist_below_min_images",
                           "detail": f"{counts[row.artist]} < {minimum}"})
    kept = index[~index["artist"].isin(too_few)]
    if top_k_artists is not None:
        ranking = (kept["artist"].value_counts().rename("n").reset_index()
                   .sort_values(["n", "artist"], ascending=[False, True]))
        chosen = set(ranking["artist"].head(top_k_artists))
        kept = kept[kept["artist"].isin(chosen)]
    if max_images_per_artist is not None:
        # Seeded shuffle, then the first `max` of each artist: a per-artist random subsample.
        kept = kept.sample(frac=1.0, random_state=seed).groupby("artist").head(max_images_per_artist)
    return kept.sort_values(["artist", "path"]).reset_index(drop=True), report


def keyed_names(names: Sequence[str]) -> dict[str, str]:
    """{match_key: name as given} of `exclude_artists`; a bare string is refused before it is read
    letter by letter."""
    if isinstance(names, str):
        raise DataError(f"exclude_artists must be a list of artist names, got the string {names!r}")
    return {match_key(name): name for name in names}


def exclusion_key(names: Sequence[str]) -> list[str]:
    """What a split records of `exclude_artists`: one spelling per artist, so that "Edgar_Degas" in
    one stage and "edgar degas" in the next are the same setting."""
    return sorted(keyed_names(names))


def leave_out(index: pd.DataFrame, names: Sequence[str], report: list[dict]) -> pd.DataFrame:
    """`index` without the artists `names`; their images go to `report` as `EXCLUDED`."""
    wanted = keyed_names(names)
    if not wanted:
        return index
    keys = index["artist"].map(match_key)
    present = set(keys)
    unmatched = [name for key, name in wanted.items() if key not in present]
    if unmatched:
        raise DataError(f"exclude_artists names {len(unmatched)} artist(s) not in the data: {', '.join(unmatched)} "
                        f"(artists here: {', '.join(sorted(index['artist'].unique()))})")
    excluded = keys.isin(wanted)
    log.info("Leaving out %d artist(s) (%d images): %s", len(wanted), int(excluded.sum()),
             ", ".join(sorted(index.loc[excluded, "artist"].unique())))
    for row in index[excluded].itertuples():
        report.append({"path": row.path, "artist": row.artist, "reason": EXCLUDED, "detail": "exclude_artists"})
    return index[~excluded]
