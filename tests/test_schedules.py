"""The learning-rate floor: the plateau schedule stops at it and says so."""
import torch

from lightning_modules.schedules import PlateauWithFloor


def plateau(floor: float) -> tuple[torch.optim.Optimizer, PlateauWithFloor]:
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=1e-4)
    return optimizer, PlateauWithFloor(optimizer, mode="max", factor=0.1, patience=0, floor=floor)


def test_the_lr_drops_to_the_floor_and_the_next_plateau_is_flagged_not_applied():
    optimizer, scheduler = plateau(1e-6)
    seen = []
    for _ in range(5):
        scheduler.step(0.5)  # never improves: every step after the first is a plateau
        seen.append((optimizer.param_groups[0]["lr"], scheduler.below_floor))
    lrs = [lr for lr, _ in seen]
    assert [round(lr, 12) for lr in lrs] == [1e-4, 1e-5, 1e-6, 1e-6, 1e-6]
    assert min(lrs) >= 1e-6 * (1 - 1e-6), "the LR never goes below the floor"
    assert [flag for _, flag in seen] == [False, False, False, True, True]


def test_no_floor_is_plain_reduce_on_plateau_and_the_flag_survives_a_resume():
    optimizer, scheduler = plateau(0.0)
    for _ in range(5):
        scheduler.step(0.5)
    assert abs(optimizer.param_groups[0]["lr"] - 1e-8) < 1e-15 and not scheduler.below_floor
    optimizer, scheduler = plateau(1e-6)
    for _ in range(4):
        scheduler.step(0.5)
    resumed_optimizer, resumed = plateau(1e-6)
    resumed.load_state_dict(scheduler.state_dict())
    assert resumed.below_floor
