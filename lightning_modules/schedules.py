"""Learning-rate schedules."""
from __future__ import annotations

from torch.optim.lr_scheduler import ReduceLROnPlateau


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
