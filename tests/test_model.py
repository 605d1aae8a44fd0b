"""Backbones, heads and the metrics we report."""
import pytest
import torch

from lightning_modules import ArtistClassifier
from lightning_modules.backbones import build_backbone
from lightning_modules.heads import SpatialPyramidPool
from lightning_modules.metrics import classification_metrics
from tests.helpers.runs import tiny_model_kwargs


@pytest.mark.parametrize("size", [224, 260, 296])
def test_spp_is_14_times_channels_for_any_input_size(size):
    model = ArtistClassifier(**tiny_model_kwargs(head="spp", num_classes=5)).eval()
    with torch.no_grad():
        features = model.features(torch.rand(2, 3, size, size))
        logits = model(torch.rand(2, 3, size, size))
    assert features.shape == (2, 14 * 1280)
    assert logits.shape == (2, 5)


def test_spp_pools_max_per_bin():
    x = torch.zeros(1, 1, 6, 6)
    x[0, 0, 0, 0] = 5.0  # top-left cell
    x[0, 0, 5, 5] = 7.0  # bottom-right cell
    out = SpatialPyramidPool(1, (1, 2, 3))(x)[0].tolist()
    assert out[0] == 7.0                      # 1x1
    assert out[1:5] == [5.0, 0.0, 0.0, 7.0]  # 2x2
    assert out[5] == 5.0 and out[13] == 7.0  # 3x3 corners


def test_feature_dropout_acts_on_cached_features_in_training_only():
    torch.manual_seed(0)
    model = ArtistClassifier(**tiny_model_kwargs(num_classes=4, feature_dropout=0.5))
    cached = torch.rand(8, 1280)  # what stage 2 feeds the head from the feature cache
    model.train()
    assert not torch.equal(model(cached), model(cached))
    model.eval()
    assert torch.equal(model(cached), model(cached))
    plain = ArtistClassifier(**tiny_model_kwargs(num_classes=4)).train()
    assert torch.equal(plain(cached), plain(cached))


def test_drop_path_skips_blocks_in_training_only():
    torch.manual_seed(0)
    net = build_backbone("efficientnet_lite0", pretrained=False, drop_path_rate=0.5).features
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.equal(net.train()(x), net(x))
        assert torch.equal(net.eval()(x), net(x))
    with pytest.raises(ValueError, match="stochastic depth"):
        build_backbone("resnet50", pretrained=False, drop_path_rate=0.1)


def test_dense_blocks_follow_the_study():
    model = ArtistClassifier(**tiny_model_kwargs(dense_units=[384, 128], num_classes=4))
    block = model.classifier.blocks[0]
    kinds = [type(m).__name__ for m in block]
    assert kinds == ["Linear", "ReLU", "Dropout", "BatchNorm1d"]
    assert block[2].p == 0.5 and model.classifier.blocks[1][0].out_features == 128
    assert model.classifier.output.in_features == 128


def test_top2_and_macro_f1_equal_hand_computed_values():
    # 3 artists, 5 paintings. Rows: scores for artists 0, 1, 2.
    logits = torch.tensor([[0.7, 0.2, 0.1],   # true 0, top1 0        -> correct
                           [0.1, 0.5, 0.4],   # true 2, top1 1, top2 {1,2} -> top2 hit
                           [0.2, 0.3, 0.5],   # true 1, top1 2, top2 {2,1} -> top2 hit
                           [0.6, 0.3, 0.1],   # true 1, top1 0, top2 {0,1} -> top2 hit
                           [0.1, 0.2, 0.7]])  # true 2, top1 2        -> correct
    target = torch.tensor([0, 2, 1, 1, 2])
    metrics = classification_metrics(3, "val/")
    values = {k: float(v) for k, v in metrics(logits, target).items()}
    # predictions 0,1,2,0,2. Class 0: tp1 fp1 fn0 -> F1 2/3. Class 1: tp0 -> 0. Class 2: tp1 fp1 fn1 -> 1/2.
    assert values["val/top1"] == pytest.approx(2 / 5)
    assert values["val/top2"] == pytest.approx(5 / 5)
    assert values["val/macro_f1"] == pytest.approx((2 / 3 + 0 + 1 / 2) / 3)


