"""The network's own input blur (--model.input_blur_sigma): what it removes, and that it travels with the weights."""
import pytest
import torch

from lightning_modules import ArtistClassifier
from lightning_modules.checkpoints import CHECKPOINT_KEY, CheckpointMismatchError, init_weights_from
from tests.helpers.runs import tiny_model_kwargs


def backbone_inputs(models: dict, images: torch.Tensor) -> dict:
    """What each model's backbone receives for `images`."""
    seen = {}
    for name, model in models.items():
        hook = model.backbone.register_forward_pre_hook(lambda _m, args, name=name: seen.__setitem__(name, args[0]))
        with torch.no_grad():
            model(images)
        hook.remove()
    return seen


def detail(images: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of horizontal neighbours: the picture's finest detail."""
    return (images[..., 1:] - images[..., :-1]).abs().mean()


def test_the_backbone_gets_the_picture_blurred():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 64, 64)
    blurred = ArtistClassifier(**tiny_model_kwargs(num_classes=4, input_blur_sigma=1.0)).eval()
    plain = ArtistClassifier(**tiny_model_kwargs(num_classes=4)).eval()
    plain.load_state_dict(blurred.state_dict())  # no weights of its own: the same tensors fit both
    seen = backbone_inputs({"blurred": blurred, "plain": plain}, images)
    # normalised by the same mean and std, so the backbone's inputs compare directly
    assert detail(seen["blurred"]) < 0.5 * detail(seen["plain"])
    assert torch.allclose(seen["blurred"].mean(dim=(2, 3)), seen["plain"].mean(dim=(2, 3)), atol=0.05)
    flat = torch.full((1, 3, 64, 64), 0.4)  # a uniform picture comes through as it is
    with torch.no_grad():
        assert torch.allclose(blurred(flat), plain(flat), atol=1e-5)
        assert not torch.allclose(blurred(images), plain(images), atol=1e-3)
    with pytest.raises(ValueError, match="input_blur_sigma"):
        ArtistClassifier(**tiny_model_kwargs(num_classes=4, input_blur_sigma=-1.0))


def test_exposure_is_normalised_before_the_blur():
    """The order matters there: the exposure statistics of a blurred picture are not those of the picture."""
    from lightning_modules.exposure import normalise_exposure
    from transforms.degradations import gaussian

    torch.manual_seed(2)
    images = torch.rand(2, 3, 48, 48) * 0.5 + 0.1
    model = ArtistClassifier(**tiny_model_kwargs(num_classes=4, exposure_target=[0.45, 0.19],
                                                 input_blur_sigma=1.0)).eval()
    seen = backbone_inputs({"model": model}, images)["model"]
    by_hand = (gaussian(normalise_exposure(images, 0.45, 0.19), 1.0) - model.mean) / model.std
    other_order = (normalise_exposure(gaussian(images, 1.0), 0.45, 0.19) - model.mean) / model.std
    assert torch.allclose(seen, by_hand, atol=1e-4)
    assert not torch.allclose(seen, other_order, atol=1e-2)


def test_the_blur_is_torchvisions_gaussian():
    from lightning_modules.input_blur import InputBlur
    from transforms.degradations import gaussian

    images = torch.rand(2, 3, 40, 48)
    for sigma in (0.6, 1.0, 1.7):
        assert torch.allclose(InputBlur(sigma)(images), gaussian(images, sigma), atol=1e-5)


def test_a_sharpened_and_a_softened_copy_differ_much_less_behind_the_blur():
    from lightning_modules.input_blur import InputBlur
    from transforms.degradations import gaussian, unsharp_mask

    torch.manual_seed(1)
    painting = gaussian(torch.rand(3, 64, 64), 0.7)
    sharp, soft = unsharp_mask(painting, 1.0, 1.0)[None], gaussian(painting, 1.2)[None]
    before = (sharp - soft).abs().mean()
    after = (InputBlur(1.0)(sharp) - InputBlur(1.0)(soft)).abs().mean()
    # any averaging kernel shrinks the difference somewhat; the finest detail is most of it here
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


@pytest.mark.parametrize("head", ["gap", "spp"])
def test_the_onnx_export_blurs_as_pytorch_does(tmp_path, head):
    from inference.export import check_against_torch, export_onnx

    model = ArtistClassifier(**tiny_model_kwargs(num_classes=4, head=head, image_size=64, artists=list("abcd"),
                                                 input_blur_sigma=1.0)).eval()
    checkpoint = {}
    model.on_save_checkpoint(checkpoint)  # the metadata `make export` reads from a stage's checkpoint
    onnx_path, json_path = export_onnx(model, checkpoint[CHECKPOINT_KEY], tmp_path / head)
    generator = torch.Generator().manual_seed(0)
    for height, width in ((64, 64), (80, 96)) if head == "spp" else ((64, 64),):
        images = [torch.randint(0, 256, (height, width, 3), generator=generator, dtype=torch.uint8).numpy()
                  for _ in range(2)]
        assert check_against_torch(model, onnx_path, images) < 1e-4
    assert "blurs the picture (Gaussian, sigma 1.0 px)" in json_path.read_text()
