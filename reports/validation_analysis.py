"""What the best checkpoint of a stage does on the validation set: predictions, per-artist scores, confusions."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
from torchmetrics.classification import (MulticlassConfusionMatrix, MulticlassF1Score, MulticlassPrecision,
                                         MulticlassRecall)


@dataclass
class ValidationAnalysis:
    artists: list[str]
    probs: torch.Tensor    # (N, K) softmax
    labels: torch.Tensor   # (N,)
    rows: torch.Tensor     # (N,) rows of the split manifest / image store

    @property
    def preds(self) -> torch.Tensor:
        return self.probs.argmax(dim=1)

    def confusion(self) -> torch.Tensor:
        return MulticlassConfusionMatrix(len(self.artists))(self.preds, self.labels)

    def per_artist(self) -> pd.DataFrame:
        k = len(self.artists)
        return pd.DataFrame({
            "artist": self.artists,
            "precision": MulticlassPrecision(k, average="none")(self.preds, self.labels).tolist(),
            "recall": MulticlassRecall(k, average="none")(self.preds, self.labels).tolist(),
            "f1": MulticlassF1Score(k, average="none")(self.preds, self.labels).tolist(),
            "support": torch.bincount(self.labels, minlength=k).tolist(),
        })

    def top_confusions(self, n: int = 10) -> pd.DataFrame:
        """Most frequent (true artist, predicted artist) mistakes, both ways counted apart."""
        matrix = self.confusion().clone()
        matrix.fill_diagonal_(0)
        pairs = [(int(matrix[i, j]), self.artists[i], self.artists[j])
                 for i in range(len(self.artists)) for j in range(len(self.artists)) if matrix[i, j] > 0]
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        return pd.DataFrame([{"true_artist": t, "predicted_artist": p, "count": c} for c, t, p in pairs[:n]],
                            columns=["true_artist", "predicted_artist", "count"])

    def worst_first(self) -> torch.Tensor:
        """Sample order: mistakes first, the most confident mistakes first."""
        p_true = self.probs.gather(1, self.labels.view(-1, 1))[:, 0]
        return torch.argsort(p_true)


@torch.no_grad()
def analyse_validation(model, datamodule) -> ValidationAnalysis:
    was_training = model.training
    model.eval()
    probs, labels, rows = [], [], []
    try:
        for inputs, y, r in datamodule.val_dataloader():
            inputs = datamodule.model_inputs(inputs.to(model.device), training=False)
            probs.append(model(inputs).softmax(dim=1).float().cpu())
            labels.append(y)
            rows.append(r)
    finally:
        model.train(was_training)
    return ValidationAnalysis(list(datamodule.artists), torch.cat(probs), torch.cat(labels), torch.cat(rows))
