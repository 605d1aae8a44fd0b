"""Model side of the artist trainer: backbones, heads and the LightningModule."""
from lightning_modules.classifier import ArtistClassifier

__all__ = ["ArtistClassifier"]
