"""Cost of the data side against collection size (issue #19): discovery, the split (near-duplicate
hashes included) and the decoded-image cache build, on generated collections of small paintings.

    python bench/data_scaling.py [--sizes 10000,30000,100000] [--image-size 128]

Each collection (one artist per 100 paintings, at most 1,000) is generated in a temporary folder,
never committed, and measured in a process of its own, so that the peak memory (max RSS) is that
size's. `make bench` adds the result to bench/results.json: `data_scaling` (per size: seconds per
step, peak MB, cache MB on disk), `data_seconds_per_10k` at the largest size and
`data_scaling_ratio` (seconds per 10,000 paintings at the largest size over the smallest; 1.0 is
linear).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def write_paintings(args: tuple[Path, int, int, int]) -> None:
    """Paintings `start..stop` of a collection: large random shapes (distinct difference hashes), 96x72 JPEG."""
    root, start, stop, artists = args
    for i in range(start, stop):
        folder = root / "images" / f"Artist_{i % artists:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        blocks = np.random.default_rng(i).integers(0, 256, (4, 5, 3), dtype=np.uint8)
        Image.fromarray(blocks).resize((96, 72), Image.Resampling.BILINEAR).save(
            folder / f"Artist_{i % artists:04d}_{i}.jpg", quality=85)


def generate(root: Path, n: int, workers: int = 2) -> None:
    artists = max(1, min(1000, n // 100))
    chunks = [(root, start, min(start + 2000, n), artists) for start in range(0, n, 2000)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(write_paintings, chunks))


def measure(root: Path, cache: Path, image_size: int) -> dict:
    """Seconds of each data step on `root`, as a run does them, and this process's peak memory."""
    from datamodules.discovery import discover
    from datamodules.image_store import ImageStore
    from datamodules.near_duplicates import near_duplicate_groups
    from datamodules.selection import select_artists
    from datamodules.split import stratified_split

    seconds = {}
    start = time.perf_counter()
    found = discover(root)
    seconds["discovery_s"] = time.perf_counter() - start
    start = time.perf_counter()
    selected, _ = select_artists(found.index)
    groups = near_duplicate_groups(selected["path"].tolist(), selected["artist"].to_numpy(), 3)
    split = stratified_split(selected, 0.2, 42, 0.1, groups)
    seconds["split_s"] = time.perf_counter() - start
    start = time.perf_counter()
    store = ImageStore.open_or_build(split["path"].tolist(), image_size, cache, workers=2)
    seconds["cache_build_s"] = time.perf_counter() - start
    assert store.ok.all()
    return {"paintings": len(split), "artists": int(split["artist"].nunique()), **seconds,
            "total_s": sum(seconds.values()),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "cache_mb": sum(f.stat().st_size for f in cache.rglob("*") if f.is_file()) / 2**20}


def data_scaling(sizes=(10_000, 30_000, 100_000), image_size: int = 128) -> dict:
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            generate(Path(tmp) / "data", n)
            made = time.perf_counter() - start
            out = subprocess.run([sys.executable, __file__, "--measure", str(Path(tmp) / "data"),
                                  "--cache", str(Path(tmp) / "cache"), "--image-size", str(image_size)],
                                 check=True, capture_output=True, text=True, cwd=REPO)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["generate_s"] = made
            row["seconds_per_10k"] = row["total_s"] / n * 10_000
            rows.append({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
            print(json.dumps(rows[-1]), flush=True)
    return {"data_scaling": rows, "data_seconds_per_10k": rows[-1]["seconds_per_10k"],
            "data_scaling_ratio": round(rows[-1]["seconds_per_10k"] / rows[0]["seconds_per_10k"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,30000,100000")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.cache, args.image_size)))
        return
    print(json.dumps(data_scaling(tuple(int(s) for s in args.sizes.split(",")), args.image_size), indent=2))


if __name__ == "__main__":
    main()
