"""The three stages: freezing, weights-only chaining, and the real Makefile/CLI path."""
import contextlib
import json
import subprocess
import sys

import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
import yaml

from artist_cli.train import ArtistCLI
from callbacks import BackboneFreeze
from datamodules import PaintingsDataModule
from lightning_modules import ArtistClassifier
from lightning_modules.checkpoints import CheckpointMismatchError, init_weights_from, load_model
from tests.helpers.paintings import make_collection
from tests.helpers.runs import REPO, TINY, subprocess_env, tiny_args, tiny_datamodule_kwargs, tiny_model_kwargs


def fit_one_epoch(tmp_path, collection, callbacks):
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection), train_augment="flips"))
    model = ArtistClassifier(**tiny_model_kwargs(num_classes=dm.num_classes, lr=1e-2, dense_units=[16]))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = pl.Trainer(max_epochs=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks)
    trainer.fit(model, dm)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    return model, changed


def test_frozen_backbone_weights_and_bn_statistics_do_not_move(tmp_path, collection):
    model, changed = fit_one_epoch(tmp_path, collection, [BackboneFreeze(frozen=True)])
    assert not [k for k in changed if k.startswith("backbone.")]
    assert any(k.startswith("classifier.") for k in changed)
    assert all(not p.requires_grad for p in model.backbone.parameters())


def test_without_freeze_the_same_run_moves_the_backbone(tmp_path, collection):
    # The control: proves the test above could fail.
    _, changed = fit_one_epoch(tmp_path, collection, [BackboneFreeze(frozen=False)])
    assert any(k.startswith("backbone.") and "running_mean" in k for k in changed)
    assert any(k.startswith("backbone.") and k.endswith("weight") for k in changed)


def test_unfrozen_backbone_with_bn_eval_trains_weights_but_keeps_statistics(tmp_path, collection):
    # Stage 3's option: the weights move (lr 1e-2 here), the BatchNorm running statistics do not.
    model, changed = fit_one_epoch(tmp_path, collection, [BackboneFreeze(frozen=False, bn_eval=True)])
    backbone = {k for k in changed if k.startswith("backbone.")}
    assert any(k.endswith("weight") for k in backbone)
    assert not [k for k in backbone if "running_" in k or "num_batches_tracked" in k]
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_three_stages_write_every_file(three_stage_run):
    tmp, _, result = three_stage_run
    run = tmp / "runs" / "t"
    for name in ["split.csv", "split.json", "data_report.csv", "summary.json"]:
        assert (run / name).is_file(), name
    summary = json.loads((run / "summary.json").read_text())
    assert sorted(summary) == ["stage1", "stage2", "stage3"]
    for stage in ["stage1", "stage2", "stage3"]:
        assert (run / stage / "best.ckpt").is_file() and (run / stage / "last.ckpt").is_file()
        metrics = json.loads((run / stage / "metrics.json").read_text())
        assert {"top1", "top2", "macro_f1", "epochs", "best_epoch"} <= set(metrics)
        assert 0.0 <= metrics["macro_f1"] <= 1.0 and metrics["epochs"] == 2
        assert f"[{stage}] best epoch" in result.stdout


@pytest.mark.parametrize("presets,variants", [(["default"], 2), (["seed"], 4), ([], 4)])
def test_stage2_mirrors_only_in_the_default_and_flips_both_ways_in_the_study(tmp_path, collection, presets, variants):
    preset_args = [arg for p in presets for arg in ("--config", f"configs/presets/{p}.yaml")]
    args = ["--config", "configs/base.yaml", *preset_args, "--config", "configs/stage2.yaml", "--run=t",
            f"--runs_dir={tmp_path / 'runs'}", f"--data.root={collection}", *TINY]
    with contextlib.chdir(REPO):  # config paths are relative to the repository
        cli = ArtistCLI(ArtistClassifier, PaintingsDataModule, args=args, run=False)
    assert cli.datamodule.hparams.train_augment == "flips"
    assert cli.datamodule.train_variants == variants  # what the stage-2 feature cache computes


