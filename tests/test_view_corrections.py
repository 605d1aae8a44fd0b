"""The correcting test-time views: `autolevels` undoes a dim, flat exposure and `unsharp` a soft focus."""
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from inference.robustness import laplacian_sharpness
from transforms.degradations import gaussian
from transforms.views import MIN_LEVEL_SPAN, apply_view, parse_views


def painting(seed=0, size=64):
    """uint8 (1, 3, H, W): smooth colour fields plus fine texture, grey spanning nearly black to white."""
    generator = torch.Generator().manual_seed(seed)
    ramp = torch.linspace(0, 1, size)
    fields = torch.stack([ramp.view(1, -1).expand(size, size), ramp.view(-1, 1).expand(size, size),
                          ramp.flip(0).view(1, -1).expand(size, size)])
    texture = torch.rand(3, size, size, generator=generator) * 0.2
    return ((fields * 0.8 + texture) * 255).round().clamp(0, 255).to(torch.uint8)[None]


def sharpness(images: torch.Tensor) -> float:
    """The benchmark's high-frequency statistic of uint8 (N, 3, H, W) pictures."""
    return laplacian_sharpness(images.permute(0, 2, 3, 1).numpy())


def test_autolevels_undoes_a_dim_flat_exposure_and_keeps_the_colour_balance():
    clean = painting()
    dim = TF.adjust_contrast(TF.adjust_brightness(clean, 0.8), 0.8)
    assert (dim.float() - clean.float()).abs().mean() > 15
    restored, reference = apply_view(dim, "autolevels"), apply_view(clean, "autolevels")
    assert restored.dtype == torch.uint8 and restored.shape == clean.shape
    # Equal up to the rounding of the dim picture to 8 bits; one gain for all three channels, so the
    # gap between red and blue comes back as the clean painting's.
    assert (restored.float() - reference.float()).abs().mean() < 2.0
    def red_blue_gap(images):
        return float((images[0, 0].float() - images[0, 2].float()).abs().mean())
    assert red_blue_gap(restored) == pytest.approx(red_blue_gap(reference), rel=0.05)
    assert red_blue_gap(restored) > 1.3 * red_blue_gap(dim)


def test_autolevels_leaves_a_nearly_uniform_picture_alone():
    flat = torch.full((2, 3, 16, 16), 0.5)
    flat[:, :, :8] += MIN_LEVEL_SPAN / 4  # two grey levels closer than the span it stretches
    assert torch.equal(apply_view(flat, "autolevels"), flat)


def test_unsharp_gives_back_part_of_a_blurs_detail():
    clean = painting(1)
    soft = (gaussian(clean[0].float() / 255, 1.2) * 255).round().to(torch.uint8)[None]
    sharpened = apply_view(soft, "unsharp")
    assert sharpened.dtype == torch.uint8 and sharpened.shape == soft.shape
    assert sharpness(soft) < sharpness(sharpened) < sharpness(clean)


def test_correcting_views_are_named_like_the_others():
    assert parse_views("plain, autolevels,unsharp") == ["plain", "autolevels", "unsharp"]
    with pytest.raises(ValueError, match="autolevels, unsharp"):
        parse_views("plain,levels")
