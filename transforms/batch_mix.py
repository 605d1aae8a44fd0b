"""CutMix / MixUp on a training batch (torchvision's v2 transforms), with soft targets for the loss.

Each mixed sample blends with its neighbour in the batch (torchvision pairs sample i with i-1):
MixUp blends whole images, CutMix pastes a rectangle; the target puts the blend's weights on the
two artists. Only image batches are mixed: the stage-2 feature cache holds pooled features.
"""
from __future__ import annotations

import torch
from torchvision.transforms import v2


class BatchMix(torch.nn.Module):
    """With probability `prob` per batch, CutMix or MixUp (even odds); otherwise one-hot targets."""

    def __init__(self, num_classes: int, prob: float, mixup_alpha: float = 0.2, cutmix_alpha: float = 1.0):
        super().__init__()
        if not 0.0 <= prob <= 1.0 or mixup_alpha <= 0 or cutmix_alpha <= 0:
            raise ValueError(f"mix_prob must lie in [0, 1] and the alphas be > 0 (got {prob}, {mixup_alpha}, "
                             f"{cutmix_alpha})")
        self.num_classes, self.prob = num_classes, prob
        self.mix = v2.RandomChoice([v2.CutMix(num_classes=num_classes, alpha=cutmix_alpha),
                                    v2.MixUp(num_classes=num_classes, alpha=mixup_alpha)])

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if len(labels) > 1 and torch.rand(()) < self.prob:
            return self.mix(images, labels)
        return images, torch.nn.functional.one_hot(labels, self.num_classes).to(images.dtype)
