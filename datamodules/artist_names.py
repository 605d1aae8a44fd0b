"""Artist names: one identity for a folder name, a CSV name, a WikiArt slug and a mis-encoded zip entry.

`Pierre-Auguste_Renoir` (folder), `Pierre-Auguste Renoir` (artists.csv) and `pierre-auguste-renoir`
(a WikiArt file name) are the same artist, and so is `Albrecht_Du╠êrer`, the real Kaggle zip's spelling
of Dürer: a decomposed UTF-8 "ü" (u + U+0308) whose bytes were read back as code page 437. WikiArt
copies carry slugs mangled two or three times over (`joaquΓö£╨│Γö¼╨╜n-sorolla` is `joaquín-sorolla`).
"""
from __future__ import annotations

import re
import unicodedata

import pandas as pd

# Encodings that zip tools and file copies commonly use to mangle UTF-8 file names.
_MOJIBAKE_ENCODINGS = ("cp437", "cp1252", "latin-1", "cp866", "cp850")
_MAX_REPAIR_STEPS = 3
# Not part of a name's identity: case, accents, and how its words are joined.
_SEPARATORS = re.compile(r"[\s_\-.'’]+")
# Lower-case particles of painters' names, kept lower-case when a slug becomes a name.
_PARTICLES = {"de", "da", "del", "della", "der", "di", "du", "la", "le", "van", "von", "y", "and"}


def _reads_as_a_name(name: str) -> bool:
    """ASCII, or Latin letters of the Latin-1 and Latin Extended-A ranges (what painters' names use)."""
    return all(ch.isascii() or ("\u00c0" <= ch <= "\u017f" and ch not in "\u00d7\u00f7") for ch in name)


def _relowered(text: str) -> str:
    """Undo a lower-casing of mojibake: a UTF-8 lead byte read as Latin-1 (Ã, Â, ...) and then lower-cased
    (ã, â, ...) goes back to its capital when a continuation byte (U+0080-U+00BF) follows it."""
    chars = list(text)
    for i, ch in enumerate(chars[:-1]):
        if "\u00e0" <= ch <= "\u00fe" and ch != "\u00f7" and "\u0080" <= chars[i + 1] <= "\u00bf":
            chars[i] = chr(ord(ch) - 0x20)
    return "".join(chars)


def _one_step_repairs(text: str):
    for candidate in (_relowered(text), text):
        for encoding in _MOJIBAKE_ENCODINGS:
            try:
                repaired = candidate.encode(encoding).decode("utf-8")
            except (UnicodeEncodeError, UnicodeDecodeError):
                continue
            if repaired != text:
                yield unicodedata.normalize("NFC", repaired)


def repair_encoding(name: str) -> str:
    """Undo UTF-8-read-as-legacy-codepage damage, up to three times over; leaves correct names unchanged
    (and names it cannot repair as they are)."""
    name = unicodedata.normalize("NFC", name)
    if _reads_as_a_name(name):
        return name
    frontier, seen = [name], {name}
    for _ in range(_MAX_REPAIR_STEPS):
        following = []
        for text in frontier:
            for repaired in _one_step_repairs(text):
                cleaned = repaired.strip()  # str.strip takes a no-break space too
                if cleaned and _relowered(repaired) == repaired and _reads_as_a_name(cleaned):
                    return cleaned
                if repaired not in seen:
                    seen.add(repaired)
                    following.append(repaired)
        frontier = following
    return name


def name_from_slug(slug: str) -> str:
    """A readable name from a WikiArt slug: `henri-de-toulouse-lautrec` -> `Henri de Toulouse Lautrec`
    (a source that spells the painter otherwise gives its own spelling: `datamodules.sources`)."""
    words = [w for w in re.split(r"[-_\s]+", repair_encoding(slug)) if w]
    return " ".join(w if w in _PARTICLES and i else w[:1].upper() + w[1:] for i, w in enumerate(words))


def display_name(folder_name: str) -> str:
    """Readable artist name from a folder name: encoding repaired, underscores as spaces."""
    return " ".join(repair_encoding(folder_name).replace("_", " ").split())


def match_key(name: str) -> str:
    """Key under which two spellings of one artist compare equal (case, accents, and whether words are
    joined by spaces, `_`, `-` or `.`)."""
    decomposed = unicodedata.normalize("NFKD", display_name(name))
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub("", without_marks.casefold())


def artist_labels(names: pd.Series, artists: list[str]) -> pd.Series:
    """Each painting's label in the checkpoint's artist order; -1 for artists it does not know."""
    label_of = {match_key(name): i for i, name in enumerate(artists)}
    return names.map(lambda a: label_of.get(match_key(a), -1))
