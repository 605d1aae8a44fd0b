"""Head search, as the study's Table 1 (grid: configs/head_grid.yaml).

    python -m artist_cli.sweep --run top10 --head gap            # make sweep RUN=top10 HEAD=gap
    python -m artist_cli.sweep --run top10 --head gap --wandb-config sweep.yaml   # make wandb-sweep

Needs `runs/<run>/stage1/best.ckpt` trained with the same head (the baseline). Writes
`runs/<run>/sweep_<head>/results.csv` (every combination) and `top3.md`. With --wandb-config,
writes the same grid as a W&B sweep file instead (for `wandb sweep`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from artist_cli.head_search import head_grid, run_sweep, top3_table, wandb_sweep_config
from lightning_modules.heads import POOLS


def int_list(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


def main(argv=None) -> None:
    dense1, dense2 = head_grid()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True)
    parser.add_argument("--runs_dir", default="runs")
    parser.add_argument("--head", choices=list(POOLS), default="gap")
    parser.add_argument("--dense1", type=int_list, default=dense1)
    parser.add_argument("--dense2", type=int_list, default=dense2)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=None)
    parser.add_argument("--wandb-config", type=Path, help="write the grid as a W&B sweep file and stop")
    parser.add_argument("--preset", default="default", help="presets of the W&B trials (with --wandb-config)")
    args = parser.parse_args(argv)
    if args.wandb_config:
        args.wandb_config.parent.mkdir(parents=True, exist_ok=True)
        args.wandb_config.write_text(yaml.safe_dump(wandb_sweep_config(args.head, args.run, args.preset),
                                                    sort_keys=False))
        print(f"wrote {args.wandb_config}")
        return
    try:
        results = run_sweep(Path(args.runs_dir) / args.run, args.head, args.dense1, args.dense2,
                            args.epochs, args.patience, batch_size=args.batch_size)
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"error: {error}")
    print(top3_table(results, args.head))


if __name__ == "__main__":
    main()