def test_stage3_starts_from_stage2_best_weights_at_lr_1e7(three_stage_run):
    tmp, data, _ = three_stage_run
    args = ["--config", "configs/base.yaml", "--config", "configs/presets/default.yaml",
            "--config", "configs/stage3.yaml", "--run=t", f"--runs_dir={tmp / 'runs'}",
            f"--data.root={data}", f"--data.cache_dir={tmp / 'cache'}", *TINY]
    with contextlib.chdir(REPO):  # config paths are relative to the repository
        cli = ArtistCLI(ArtistClassifier, PaintingsDataModule, args=args, run=False)
        cli.before_fit()
    stage2 = torch.load(tmp / "runs" / "t" / "stage2" / "best.ckpt", weights_only=True)["state_dict"]
    for name, tensor in cli.model.state_dict().items():
        assert torch.equal(tensor, stage2[name]), name
    optimizer = cli.model.configure_optimizers()["optimizer"]
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-7)
    assert all(p.requires_grad for p in cli.model.parameters())
    # and the real stage-3 run logged that learning rate
    logged = pd.read_csv(tmp / "runs" / "t" / "stage3" / "logs" / "metrics.csv")
    lr_column = [c for c in logged.columns if c.startswith("lr-")][0]
    assert logged[lr_column].dropna().iloc[0] == pytest.approx(1e-7)


def test_stage2_trained_only_the_head(three_stage_run):
    tmp, _, _ = three_stage_run
    one = torch.load(tmp / "runs" / "t" / "stage1" / "best.ckpt", weights_only=True)["state_dict"]
    two = torch.load(tmp / "runs" / "t" / "stage2" / "best.ckpt", weights_only=True)["state_dict"]
    assert all(torch.equal(one[k], two[k]) for k in one if k.startswith("backbone."))


