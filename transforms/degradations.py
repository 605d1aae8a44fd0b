"""Degradations of stage 1's training batches: paintings as people have them, not as one thumbnail tool made them.

Each kind is switched on by name in `--data.degradations` (empty: none) and applied to a sample with
probability `--data.degradation_prob`, after the stage's augmentation, on the training device:

- `resample`: shrink by a random factor (1.25-3x) and grow back, with a random filter, with or
  without antialiasing: the softness of a loader's downscale and the aliasing of a careless one;
- `jpeg`: re-encode at a random JPEG quality (30-95);
- `blur`: a Gaussian blur (sigma 0.3-1.5) or, half the time, an unsharp mask (radius 0.5-2, amount
  0.3-1.2: a camera's or an editor's sharpening);
- `colour`: a white balance along the warm-cool axis (blue against red, from candlelight-warm to
  shade-cool: blue x0.70 / red x1.21 against green at the warm end), a small tint per channel (0.93-1.07),
  brightness and contrast (0.7-1.2) and saturation (0.7-1.3);
- `frame`: a photo of the painting hung on a wall: shrunk to 70-95% of the picture's side, off centre,
  inside a frame (0-6% of the side wide, dark wood to gilt) on a wall (light to mid grey-beige).

Every random draw comes from the generator passed in (or torch's global one), so a seeded run
repeats itself.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.io import decode_jpeg, encode_jpeg
from torchvision.transforms.v2 import functional as TF

from transforms.augmentations import to_float

DEGRADATIONS = ("frame", "resample", "jpeg", "blur", "colour")


def uniform(n: int, low: float, high: float, generator=None) -> torch.Tensor:
    return low + torch.rand(n, generator=generator) * (high - low)


def resample(image: torch.Tensor, generator=None) -> torch.Tensor:
    """(3, H, W) float: shrink by 1.25-3x and grow back, bilinear or bicubic, antialiased or not."""
    height, width = image.shape[-2:]
    factor = float(uniform(1, 1.25, 3.0, generator))
    mode = "bicubic" if torch.rand((), generator=generator) < 0.5 else "bilinear"
    antialias = bool(torch.rand((), generator=generator) < 0.5)
    small = F.interpolate(image[None], size=(max(8, round(height / factor)), max(8, round(width / factor))),
                          mode=mode, align_corners=False, antialias=antialias)
    return F.interpolate(small, size=(height, width), mode="bicubic", align_corners=False)[0].clamp(0, 1)


def jpeg(image: torch.Tensor, generator=None) -> torch.Tensor:
    """(3, H, W) float: through a JPEG file of quality 30-95 and back."""
    quality = int(torch.randint(30, 96, (), generator=generator))
    as_bytes = (image * 255).round().clamp(0, 255).to(torch.uint8).cpu()
    decoded = decode_jpeg(encode_jpeg(as_bytes, quality=quality))
    return decoded.to(image.device, image.dtype) / 255


def gaussian(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """(..., 3, H, W) floats blurred with a kernel of 3 sigma each side (a 5x5 kernel would cut sigma 1.2 short)."""
    size = min(2 * math.ceil(3 * sigma) + 1, (min(image.shape[-2:]) - 1) // 2 * 2 + 1)
    return TF.gaussian_blur(image[None], kernel_size=[size, size], sigma=[sigma, sigma])[0]


def unsharp_mask(image: torch.Tensor, radius: float, amount: float) -> torch.Tensor:
    """(C, H, W) floats in [0, 1] sharpened: `amount` times the detail a Gaussian of sigma `radius` removes, added."""
    return (image + amount * (image - gaussian(image, radius))).clamp(0, 1)


def blur(image: torch.Tensor, generator=None) -> torch.Tensor:
    """(3, H, W) float: a Gaussian blur, or (half the time) an unsharp mask that sharpens."""
    if torch.rand((), generator=generator) < 0.5:
        return gaussian(image, float(uniform(1, 0.3, 1.5, generator)))
    radius, amount = float(uniform(1, 0.5, 2.0, generator)), float(uniform(1, 0.3, 1.2, generator))
    return unsharp_mask(image, radius, amount)


# Log-gains of (red, green, blue) per unit of warmth: a tungsten bulb's light on a daylight setting
# is about warmth 0.27 (red x1.16, blue x0.77 against green); WARMTH bounds the draw either way.
WHITE_BALANCE_AXIS = (0.55, 0.0, -1.0)
WARMTH = 0.35


def colour(image: torch.Tensor, generator=None) -> torch.Tensor:
    """(3, H, W) float: a white balance and a tint, then brightness, contrast and saturation."""
    warmth = float(uniform(1, -WARMTH, WARMTH, generator))
    gains = torch.tensor(WHITE_BALANCE_AXIS).mul(warmth).exp() * uniform(3, 0.93, 1.07, generator)
    image = (image * gains.to(image.device, image.dtype).view(3, 1, 1)).clamp(0, 1)
    image = TF.adjust_brightness(image, float(uniform(1, 0.7, 1.2, generator)))
    image = TF.adjust_contrast(image, float(uniform(1, 0.7, 1.2, generator)))
    return TF.adjust_saturation(image, float(uniform(1, 0.7, 1.3, generator)))


def frame(image: torch.Tensor, generator=None) -> torch.Tensor:
    """(3, H, W) float: the painting shrunk into a frame on a wall, as a photo of it hung would show."""
    height, width = image.shape[-2:]
    share = float(uniform(1, 0.70, 0.95, generator))
    inner_h, inner_w = max(4, round(height * share)), max(4, round(width * share))
    border = round(float(uniform(1, 0.0, 0.06, generator)) * max(height, width))
    # Wall: light to mid, a little warm or cool; frame: dark wood to gilt (a colour and a brightness).
    wall = uniform(1, 0.55, 0.92, generator) * uniform(3, 0.92, 1.06, generator)
    frame_colour = uniform(1, 0.12, 0.65, generator) * torch.tensor([1.0, 0.85, 0.6])
    canvas = wall.clamp(0, 1).to(image).view(3, 1, 1).expand(3, height, width).clone()
    outer_h, outer_w = min(height, inner_h + 2 * border), min(width, inner_w + 2 * border)
    top = int(torch.randint(0, height - outer_h + 1, (), generator=generator))
    left = int(torch.randint(0, width - outer_w + 1, (), generator=generator))
    canvas[:, top:top + outer_h, left:left + outer_w] = frame_colour.to(image).view(3, 1, 1)
    painting = F.interpolate(image[None], size=(inner_h, inner_w), mode="bilinear", align_corners=False,
                             antialias=True)[0]
    y, x = top + (outer_h - inner_h) // 2, left + (outer_w - inner_w) // 2
    canvas[:, y:y + inner_h, x:x + inner_w] = painting
    return canvas.clamp(0, 1)


KINDS = {"frame": frame, "resample": resample, "jpeg": jpeg, "blur": blur, "colour": colour}


class Degrade(torch.nn.Module):
    """Each kind in `kinds` (in the order of DEGRADATIONS) hits each sample with probability `prob`, or
    with its own probability in `prob_by_kind` (kinds that are not switched on are ignored there)."""

    def __init__(self, kinds: list[str], prob: float = 0.5, prob_by_kind: dict[str, float] | None = None):
        super().__init__()
        prob_by_kind = dict(prob_by_kind or {})
        unknown = [k for k in [*kinds, *prob_by_kind] if k not in KINDS]
        if unknown:
            raise ValueError(f"unknown degradation(s) {unknown}; choose from {', '.join(DEGRADATIONS)}")
        for name, value in {"degradation_prob": prob, **{f"degradation_prob_by_kind[{k}]": v
                                                         for k, v in prob_by_kind.items()}}.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {value}")
        self.kinds = [k for k in DEGRADATIONS if k in kinds]
        self.prob = prob
        self.probs = {k: float(prob_by_kind.get(k, prob)) for k in self.kinds}

    @property
    def active(self) -> bool:
        """Whether any painting can be degraded at all."""
        return any(p > 0 for p in self.probs.values())

    def forward(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        images = to_float(images)
        if not self.active:
            return images
        out = []
        for image in images:
            for kind in self.kinds:
                if torch.rand((), generator=generator) < self.probs[kind]:
                    image = KINDS[kind](image, generator)
            out.append(image)
        return torch.stack(out)
