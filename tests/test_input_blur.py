"""The network's own input blur (--model.input_blur_sigma): what it removes, and that it travels with the weights."""
import pytest
import torch

from lightning_modules import ArtistClassifier
from lightning_modules.checkpoints import CHECKPOINT_KEY, CheckpointMismatchError, init_weights_from
from tests.helpers.runs import tiny_model_kwargs


def detail(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of horizontal neighbours: the picture's finest detail."""
    return (images[..., 1:] - images[..., :-1]).abs().mean()


def test_the_backbone_gets_the_picture_blurred_and_only_then():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 64, 64)
    blurred = ArtistClassifier(**tiny_model_kwargs(num_classes=4, input_blur_sigma=1.0)).eval()
    plain = ArtistClassifier(**tiny_model_kwargs(num_classes=4)).eval()
    plain.load_state_dict(blurred.state_dict())  # no weights of its own: the same tensors fit both
    seen = {}
    for name, model in (("blurred", blurred), ("plain", plain)):
        model.backbone.register_forward_pre_hook(lambda _m, args, name=name: seen.__setitem__(name, args[0]))
        with torch.no_grad():
            model(images)
    # normalised by the same mean and std, so the backbone's inputs compare directly
    assert detail(seen["blurred"]) < 0.5 * detail(seen["plain"])
    assert torch.allclose(seen["blurred"].mean(dim=(2, 3)), seen["plain"].mean(dim=(2, 3)), atol=0.05)
    flat = torch.full((1, 3, 64, 64), 0.4)  # a uniform picture comes through as it is
    with torch.no_grad():
        assert torch.allclose(blurred(flat), plain(flat), atol=1e-5)
        assert not torch.allclose(blurred(images), plain(images), atol=1e-3)
    with pytest.raises(ValueError, match="input_blur_sigma"):
        ArtistClassifier(**tiny_model_kwargs(num_classes=4, input_blur_sigma=-1.0))


def test_the_blur_is_torchvisions_gaussian():
    from lightning_modules.input_blur import InputBlur
    from transforms.degradations import gaussian

    images = torch.rand(2, 3, 40, 48)
    for sigma in (0.6, 1.0, 1.7):
        assert torch.allclose(InputBlur(sigma)(images), gaussian(images, sigma), atol=1e-5)


def test_a_sharpened_and_a_softened_copy_differ_less_behind_the_blur():
    from transforms.degradations import gaussian, unsharp_mask

    torch.manual_seed(1)
    painting = gaussian(torch.rand(3, 64, 64), 0.7)
    sharp, soft = unsharp_mask(painting, 1.0, 1.0), gaussian(painting, 1.2)
    before = (sharp - soft).abs().mean()
    after = (gaussian(sharp, 1.0) - gaussian(soft, 1.0)).abs().mean()
    assert after < 0.6 * before, (before, after)


def test_weights_trained_behind_the_blur_are_not_used_without_it(tmp_path):
    trained = ArtistClassifier(**tiny_model_kwargs(num_classes=4, input_blur_sigma=1.0))
    path = tmp_path / "stage1.ckpt"
    checkpoint = {"state_dict": trained.state_dict(), "hyper_parameters": dict(trained.hparams)}
    trained.on_save_checkpoint(checkpoint)
    torch.save(checkpoint, path)
    init_weights_from(ArtistClassifier(**tiny_model_kwargs(num_classes=4, input_blur_sigma=1.0)), path)
    for other in (0.0, 0.5):
        with pytest.raises(CheckpointMismatchError, match="input_blur_sigma"):
            init_weights_from(ArtistClassifier(**tiny_model_kwargs(num_classes=4, input_blur_sigma=other)), path)
    # a checkpoint saved before the option existed is a model without the blur
    plain = ArtistClassifier(**tiny_model_kwargs(num_classes=4))
    old = {"state_dict": plain.state_dict(), "hyper_parameters": {"num_classes": 4}}
    plain.on_save_checkpoint(old)
    old[CHECKPOINT_KEY].pop("input_blur_sigma")
    torch.save(old, path)
    init_weights_from(ArtistClassifier(**tiny_model_kwargs(num_classes=4)), path)
    with pytest.raises(CheckpointMismatchError, match="input_blur_sigma"):
        ArtistClassifier(**tiny_model_kwargs(num_classes=4, input_blur_sigma=1.0)).on_load_checkpoint(old)


def test_the_onnx_export_blurs_as_pytorch_does(tmp_path):
    from inference.export import check_against_torch, export_onnx

    model = ArtistClassifier(**tiny_model_kwargs(num_classes=4, input_blur_sigma=1.0)).eval()
    meta = {"image_size": 64, "head": "gap", "artists": list("abcd"), "mean": [0.5] * 3, "std": [0.5] * 3,
            "backbone": "efficientnet_lite0", "input_blur_sigma": 1.0}
    onnx_path, json_path = export_onnx(model, meta, tmp_path / "blur")
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (64, 64, 3), generator=generator, dtype=torch.uint8).numpy() for _ in range(2)]
    assert check_against_torch(model, onnx_path, images) < 1e-4
    assert "blurs it (Gaussian, sigma 1.0 px)" in json_path.read_text()
