"""The numbers we report: top-1, top-2 and macro-F1 (every artist counts equally)."""
from __future__ import annotations

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassConfusionMatrix, MulticlassF1Score


def classification_metrics(num_classes: int, prefix: str) -> MetricCollection:
    # `average=` is explicit everywhere: torchmetrics' defaults differ between classes.
    metrics = {
        "top1": MulticlassAccuracy(num_classes, top_k=1, average="micro"),
        "macro_f1": MulticlassF1Score(num_classes, top_k=1, average="macro"),
    }
    if num_classes > 2:
        metrics["top2"] = MulticlassAccuracy(num_classes, top_k=2, average="micro")
    # compute_groups=False: torchmetrics merges metrics whose states are equal after the first
    # update; top-1 and top-2 accuracy share a state layout, so a first batch where they agree
    # would tie them together for the whole epoch (seen: val top-2 == top-1 in every epoch).
    return MetricCollection(metrics, prefix=prefix, compute_groups=False)


def confusion_matrix(num_classes: int) -> MulticlassConfusionMatrix:
    return MulticlassConfusionMatrix(num_classes, normalize="none")


def macro_f1_of_confusions(confusions: torch.Tensor, artists: torch.Tensor | None = None) -> torch.Tensor:
    """Macro-F1 of one confusion matrix (K, K) or a batch of them (B, K, K); rows are true artists.

    Per artist 2TP / (2TP + FP + FN), averaged over the artists with paintings or predictions (an
    artist with neither is left out): torchmetrics' `MulticlassF1Score(average="macro")`; or, given
    `artists` (a (K,) mask), over those artists alone (e.g. the artists a source has).
    """
    confusions = confusions.double()
    tp = confusions.diagonal(dim1=-2, dim2=-1)
    denominator = confusions.sum(-1) + confusions.sum(-2)  # (TP + FN) + (TP + FP)
    present = denominator > 0 if artists is None else artists.expand_as(denominator)
    f1 = torch.where(present, 2 * tp / denominator.clamp_min(1), torch.zeros_like(tp))
    return f1.sum(-1) / present.sum(-1).clamp_min(1)


def macro_f1_sampling_error(confusion: torch.Tensor, rounds: int = 2000, seed: int = 0,
                            artists: torch.Tensor | None = None) -> dict:
    """How much the macro-F1 of these paintings would move on another draw of as many paintings.

    A bootstrap over paintings: each round redraws the (true artist, answer) pairs of the confusion
    matrix with replacement. Returns the standard deviation and the 2.5-97.5% interval.
    """
    counts = confusion.double().flatten()
    generator = torch.Generator().manual_seed(seed)
    draws = torch.multinomial(counts / counts.sum(), int(counts.sum()) * rounds, replacement=True,
                              generator=generator).view(rounds, -1)
    k = confusion.shape[0]
    resampled = torch.zeros(rounds, k * k, dtype=torch.float64).scatter_add_(
        1, draws, torch.ones_like(draws, dtype=torch.float64)).view(rounds, k, k)
    scores = macro_f1_of_confusions(resampled, artists)
    low, high = torch.quantile(scores, torch.tensor([0.025, 0.975], dtype=torch.float64)).tolist()
    return {"std": float(scores.std()), "interval_95": [low, high], "rounds": rounds}
