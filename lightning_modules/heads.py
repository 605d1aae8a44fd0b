"""Classification heads: a pooling layer (GAP or spatial pyramid pooling), optional dense blocks, output layer.

A head is one entry in `POOLS`: a builder taking (channels, spp_bins) and returning a module with
`out_features`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

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
        if torch.onnx.is_in_onnx_export():
            return torch.cat([binned_max_pool(x, n) for n in self.bins], dim=1)
        return torch.cat([F.adaptive_max_pool2d(x, n).flatten(1) for n in self.bins], dim=1)


def binned_max_pool(x: torch.Tensor, n: int) -> torch.Tensor:
    """adaptive_max_pool2d(x, n).flatten(1) written with slices, so ONNX keeps height and width dynamic.

    Same bin edges as PyTorch's adaptive pooling: [floor(i*H/n), ceil((i+1)*H/n)).
    """
    height, width = x.shape[-2], x.shape[-1]
    cells = []
    for i in range(n):
        # ceil(a / n) as (a + n - 1) // n: ONNX integer division truncates, so no negatives.
        top, bottom = (i * height) // n, ((i + 1) * height + n - 1) // n
        for j in range(n):
            left, right = (j * width) // n, ((j + 1) * width + n - 1) // n
            cells.append(x[:, :, top:bottom, left:right].amax(dim=(2, 3)))
    # adaptive pooling's flatten order is channel-major: (C, n, n)
    return torch.stack(cells, dim=2).flatten(1)


def dense_block(in_features: int, units: int, dropout: float) -> nn.Sequential:
    """The study's block: Dense (ReLU) -> Dropout -> BatchNorm."""
    return nn.Sequential(nn.Linear(in_features, units), nn.ReLU(inplace=True),
                         nn.Dropout(dropout), nn.BatchNorm1d(units))


# name -> builder(channels, spp_bins); the pooled features feed `Classifier`.
POOLS = {
    "gap": lambda channels, bins: GlobalAveragePool(channels),
    "spp": lambda channels, bins: SpatialPyramidPool(channels, bins),
}


def build_pool(head: str, channels: int, spp_bins=(1, 2, 3)) -> nn.Module:
    if head not in POOLS:
        raise ValueError(f"Unknown head {head!r}; choose one of {', '.join(POOLS)}")
    return POOLS[head](channels, tuple(spp_bins))


class Classifier(nn.Module):
    """Pooled features -> dense blocks -> logits. Separate from pooling so it can train on cached features."""

    def __init__(self, in_features: int, num_classes: int, dense_units=(), dropout: float = 0.5,
                 feature_dropout: float = 0.0):
        super().__init__()
        # On the pooled features, so it also acts when stage 2 trains on cached features.
        self.feature_dropout = nn.Dropout(feature_dropout)
        blocks, width = [], in_features
        for units in dense_units:
            blocks.append(dense_block(width, units, dropout))
            width = units
        self.blocks = nn.Sequential(*blocks)
        self.output = nn.Linear(width, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.output(self.blocks(self.feature_dropout(features)))
