"""Every recipe is a config: each preset with each stage builds, base.yaml applies by itself, and the
choices of backbones, heads and augmentations come from their registries."""
import contextlib
import re
import subprocess
import sys

import pytest
import torch

from artist_cli.train import ArtistCLI, preset_names
from datamodules import PaintingsDataModule
from lightning_modules import ArtistClassifier
from tests.helpers.runs import REPO, TINY, subprocess_env, tiny_datamodule_kwargs, tiny_model_kwargs
from transforms import AUGMENTATIONS, register_augmentation
from transforms.augmentations import to_float

STAGES = sorted(p.stem for p in (REPO / "configs").glob("stage*.yaml"))


def build_cli(tmp_path, collection, *args, run: str = "t", tiny: list[str] = TINY) -> ArtistCLI:
    """Parse and instantiate as `make stageN` would, without training; base.yaml is not named."""
    args = [*args, f"--run={run}", f"--runs_dir={tmp_path / 'runs'}", f"--data.root={collection}",
            f"--data.cache_dir={tmp_path / 'cache'}", *tiny]
    with contextlib.chdir(REPO):
        return ArtistCLI(ArtistClassifier, PaintingsDataModule, args=args, run=False)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("preset", preset_names())
def test_every_preset_builds_with_every_stage(tmp_path, collection, preset, stage):
    cli = build_cli(tmp_path, collection, "--preset", preset, "--config", f"configs/{stage}.yaml")
    config = cli.config
    assert config.preset == preset and config.stage == stage
    assert config.early_stopping.patience == 10 and config.checkpoint.monitor == "val/macro_f1"  # from base.yaml
    assert cli.datamodule.num_classes == 3 and cli.model.hparams.num_classes == 3
    assert cli.model.hparams.backbone == config.model.backbone
    frozen = {"stage1": False, "stage2": True, "stage3": False}[stage]
    assert config.backbone_freeze.frozen is frozen
    assert cli.datamodule.hparams.train_augment == ("rotate_zoom" if stage == "stage1" else "flips")
    robust = preset == "robust" and stage == "stage1"
    assert cli.datamodule.degrade.kinds == (["frame", "resample", "jpeg", "blur", "colour"] if robust else [])
    if robust:  # blur and colour more often, and a longer stage 1 to learn them
        assert cli.datamodule.degrade.probs == {"frame": 0.15, "resample": 0.15, "jpeg": 0.15, "blur": 0.4, "colour": 0.4}
    # linked from the model's consistency weight: robust's stage 1 pairs each painting with a degraded copy
    assert cli.datamodule.hparams.paired_views is robust
    assert cli.model.hparams.consistency_weight == (3.0 if robust else 0.0)
    assert (cli.datamodule.train_variants is None) is (stage == "stage1")  # stages 2-3 keep the feature cache


def test_the_presets_are_the_recipes_the_readme_names():
    presets = preset_names()
    assert presets == ["all", "default", "gpu", "plateau", "robust", "seed", "top10"]
    readme = (REPO / "README.md").read_text()
    table = readme.split("| preset | pick it when |", 1)[1].split("\n\n", 1)[0]  # one row a preset
    rows = re.findall(r"^\| `([a-z0-9-]+)`(?: / `([a-z0-9-]+)`)? \| \S", table, re.M)
    assert sorted(name for row in rows for name in row if name) == presets


def test_presets_apply_in_order_where_the_option_stands(tmp_path, collection):
    cli = build_cli(tmp_path, collection, "--preset", "default,top10,all", "--config", "configs/stage1.yaml")
    assert cli.datamodule.hparams.top_k_artists is None and cli.model.hparams.label_smoothing == 0.1
    cli = build_cli(tmp_path, collection, "--preset=all,top10", "--config", "configs/stage1.yaml", run="u")
    assert cli.datamodule.hparams.top_k_artists == 10 and cli.model.hparams.label_smoothing == 0.0
    # the stage file comes after the presets: stage 2 turns off the default's CutMix/MixUp
    cli = build_cli(tmp_path, collection, "--preset", "default", "--config", "configs/stage2.yaml")
    assert cli.model.hparams.mix_prob == 0.0 and cli.model.hparams.label_smoothing == 0.1


@pytest.mark.parametrize(("stage", "epochs"), [("stage1", 24), ("stage2", 40), ("stage3", 1)])
def test_robust_lengthens_stage_1_alone(tmp_path, collection, stage, epochs):
    untimed = [arg for arg in TINY if not arg.startswith("--trainer.max_epochs")]
    cli = build_cli(tmp_path, collection, "--preset", "default,all,robust", "--config", f"configs/{stage}.yaml",
                    tiny=untimed)
    assert cli.trainer.max_epochs == epochs