def make_evaluate(tmp_path, *make_args) -> dict:
    """`make evaluate ... OUT=<json>` must succeed; returns the report it wrote."""
    out = tmp_path / "eval.json"
    result = subprocess.run(["make", "evaluate", *make_args, f"OUT={out}"], cwd=REPO, capture_output=True, text=True,
                            env=subprocess_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def test_evaluate_counts_unknown_artists(three_stage_run, tmp_path):
    tmp, data, _ = three_stage_run
    other = make_collection(tmp_path / "eval", {"Claude_Monet": 3, "Edgar_Degas": 2, "Paul_Gauguin": 2,
                                                "Jan_van_Eyck": 4})
    report = make_evaluate(tmp_path, f"CKPT={tmp / 'runs' / 't' / 'stage3' / 'best.ckpt'}", f"DATA={other}")
    assert report["n_images"] == 7 and report["n_unknown_artist"] == 4
    assert report["unknown_artists"] == ["Jan van Eyck"]
    assert report["confusion"]["artists"] == ["Claude Monet", "Edgar Degas", "Paul Gauguin"]
    assert sum(map(sum, report["confusion"]["matrix"])) == 7
    assert report["per_artist"]["Claude Monet"]["support"] == 3
    assert 0.0 <= report["macro_f1"] <= 1.0
    assert report["views"] == yaml.safe_load((REPO / "configs" / "inference.yaml").read_text())["views"]


def test_evaluate_on_a_runs_split_reproduces_the_training_validation(three_stage_run, tmp_path):
    tmp, _, _ = three_stage_run
    run = tmp / "runs" / "t"
    report = make_evaluate(tmp_path, f"CKPT={run / 'stage3' / 'best.ckpt'}", f"SPLIT={run / 'split.csv'}",
                           "VIEWS=plain")
    split = pd.read_csv(run / "split.csv")
    assert report["n_images"] == (split["split"] == "val").sum() and report["views"] == ["plain"]
    logged = json.loads((run / "stage3" / "metrics.json").read_text())
    assert report["macro_f1"] == pytest.approx(logged["macro_f1"], abs=6e-5)  # the report rounds to 4 digits
    assert report["top1"] == pytest.approx(logged["top1"], abs=6e-5)


def tiny_model_and_paintings():
    """An untrained 3-artist model, 5 random 32 px paintings as (N, H, W, 3) uint8 and as NCHW."""
    torch.manual_seed(0)
    model = ArtistClassifier(**tiny_model_kwargs(num_classes=3)).eval()
    pixels = torch.randint(0, 256, (5, 32, 32, 3), dtype=torch.uint8).numpy()
    return model, pixels, torch.from_numpy(pixels).permute(0, 3, 1, 2)


def test_flip_tta_averages_the_four_flips():
    from transforms.views import predict_probabilities
    from transforms.flips import FLIPS
    model, pixels, images = tiny_model_and_paintings()
    with torch.no_grad():
        expected = torch.stack([model(v).softmax(1) for v in
                                (images, images.flip(-1), images.flip(-2), images.flip(-1).flip(-2))]).mean(0)
    got = predict_probabilities(model, pixels, batch_size=2, views=list(FLIPS))
    assert torch.allclose(got, expected, atol=1e-6)
    assert not torch.allclose(got, predict_probabilities(model, pixels, batch_size=2), atol=1e-4)


def test_scale_view_averages_the_painting_seen_larger():
    from transforms.views import predict_probabilities
    from torchvision.transforms.v2 import functional as TF
    model, pixels, images = tiny_model_and_paintings()
    with torch.no_grad():
        larger = TF.resize(images, [40, 40], antialias=True)  # x1.25 of 32 px
        expected = torch.stack([model(images).softmax(1), model(images.flip(-1)).softmax(1),
                                model(larger).softmax(1)]).mean(0)
    got = predict_probabilities(model, pixels, batch_size=2, views=["plain", "hflip", "x1.25"])
    assert torch.allclose(got, expected, atol=1e-6)


def test_unknown_test_time_view_is_refused_before_scoring(tmp_path):
    from transforms.views import parse_views
    assert parse_views(" plain, hflip ,x1.25") == ["plain", "hflip", "x1.25"]
    for bad in ("rotate90", "x", "x0", "xbig", ""):
        with pytest.raises(ValueError):
            parse_views(bad)
    result = subprocess.run([sys.executable, "-m", "artist_cli.evaluate", "--ckpt", __file__, "--data", str(tmp_path),
                             "--views", "plain,upside"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "unknown test-time view 'upside'" in result.stderr


def test_missing_stage1_checkpoint_gives_a_clear_message(tmp_path, collection):
    args = " ".join(TINY + [f"--runs_dir={tmp_path / 'runs'}", f"--data.cache_dir={tmp_path / 'cache'}"])
    result = subprocess.run(["make", "stage2", f"DATA={collection}", "RUN=nothing", f"ARGS={args}"],
                            cwd=REPO, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert result.returncode != 0
    assert "stage1/best.ckpt does not exist" in result.stderr
    assert "make stage1 RUN=nothing" in result.stderr
    assert "Traceback" not in result.stderr


def test_evaluate_on_data_of_only_other_artists_stops_clearly(three_stage_run, tmp_path):
    tmp, _, _ = three_stage_run
    other = make_collection(tmp_path / "eval", {"Jan_van_Eyck": 3, "Titian": 2})
    result = subprocess.run(
        ["make", "evaluate", f"CKPT={tmp / 'runs' / 't' / 'stage3' / 'best.ckpt'}", f"DATA={other}"],
        cwd=REPO, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert result.returncode != 0
    assert "None of the paintings" in result.stderr and "only in the data: Jan van Eyck, Titian" in result.stderr
    assert "Traceback" not in result.stderr


def lightning_subcommand(tmp, subcommand: str, stage: str = "stage3", *extra: str) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "artist_cli.train", subcommand, "--preset", "default", "--config",
            f"configs/{stage}.yaml", "--run", "t", *tiny_args(tmp).split(), *extra]
    return subprocess.run(args, cwd=REPO, capture_output=True, text=True, env=subprocess_env(), timeout=300)


def test_lightning_test_and_predict_score_the_test_part(three_stage_run, tmp_path):
    tmp, _, _ = three_stage_run
    run = tmp / "runs" / "t"
    stage = run / "stage3"
    split = pd.read_csv(run / "split.csv")
    test_paths = sorted(split.loc[split["split"] == "test", "path"])
    assert len(test_paths) == 3 and not set(test_paths) & set(split.loc[split["split"] != "test", "path"])
    result = lightning_subcommand(tmp, "test")
    assert result.returncode == 0, result.stderr[-3000:]
    scored = json.loads((stage / "test.json").read_text())
    assert scored["part"] == "test" and scored["n_images"] == len(test_paths)
    # The same paintings scored by `make evaluate PART=test` in one pass: the same numbers.
    evaluated = make_evaluate(tmp_path, f"CKPT={stage / 'best.ckpt'}", f"SPLIT={run / 'split.csv'}", "PART=test",
                              "VIEWS=plain")
    assert evaluated["n_images"] == len(test_paths) and "test part" in evaluated["data"]
    for metric in ("top1", "top2", "macro_f1"):
        assert scored[metric] == pytest.approx(evaluated[metric], abs=6e-5), metric
    result = lightning_subcommand(tmp, "predict")
    assert result.returncode == 0, result.stderr[-3000:]
    predictions = pd.read_csv(stage / "predictions.csv")
    assert sorted(predictions["path"]) == test_paths
    assert (predictions["artist_1"] == predictions["artist"]).mean() == pytest.approx(scored["top1"], abs=6e-5)
    assert set(predictions["answer"]) <= set(predictions["artist_1"]) | {"unknown artist"}
    assert (stage / "logs" / "metrics.csv").stat().st_size > 0  # the training logs are left alone


def test_a_checkpoint_trained_with_a_removed_input_option_is_refused(three_stage_run, tmp_path):
    """Exposure normalisation and the input blur changed the pictures before the backbone; this version
    has neither, so such weights would read every painting wrongly: refused, with the commit that has them."""
    tmp, _, _ = three_stage_run
    trained = torch.load(tmp / "runs" / "t" / "stage3" / "best.ckpt", map_location="cpu", weights_only=True)
    for option, value in (("exposure_target", [0.45, 0.19]), ("input_blur_sigma", 1.0)):
        checkpoint = {**trained, "hyper_parameters": {**trained["hyper_parameters"], option: value}}
        old = tmp_path / f"old-{option}.ckpt"
        torch.save(checkpoint, old)
        with pytest.raises(CheckpointMismatchError, match=f"{option}.*82eec8b"):
            load_model(old)
        with pytest.raises(CheckpointMismatchError, match=option):
            init_weights_from(ArtistClassifier(**tiny_model_kwargs(num_classes=len(trained["artist_trainer"]["artists"]))),
                              old)
    # Lightning's own `test` (weights only, model from the command line) refuses it too, in one line.
    result = lightning_subcommand(tmp, "test", "stage3", f"--ckpt_path={old}")
    assert result.returncode != 0 and "input_blur_sigma" in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    # ... and the checkpoints of this version pass the same check.
    assert lightning_subcommand(tmp, "test", "stage3").returncode == 0


def test_lightning_test_without_a_trained_stage_says_so(tmp_path):
    result = lightning_subcommand(tmp_path, "test", stage="stage2")
    assert result.returncode != 0 and "stage2/best.ckpt does not exist" in result.stderr
    assert "Traceback" not in result.stderr
