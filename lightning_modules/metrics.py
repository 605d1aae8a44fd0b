"""The numbers we report: top-1, top-2 and macro-F1 (every artist counts equally)."""
from __future__ import annotations

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
