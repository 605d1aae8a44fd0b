"""The stage-2 feature cache gives the same model outputs and metrics as the live path."""
import pytest
import pytorch_lightning as pl
import torch

from callbacks import BackboneFreeze, FeatureCache
from datamodules import PaintingsDataModule
from datamodules.feature_cache import DegradedVariants, pick_variants
from transforms.augmentations import RandomFlips
from transforms.flips import FLIPS
from lightning_modules import ArtistClassifier
from tests.helpers.runs import tiny_datamodule_kwargs, tiny_model_kwargs


def frozen_setup(tmp_path, collection, augment="flips", vertical_flips=True, data_kw=None, **model_kw):
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection), train_augment=augment,
                                                      vertical_flips=vertical_flips, **(data_kw or {})))
    dm.prepare_data()
    dm.setup("fit")
    model = ArtistClassifier(**tiny_model_kwargs(num_classes=dm.num_classes, **model_kw)).eval()
    return dm, model


def test_cached_features_give_the_same_predictions(tmp_path, collection):
    dm, model = frozen_setup(tmp_path, collection, head="spp", dense_units=[16])
    assert dm.cache_features(model)
    train = dm.feature_datasets["train"]
    assert train.features.shape == (len(dm.datasets["train"]), 4, 14 * 1280)
    images = torch.stack([dm.datasets["train"][i][0] for i in range(5)]).float() / 255
    with torch.no_grad():
        for v, flip in enumerate(FLIPS.values()):
            live = model(flip(images))
            cached = model(train.features[:5, v])
            assert torch.allclose(live, cached, atol=1e-5), v
            assert torch.equal(live.argmax(1), cached.argmax(1))


def test_validation_metrics_equal_with_and_without_cache(tmp_path, collection):
    dm, model = frozen_setup(tmp_path, collection, dense_units=[16])
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    live = trainer.validate(model, dm, verbose=False)[0]
    dm.cache_features(model)
    cached = trainer.validate(model, dm, verbose=False)[0]
    assert live.keys() == cached.keys()
    for key in live:
        assert abs(live[key] - cached[key]) < 1e-5, key


def test_stage2_fit_uses_the_cache_and_keeps_the_backbone_frozen(tmp_path, collection):
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection), train_augment="flips"))
    model = ArtistClassifier(**tiny_model_kwargs(num_classes=dm.num_classes, lr=1e-2, dense_units=[16]))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False,
                         callbacks=[BackboneFreeze(frozen=True), FeatureCache()])
    trainer.fit(model, dm)
    assert set(dm.feature_datasets) == {"train", "val"}
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("backbone."))
    assert not torch.equal(before["classifier.output.weight"], after["classifier.output.weight"])
    # the head's BatchNorm still trained live
    assert not torch.equal(before["classifier.blocks.0.3.running_mean"], after["classifier.blocks.0.3.running_mean"])


def test_mirror_only_flips_cache_two_variants(tmp_path, collection):
    dm, model = frozen_setup(tmp_path, collection, vertical_flips=False)
    assert dm.cache_features(model)
    train = dm.feature_datasets["train"]
    assert train.features.shape[:2] == (len(dm.datasets["train"]), 2)
    images = torch.stack([dm.datasets["train"][i][0] for i in range(3)]).float() / 255
    with torch.no_grad():
        assert torch.allclose(model.features(images.flip(-1)), train.features[:3, 1], atol=1e-5)


def test_degraded_copies_are_cached_after_the_flips_and_repeat(tmp_path, collection):
    degrade = dict(degradations=["blur", "colour"], degradation_prob=1.0)
    dm, model = frozen_setup(tmp_path, collection, data_kw=dict(degrade, degraded_copies=2))
    assert dm.train_variants == 12 and dm.cache_features(model)  # 4 flips x (as is + 2 copies)
    train = dm.feature_datasets["train"].features
    images = torch.stack([dm.datasets["train"][i][0] for i in range(3)]).float() / 255
    with torch.no_grad():
        for v, flip in enumerate(FLIPS.values()):  # variants 0-3: the plain flips, untouched
            assert torch.allclose(model.features(flip(images)), train[:3, v], atol=1e-5)
    for v in range(4, 12):  # every degraded copy moves every painting's features
        assert (train[:, v] - train[:, v % 4]).abs().amax(dim=1).min() > 1e-3, v
    assert not torch.allclose(train[:, 4:8], train[:, 8:12])  # two copies, two different draws
    again, _ = frozen_setup(tmp_path / "again", collection, data_kw=dict(degrade, degraded_copies=2))
    assert again.cache_features(model)
    assert torch.equal(again.feature_datasets["train"].features, train)  # seeded: the same pictures

    val = torch.stack([dm.datasets["val"][i][0] for i in range(3)]).float() / 255
    with torch.no_grad():  # validation stays the clean paintings
        assert torch.allclose(model.features(val), dm.feature_datasets["val"].features[:3, 0], atol=1e-5)

    live, _ = frozen_setup(tmp_path / "live", collection, data_kw=degrade)  # no copies: degraded afresh
    assert live.train_variants is None and not live.cache_features(model)
    rotated, _ = frozen_setup(tmp_path / "rz", collection, augment="rotate_zoom",
                              data_kw=dict(degrade, degraded_copies=2))  # no finite set to copy
    assert rotated.train_variants is None and not rotated.cache_features(model)


def test_degraded_copy_k_of_variant_i_degrades_flip_i_mod_n():
    images = torch.rand(2, 3, 8, 8)
    copies = DegradedVariants(RandomFlips(vertical_flips=False), lambda x, generator: 1 - x, copies=2, seed=0)
    assert copies.variants == 6
    for index, expected in enumerate([images, images.flip(-1), 1 - images, 1 - images.flip(-1)]):
        assert torch.equal(copies.variant(images, index), expected), index
    assert torch.equal(copies.variant(images, 5), 1 - images.flip(-1))


@pytest.mark.parametrize("extra,message", [(dict(), "needs --data.degradations"),
                                           (dict(degradations=["blur"], paired_views=True), "one or the other")])
def test_degraded_copies_refuse_what_they_cannot_serve(tmp_path, collection, extra, message):
    with pytest.raises(ValueError, match=message):
        PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection), degraded_copies=1, **extra))


def test_rotate_zoom_cannot_be_cached(tmp_path, collection):
    dm, model = frozen_setup(tmp_path, collection, augment="rotate_zoom")
    assert dm.cache_features(model) is False and dm.feature_datasets == {}


def test_pick_variants_draws_each_variant():
    features = torch.arange(4).view(1, 4, 1).expand(400, 4, 3).float()
    picked = pick_variants(features, torch.Generator().manual_seed(0))
    assert picked.shape == (400, 3)
    assert set(picked[:, 0].tolist()) == {0.0, 1.0, 2.0, 3.0}
