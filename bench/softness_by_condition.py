"""How soft each robustness condition reaches the model: percentiles of `blur_ratio` (inference/input_checks.py)
over a seeded sample of a run's validation paintings, and the share below the prediction warning's threshold.

    .venv/bin/python bench/softness_by_condition.py runs/RUN/split.csv [--sample 400] [--size 128]

Prints one line per condition (about 5 minutes for 400 paintings on 2 cores, most of it the phone photo).
"""
from __future__ import annotations

import argparse

import numpy as np

from inference.input_checks import SOFT_RATIO, blur_ratio
from inference.robustness import CONDITIONS, load_condition
from inference.scoring import validation_part

PERCENTILES = (0.5, 1, 5, 50, 95, 99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("split", help="a run's split.csv: its validation part is sampled")
    parser.add_argument("--sample", type=int, default=400)
    parser.add_argument("--size", type=int, default=128, help="the model's image size")
    args = parser.parse_args()
    paths = validation_part(args.split).index["path"]
    paths = paths.sample(n=min(args.sample, len(paths)), random_state=0).tolist()
    print(f"{'condition':<24} blur ratio at percentiles {PERCENTILES}   share below {SOFT_RATIO}")
    for name in CONDITIONS:
        ratio = blur_ratio(load_condition(paths, name, args.size))
        print(f"{name:<24} {np.round(np.percentile(ratio, PERCENTILES), 2)}   {(ratio < SOFT_RATIO).mean():.3f}", flush=True)


if __name__ == "__main__":
    main()