@pytest.mark.parametrize(("preset", "stage", "schedule", "lr"), [
    ("default", "stage1", "cosine", 3e-4), ("default", "stage2", "plateau", 1e-4),
    ("default", "stage3", "plateau", 1e-7), ("default,plateau", "stage1", "plateau", 1e-4),
    ("seed", "stage1", "plateau", 1e-4)])
def test_each_stage_gets_its_schedule_whatever_the_preset_says_for_stage_1(tmp_path, collection, preset, stage,
                                                                          schedule, lr):
    hparams = build_cli(tmp_path, collection, "--preset", preset, "--config", f"configs/{stage}.yaml").model.hparams
    assert (hparams.schedule, hparams.lr) == (schedule, pytest.approx(lr))


@pytest.mark.parametrize(("preset", "epochs", "min_lr"), [("default", 16, 1e-6), ("default,plateau", 60, 1e-6)])
def test_default_spends_16_stage1_epochs_and_plateau_gives_back_the_long_schedule(tmp_path, collection, preset,
                                                                                  epochs, min_lr):
    tiny_but_epochs = [arg for arg in TINY if not arg.startswith("--trainer.max_epochs")]
    cli = build_cli(tmp_path, collection, "--preset", preset, "--config", "configs/stage1.yaml", tiny=tiny_but_epochs)
    assert cli.trainer.max_epochs == epochs and cli.model.hparams.min_lr == pytest.approx(min_lr)


def test_left_out_artists_parse_from_the_command_line_in_any_spelling(tmp_path, collection):
    # What `make ARGS=...` hands the CLI when the list is quoted as one word.
    cli = build_cli(tmp_path, collection, '--data.exclude_artists=["Claude Monet"]')
    assert cli.datamodule.artists == ["Edgar Degas", "Paul Gauguin"] and cli.model.hparams.num_classes == 2
    # A later stage that spells the name otherwise asks for the same split.
    again = build_cli(tmp_path, collection, "--data.exclude_artists=[claude_monet]")
    assert again.datamodule.split.equals(cli.datamodule.split)


def test_an_unknown_preset_names_the_choices(tmp_path, collection):
    result = subprocess.run([sys.executable, "-m", "artist_cli.train", "fit", "--preset", "default,fast"],
                            cwd=REPO, capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert result.returncode != 0 and "no preset 'fast'" in result.stderr
    assert "plateau, robust" in result.stderr and "Traceback" not in result.stderr


def test_help_lists_the_registered_choices():
    result = subprocess.run([sys.executable, "-m", "artist_cli.train", "fit", "--help"], cwd=REPO,
                            capture_output=True, text=True, env=subprocess_env(), timeout=120)
    assert result.returncode == 0
    for choice in ("efficientnet_lite0", "efficientnet_lite2", "resnet50", "spp", "rotate_zoom", "flips"):
        assert choice in result.stdout, choice
    assert "--preset" in result.stdout


def test_an_augmentation_declares_the_variants_the_feature_cache_computes(tmp_path, collection):
    @register_augmentation("grey_or_not")
    class GreyOrNot(torch.nn.Module):
        variants = 2

        def variant(self, images, index):
            images = to_float(images)
            return images if index == 0 else images.mean(dim=1, keepdim=True).expand_as(images)

        def forward(self, images, generator=None):
            return self.variant(images, int(torch.randint(2, (), generator=generator)))

    try:
        dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection), train_augment="grey_or_not"))
        dm.prepare_data()
        dm.setup("fit")
        model = ArtistClassifier(**tiny_model_kwargs(num_classes=dm.num_classes)).eval()
        assert dm.train_variants == 2 and dm.cache_features(model)
        cached = dm.feature_datasets["train"].features
        assert cached.shape[:2] == (len(dm.datasets["train"]), 2)
        images = torch.stack([dm.datasets["train"][i][0] for i in range(3)])
        with torch.no_grad():
            assert torch.allclose(model.features(GreyOrNot().variant(images, 1)), cached[:3, 1], atol=1e-5)
    finally:
        del AUGMENTATIONS["grey_or_not"]


def test_unknown_backbone_and_head_errors_list_the_registry():
    with pytest.raises(ValueError, match="efficientnet_lite0, efficientnet_lite1, efficientnet_lite2, resnet50"):
        ArtistClassifier(**tiny_model_kwargs(backbone="vit"))
    with pytest.raises(ValueError, match="gap, spp"):
        ArtistClassifier(**tiny_model_kwargs(head="attention"))
