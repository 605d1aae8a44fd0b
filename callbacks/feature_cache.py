"""Train the head on cached backbone features when nothing in the backbone trains (stage 2)."""
from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import Callback


class FeatureCache(Callback):
    """At the start of a fit whose backbone is frozen, have the data module compute the head's inputs
    once per augmentation variant (`PaintingsDataModule.cache_features`) and serve those.

    Args:
        enabled: `False` trains on images as usual (e.g. to time the uncached path).

    Runs after the freeze (`BackboneFreeze` freezes in `setup`) and after the stage's starting
    weights are in place, before any dataloader is built. An augmentation without a finite set of
    variants (rotation and zoom) leaves the data module serving images.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        backbone_frozen = not any(p.requires_grad for p in pl_module.backbone.parameters())
        if self.enabled and backbone_frozen and trainer.datamodule is not None:
            trainer.datamodule.cache_features(pl_module)
