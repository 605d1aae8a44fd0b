"""The study's experiments as commands: head search, multi-size SPP, imbalance options, presets."""
import json
import subprocess

import pandas as pd
import pytest
import torch
import yaml

from artist_cli.head_search import run_sweep
from datamodules import PaintingsDataModule
from lightning_modules import ArtistClassifier
from lightning_modules.classifier import class_weights
from tests.helpers.paintings import make_collection
from tests.helpers.runs import REPO, TINY, subprocess_env, tiny_datamodule_kwargs, tiny_model_kwargs


def test_sweep_on_a_2x2_grid_writes_results_and_top3(three_stage_run):
    tmp, _, _ = three_stage_run
    run_dir = tmp / "runs" / "t"
    results = run_sweep(run_dir, "gap", [8, 16], [4, 8], epochs=2, patience=2)
    assert len(results) == 4
    csv = pd.read_csv(run_dir / "sweep_gap" / "results.csv")
    assert sorted(zip(csv["dense1"], csv["dense2"])) == [(8, 4), (8, 8), (16, 4), (16, 8)]
    assert csv["macro_f1"].between(0, 1).all() and csv["top2"].between(0, 1).all()
    table = (run_dir / "sweep_gap" / "top3.md").read_text()
    assert table.count("\n| ") == 4  # header + 3 rows
    best = csv.sort_values("macro_f1", ascending=False).iloc[0]
    assert f"| {best.dense1} | {best.dense2} |" in table


def test_sweep_refuses_a_baseline_with_another_head(three_stage_run):
    tmp, _, _ = three_stage_run
    with pytest.raises(ValueError, match="head 'gap', not 'spp'"):
        run_sweep(tmp / "runs" / "t", "spp", [8], [4], epochs=1, patience=1)


def test_multi_size_batches_really_vary(tmp_path, collection):
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(collection), train_sizes=[32, 40, 48]))
    dm.prepare_data()
    dm.setup("fit")
    assert dm.store.pixels.shape[1] == 48  # cached at the largest size
    images = next(iter(dm.train_dataloader()))[0]
    torch.manual_seed(0)
    sizes = {dm.model_inputs(images, training=True).shape[-1] for _ in range(30)}
    assert sizes == {32, 40, 48}
    assert dm.model_inputs(images, training=False).shape[-1] == 32  # validation at image_size
    assert dm.train_variants is None  # no finite set: the feature cache stays off


def test_class_weights_are_inverse_frequencies(tmp_path):
    data = make_collection(tmp_path / "d", {"Claude_Monet": 20, "Edgar_Degas": 10, "Paul_Gauguin": 5})
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(data)))
    counts = dm.class_counts
    assert counts == [14, 7, 3]  # training paintings after 20% validation and 10% test
    weights = class_weights(counts, 3)
    expected = torch.tensor([24 / (3 * 14), 24 / (3 * 7), 24 / (3 * 3)])
    assert torch.allclose(weights, expected)
    model = ArtistClassifier(**tiny_model_kwargs(num_classes=3, class_weighted_loss=True, class_counts=counts))
    assert torch.allclose(model.class_weights, expected)
    with pytest.raises(ValueError, match="class_counts"):
        ArtistClassifier(**tiny_model_kwargs(num_classes=3, class_weighted_loss=True))


def test_balanced_sampler_evens_out_artists(tmp_path):
    data = make_collection(tmp_path / "d", {"Claude_Monet": 40, "Edgar_Degas": 5})
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(data), balanced_sampler=True, batch_size=4))
    dm.prepare_data()
    dm.setup("fit")
    torch.manual_seed(0)
    labels = torch.cat([batch[1] for _ in range(20) for batch in dm.train_dataloader()])
    share = (labels == 1).float().mean().item()
    assert 0.4 < share < 0.6  # 4 of 36 training images, drawn half the time


@pytest.mark.parametrize("preset,expected", [("top10", 10), ("all", 12)])
def test_presets_select_the_right_artists(tmp_path, preset, expected):
    counts = {f"Artist_{chr(65 + i)}": 3 + i for i in range(12)}  # Artist_A has 3 ... Artist_L has 14
    data = make_collection(tmp_path / "d", counts)
    args = " ".join(TINY + [f"--runs_dir={tmp_path / 'runs'}", f"--data.cache_dir={tmp_path / 'cache'}",
                            "--trainer.max_epochs=1", "--trainer.limit_train_batches=1"])
    result = subprocess.run(["make", "stage1", f"DATA={data}", f"RUN={preset}", f"PRESET=default,{preset}",
                             f"ARGS={args}"], cwd=REPO, capture_output=True, text=True,
                            env=subprocess_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    artists = sorted(pd.read_csv(tmp_path / "runs" / preset / "split.csv")["artist"].unique())
    assert len(artists) == expected
    if preset == "top10":
        assert artists == [f"Artist {chr(65 + i)}" for i in range(2, 12)]  # the two smallest left out


def test_recipe_run_times_the_stages_scores_both_parts_and_keeps_the_files(tmp_path):
    data = make_collection(tmp_path / "data", {"Claude_Monet": 12, "Edgar_Degas": 12, "Paul_Gauguin": 12})
    env = dict(subprocess_env(), RUNS=str(tmp_path / "runs"), RESULTS=str(tmp_path / "results"),
               ARGS=" ".join(TINY + [f"--data.cache_dir={tmp_path / 'cache'}"]), STAGE1_ARGS="--trainer.max_epochs=3")
    result = subprocess.run(["bash", "bench/recipe_run.sh", "r", "3", "default", str(data)], cwd=REPO,
                            capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = tmp_path / "results" / "r"
    wall = json.loads((out / "wall_clock.json").read_text())
    assert wall["total_s"] == wall["stage1_s"] + wall["stage2_s"] + wall["stage3_s"]
    split = pd.read_csv(tmp_path / "runs" / "r" / "split.csv")
    for part, name in [("val", "val"), ("test", "test")]:
        plain = json.loads((out / f"stage3_plain_{part}.json").read_text())
        views = json.loads((out / f"stage3_views_{part}.json").read_text())
        assert plain["n_images"] == views["n_images"] == (split["split"] == name).sum()
        assert plain["views"] == ["plain"] and len(views["views"]) > 1
    assert "seed_everything: 3" in (out / "stage1_config.yaml").read_text()
    # STAGE1_ARGS reach stage 1 alone: stages 2 and 3 keep ARGS' two epochs.
    assert [yaml.safe_load((out / f"{s}_config.yaml").read_text())["trainer"]["max_epochs"]
            for s in ("stage1", "stage2", "stage3")] == [3, 2, 2]
    for stage in ["stage1", "stage2", "stage3"]:
        assert (out / f"{stage}_metrics.json").is_file()
