"""Find the paintings under a data root, in any accepted layout.

Accepted layouts:
- Kaggle "Best Artworks of All Time": `root/images/<Artist_Name>/...` or, as the real zip
  unpacks, `root/images/images/<Artist_Name>/...`, with an optional `root/artists.csv`;
- a plain folder per artist: `root/<Artist_Name>/...`;
- WikiArt's own: `root/<Style>/<artist-slug>_<title>.jpg`, the artist the part of the file name before
  the first `_` (`claude-monet_water-lilies-1916.jpg`); told apart from a folder per artist by its
  lower-case slugs, several of them in one folder;
- a CSV manifest with columns `path,artist` (paths relative to the CSV's folder, or absolute
  inside it).

The result is an index (one row per readable-looking image) plus a list of what was skipped
and why; nothing is dropped silently.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image, UnidentifiedImageError

from datamodules.artist_names import display_name, match_key, name_from_slug, repair_encoding
from datamodules.decoding import strict_pixel_limit

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
OS_JUNK = {"thumbs.db", "desktop.ini", "ehthumbs.db"}
REPORT_COLUMNS = ["path", "artist", "reason", "detail"]


class DataError(ValueError):
    """The data cannot be used as given; the message says what to change (no traceback needed)."""


@dataclass
class Discovery:
    """Images found under a root: `index` (path, artist) and `skipped` (path, artist, reason, detail)."""

    root: Path
    layout: str
    index: pd.DataFrame
    skipped: list[dict] = field(default_factory=list)
    artists_info: pd.DataFrame | None = None

    def skipped_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.skipped, columns=REPORT_COLUMNS)


def _skip(skipped: list, path, artist, reason: str, detail: str = "") -> None:
    skipped.append({"path": str(path), "artist": artist, "reason": reason, "detail": detail})


def check_header(path: Path) -> tuple[str, str] | None:
    """Cheap readability check (header only). Returns (reason, detail) when the file is unusable."""
    try:
        if path.stat().st_size == 0:
            return "empty_file", "0 bytes"
        with strict_pixel_limit(), Image.open(path) as image:
            image.size  # noqa: B018 - touching size forces the header parse
    except FileNotFoundError as error:
        return "missing_file", str(error)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        return "decompression_bomb", str(error)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        return "not_an_image", f"{type(error).__name__}: {error}"
    return None


def _accept_file(path: Path, root: Path, artist: str, skipped: list) -> bool:
    name = path.name
    if name.startswith(".") or name.lower() in OS_JUNK:
        _skip(skipped, path, artist, "os_junk_or_hidden")
        return False
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        _skip(skipped, path, artist, "not_an_image_extension", path.suffix)
        return False
    if path.is_symlink():
        target = path.resolve()
        if not target.is_relative_to(root.resolve()):
            _skip(skipped, path, artist, "symlink_outside_root", str(target))
            return False
    problem = check_header(path)
    if problem:
        _skip(skipped, path, artist, *problem)
        return False
    return True


WIKIART = "wikiart"
NO_ARTIST_IN_NAME = "no_artist_in_file_name"  # a data_report.csv reason (WikiArt layout)
_SAMPLE_PER_FOLDER = 50


def wikiart_slug(path: Path) -> str | None:
    """The artist slug of a WikiArt file name (`claude-monet` of `claude-monet_water-lilies.jpg`), or None."""
    slug, underscore, title = path.stem.partition("_")
    return slug if underscore and slug and title else None


def looks_like_wikiart(folders: list[Path]) -> bool:
    """Style folders of `<artist-slug>_<title>` files: most names start with a lower-case slug, and most
    folders hold several artists (a folder per artist holds one: `Claude_Monet/Claude_Monet_1.jpg`)."""
    if not folders:
        return False
    sampled, slugged, several = 0, 0, 0
    for folder in folders:
        names = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        names = names[:_SAMPLE_PER_FOLDER]
        slugs = [repair_encoding(slug) for slug in map(wikiart_slug, names) if slug]
        lower = [slug for slug in slugs if slug == slug.lower()]
        sampled += len(names)
        slugged += len(lower)
        several += len(set(lower)) >= 2
    return sampled > 0 and slugged >= 0.8 * sampled and several >= 0.5 * len(folders)


def discover_wikiart(root: Path, folders: list[Path]) -> Discovery:
    """WikiArt's layout: every image under the style folders, its artist from its file name."""
    rows, skipped = [], []
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file() or p.is_symlink()):
            slug = wikiart_slug(path)
            artist = name_from_slug(slug) if slug else None
            if artist is None:
                if not path.name.startswith(".") and path.name.lower() not in OS_JUNK:
                    _skip(skipped, path, None, NO_ARTIST_IN_NAME, "WikiArt names files <artist-slug>_<title>")
                continue
            if _accept_file(path, root, artist, skipped):
                rows.append({"path": str(path), "artist": artist})
    return Discovery(root, WIKIART, pd.DataFrame(rows, columns=["path", "artist"]), skipped)


