"""A fixed Gaussian blur of the network's input (--model.input_blur_sigma), as a module that exports to ONNX."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class InputBlur(nn.Module):
    """(B, 3, H, W) floats blurred by a Gaussian of `sigma` pixels: two separable passes over a kernel of
    3 sigma each side, edges reflected (torchvision's `gaussian_blur`, with the kernel fixed at build time
    so that tracing sees constant shapes)."""

    def __init__(self, sigma: float, channels: int = 3):
        super().__init__()
        self.radius = math.ceil(3 * sigma)
        offsets = torch.arange(-self.radius, self.radius + 1, dtype=torch.float32)
        weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
        weights = (weights / weights.sum()).expand(channels, 1, -1)
        # Non-persistent: the state dict, and so every checkpoint, stays that of the network without it.
        self.register_buffer("across", weights[:, :, None, :].clone(), persistent=False)
        self.register_buffer("down", weights[:, :, :, None].clone(), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        r = self.radius
        padded = F.pad(images, (r, r, r, r), mode="reflect")
        groups = images.shape[1]
        return F.conv2d(F.conv2d(padded, self.across.to(images.dtype), groups=groups),
                        self.down.to(images.dtype), groups=groups)
