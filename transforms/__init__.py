"""Every image transform of the trainer: training augmentations (a registry), CutMix/MixUp on
batches, the test-time views of evaluate and predict, and the one table of flips they share."""
from transforms.augmentations import AUGMENTATIONS, build_augmentation, register_augmentation, to_float
from transforms.flips import FLIPS, flip

__all__ = ["AUGMENTATIONS", "FLIPS", "build_augmentation", "flip", "register_augmentation", "to_float"]