def find_image_root(root: Path) -> tuple[Path, str]:
    """Where the artist folders are, and the layout's name."""
    for candidate, layout in ((root / "images" / "images", "kaggle-nested"), (root / "images", "kaggle")):
        if candidate.is_dir() and any(p.is_dir() for p in candidate.iterdir()):
            return candidate, layout
    return root, "folder-per-artist"


def read_artists_csv(path: Path) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    info = pd.read_csv(path)
    if "name" not in info.columns:
        raise DataError(f"{path} has no 'name' column (columns: {list(info.columns)})")
    info["key"] = info["name"].map(match_key)
    return info


def _resolve_artist_names(folder_names: list[str], info: pd.DataFrame | None) -> dict[str, str]:
    """Folder name -> display name, preferring artists.csv's spelling when the keys match."""
    csv_names = {} if info is None else dict(zip(info["key"], info["name"]))
    return {folder: csv_names.get(match_key(folder), display_name(folder)) for folder in folder_names}


def discover_folders(root: Path) -> Discovery:
    image_root, layout = find_image_root(root)
    info = read_artists_csv(root / "artists.csv")
    artist_dirs = sorted(p for p in image_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if info is None and looks_like_wikiart(artist_dirs):
        return discover_wikiart(image_root, artist_dirs)
    names = _resolve_artist_names([p.name for p in artist_dirs], info)
    rows, skipped = [], []
    for artist_dir in artist_dirs:
        artist = names[artist_dir.name]
        files = sorted(p for p in artist_dir.rglob("*") if p.is_file() or p.is_symlink())
        accepted = [p for p in files if _accept_file(p, image_root, artist, skipped)]
        if not accepted:
            log.warning("Artist folder %s holds no usable image; artist %r left out", artist_dir, artist)
            _skip(skipped, artist_dir, artist, "empty_artist_folder")
        rows.extend({"path": str(p), "artist": artist} for p in accepted)
    if info is not None:
        found = {match_key(a) for a in names.values()}
        absent = info.loc[~info["key"].isin(found), "name"].tolist()
        if absent:
            log.warning("artists.csv lists %d artist(s) with no images here: %s", len(absent), ", ".join(absent))
    return Discovery(root, layout, pd.DataFrame(rows, columns=["path", "artist"]), skipped, info)


def discover_manifest(csv_path: Path) -> Discovery:
    manifest = pd.read_csv(csv_path)
    missing = {"path", "artist"} - set(manifest.columns)
    if missing:
        raise DataError(
            f"Manifest {csv_path} lacks column(s) {sorted(missing)}; it needs 'path,artist' "
            f"(found: {list(manifest.columns)})"
        )
    base = csv_path.parent.resolve()
    rows, skipped = [], []
    seen: set[str] = set()
    for raw_path, artist in zip(manifest["path"], manifest["artist"]):
        if pd.isna(raw_path) or pd.isna(artist):
            _skip(skipped, raw_path, artist, "manifest_row_incomplete")
            continue
        artist = display_name(str(artist))
        path = Path(str(raw_path))
        path = (path if path.is_absolute() else base / path).resolve()
        if not path.is_relative_to(base):
            _skip(skipped, raw_path, artist, "path_outside_manifest_root", str(path))
            continue
        if str(path) in seen:
            _skip(skipped, raw_path, artist, "duplicate_manifest_row")
            continue
        seen.add(str(path))
        if _accept_file(path, base, artist, skipped):
            rows.append({"path": str(path), "artist": artist})
    return Discovery(csv_path, "csv-manifest", pd.DataFrame(rows, columns=["path", "artist"]), skipped)


def discover(root) -> Discovery:
    """Index the images under `root` (a folder or a CSV manifest)."""
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"Data path does not exist: {root.resolve()}")
    found = discover_manifest(root) if root.is_file() else discover_folders(root)
    if found.index.empty:
        raise DataError(
            f"No images found under {root.resolve()} (layout: {found.layout}). Expected "
            "images/<Artist_Name>/*.jpg, images/images/<Artist_Name>/*.jpg, <Artist_Name>/*.jpg, "
            "WikiArt's <Style>/<artist-slug>_<title>.jpg or a CSV with columns path,artist."
        )
    log.info("Found %d images of %d artists in %s (%s layout); %d file(s) skipped",
             len(found.index), found.index["artist"].nunique(), root, found.layout, len(found.skipped))
    return found
