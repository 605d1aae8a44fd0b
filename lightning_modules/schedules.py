"""Learning-rate schedules."""
from __future__ import annotations

import math

from torch.optim.lr_scheduler import LambdaLR, ReduceLROnPlateau


class PlateauWithFloor(ReduceLROnPlateau):
    """ReduceLROnPlateau that never goes below `floor` and says when it wanted to.

    `below_floor` turns true at the first plateau whose drop would take every group's LR below
    `floor`: the stage has stopped learning at the rates it may use (the trainer ends it there).
    `floor=0` is plain ReduceLROnPlateau. The flag is in `state_dict()`, so a resumed stage knows.
    """

    def __init__(self, optimizer, *args, floor: float = 0.0, **kwargs):
        super().__init__(optimizer, *args, min_lr=floor, **kwargs)
        self.floor, self.below_floor = floor, False

    def _reduce_lr(self, epoch) -> None:
        lrs = [float(group["lr"]) for group in self.optimizer.param_groups]
        # Relative tolerance: 1e-5 * 0.1 is 1.0000000000000002e-06, which is the floor 1e-6, not below it.
        if self.floor > 0 and all(lr * self.factor < self.floor * (1 - 1e-6) for lr in lrs):
            self.below_floor = True
        super()._reduce_lr(epoch)


def warmup_cosine(optimizer, total_steps: int, warmup_steps: int, end_lr: float) -> LambdaLR:
    """Linear warm-up from a tenth of the LR, then a half cosine down to `end_lr` at `total_steps`.

    Stepped once per optimiser step. The shape of timm's and fastai's fine-tuning schedules: the LR
    is high while the network is far from a good solution and falls smoothly instead of waiting
    for plateaus, so a fixed budget of epochs is spent learning.
    """
    total_steps, warmup_steps = max(int(total_steps), 1), max(int(warmup_steps), 0)
    peaks = [float(group["lr"]) for group in optimizer.param_groups]

    def factor(peak: float):
        end = min(end_lr / peak, 1.0) if peak > 0 else 1.0

        def at(step: int) -> float:
            if step < warmup_steps:
                return 0.1 + 0.9 * step / warmup_steps
            progress = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
            return end + (1.0 - end) * 0.5 * (1.0 + math.cos(math.pi * progress))
        return at

    return LambdaLR(optimizer, [factor(peak) for peak in peaks])
