"""Classification heads: GAP or spatial pyramid pooling, optional dense blocks, output layer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

HEADS = ("gap", "spp")


class GlobalAveragePool(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.out_features = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


class SpatialPyramidPool(nn.Module):
    """Max pooling over n x n bins for each n in `bins`, flattened and concatenated.

    The output length is channels * sum(n^2) (14 x channels for bins 1, 2, 3) whatever the
    input's spatial size, so the model accepts any image size.
    """

    def __init__(self, channels: int, bins: tuple[int, ...] = (1, 2, 3)):
        super().__init__()
        self.bins = tuple(bins)
        self.out_features = channels * sum(n * n for n in self.bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in self.bins], dim=1)


def dense_block(in_features: int, units: int, dropout: float) -> nn.Sequential:
    """The study's block: Dense (ReLU) -> Dropout -> BatchNorm."""
    return nn.Sequential(nn.Linear(in_features, units), nn.ReLU(inplace=True),
                         nn.Dropout(dropout), nn.BatchNorm1d(units))


def build_pool(head: str, channels: int, spp_bins=(1, 2, 3)) -> nn.Module:
    if head == "gap":
        return GlobalAveragePool(channels)
    if head == "spp":
        return SpatialPyramidPool(channels, spp_bins)
    raise ValueError(f"Unknown head {head!r}; choose one of {HEADS}")


class Classifier(nn.Module):
    """Pooled features -> dense blocks -> logits. Separate from pooling so it can train on cached features."""

    def __init__(self, in_features: int, num_classes: int, dense_units=(), dropout: float = 0.5):
        super().__init__()
        blocks, width = [], in_features
        for units in dense_units:
            blocks.append(dense_block(width, units, dropout))
            width = units
        self.blocks = nn.Sequential(*blocks)
        self.output = nn.Linear(width, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.output(self.blocks(features))
