"""The stage-2 feature cache gives the same model outputs and metrics as the live path."""
import pytorch_lightning as pl
import torch

from callbacks import BackboneFreeze, FeatureCache
from datamodules import PaintingsDataModule
from datamodules.feature_cache import pick_variants
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


def test_degradations_turn_the_cache_off(tmp_path, collection):
    """Degradations draw from continuous ranges: no finite set of variants to cache, every batch afresh."""
    dm, model = frozen_setup(tmp_path, collection, data_kw=dict(degradations=["blur", "colour"], degradation_prob=1.0))
    assert dm.train_variants is None and not dm.cache_features(model) and dm.feature_datasets == {}


def test_rotate_zoom_cannot_be_cached(tmp_path, collection):
    dm, model = frozen_setup(tmp_path, collection, augment="rotate_zoom")
    assert dm.cache_features(model) is False and dm.feature_datasets == {}


def test_pick_variants_draws_each_variant():
    features = torch.arange(4).view(1, 4, 1).expand(400, 4, 3).float()
    picked = pick_variants(features, torch.Generator().manual_seed(0))
    assert picked.shape == (400, 3)
    assert set(picked[:, 0].tolist()) == {0.0, 1.0, 2.0, 3.0}
