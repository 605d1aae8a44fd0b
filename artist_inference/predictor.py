"""Who painted this? A checkpoint loaded once, then ranked artists for any painting.

    from artist_inference import Predictor
    predictor = Predictor.load("runs/default/stage3/best.ckpt")
    answer = predictor.predict("painting.jpg", top_k=5)     # or a PIL image, a tensor, or a list of them
    print(answer)            # "Claude Monet (0.81)" or "unknown artist (closest: Claude Monet, 0.23)"
    answer.ranked            # [("Claude Monet", 0.81), ...], best first

Every answer averages the softmax over test-time views (`transforms.views`; by default those of
configs/inference.yaml); `views="plain"` is the single forward pass the training loop validates with.
Below the checkpoint's open-set threshold (`lightning_modules.open_set`, calibrated on the validation part
for those views) the answer is "unknown artist"; `reject=False` turns that off.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import torch
from PIL import Image

from datamodules.decoding import load_rgb, resize_filter_of, square_rgb, strict_pixel_limit
from artist_inference.input_checks import PaintingInputWarning, input_problems, softness_problems
from lightning_modules.open_set import META_KEY, open_set_score, threshold_for
from lightning_modules.checkpoints import load_model
from transforms.views import default_views, parse_views, view_logits

Painting = Union[str, Path, Image.Image, np.ndarray, torch.Tensor]
BATCH = 32


@dataclass(frozen=True)
class Prediction:
    """One painting's answer: the ranked artists, and whether it is taken for an unknown artist."""

    ranked: list[tuple[str, float]]  # (artist, probability), best first
    unknown: bool                    # the open-set score fell below the threshold
    score: float                     # the open-set score (higher: more like a known artist)
    threshold: float | None          # None: the checkpoint has none for these views, or reject=False

    @property
    def artist(self) -> str | None:
        """The answer's artist; None for an unknown artist (see `closest`)."""
        return None if self.unknown else self.ranked[0][0]

    @property
    def closest(self) -> tuple[str, float]:
        return self.ranked[0]

    def __str__(self) -> str:
        name, probability = self.closest
        return f"unknown artist (closest: {name}, {probability:.2f})" if self.unknown else f"{name} ({probability:.2f})"


def as_pil(painting) -> Image.Image:
    """A PIL image from an (H, W, 3) uint8 array or a (3, H, W) tensor (uint8, or float in [0, 1])."""
    if isinstance(painting, torch.Tensor):
        if painting.dim() != 3 or painting.shape[0] not in (1, 3):
            raise TypeError(f"a painting tensor is (3, H, W), not {tuple(painting.shape)}")
        if painting.is_floating_point():
            painting = (painting.clamp(0, 1) * 255).round()
        painting = painting.to(torch.uint8).expand(3, -1, -1).permute(1, 2, 0).cpu().numpy()
    if isinstance(painting, np.ndarray) and painting.ndim == 3 and painting.shape[2] == 3:
        return Image.fromarray(painting.astype(np.uint8), "RGB")
    raise TypeError("a painting is a path, a PIL image, an (H, W, 3) uint8 array or a (3, H, W) tensor, "
                    f"not {type(painting).__name__}")


