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


def test_warmup_cosine_rises_to_the_lr_then_falls_to_its_end_at_the_last_step():
    from lightning_modules.schedules import warmup_cosine
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    scheduler = warmup_cosine(optimizer, total_steps=100, warmup_steps=10, end_lr=1e-6)
    lrs = []
    for _ in range(100):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    lrs.append(optimizer.param_groups[0]["lr"])
    assert abs(lrs[0] - 3e-5) < 1e-12, "warm-up starts at a tenth of the LR"
    assert lrs[:11] == sorted(lrs[:11]) and abs(lrs[10] - 3e-4) < 1e-12
    assert lrs[10:] == sorted(lrs[10:], reverse=True), "after the warm-up the LR only falls"
    assert abs(lrs[55] - (1e-6 + (3e-4 - 1e-6) / 2)) < 1e-9, "half way down at the middle of the cosine"
    assert abs(lrs[100] - 1e-6) < 1e-12
    # A resumed stage continues where it stopped, built in Lightning's order: optimiser and schedule
    # fresh from the config, then both states loaded from the checkpoint.
    resumed_optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    resumed = warmup_cosine(resumed_optimizer, 100, 10, 1e-6)
    partial_optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=3e-4)
    partial = warmup_cosine(partial_optimizer, 100, 10, 1e-6)
    for _ in range(40):
        partial_optimizer.step()
        partial.step()
    resumed_optimizer.load_state_dict(partial_optimizer.state_dict())
    resumed.load_state_dict(partial.state_dict())
    assert abs(resumed_optimizer.param_groups[0]["lr"] - lrs[40]) < 1e-12
    resumed_optimizer.step()
    resumed.step()
    assert abs(resumed_optimizer.param_groups[0]["lr"] - lrs[41]) < 1e-12
