"""Who painted this? A checkpoint loaded once, then ranked artists for any painting.

Every answer averages the softmax over test-time views (`transforms.views`; by default those of
configs/inference.yaml); `views=["plain"]` is the single forward pass the training loop validates with.
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Union

import numpy as np
import torch
from PIL import Image

from datamodules.decoding import load_rgb, resize_filter_of, square_rgb, strict_pixel_limit
from inference.input_checks import PaintingInputWarning, input_problems
from lightning_modules.checkpoints import load_model
from transforms.views import default_views, mean_probabilities, parse_views

Painting = Union[str, Path, Image.Image, np.ndarray]


class Predictor:
    """A trained model ready to answer.

    Args:
        model: an `ArtistClassifier` in eval mode.
        meta: the checkpoint's metadata (artists in label order, image size).
        views: test-time views to average (default: configs/inference.yaml).
    """

    def __init__(self, model, meta: dict, views=None):
        self.model, self.meta = model.eval(), meta
        self.views = parse_views(",".join(views)) if views is not None else default_views()

    @classmethod
    def load(cls, checkpoint, views=None) -> "Predictor":
        """Rebuild the model from a checkpoint of this project (read without unpickling anything)."""
        model, meta = load_model(checkpoint)
        return cls(model, meta, views)

    @property
    def artists(self) -> list[str]:
        return list(self.meta["artists"])

    @property
    def image_size(self) -> int:
        return int(self.meta["image_size"])

    def pixels(self, painting: Painting, size: int | None = None) -> np.ndarray:
        """A painting as the model's (size, size, 3) uint8 input: a file path, a PIL image, or an
        (H, W, 3) uint8 array. A painting far below the model's size, or an upscale of a small one,
        gets a `PaintingInputWarning`."""
        size, resize_filter = size or self.image_size, resize_filter_of(self.meta)
        if isinstance(painting, (str, Path)):
            with strict_pixel_limit(), Image.open(painting) as image:
                self._warn_about(image, str(painting))
            return load_rgb(painting, size, resize_filter)
        if isinstance(painting, Image.Image):
            self._warn_about(painting, "the image")
            with strict_pixel_limit():
                return square_rgb(painting, size, resize_filter)
        if isinstance(painting, np.ndarray) and painting.ndim == 3 and painting.shape[2] == 3:
            return square_rgb(Image.fromarray(painting.astype(np.uint8), "RGB"), size, resize_filter)
        raise TypeError(f"a painting is a path, a PIL image or an (H, W, 3) uint8 array, not {type(painting).__name__}")

    def _warn_about(self, image: Image.Image, name: str) -> None:
        for problem in input_problems(image, self.image_size):
            warnings.warn(PaintingInputWarning(f"{name}: {problem}"), stacklevel=3)

    @torch.inference_mode()
    def probabilities(self, painting: Painting, size: int | None = None, views=None) -> torch.Tensor:
        """(K,) probabilities over `artists`, averaged over the test-time views."""
        image = torch.from_numpy(self.pixels(painting, size)).permute(2, 0, 1).unsqueeze(0)
        return mean_probabilities(self.model, image, self.views if views is None else views)[0]

    def predict(self, painting: Painting, top_k: int = 3, views=None) -> list[tuple[str, float]]:
        """The `top_k` most probable artists, best first, as (artist, probability) pairs."""
        probs = self.probabilities(painting, views=views)
        values, labels = probs.topk(min(top_k, len(self.artists)))
        return [(self.artists[int(i)], float(p)) for p, i in zip(values, labels)]


def vote(probs_per_size: torch.Tensor) -> int:
    """Majority vote of each size's top-1 over (S, K) probabilities; ties by mean probability."""
    votes = torch.bincount(probs_per_size.argmax(dim=1), minlength=probs_per_size.shape[1])
    tied = torch.nonzero(votes == votes.max()).flatten()
    mean = probs_per_size.mean(dim=0)
    return int(tied[mean[tied].argmax()])


def rank_over_sizes(predictor: Predictor, painting: Painting, sizes: list[int], k: int = 3) -> dict:
    """The study's multi-size test: each size votes for its top-1, the majority wins (ties by mean
    probability); the rest follow by mean probability. Returns path, artist_1, p_1, ... artist_k, p_k."""
    per_size = torch.stack([predictor.probabilities(painting, size) for size in sizes])
    mean = per_size.mean(dim=0)
    winner = vote(per_size)
    ranked = [winner] + [int(i) for i in mean.argsort(descending=True) if int(i) != winner]
    result = {"path": str(painting)}
    for rank, label in enumerate(ranked[: min(k, len(predictor.artists))], start=1):
        result[f"artist_{rank}"] = predictor.artists[label]
        result[f"p_{rank}"] = round(float(mean[label]), 6)
    return result
