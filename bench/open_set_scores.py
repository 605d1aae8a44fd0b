"""Which open-set score tells paintings by unknown artists apart, and what does its threshold cost?

    # A trained run's model: its validation part (known) against every painting by other artists
    .venv/bin/python bench/open_set_scores.py pipeline --ckpt runs/default/stage3/best.ckpt \
        --split runs/default/split.csv --data ../shared/data/best-artworks-128
    # A run trained without some artists (bench/open_set_folds.py): its test part against them
    .venv/bin/python bench/open_set_scores.py pipeline --ckpt runs/open-set-fold1/stage3/best.ckpt \
        --split runs/open-set-fold1/split.csv --part test --data ../shared/data/best-artworks-128
    # Leave-artists-out folds on the 49 artists: a head trained on frozen ImageNet features of the
    # known artists' training part; the left-out artists' paintings are the unknown ones
    .venv/bin/python bench/open_set_scores.py folds --data ../shared/data/best-artworks-128 --folds 3 --fold-size 5

For each score of `inference.open_set.SCORES`, one pass and with the default views: AUROC of known
against unknown, FPR at 95% TPR, and at a threshold that keeps 95% of half the known paintings
(calibration half), on the other half and the unknown ones: known rejected, unknown rejected,
known top-1 without and with rejection. Prints a Markdown table; `--out` also writes a JSON.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from datamodules.decoding import resize_filter_of
from datamodules.discovery import discover
from datamodules.image_store import ImageStore
from datamodules.split import stratified_split
from inference.open_set import SCORES, open_set_report, open_set_score, threshold_keeping
from inference.scoring import artist_labels, predict_logits, split_part
from lightning_modules.checkpoints import load_model
from transforms.views import default_views

VIEW_SETS = {"one pass": ["plain"], "default views": default_views(),
             # every flip stage 2 trained on, and the default's zoom
             "five views": ["plain", "hflip", "vflip", "hvflip", "x1.25"]}
# Candidates beside inference.open_set.SCORES: max softmax at other temperatures (label smoothing
# makes the softmax under-confident; a temperature reorders paintings' top probabilities).
TEMPERED = {f"max_softmax_t{t:g}": t for t in (0.5, 2.0)}
REACT_PERCENTILES = (90, 95, 99)
# Fusions: max softmax plus a feature-space score, each standardised on the calibration half of the
# known paintings, then summed (the two err on different paintings where they disagree).
FUSED = {"max_softmax+knn10": "knn10_cosine", "max_softmax+class_mean": "class_mean_cosine"}


def halves(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[: n // 2], order[n // 2:]


def feature_scorer(train, train_labels, k: int, classifier=None):
    """Scores from pooled features (higher = more like a known artist), fitted once on the training
    part, as a function of (N, F) features -> {name: (N,) scores}: cosine to the nearest artist's
    mean feature, cosine to the 10th-nearest training painting (kNN, Sun et al. 2022), minus the
    Mahalanobis distance to the nearest artist mean with a shared covariance (Lee et al. 2018), and,
    given the model's `classifier`, ReAct (Sun et al. 2021): the features clipped at a percentile of
    the training features' values before the classifier."""
    unit = lambda x: F.normalize(x, dim=1)  # noqa: E731
    means = torch.stack([train[train_labels == c].mean(0) for c in range(k)])
    centred = train - means[train_labels]
    covariance = centred.T @ centred / len(train) + 1e-3 * torch.eye(train.shape[1])
    precision = torch.linalg.inv(covariance.double()).float()
    values = train.flatten()[:: max(1, train.numel() // 1_000_000)]  # quantile() takes at most 16M values
    clips = {p: float(torch.quantile(values, p / 100)) for p in REACT_PERCENTILES} if classifier is not None else {}

    def score(test) -> dict[str, torch.Tensor]:
        out = {"class_mean_cosine": (unit(test) @ unit(means).T).max(dim=1).values,
               "knn10_cosine": (unit(test) @ unit(train).T).topk(10, dim=1).values[:, -1]}
        diff = test[:, None, :] - means[None]
        out["mahalanobis"] = -torch.einsum("nkf,fg,nkg->nk", diff, precision, diff).min(dim=1).values
        for p, clip in clips.items():
            with torch.inference_mode():
                logits = classifier(test.clamp(max=clip))
            out[f"react_p{p}_max_softmax"] = open_set_score("max_softmax", logits)
            out[f"react_p{p}_energy"] = open_set_score("energy", logits)
        return out
    return score


def standardised(known, unknown, calibrate):
    """Both scores shifted and scaled by the mean and spread of the known calibration half."""
    mean, std = known[calibrate].mean(), known[calibrate].std().clamp(min=1e-8)
    return (known - mean) / std, (unknown - mean) / std


def score_rows(known_logits, target, unknown_logits, label: str, feature_pairs=None) -> list[dict]:
    """(V, N, K) logits of known and unknown paintings -> one row per score; `feature_pairs`
    ({name: (known scores, unknown scores)} of `feature_pairs_of`, from one pass) adds the fusions of
    max softmax with them, and, where the logits are one pass too, the feature-space scores themselves."""
    calibrate, held = halves(known_logits.shape[1])
    correct = known_logits.softmax(2).mean(0).argmax(1) == target
    rows = []
    pairs = {score: (open_set_score(score, known_logits), open_set_score(score, unknown_logits)) for score in SCORES}
    pairs.update({name: (open_set_score("max_softmax", known_logits / t), open_set_score("max_softmax", unknown_logits / t))
                  for name, t in TEMPERED.items()})
    if feature_pairs is not None:
        if known_logits.shape[0] == 1:  # the same one-pass rows would repeat under every view set
            pairs.update(feature_pairs)
        msp = standardised(*pairs["max_softmax"], calibrate)
        for name, feature_score in FUSED.items():
            other = standardised(*feature_pairs[feature_score], calibrate)
            pairs[name] = (msp[0] + other[0], msp[1] + other[1])
    for score, (known, unknown) in pairs.items():
        threshold = threshold_keeping(known[calibrate], 0.95)
        report = open_set_report(known[held], unknown, threshold)
        rows.append({"setting": label, "score": score, "auroc": report["auroc"], "fpr_at_95_tpr": report["fpr_at_95_tpr"],
                     "known_rejected": report["known_rejected"], "unknown_rejected": report["unknown_rejected"],
                     "known_top1": float(correct[held].double().mean()),
                     "known_top1_with_rejection": float((correct[held] & (known[held] >= threshold)).double().mean()),
                     "n_known": int(len(held)), "n_unknown": int(unknown.numel())})
    return rows


def feature_pairs_of(train, train_labels, known_features, unknown_features, k: int, classifier=None) -> dict:
    """{name: (known scores, unknown scores)} of every feature-space score, fitted once."""
    scorer = feature_scorer(train, train_labels, k, classifier)
    known_by, unknown_by = scorer(known_features), scorer(unknown_features)
    return {name: (known_by[name], unknown_by[name]) for name in known_by}


def pipeline(args) -> list[dict]:
    model, meta = load_model(args.ckpt)
    known_part = split_part(args.split, args.part)
    known_labels = artist_labels(known_part.index["artist"], meta["artists"])
    everything = discover(args.data).index
    others = everything[artist_labels(everything["artist"], meta["artists"]) < 0]

    def store_of(paths) -> ImageStore:  # decoded as the checkpoint's loader decodes
        return ImageStore.open_or_build(list(paths), meta["image_size"], args.cache_dir,
                                        resize_filter=resize_filter_of(meta))

    known_store = store_of(known_part.index["path"])
    unknown_store = store_of(others["path"])
    target = torch.tensor(known_labels.to_numpy())[torch.from_numpy(known_store.ok)]
    split = pd.read_csv(args.split)
    train = split[split["split"] == "train"]
    train_store = store_of(train["path"])
    train_labels = torch.tensor(artist_labels(train["artist"], meta["artists"]).to_numpy())[torch.from_numpy(train_store.ok)]
    feature_pairs = feature_pairs_of(pooled(model, train_store.pixels[train_store.ok]), train_labels,
                                     pooled(model, known_store.pixels[known_store.ok]),
                                     pooled(model, unknown_store.pixels[unknown_store.ok]),
                                     len(meta["artists"]), model.classifier)
    rows = []
    for label, views in VIEW_SETS.items():
        known = predict_logits(model, known_store.pixels[known_store.ok], views=views)
        unknown = predict_logits(model, unknown_store.pixels[unknown_store.ok], views=views)
        rows += score_rows(known, target, unknown, f"{args.ckpt} ({others['artist'].nunique()} unknown artists), {label}",
                           feature_pairs)
    return rows


@torch.inference_mode()
def pooled(model, pixels, batch: int = 64) -> torch.Tensor:
    """(N, F) pooled backbone features of (N, S, S, 3) uint8 pixels (the head's input)."""
    return torch.cat([model.features(torch.from_numpy(pixels[i:i + batch].copy()).permute(0, 3, 1, 2))
                      for i in range(0, len(pixels), batch)])


@torch.inference_mode()
def imagenet_features(paths, cache_dir, size: int = 128) -> torch.Tensor:
    """(N, 2, F) pooled ImageNet EfficientNet-Lite0 features of each painting and of its mirror image."""
    from lightning_modules import ArtistClassifier
    model = ArtistClassifier(backbone="efficientnet_lite0", pretrained=True, num_classes=2, image_size=size).eval()
    store = ImageStore.open_or_build(list(paths), size, cache_dir, resize_filter="lanczos")
    out = []
    for start in range(0, len(paths), 64):
        batch = torch.from_numpy(store.pixels[start:start + 64].copy()).permute(0, 3, 1, 2)
        out.append(torch.stack([model.features(batch), model.features(batch.flip(-1))], dim=1))
    return torch.cat(out)


def train_head(features, labels, k: int, epochs: int = 40, seed: int = 0) -> torch.nn.Module:
    """A GAP head (dropout 0.2, linear) on frozen features, Adam 1e-3, label smoothing 0.1, random mirror."""
    torch.manual_seed(seed)
    head = torch.nn.Sequential(torch.nn.Dropout(0.2), torch.nn.Linear(features.shape[-1], k))
    optimiser = torch.optim.Adam(head.parameters(), lr=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(labels))
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            x = features[idx, torch.randint(0, 2, (len(idx),))]
            loss = F.cross_entropy(head(x), labels[idx], label_smoothing=0.1)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return head.eval()


def left_out_artists(artists, folds: int, fold_size: int, seed: int) -> list[set[str]]:
    """The artists each fold leaves out: disjoint, drawn by a seeded permutation of the sorted names."""
    artists = sorted(artists)
    order = torch.randperm(len(artists), generator=torch.Generator().manual_seed(seed)).tolist()
    return [{artists[i] for i in order[fold * fold_size:(fold + 1) * fold_size]} for fold in range(folds)]


def folds(args) -> list[dict]:
    found = discover(args.data).index.reset_index(drop=True)
    features = imagenet_features(found["path"].tolist(), args.cache_dir)
    artists = sorted(found["artist"].unique())
    rows = []
    for fold, left_out in enumerate(left_out_artists(artists, args.folds, args.fold_size, args.seed)):
        known_artists = [a for a in artists if a not in left_out]
        known = found[~found["artist"].isin(left_out)]
        split = stratified_split(known, val_fraction=0.2, seed=args.seed)
        label_of = {a: i for i, a in enumerate(known_artists)}
        row_of = {path: i for i, path in enumerate(found["path"])}
        train_idx = torch.tensor([row_of[p] for p in split.loc[split["split"] == "train", "path"]])
        val_idx = torch.tensor([row_of[p] for p in split.loc[split["split"] == "val", "path"]])
        labels = torch.tensor(found["artist"].map(label_of).fillna(-1).astype(int).to_numpy())
        head = train_head(features[train_idx], labels[train_idx], len(known_artists), seed=args.seed)
        unknown_idx = torch.tensor(found.index[found["artist"].isin(left_out)].to_numpy())
        with torch.inference_mode():
            logits_of = lambda idx, views: torch.stack([head(features[idx, 0])] + ([head(features[idx, 1])] if views > 1 else []))  # noqa: E731
            feature_pairs = feature_pairs_of(features[train_idx, 0], labels[train_idx], features[val_idx, 0],
                                             features[unknown_idx, 0], len(known_artists), head)
            for label, views in (("one pass", 1), ("plain+hflip", 2)):
                rows += score_rows(logits_of(val_idx, views), labels[val_idx], logits_of(unknown_idx, views),
                                   f"fold {fold + 1} (left out: {', '.join(sorted(left_out))}), {label}", feature_pairs)
    return rows


def markdown(table: pd.DataFrame) -> str:
    cells = table.map(lambda v: f"{v:.3f}" if isinstance(v, float) else str(v))
    return "\n".join(["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
                     + ["| " + " | ".join(row) + " |" for row in cells.itertuples(index=False)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["pipeline", "folds"])
    parser.add_argument("--ckpt", type=Path)
    parser.add_argument("--split", type=Path)
    parser.add_argument("--part", choices=["val", "test"], default="val",
                        help="pipeline: the split's part that stands for the known artists")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--fold-size", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", default=".cache/artist-trainer")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = pipeline(args) if args.mode == "pipeline" else folds(args)
    table = pd.DataFrame(rows)
    print(markdown(table))
    if args.mode == "folds":
        means = table.assign(views=table["setting"].str.split(", ").str[-1]).groupby(["views", "score"])
        print("\nmean over folds:\n" + markdown(means.mean(numeric_only=True).reset_index()))
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
