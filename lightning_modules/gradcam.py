"""Grad-CAM: where in a painting the model looked to name its artist."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def grad_cam(model, images: torch.Tensor, classes: torch.Tensor | None = None, return_logits: bool = False):
    """Heat maps in [0, 1], shape (B, H, W), for `classes` (None: each image's top class) on [0, 1]
    float `images` (B, 3, H, W); with `return_logits`, also the (B, K) logits of that same forward.

    Gradients of each class score with respect to the backbone's last feature map, averaged per
    channel, weight that map (Selvaraju et al., 2017). Works with a frozen backbone: the
    gradient is taken with respect to activations, not weights.
    """
    captured = {}
    hook = model.backbone.register_forward_hook(lambda _m, _i, out: captured.__setitem__("maps", out))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            inputs = images.detach().clone().requires_grad_(True)
            logits = model(inputs)
            if classes is None:
                classes = logits.detach().argmax(dim=1)
            score = logits.gather(1, classes.view(-1, 1).to(logits.device)).sum()
            maps = captured["maps"]
            grads = torch.autograd.grad(score, maps)[0]
    finally:
        hook.remove()
        model.train(was_training)
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * maps).sum(dim=1, keepdim=True)).detach()
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).max(dim=1).values.clamp_min(1e-12).view(-1, 1, 1)
    cams = (cam / peak).cpu()
    return (cams, logits.detach()) if return_logits else cams
