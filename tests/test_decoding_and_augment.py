"""Every odd image mode becomes RGB; augmentation really differs per stage."""
import math

import numpy as np
import pytest
import torch
from PIL import Image

from transforms.augmentations import NoAugment, RandomFlips, RotateZoom, build_augmentation
from datamodules.decoding import load_rgb


def save(image: Image.Image, path, **kw):
    image.save(path, **kw)
    return path


@pytest.mark.parametrize("mode,fmt", [("L", "PNG"), ("1", "PNG"), ("P", "PNG"), ("RGBA", "PNG"),
                                      ("CMYK", "JPEG"), ("LA", "PNG"), ("RGB", "JPEG")])
def test_modes_decode_to_rgb_of_the_right_size(tmp_path, mode, fmt):
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (30, 50, 3), dtype=np.uint8)).convert(mode)
    path = save(image, tmp_path / f"x.{fmt.lower()}", format=fmt)
    pixels = load_rgb(path, 24)
    assert pixels.shape == (24, 24, 3) and pixels.dtype == np.uint8


def test_16_bit_png_keeps_its_range(tmp_path):
    ramp = (np.linspace(0, 65535, 64 * 64).reshape(64, 64)).astype(np.uint16)
    path = save(Image.fromarray(ramp), tmp_path / "deep.png")
    assert Image.open(path).mode.startswith("I")
    pixels = load_rgb(path, 64)
    assert pixels.min() <= 2 and pixels.max() >= 253  # not clipped to white, not crushed to black


def test_transparency_is_composited_on_white(tmp_path):
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red but fully transparent
    path = save(Image.fromarray(rgba, "RGBA"), tmp_path / "clear.png")
    assert (load_rgb(path, 20) == 255).all()
    palette = Image.new("P", (20, 20), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    path = save(palette, tmp_path / "pal.png", transparency=0)
    assert (load_rgb(path, 20) == 255).all()


def test_large_jpeg_uses_draft_decoding(tmp_path):
    big = Image.fromarray(np.full((1600, 1200, 3), 90, dtype=np.uint8))
    path = save(big, tmp_path / "big.jpg", quality=90)
    pixels = load_rgb(path, 64)
    assert pixels.shape == (64, 64, 3) and abs(int(pixels.mean()) - 90) <= 2


def batch(seed=0, n=6, size=32) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


def test_rotate_zoom_changes_pixels_and_fills_borders():
    images = batch()
    out = RotateZoom()(images, generator=torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.dtype == torch.float32
    assert not torch.allclose(out, images.float() / 255, atol=1e-3)
    # A uniform painting stays uniform: uncovered borders are filled from the painting, not black.
    grey = torch.full((4, 3, 32, 32), 128, dtype=torch.uint8)
    warped = RotateZoom(zoom=(0.5, 0.5))(grey, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(warped, torch.full_like(warped, 128 / 255), atol=1e-4)


def test_flips_yield_only_the_four_flip_variants():
    images = batch(n=1).expand(64, -1, -1, -1).contiguous()
    out = RandomFlips()(images, generator=torch.Generator().manual_seed(0))
    x = images[0].float() / 255
    variants = [x, x.flip(-1), x.flip(-2), x.flip(-1).flip(-2)]
    seen = set()
    for sample in out:
        matches = [i for i, v in enumerate(variants) if torch.equal(sample, v)]
        assert len(matches) >= 1
        seen.add(matches[0])
    assert seen == {0, 1, 2, 3}


def test_flips_without_vertical_mirror_and_never_turn_a_painting_upside_down():
    images = batch(n=1).expand(64, -1, -1, -1).contiguous()
    out = build_augmentation("flips", vertical_flips=False)(images, generator=torch.Generator().manual_seed(0))
    x = images[0].float() / 255
    seen = {0 if torch.equal(sample, x) else 1 if torch.equal(sample, x.flip(-1)) else None for sample in out}
    assert seen == {0, 1}


def test_validation_is_deterministic_and_unchanged():
    images = batch()
    assert torch.equal(NoAugment()(images), NoAugment()(images))
    assert torch.equal(NoAugment()(images), images.float() / 255)


def test_unknown_augmentation_is_a_clear_error():
    with pytest.raises(ValueError, match="rotate_zoom"):
        build_augmentation("mixup")


def test_rotate_zoom_strength_comes_from_the_data_config(tmp_path, collection):
    from datamodules import PaintingsDataModule
    from tests.helpers.runs import tiny_datamodule_kwargs
    study = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection))).train_augmentation
    assert (study.degrees, study.zoom_min, study.zoom_max) == (30.0, 0.5, 1.5)
    still = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection), rotate_degrees=0.0,
                                                         zoom_range=(1.0, 1.0))).train_augmentation
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    assert torch.allclose(still(images), images.float() / 255, atol=1e-5)
    assert not torch.allclose(study(images), images.float() / 255, atol=1e-2)
    with pytest.raises(ValueError, match="zoom"):
        PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection), zoom_range=(1.5, 0.5)))


