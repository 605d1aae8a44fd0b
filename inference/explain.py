"""Where the model looked: a Grad-CAM overlay for one painting's top artist."""
from __future__ import annotations

import numpy as np
import torch

from lightning_modules.gradcam import grad_cam
from reports.plots import heatmap_overlay


def gradcam_overlay(predictor, painting, display_size: int = 384) -> np.ndarray:
    """(display_size, display_size, 3) uint8: the painting as the model saw it, with a heat map of
    where its top artist's evidence lies."""
    pixels = predictor.pixels(painting)
    image = torch.from_numpy(pixels).permute(2, 0, 1).float().div(255).unsqueeze(0)
    with torch.no_grad():  # not inference_mode: its tensors cannot take part in Grad-CAM's backward pass
        top = predictor.model(image).argmax(dim=1)
    cam = grad_cam(predictor.model, image, top)[0]
    large = torch.nn.functional.interpolate(image, size=(display_size, display_size), mode="bicubic",
                                            align_corners=False).clamp(0, 1)[0]
    cam = torch.nn.functional.interpolate(cam[None, None], size=(display_size, display_size), mode="bilinear",
                                          align_corners=False)[0, 0]
    return heatmap_overlay(large.permute(1, 2, 0).numpy(), cam.numpy())
