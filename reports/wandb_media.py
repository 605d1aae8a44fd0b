"""The stage's W&B media: native confusion matrix, per-artist table, predictions, Grad-CAM."""
from __future__ import annotations

import numpy as np
import pandas as pd
from pytorch_lightning.loggers import WandbLogger


def wandb_loggers(trainer) -> list[WandbLogger]:
    return [logger for logger in trainer.loggers if isinstance(logger, WandbLogger)]


def log_stage_media(trainer, analysis, per_artist: pd.DataFrame, pixels, n_samples: int,
                    gradcam_items: list[tuple[int, np.ndarray, str]]) -> None:
    """`pixels(row)` gives a painting's uint8 (H, W, 3) array; `gradcam_items` are (row, overlay, caption)."""
    loggers = wandb_loggers(trainer)
    if not loggers:
        return
    import wandb

    artists = analysis.artists
    top3 = analysis.probs.topk(min(3, len(artists)), dim=1)
    order = analysis.worst_first()[:n_samples].tolist()
    columns = ["painting", "true_artist", "correct"] + [f"{k}{i}" for i in (1, 2, 3) for k in ("artist_", "p_")]
    rows = []
    for i in order:
        row = [wandb.Image(pixels(int(analysis.rows[i]))), artists[int(analysis.labels[i])],
               bool(analysis.preds[i] == analysis.labels[i])]
        for rank in range(3):
            if rank < top3.indices.shape[1]:
                row += [artists[int(top3.indices[i, rank])], round(float(top3.values[i, rank]), 4)]
            else:
                row += [None, None]
        rows.append(row)
    for logger in loggers:
        logger.experiment.log({
            "val/confusion_matrix": wandb.plot.confusion_matrix(
                y_true=analysis.labels.tolist(), preds=analysis.preds.tolist(), class_names=artists,
                title="Validation confusion (best epoch)"),
            "val/per_artist": wandb.Table(dataframe=per_artist),
            "val/predictions": wandb.Table(columns=columns, data=rows),
            "val/gradcam": [wandb.Image(overlay, caption=caption) for _, overlay, caption in gradcam_items],
        })
