"""Data side of the artist trainer: finding paintings, decoding them, splitting and augmenting."""
from datamodules.paintings import PaintingsDataModule

__all__ = ["PaintingsDataModule"]
