"""The embedded public-domain sample: the artists with the most paintings among those who died before
1955, a seeded subsample of each, in the Kaggle layout with a trimmed artists.csv."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd

from datamodules.artist_names import match_key
from datamodules.discovery import find_image_root

PUBLIC_DOMAIN_DIED_BEFORE = 1955
# Died before 1955, yet works published after 1929 may still be protected in some countries
# (the data set's own README lists them as not public domain): left out to be safe.
CONSERVATIVE_EXCLUDE = ("Paul Klee", "Vasiliy Kandinskiy", "Kazimir Malevich", "Piet Mondrian",
                        "Edvard Munch", "Henri Matisse", "Frida Kahlo")


def death_year(years: str) -> int:
    return int(re.findall(r"\d{3,4}", str(years))[-1])


def build_sample(source: Path, dest: Path, n_artists: int = 10, per_artist: int = 50, seed: int = 0) -> pd.DataFrame:
    info = pd.read_csv(source / "artists.csv")
    excluded = {match_key(name) for name in CONSERVATIVE_EXCLUDE}
    info = info[(info["years"].map(death_year) < PUBLIC_DOMAIN_DIED_BEFORE) & ~info["name"].map(match_key).isin(excluded)]
    by_key = {match_key(name): row for name, row in zip(info["name"], info.to_dict("records"))}
    image_root, _ = find_image_root(source)
    counts = []
    for folder in image_root.iterdir():
        if folder.is_dir() and match_key(folder.name) in by_key:
            counts.append((len(list(folder.glob("*.jpg"))), folder.name, folder))
    chosen = sorted(counts, key=lambda c: (-c[0], c[1]))[:n_artists]
    if dest.exists():
        shutil.rmtree(dest)
    rows = []
    for _, name, folder in chosen:
        files = pd.Series(sorted(folder.glob("*.jpg"))).sample(n=per_artist, random_state=seed)
        (dest / "images" / name).mkdir(parents=True)
        for file in sorted(files):
            shutil.copy2(file, dest / "images" / name / file.name)
        rows.append(by_key[match_key(name)])
    trimmed = pd.DataFrame(rows)
    trimmed.to_csv(dest / "artists.csv", index=False)
    return trimmed
