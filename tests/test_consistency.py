"""AugMix-style consistency (`robust`): each training painting beside its degraded copy, cross-entropy on
both, Jensen-Shannon between the two predictions."""
import math

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from datamodules import PaintingsDataModule
from lightning_modules import ArtistClassifier
from lightning_modules.consistency import jensen_shannon
from tests.helpers.runs import tiny_datamodule_kwargs, tiny_model_kwargs

# training_step runs here without a Trainer: its self.log calls have nowhere to go.
pytestmark = pytest.mark.filterwarnings(r"ignore:You are trying to `self.log\(\)`")


def test_jensen_shannon_equals_a_hand_computed_value():
    # p = (0.8, 0.2), q = (0.4, 0.6): m = (0.6, 0.4); JS = (KL(p||m) + KL(q||m)) / 2
    logits = torch.log(torch.tensor([[[0.8, 0.2], [0.4, 0.6]]]))
    kl_p = 0.8 * math.log(0.8 / 0.6) + 0.2 * math.log(0.2 / 0.4)
    kl_q = 0.4 * math.log(0.4 / 0.6) + 0.6 * math.log(0.6 / 0.4)
    assert jensen_shannon(logits).item() == pytest.approx((kl_p + kl_q) / 2, abs=1e-6)
    same = torch.randn(5, 1, 7).expand(5, 2, 7)
    assert jensen_shannon(same).item() == pytest.approx(0.0, abs=1e-6)
    opposite = torch.tensor([[[30.0, -30.0], [-30.0, 30.0]]])
    assert jensen_shannon(opposite).item() == pytest.approx(math.log(2), abs=1e-4)  # its bound
    with pytest.raises(ValueError, match="views"):
        jensen_shannon(torch.randn(4, 7))


def paired_model(weight: float, **overrides) -> ArtistClassifier:
    torch.manual_seed(0)
    return ArtistClassifier(**tiny_model_kwargs(num_classes=3, dropout=0.0, consistency_weight=weight, **overrides))


def loss_and_grads(model, images, labels):
    model.train()
    model.zero_grad()
    loss = model.training_step((images, labels, torch.arange(len(labels))), 0)
    loss.backward()
    return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def relative_difference(grads_a, grads_b) -> float:
    a, b = torch.cat([g.flatten() for g in grads_a]), torch.cat([g.flatten() for g in grads_b])
    return ((a - b).norm() / a.norm()).item()


def test_identical_views_train_exactly_as_the_painting_alone():
    """The consistency term changes nothing where the copy is the painting (BatchNorm statistics of a
    batch and of the batch twice are the same), so it acts only through what the degradation changes."""
    images, labels = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    plain_loss, plain_grads = loss_and_grads(paired_model(0.0), images, labels)
    pair = torch.stack([images, images], dim=1)
    pair_loss, pair_grads = loss_and_grads(paired_model(12.0), pair, labels)
    assert pair_loss.item() == pytest.approx(plain_loss.item(), rel=1e-4)
    # Float rounding differs between a batch of 4 and of 8 (biases that feed a BatchNorm have a true
    # gradient of 0 and keep only rounding noise), so compare the whole gradient.
    assert relative_difference(plain_grads, pair_grads) < 1e-3


