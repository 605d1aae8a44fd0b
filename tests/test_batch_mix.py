"""CutMix / MixUp: what the model sees and the targets the loss gets."""
import pytest
import torch

from lightning_modules import ArtistClassifier
from transforms.batch_mix import BatchMix
from tests.helpers.runs import tiny_model_kwargs


def distinct_batch(n: int = 6, size: int = 16):
    torch.manual_seed(0)
    return torch.rand(n, 3, size, size), torch.arange(n)


@pytest.mark.parametrize("seed", range(8))
def test_each_mixed_image_is_its_target_blend_of_itself_and_its_neighbour(seed):
    images, labels = distinct_batch()
    torch.manual_seed(seed)
    mixed, targets = BatchMix(num_classes=6, prob=1.0)(images, labels)
    assert targets.shape == (6, 6) and torch.allclose(targets.sum(1), torch.ones(6))
    for i in range(6):
        j = (i - 1) % 6  # torchvision pairs each sample with the previous one
        own, other = targets[i, labels[i]], targets[i, labels[j]]
        assert own + other == pytest.approx(1.0)
        blend = own * images[i] + other * images[j]
        pasted = torch.isclose(mixed[i], images[j]) & ~torch.isclose(mixed[i], images[i])
        if torch.allclose(mixed[i], blend, atol=1e-5):  # MixUp: the whole image blended
            continue
        # CutMix: every pixel is one of the two paintings, and the pasted share is the other's weight
        assert torch.all(torch.isclose(mixed[i], images[i]) | torch.isclose(mixed[i], images[j]))
        assert pasted[0].float().mean().item() == pytest.approx(other.item(), abs=1e-6)


def test_without_mixing_targets_are_one_hot_and_images_untouched():
    images, labels = distinct_batch()
    mixed, targets = BatchMix(num_classes=6, prob=0.0)(images, labels)
    assert torch.equal(mixed, images) and torch.equal(targets, torch.eye(6))


def test_mixing_changes_the_training_loss_only():
    images, labels = distinct_batch(4, 32)
    batch = (images, labels % 3, torch.arange(4))
    plain = ArtistClassifier(**tiny_model_kwargs(num_classes=3))
    mixed = ArtistClassifier(**tiny_model_kwargs(num_classes=3, mix_prob=1.0))
    mixed.load_state_dict(plain.state_dict())
    assert mixed.state_dict().keys() == plain.state_dict().keys()  # checkpoints stay interchangeable
    for model in (plain, mixed):
        model.log = model.log_dict = lambda *a, **k: None
        model.eval()  # same dropout/BatchNorm behaviour for both
    torch.manual_seed(1)
    assert not torch.isclose(mixed._step(batch, mixed.train_metrics, "train")[1],
                             plain._step(batch, plain.train_metrics, "train")[1])
    assert torch.isclose(mixed._step(batch, mixed.val_metrics, "val")[1],
                         plain._step(batch, plain.val_metrics, "val")[1])
    # cached features (stage 2) are never mixed
    features = torch.randn(4, mixed.pool.out_features)
    with torch.no_grad():
        loss_mixed = mixed._step((features, labels % 3, None), mixed.train_metrics, "train")[1]
        loss_plain = plain._step((features, labels % 3, None), plain.train_metrics, "train")[1]
    assert torch.isclose(loss_mixed, loss_plain)