def test_each_degradation_changes_the_painting_within_range_and_repeats_with_its_seed():
    from transforms.degradations import KINDS, Degrade
    images = torch.rand(4, 3, 48, 48)
    for kind in KINDS:
        degrade = Degrade([kind], prob=1.0)
        once = degrade(images, generator=torch.Generator().manual_seed(3))
        again = degrade(images, generator=torch.Generator().manual_seed(3))
        assert torch.equal(once, again), kind
        assert once.shape == images.shape and once.min() >= 0 and once.max() <= 1, kind
        assert (once - images).abs().mean() > 1e-3, kind


def test_no_degradation_leaves_batches_and_the_random_stream_alone():
    from transforms.degradations import Degrade
    images = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    state = torch.get_rng_state()
    assert torch.equal(Degrade([])(images), images.float() / 255)
    assert torch.equal(torch.get_rng_state(), state)  # the default recipe's numbers do not move
    with pytest.raises(ValueError, match="frame, resample, jpeg, blur, colour"):
        Degrade(["rain"])


def test_a_kind_can_have_its_own_probability():
    from transforms.degradations import Degrade
    images = torch.rand(64, 3, 16, 16)
    hit = lambda degrade: ((degrade(images, torch.Generator().manual_seed(0)) - images).abs()  # noqa: E731
                           .flatten(1).amax(1) > 1e-6).float().mean().item()
    assert hit(Degrade(["jpeg", "blur"], 0.0, {"blur": 1.0})) == 1.0  # blur on every painting, JPEG on none
    assert hit(Degrade(["jpeg", "blur"], 0.0, {"blur": 0.0})) == 0.0
    assert not Degrade(["jpeg", "blur"], 0.0, {"blur": 0.0}).active
    assert 0.2 < hit(Degrade(["blur"], 1.0, {"blur": 0.4})) < 0.6  # the kind's own chance wins
    assert hit(Degrade(["blur"], 0.0, {"frame": 1.0})) == 0.0  # a kind that is off stays off
    with pytest.raises(ValueError, match="unknown degradation"):
        Degrade(["blur"], 0.1, {"rain": 0.5})
    with pytest.raises(ValueError, match=r"degradation_prob_by_kind\[blur\]"):
        Degrade(["blur"], 0.1, {"blur": 1.5})


def test_blur_softens_and_resampling_loses_fine_detail():
    from artist_inference.robustness import laplacian_sharpness
    from transforms.degradations import blur, resample
    torch.manual_seed(0)
    image = torch.rand(3, 64, 64)
    as_pixels = lambda t: (t.permute(1, 2, 0).numpy() * 255)[None]  # noqa: E731
    sharp = laplacian_sharpness(as_pixels(image))
    generator = torch.Generator().manual_seed(0)
    softened = [laplacian_sharpness(as_pixels(resample(image, generator))) for _ in range(5)]
    assert max(softened) < sharp
    draws = torch.Generator().manual_seed(1)  # half the draws blur, half sharpen with an unsharp mask
    results = [laplacian_sharpness(as_pixels(blur(image, draws))) for _ in range(8)]
    assert min(results) < 0.7 * sharp and max(results) > 1.2 * sharp


def test_colour_white_balance_reaches_past_tungsten_both_ways():
    """The benchmark's tungsten light (blue x0.77 against green) lies inside the colour degradation's
    white-balance range, not at its edge, and the range reaches as far to the cool side."""
    from transforms.degradations import WARMTH, WHITE_BALANCE_AXIS, colour
    red, _, blue = (math.exp(WARMTH * a) for a in WHITE_BALANCE_AXIS)
    assert blue < 0.77 * 0.95 and red > 1.16 and 1 / blue > 1.3  # and as far to the cool side
    grey = torch.full((3, 8, 8), 0.5)
    draws = torch.Generator().manual_seed(0)
    ratios = [(lambda out: (out[2] / out[0]).mean().item())(colour(grey, draws)) for _ in range(200)]
    assert min(ratios) < 0.7 and max(ratios) > 1.3
