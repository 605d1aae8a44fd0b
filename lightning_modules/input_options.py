"""Model options that change the pictures before the backbone: weights trained with one setting read
pictures prepared another way wrongly, so a stage, a resume or an evaluation must use the same."""
from __future__ import annotations

# Each option with the value that means "off" (what checkpoints saved before the option hold).
INPUT_OPTIONS = {"exposure_target": None, "input_blur_sigma": 0.0}


def _canonical(value, off):
    value = off if value is None else value
    if isinstance(value, (list, tuple)):
        return [float(v) for v in value]
    return None if value is None else float(value)


def input_mismatch(trained: dict, used: dict) -> str | None:
    """Why weights trained with hyperparameters `trained` do not fit a network built with `used`
    (None when they fit; a list and a tuple of the same numbers fit)."""
    for key, off in INPUT_OPTIONS.items():
        then, now = _canonical(trained.get(key), off), _canonical(used.get(key), off)
        if then != now:
            return (f"was trained with --model.{key} {then}, this run uses {now}: its weights expect pictures "
                    "prepared as in training (give every stage and command the same presets)")
    return None
