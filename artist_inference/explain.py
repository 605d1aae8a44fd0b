"""Where the model looked: the web page's answer and a Grad-CAM overlay for the top artist, from one
decode and one forward pass per view (the plain view's forward also gives the Grad-CAM)."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lightning_modules.gradcam import grad_cam
from reports.plots import heatmap_overlay
from transforms.views import apply_view


def overlay(image: torch.Tensor, cam: torch.Tensor, display_size: int = 384) -> np.ndarray:
    """(display_size, display_size, 3) uint8: a (1, 3, S, S) [0, 1] image with an (S, S) heat map."""
    large = F.interpolate(image, size=(display_size, display_size), mode="bicubic", align_corners=False).clamp(0, 1)[0]
    cam = F.interpolate(cam[None, None], size=(display_size, display_size), mode="bilinear", align_corners=False)[0, 0]
    return heatmap_overlay(large.permute(1, 2, 0).numpy(), cam.numpy())


def answer_with_gradcam(predictor, painting, top_k: int = 5, display_size: int = 384):
    """(Prediction with the predictor's views, Grad-CAM overlay of the plain view's top artist)."""
    pixels = torch.from_numpy(predictor.pixels(painting)).permute(2, 0, 1).unsqueeze(0)
    image = pixels.float().div(255)
    cam, plain_logits = grad_cam(predictor.model, image, return_logits=True)
    logits = []
    with torch.no_grad():  # not inference_mode: Grad-CAM above needs ordinary tensors
        for view in predictor.views:
            logits.append(plain_logits if view == "plain" else predictor.model(apply_view(pixels, view)))
    prediction = predictor.answers(torch.stack(logits), predictor.views, top_k)[0]
    return prediction, overlay(image, cam[0], display_size)

