"""Build the embedded public-domain sample from a copy of the Kaggle set.

    python -m artist_cli.make_sample ../shared/data/best-artworks-128 data/sample

Takes the artists with the most paintings among those who died before 1955 (public domain),
a seeded subsample of each, in the Kaggle layout with a trimmed artists.csv.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from datamodules.public_domain_sample import build_sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--artists", type=int, default=10)
    parser.add_argument("--per-artist", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    chosen = build_sample(args.source, args.dest, args.artists, args.per_artist, args.seed)
    print(f"Wrote {len(chosen)} artists x {args.per_artist} paintings to {args.dest}:")
    print("\n".join(f"  {n} ({y})" for n, y in zip(chosen["name"], chosen["years"])))


if __name__ == "__main__":
    main()