class Predictor:
    """A trained model ready to answer.

    Args:
        model: an `ArtistClassifier` in eval mode.
        meta: the checkpoint's metadata (artists in label order, image size, open-set threshold).
        views: test-time views to average (default: configs/inference.yaml); "plain" for one pass.
        reject: answer "unknown artist" below the checkpoint's open-set threshold.
    """

    def __init__(self, model, meta: dict, views=None, reject: bool = True):
        self.model, self.meta, self.reject = model.eval(), meta, reject
        self.views = self._views(views, default_views())

    @classmethod
    def load(cls, checkpoint, views=None, reject: bool = True) -> "Predictor":
        """Rebuild the model from a checkpoint of this project (read without unpickling anything)."""
        model, meta = load_model(checkpoint)
        return cls(model, meta, views, reject)

    @staticmethod
    def _views(views, fallback) -> list[str]:
        if views is None:
            return list(fallback)
        return parse_views(views if isinstance(views, str) else ",".join(views))

    @property
    def artists(self) -> list[str]:
        return list(self.meta["artists"])

    @property
    def image_size(self) -> int:
        return int(self.meta["image_size"])

    @property
    def open_set(self) -> dict | None:
        """The checkpoint's open-set calibration (score, thresholds per view set); None if it has none."""
        return self.meta.get(META_KEY)

    def pixels(self, painting: Painting, size: int | None = None) -> np.ndarray:
        """A painting as the model's (size, size, 3) uint8 input: a file path, a PIL image, an
        (H, W, 3) uint8 array or a (3, H, W) tensor. A painting far below the model's size, an
        upscale of a small one, or one that reaches the model soft gets a `PaintingInputWarning`."""
        size, resize_filter = size or self.image_size, resize_filter_of(self.meta)
        if isinstance(painting, (str, Path)):
            name = str(painting)
            with strict_pixel_limit(), Image.open(painting) as image:
                problems = input_problems(image, self.image_size)
            pixels = load_rgb(painting, size, resize_filter)
        else:
            name = "the image"
            image = painting if isinstance(painting, Image.Image) else as_pil(painting)
            problems = input_problems(image, self.image_size)
            with strict_pixel_limit():
                pixels = square_rgb(image, size, resize_filter)
        if not problems and size == self.image_size:  # a small or upscaled picture is soft anyway; and any
            problems = softness_problems(pixels)       # picture grown beyond the model's size is softer
        for problem in problems:
            warnings.warn(PaintingInputWarning(f"{name}: {problem}"), stacklevel=3)
        return pixels

    @torch.inference_mode()
    def logits(self, paintings: Sequence[Painting], size: int | None = None, views=None) -> torch.Tensor:
        """(V, N, K) logits for each view of each painting."""
        views = self._views(views, self.views)
        out = []
        for start in range(0, len(paintings), BATCH):
            pixels = np.stack([self.pixels(p, size) for p in paintings[start:start + BATCH]])
            out.append(view_logits(self.model, torch.from_numpy(pixels).permute(0, 3, 1, 2), views))
        return torch.cat(out, dim=1)

    def probabilities(self, painting: Painting, size: int | None = None, views=None) -> torch.Tensor:
        """(K,) probabilities over `artists`, averaged over the test-time views."""
        return self.logits([painting], size, views).softmax(dim=2).mean(dim=0)[0]

    def predict(self, paintings: Painting | Sequence[Painting], top_k: int = 5, views=None,
                reject: bool | None = None) -> Prediction | list[Prediction]:
        """The `top_k` most probable artists of a painting (or of each in a list, batched), with the
        unknown-artist answer; `views="plain"` for one forward pass, `reject=False` to always name one."""
        single = not isinstance(paintings, (list, tuple))
        batch = [paintings] if single else list(paintings)
        if not batch:
            return []
        views = self._views(views, self.views)
        answers = self.answers(self.logits(batch, views=views), views, top_k, reject)
        return answers[0] if single else answers

    def answers(self, logits: torch.Tensor, views, top_k: int = 5, reject: bool | None = None) -> list[Prediction]:
        """A `Prediction` per painting from (V, N, K) logits made with `views`."""
        probs = logits.softmax(dim=2).mean(dim=0)
        threshold = self.threshold(views, reject)
        answers = []
        for row, score in zip(probs, self.scores(logits)):
            values, labels = row.topk(min(top_k, len(self.artists)))
            ranked = [(self.artists[int(i)], float(p)) for p, i in zip(values, labels)]
            answers.append(Prediction(ranked, threshold is not None and float(score) < threshold, float(score), threshold))
        return answers

    def scores(self, logits: torch.Tensor) -> torch.Tensor:
        """(N,) open-set scores of (V, N, K) logits (the checkpoint's score; max-softmax without one)."""
        return open_set_score(self.open_set["score"] if self.open_set else "max_softmax", logits)

    def threshold(self, views=None, reject: bool | None = None) -> float | None:
        """The unknown-artist threshold for these views; None when rejection is off or uncalibrated."""
        if not (self.reject if reject is None else reject):
            return None
        return threshold_for(self.open_set, self._views(views, self.views))

    def is_unknown(self, logits: torch.Tensor, views=None) -> torch.Tensor:
        """(N,) bool: below the threshold of `views` (those the (V, N, K) logits were made with)."""
        threshold = self.threshold(views)
        return torch.zeros(logits.shape[1], dtype=torch.bool) if threshold is None else self.scores(logits) < threshold


def vote(probs_per_size: torch.Tensor) -> int:
    """Majority vote of each size's top-1 over (S, K) probabilities; ties by mean probability."""
    votes = torch.bincount(probs_per_size.argmax(dim=1), minlength=probs_per_size.shape[1])
    tied = torch.nonzero(votes == votes.max()).flatten()
    mean = probs_per_size.mean(dim=0)
    return int(tied[mean[tied].argmax()])


def rank_over_sizes(predictor: Predictor, painting: Painting, sizes: list[int], k: int = 3) -> dict:
    """The study's multi-size test: each size votes for its top-1, the majority wins (ties by mean
    probability); the rest follow by mean probability. Returns path, answer (the artist, or
    "unknown artist" when the model's own size scores below the open-set threshold), artist_1, p_1,
    ... artist_k, p_k."""
    logits = {size: predictor.logits([painting], size) for size in dict.fromkeys([*sizes, predictor.image_size])}
    per_size = torch.stack([logits[size].softmax(dim=2).mean(dim=0)[0] for size in sizes])
    mean = per_size.mean(dim=0)
    winner = vote(per_size)
    ranked = [winner] + [int(i) for i in mean.argsort(descending=True) if int(i) != winner]
    unknown = predictor.is_unknown(logits[predictor.image_size])[0].item()
    result = {"path": str(painting), "answer": "unknown artist" if unknown else predictor.artists[winner]}
    for rank, label in enumerate(ranked[: min(k, len(predictor.artists))], start=1):
        result[f"artist_{rank}"] = predictor.artists[label]
        result[f"p_{rank}"] = round(float(mean[label]), 6)
    return result
