"""Would shifting a trained model's logits toward rare artists raise macro-F1?

    .venv/bin/python bench/prior_adjustment.py --run runs/lite0-regularised-all49 --stage stage3 --taus 0,0.25,0.5,1

Scores the validation part of the run's split with logits - tau * log(training prior) (post-hoc
logit adjustment: tau 1 is the balanced-error rule, tau 0 the model as trained). A check on
whether the 35:1 imbalance of the 49-artist set costs macro-F1 at prediction time.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd
import torch
from torchmetrics.functional.classification import multiclass_accuracy, multiclass_f1_score

from inference.scoring import artist_labels, known_probabilities, validation_part
from lightning_modules.checkpoints import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--stage", default="stage3")
    parser.add_argument("--taus", default="0,0.25,0.5,0.75,1")
    parser.add_argument("--cache-dir", default=".cache/artist-trainer")
    args = parser.parse_args()
    model, meta = load_model(args.run / args.stage / "best.ckpt")
    k = len(meta["artists"])
    split = pd.read_csv(args.run / "split.csv")
    train_labels = torch.tensor(artist_labels(split.loc[split["split"] == "train", "artist"], meta["artists"]).to_numpy())
    log_prior = torch.bincount(train_labels, minlength=k).float().div(len(train_labels)).log()
    val = validation_part(args.run / "split.csv")
    probs, target, _ = known_probabilities(model, meta, val, artist_labels(val.index["artist"], meta["artists"]),
                                           args.cache_dir)
    log_probs = probs.log()
    print("| tau | macro-F1 | top-1 |\n|---|---|---|")
    for tau in map(float, args.taus.split(",")):
        logits = log_probs - tau * log_prior
        print(f"| {tau:g} | {float(multiclass_f1_score(logits, target, k, average='macro')):.3f} "
              f"| {float(multiclass_accuracy(logits, target, k, average='micro')):.3f} |")


if __name__ == "__main__":
    main()