def test_the_loss_is_cross_entropy_on_both_copies_plus_weight_times_js():
    images, labels = torch.rand(4, 2, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    model = paired_model(3.0)
    loss, grads_on = loss_and_grads(model, images, labels)
    with torch.no_grad():
        logits = model(images.flatten(0, 1)).view(4, 2, -1)
    by_hand = (F.cross_entropy(logits[:, 0], labels) + F.cross_entropy(logits[:, 1], labels)) / 2
    assert loss.item() == pytest.approx((by_hand + 3.0 * jensen_shannon(logits)).item(), rel=1e-4)
    first = F.cross_entropy(logits[:, 0], labels) + 3.0 * jensen_shannon(logits)
    assert abs(loss.item() - first.item()) > 1e-3  # the degraded copy's cross-entropy really counts
    assert jensen_shannon(logits).item() > 1e-4
    _, grads_light = loss_and_grads(paired_model(1.0), images, labels)
    assert relative_difference(grads_on, grads_light) > 0.05


@pytest.mark.parametrize("mix", ["CutMix", "MixUp"])
def test_cutmix_and_mixup_fall_alike_on_both_views(mix):
    images = torch.rand(4, 3, 32, 32)
    model = paired_model(3.0, mix_prob=1.0)
    model.batch_mix.mix = next(t for t in model.batch_mix.mix.transforms if type(t).__name__ == mix)
    seen = []
    forward = model.forward
    model.forward = lambda x: seen.append(x.detach().clone()) or forward(x)
    loss, _ = loss_and_grads(model, torch.stack([images, images], dim=1), torch.tensor([0, 1, 2, 0]))
    views = seen[0].view(4, 2, 3, 32, 32)
    assert not torch.equal(views[:, 0], images)  # mixed ...
    assert torch.equal(views[:, 0], views[:, 1])  # ... the same way in both views
    assert torch.isfinite(loss)


def test_paired_views_are_refused_where_they_do_not_belong():
    pairs, labels = torch.rand(4, 2, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="consistency_weight"):
        paired_model(12.0).validation_step((pairs, labels, torch.arange(4)), 0)
    with pytest.raises(ValueError, match="consistency_weight"):
        loss_and_grads(paired_model(0.0), pairs, labels)
    with pytest.raises(ValueError, match="paired_views=True"):  # a weight without pairs would do nothing
        loss_and_grads(paired_model(12.0), pairs[:, 0], labels)
    with pytest.raises(ValueError, match=">= 0"):
        paired_model(-1.0)


def test_paired_batches_hold_the_augmented_painting_and_its_degraded_copy(tmp_path, collection):
    kwargs = tiny_datamodule_kwargs(tmp_path, root=str(collection), degradations=["blur", "colour"],
                                    degradation_prob=1.0)
    data = PaintingsDataModule(**kwargs, paired_views=True)
    inputs = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    torch.manual_seed(5)
    pairs = data.model_inputs(inputs, training=True)
    assert pairs.shape == (6, 2, 3, 32, 32) and pairs.dtype == torch.float32
    torch.manual_seed(5)
    augmented = data.train_augmentation(inputs)
    assert torch.equal(pairs[:, 0], augmented)  # the first view has no degradation
    assert torch.equal(pairs[:, 1], data.degrade(augmented))  # drawn next from the same stream
    assert (pairs[:, 1] - pairs[:, 0]).abs().mean() > 1e-3
    assert data.model_inputs(inputs, training=False).shape == (6, 3, 32, 32)  # validation: one view
    resized = PaintingsDataModule(**dict(kwargs, train_sizes=[24]), paired_views=True)
    torch.manual_seed(5)
    small = resized.model_inputs(inputs, training=True)
    expected = F.interpolate(pairs.flatten(0, 1), size=(24, 24), mode="bilinear", align_corners=False, antialias=True)
    assert torch.allclose(small, expected.view(6, 2, 3, 24, 24))  # each view of each painting, in place
    for nothing_to_pair in (dict(degradations=[]), dict(degradation_prob=0.0)):
        with pytest.raises(ValueError, match="--data.degradations"):
            PaintingsDataModule(**dict(kwargs, **nothing_to_pair), paired_views=True)


def test_the_head_search_trains_as_stage_2_does_after_a_consistency_stage_1(tmp_path, collection):
    from artist_cli.head_search import datamodule_for
    stage1 = tiny_datamodule_kwargs(tmp_path, root=str(collection), degradations=["colour"], paired_views=True)
    data = datamodule_for(tmp_path / "sweep", {"datamodule_hyper_parameters": stage1}, None)
    assert data.train_variants == 4 and not data.hparams.paired_views  # the four flips, cached


def test_a_consistency_run_trains_on_pairs_and_validates_on_single_paintings(tmp_path, collection):
    from callbacks import StageHistory
    data = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection), degradations=["colour"],
                                                        degradation_prob=1.0), paired_views=True)
    model = ArtistClassifier(**tiny_model_kwargs(num_classes=data.num_classes, consistency_weight=12.0))
    history = StageHistory()
    trainer = pl.Trainer(max_epochs=1, limit_train_batches=2, accelerator="cpu", logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[history])
    trainer.fit(model, data)
    epoch = history.history[-1]
    assert epoch["train_consistency"] > 0 and "val_consistency" not in epoch
    assert 0 <= epoch["val_top1"] <= 1
