"""Exposure normalisation: brightness and contrast changes of a picture no longer reach the backbone."""
import glob

import numpy as np
import pytest
import torch
from PIL import Image

from inference.robustness import CONDITIONS
from lightning_modules import ArtistClassifier
from lightning_modules.checkpoints import CheckpointMismatchError, init_weights_from
from lightning_modules.exposure import normalise_exposure
from tests.helpers.runs import REPO, tiny_model_kwargs

TARGET = [0.45, 0.19]


def as_tensor(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255).permute(2, 0, 1)[None]


def test_any_brightness_and_contrast_change_is_undone():
    images = torch.rand(4, 3, 32, 32) * 0.6 + 0.2
    changed = images * 0.64 + 0.07  # PIL's brightness 0.8 then contrast 0.8 is such a map
    assert torch.allclose(normalise_exposure(changed, *TARGET), normalise_exposure(images, *TARGET), atol=1e-5)
    out = normalise_exposure(images, *TARGET)
    grey = (out * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1)
    assert torch.allclose(grey.mean(dim=(1, 2)), torch.full((4,), 0.45), atol=1e-5)
    assert torch.allclose(grey.std(dim=(1, 2)), torch.full((4,), 0.19), atol=1e-5)
    # colours are kept: a picture at the targets comes out as it went in
    assert torch.allclose(normalise_exposure(out, *TARGET), out, atol=1e-5)
    flat = torch.full((1, 3, 8, 8), 0.3)  # no spread at all: shifted to the mean, not divided by zero
    assert torch.allclose(normalise_exposure(flat, *TARGET), torch.full((1, 3, 8, 8), 0.45))


def test_the_benchmarks_dim_picture_comes_out_as_the_painting():
    path = sorted(glob.glob(str(REPO / "data/sample/images/*/*.jpg")))[0]
    with Image.open(path) as image:
        painting = image.convert("RGB")
    dim, _, _ = CONDITIONS["dim-low-contrast"](painting, np.random.default_rng(0))
    before = (as_tensor(dim) - as_tensor(painting)).abs().mean()
    after = (normalise_exposure(as_tensor(dim), *TARGET) - normalise_exposure(as_tensor(painting), *TARGET)).abs().mean()
    assert before > 0.05 and after < 0.01, (before, after)  # only 8-bit rounding is left


def test_the_model_reads_a_dimmed_picture_as_the_original():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 64, 64) * 0.6 + 0.2
    normalised = ArtistClassifier(**tiny_model_kwargs(num_classes=4, exposure_target=TARGET)).eval()
    plain = ArtistClassifier(**tiny_model_kwargs(num_classes=4)).eval()
    plain.load_state_dict(normalised.state_dict())
    with torch.no_grad():
        assert torch.allclose(normalised(images * 0.7 + 0.1), normalised(images), atol=1e-4)
        assert not torch.allclose(plain(images * 0.7 + 0.1), plain(images), atol=1e-2)
    with pytest.raises(ValueError, match="exposure_target"):
        ArtistClassifier(**tiny_model_kwargs(num_classes=4, exposure_target=[0.45, 0.0]))


def test_a_stage_cannot_start_from_weights_trained_on_other_inputs(tmp_path):
    trained = ArtistClassifier(**tiny_model_kwargs(num_classes=4, exposure_target=TARGET))
    path = tmp_path / "stage1.ckpt"
    checkpoint = {"state_dict": trained.state_dict(), "hyper_parameters": dict(trained.hparams)}
    trained.on_save_checkpoint(checkpoint)  # the metadata a stage's checkpoint carries
    torch.save(checkpoint, path)
    init_weights_from(ArtistClassifier(**tiny_model_kwargs(num_classes=4, exposure_target=TARGET)), path)
    init_weights_from(ArtistClassifier(**tiny_model_kwargs(num_classes=4, exposure_target=(0.45, 0.19))), path)
    with pytest.raises(CheckpointMismatchError, match="exposure_target"):
        init_weights_from(ArtistClassifier(**tiny_model_kwargs(num_classes=4)), path)
    # and the other way: weights trained on plain pictures (or saved before the option existed)
    plain = ArtistClassifier(**tiny_model_kwargs(num_classes=4))
    checkpoint = {"state_dict": plain.state_dict(), "hyper_parameters": {"num_classes": 4}}
    plain.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    init_weights_from(ArtistClassifier(**tiny_model_kwargs(num_classes=4)), path)
    with pytest.raises(CheckpointMismatchError, match="exposure_target"):
        init_weights_from(ArtistClassifier(**tiny_model_kwargs(num_classes=4, exposure_target=TARGET)), path)
    with pytest.raises(CheckpointMismatchError, match="exposure_target"):  # a resume, or Lightning's test/predict
        ArtistClassifier(**tiny_model_kwargs(num_classes=4, exposure_target=TARGET)).on_load_checkpoint(checkpoint)


def test_the_onnx_export_normalises_exposure_as_pytorch_does(tmp_path):
    from inference.export import check_against_torch, export_onnx

    model = ArtistClassifier(**tiny_model_kwargs(num_classes=4, exposure_target=TARGET)).eval()
    meta = {"image_size": 64, "head": "gap", "artists": list("abcd"), "mean": [0.5] * 3, "std": [0.5] * 3,
            "backbone": "efficientnet_lite0", "exposure_target": TARGET}
    onnx_path, json_path = export_onnx(model, meta, tmp_path / "exposure")
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (64, 64, 3), generator=generator, dtype=torch.uint8).numpy() for _ in range(2)]
    assert check_against_torch(model, onnx_path, images) < 1e-4
    assert "grey mean 0.45" in json_path.read_text()