def test_macro_f1_of_a_confusion_matrix_and_its_sampling_error():
    from lightning_modules.metrics import macro_f1_of_confusions, macro_f1_sampling_error
    # The hand-computed case above (predictions 0,1,2,0,2), plus an artist with no paintings and no
    # answers, which the macro average leaves out as torchmetrics does.
    confusion = torch.tensor([[1, 0, 0, 0], [1, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]])
    assert float(macro_f1_of_confusions(confusion)) == pytest.approx((2 / 3 + 0 + 1 / 2) / 3)
    # The bootstrap spread of a macro-F1 shrinks as 1/sqrt(paintings): 4x the paintings, half of it.
    generator = torch.Generator().manual_seed(1)
    target = torch.randint(0, 5, (400,), generator=generator)
    answers = torch.where(torch.rand(400, generator=generator) < 0.7, target, torch.randint(0, 5, (400,), generator=generator))
    small = torch.zeros(5, 5, dtype=torch.long).index_put_((target, answers), torch.ones(400, dtype=torch.long), accumulate=True)
    error, error_4x = macro_f1_sampling_error(small), macro_f1_sampling_error(small * 4)
    assert 0.015 < error["std"] < 0.035  # binomial: sqrt(0.7 * 0.3 / 400) = 0.023 for accuracy
    assert error_4x["std"] == pytest.approx(error["std"] / 2, rel=0.15)
    low, high = error["interval_95"]
    assert low < float(macro_f1_of_confusions(small)) < high


def test_top2_stays_separate_from_top1_when_the_first_batch_agrees():
    metrics = classification_metrics(3, "val/")
    # first batch: every prediction right, so top-1 and top-2 states are identical
    metrics.update(torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]]), torch.tensor([0, 1]))
    # second batch: wrong at top-1, right at top-2
    metrics.update(torch.tensor([[0.6, 0.3, 0.1], [0.1, 0.6, 0.3]]), torch.tensor([1, 2]))
    values = {k: float(v) for k, v in metrics.compute().items()}
    assert values["val/top1"] == pytest.approx(2 / 4)
    assert values["val/top2"] == pytest.approx(4 / 4)


def test_lr_drops_by_10x_on_the_4th_flat_epoch():
    model = ArtistClassifier(**tiny_model_kwargs(num_classes=3, lr=1e-4, lr_patience=4, lr_factor=0.1))
    config = model.configure_optimizers()
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert config["lr_scheduler"]["monitor"] == "val/macro_f1"
    lrs = []
    for macro_f1 in [0.3, 0.5, 0.5, 0.5, 0.5, 0.5]:  # best at epoch 1, then flat
        scheduler.step(macro_f1)
        lrs.append(optimizer.param_groups[0]["lr"])
    assert lrs[:5] == [1e-4] * 5          # best, then 3 flat epochs: unchanged
    assert lrs[5] == pytest.approx(1e-5)  # the 4th flat epoch drops it


@pytest.mark.parametrize("name", ["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_lite_weights_equal_the_package_tensors(name):
    from lightning_modules.backbones import BACKBONES
    _, package_name, class_name = BACKBONES[name].args  # the registry entry: (timm model, package, class)
    weights_file = getattr(__import__(package_name), class_name).get_model_file_path()
    package = torch.load(weights_file, map_location="cpu", weights_only=True)
    backbone = build_backbone(name, pretrained=True)
    loaded = list(backbone.features.state_dict().values())
    source = list(package.values())[: len(loaded)]  # the classifier's two tensors come last
    assert len(loaded) == len(package) - 2
    for mine, theirs in zip(loaded, source):
        assert torch.equal(mine, theirs)


def test_resnet50_offline_without_weights_names_the_file(tmp_path, monkeypatch):
    from lightning_modules.backbones import WeightsNotFoundError
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    import torch.hub
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("network unreachable")))
    with pytest.raises(WeightsNotFoundError, match=r"resnet50-.*\.pth"):
        build_backbone("resnet50", pretrained=True)


def test_resnet50_loads_a_weights_file_from_the_hub_cache(tmp_path, monkeypatch):
    from torchvision.models import ResNet50_Weights, resnet50
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    reference = resnet50(weights=None)
    target = tmp_path / "hub" / "checkpoints" / ResNet50_Weights.IMAGENET1K_V2.url.rsplit("/", 1)[-1]
    target.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), target)
    backbone = build_backbone("resnet50", pretrained=True)
    assert torch.equal(backbone.features[0].weight, reference.conv1.weight)
    assert backbone.channels == 2048


def test_macro_f1_over_named_artists_leaves_out_an_artist_only_answered():
    """A source with a few of the classes: an absent artist that the model names counts as a false
    positive of the true artist, not as an F1 of 0 in the average; its bootstrap brackets the same number."""
    from lightning_modules.metrics import macro_f1_of_confusions, macro_f1_sampling_error
    # artists 0 and 1 have paintings; artist 2 has none but is answered once (a painting of artist 1)
    confusion = torch.tensor([[3, 1, 0], [0, 2, 1], [0, 0, 0]])
    present = torch.tensor([True, True, False])
    # F1: artist 0 = 6/7, artist 1 = 4/6 (TP 2, FP 1, FN 1)
    assert float(macro_f1_of_confusions(confusion, present)) == pytest.approx((6 / 7 + 4 / 6) / 2)
    assert float(macro_f1_of_confusions(confusion)) == pytest.approx((6 / 7 + 4 / 6 + 0) / 3)
    low, high = macro_f1_sampling_error(confusion * 50, artists=present)["interval_95"]
    assert low < (6 / 7 + 4 / 6) / 2 < high
