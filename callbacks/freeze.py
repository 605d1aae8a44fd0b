"""Freeze the backbone for a stage: no gradients, and BatchNorm statistics that never move."""
from __future__ import annotations

import pytorch_lightning as pl
from pytorch_lightning.callbacks import BaseFinetuning
from torch.nn.modules.batchnorm import _BatchNorm


class BackboneFreeze(BaseFinetuning):
    """Stage 2 of the recipe: only the head trains.

    Args:
        frozen: freeze `pl_module.backbone` for the whole fit; `False` makes this a no-op, so
            every stage can carry the callback and a config decides.
        bn_eval: with an unfrozen backbone (stage 3), keep its BatchNorm layers in eval mode:
            the weights train, but every layer normalises with the running statistics learnt
            before, which never move. At lr 1e-7 the weights barely change, so what the plain
            unfreeze did to the model was mostly re-estimate the statistics from 32-image
            batches (measured in docs/experiments.md).

    Lightning's own `freeze(..., train_bn=False)` stops gradients and running-stat updates but
    leaves BatchNorm layers in train mode, where they normalise with each batch's statistics.
    Here the backbone is put in eval mode at the start of every training epoch (after
    Lightning's own mode switches), so it computes exactly what it computes at validation:
    the same features every epoch, which is also what makes the stage-2 feature cache
    (`callbacks.FeatureCache`) valid. Works the same on every DDP rank: each rank freezes its own
    replica before the optimiser and the DDP wrapper are built.
    """

    def __init__(self, frozen: bool = False, bn_eval: bool = False):
        super().__init__()
        self.frozen, self.bn_eval = frozen, bn_eval

    def freeze_before_training(self, pl_module: pl.LightningModule) -> None:
        if self.frozen:
            self.freeze(pl_module.backbone, train_bn=False)
            pl_module.backbone.eval()

    def finetune_function(self, pl_module, current_epoch, optimizer) -> None:
        """Nothing is unfrozen during the stage; stage 3 is its own fit."""

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_start(trainer, pl_module)
        if self.frozen:
            pl_module.backbone.eval()
        elif self.bn_eval:
            for module in pl_module.backbone.modules():
                if isinstance(module, _BatchNorm):
                    module.eval()
