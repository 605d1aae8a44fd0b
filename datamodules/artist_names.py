"""Artist names: one identity for a folder name, a CSV name and a mis-encoded zip entry.

`Pierre-Auguste_Renoir` (folder) and `Pierre-Auguste Renoir` (artists.csv) are the same artist,
and so is `Albrecht_Du╠êrer`, the real Kaggle zip's spelling of Dürer: a decomposed UTF-8 "ü"
(u + U+0308) whose bytes were read back as code page 437.
"""
from __future__ import annotations

import unicodedata

import pandas as pd

# Encodings that zip tools commonly use to mangle UTF-8 file names.
_MOJIBAKE_ENCODINGS = ("cp437", "cp1252", "latin-1")


def repair_encoding(name: str) -> str:
    """Undo UTF-8-read-as-legacy-codepage damage; leaves correct names unchanged."""
    if name.isascii():
        return name
    for encoding in _MOJIBAKE_ENCODINGS:
        try:
            repaired = name.encode(encoding).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
        if repaired != name:
            return unicodedata.normalize("NFC", repaired)
    return unicodedata.normalize("NFC", name)


def display_name(folder_name: str) -> str:
    """Readable artist name from a folder name: encoding repaired, underscores as spaces."""
    return " ".join(repair_encoding(folder_name).replace("_", " ").split())


def match_key(name: str) -> str:
    """Key under which two spellings of one artist compare equal (case, accents, _ vs space)."""
    decomposed = unicodedata.normalize("NFKD", display_name(name))
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return without_marks.casefold()


def artist_labels(names: pd.Series, artists: list[str]) -> pd.Series:
    """Each painting's label in the checkpoint's artist order; -1 for artists it does not know."""
    label_of = {match_key(name): i for i, name in enumerate(artists)}
    return names.map(lambda a: label_of.get(match_key(a), -1))
