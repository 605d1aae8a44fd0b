"""What a person sees of a run: W&B offline logs, plots, report.md, predictions and ONNX."""
import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
import torch

from artist_inference.predictor import Predictor, rank_over_sizes, vote
from reports.plots import lr_drop_epochs, plot_curves
from tests.helpers.paintings import make_collection
from tests.helpers.runs import REPO, TINY, subprocess_env

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, path
    width, height = struct.unpack(">II", data[16:24])
    assert width > 50 and height > 50, path


def test_stage_plots_and_report_exist(three_stage_run):
    tmp, _, _ = three_stage_run
    run = tmp / "runs" / "t"
    for name in ["data_overview.png", "augmentation_preview.png"]:
        assert_png(run / name)
    for stage in ["stage1", "stage2", "stage3"]:
        for name in ["curves.png", "confusion.png", "gradcam.png"]:
            assert_png(run / stage / name)
        assert (run / stage / "per_artist.csv").read_text().startswith("artist,precision,recall,f1,support")
        assert (run / stage / "logs" / "metrics.csv").is_file()
    report = (run / "report.md").read_text()
    for stage in ["stage1", "stage2", "stage3"]:
        assert f"| {stage} |" in report and f"## {stage}" in report


def test_lr_drop_lines_sit_where_the_lr_changed(tmp_path, monkeypatch):
    history = [{"epoch": e, "val_loss": 1.0 / (e + 1), "val_macro_f1": 0.1 * e, "lr": [lr]}
               for e, lr in enumerate([1e-4, 1e-4, 1e-4, 1e-5, 1e-5, 1e-6])]
    assert lr_drop_epochs(history) == [3, 5]
    drawn = []
    import matplotlib.axes
    original = matplotlib.axes.Axes.axvline
    monkeypatch.setattr(matplotlib.axes.Axes, "axvline",
                        lambda self, x=0, **kw: drawn.append((x, kw.get("color"))) or original(self, x, **kw))
    plot_curves(history, best_epoch=4, path=tmp_path / "c.png")
    assert sorted(x for x, c in drawn if c == "red") == [3, 3, 5, 5]  # both panels
    assert [x for x, c in drawn if c == "black"] == [4, 4]
    assert_png(tmp_path / "c.png")


def test_vote_majority_and_tie_rule():
    # sizes 1 and 2 vote for artist 0, size 3 for artist 1: majority wins
    probs = torch.tensor([[0.5, 0.4, 0.1], [0.45, 0.35, 0.2], [0.1, 0.8, 0.1]])
    assert vote(probs) == 0
    # one vote each for 0 and 1: the higher mean probability (artist 1: 0.6 vs 0.45) wins
    tie = torch.tensor([[0.5, 0.4, 0.1], [0.4, 0.8, 0.0]])
    assert vote(tie) == 1


def test_predict_probabilities_sum_to_one_and_top1_is_stable(three_stage_run):
    tmp, data, _ = three_stage_run
    predictor = Predictor.load(tmp / "runs" / "t" / "stage3" / "best.ckpt", views=["plain"])
    image = next((data / "images" / "Claude_Monet").glob("*.jpg"))
    probs = predictor.probabilities(image, 32, views=["plain", "hflip", "x1.5"])
    assert probs.sum().item() == pytest.approx(1.0, abs=1e-5)
    first = rank_over_sizes(predictor, image, [32, 48, 64])
    second = rank_over_sizes(predictor, image, [32, 48, 64])
    assert first == second and first["artist_1"] in predictor.artists
    assert first["p_1"] + first["p_2"] + first["p_3"] == pytest.approx(1.0, abs=1e-4)  # 3 artists


def test_predict_cli_skips_a_bad_file(three_stage_run, tmp_path):
    tmp, data, _ = three_stage_run
    folder = tmp_path / "in"
    shutil.copytree(data / "images" / "Edgar_Degas", folder)
    (folder / "broken.jpg").write_text("not an image")
    out = tmp_path / "p.csv"
    result = subprocess.run(["make", "predict", f"CKPT={tmp / 'runs' / 't' / 'stage3' / 'best.ckpt'}",
                             f"INPUT={folder}", "SIZES=32,40", "FLIPS=1", f"OUT={out}"],
                            cwd=REPO, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = out.read_text().strip().splitlines()
    assert lines[0] == "path,answer,artist_1,p_1,artist_2,p_2,artist_3,p_3" and len(lines) == 13
    assert "skipped" in result.stderr and "broken.jpg" in result.stderr


def test_onnx_export_matches_pytorch(three_stage_run, tmp_path):
    tmp, data, _ = three_stage_run
    result = subprocess.run(["make", "export", f"CKPT={tmp / 'runs' / 't' / 'stage3' / 'best.ckpt'}",
                             f"OUT={tmp_path / 'model'}", f"DATA={data}"],
                            cwd=REPO, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "max |logit diff|" in result.stdout
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["artists"] == ["Claude Monet", "Edgar Degas", "Paul Gauguin"]
    assert (tmp_path / "model.onnx").stat().st_size > 1_000_000


def test_spp_onnx_keeps_height_and_width_dynamic(tmp_path):
    from artist_inference.export import check_against_torch, export_onnx
    from lightning_modules import ArtistClassifier
    model = ArtistClassifier(pretrained=False, num_classes=4, head="spp", channels_last=False).eval()
    meta = {"image_size": 64, "head": "spp", "artists": list("abcd"), "mean": [0.5] * 3, "std": [0.5] * 3,
            "backbone": "efficientnet_lite0"}
    onnx_path, _ = export_onnx(model, meta, tmp_path / "spp")
    gen = torch.Generator().manual_seed(0)
    for size in (64, 96, 130):
        images = [torch.randint(0, 256, (size, size, 3), generator=gen, dtype=torch.uint8).numpy() for _ in range(2)]
        assert check_against_torch(model, onnx_path, images) < 1e-4


def test_wandb_offline_run_is_readable(tmp_path):
    """A real offline W&B run from a tiny training run, read back with `wandb leet inspect --summary`."""
    data = make_collection(tmp_path / "data", {"Claude_Monet": 6, "Edgar_Degas": 6, "Paul_Gauguin": 6})
    env = subprocess_env()
    env.pop("WANDB_MODE")
    env.update(WANDB_API_KEY="", HOME=str(tmp_path), NETRC=str(tmp_path / "none"))
    args = " ".join(TINY + [f"--runs_dir={tmp_path / 'runs'}", f"--data.cache_dir={tmp_path / 'cache'}",
                            "--trainer.log_every_n_steps=1",  # 2 steps per epoch: log the lr at each
                            "--model.lr=0.0"])  # no gain after epoch 0: the best epoch is not the last
    result = subprocess.run(["make", "stage1", f"DATA={data}", "RUN=wb", f"ARGS={args}"], cwd=REPO,
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = sorted((tmp_path / "runs" / "wb" / "stage1" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    inspect = subprocess.run([str(REPO / ".venv" / "bin" / "wandb"), "leet", "inspect", "--summary", "--json",
                              str(runs[0])], capture_output=True, text=True, env=env, timeout=120)
    assert inspect.returncode == 0, inspect.stderr
    summary = json.loads(inspect.stdout)
    for metric in ["val/macro_f1", "val/top1", "val/top2", "train/loss", "val/loss", "lr-Adam"]:
        assert metric in summary["summary"], metric
    for media in ["val/confusion_matrix_table", "val/per_artist", "val/predictions", "val/gradcam"]:
        assert media in summary["summary"], media
    assert summary["config"]["model"]["backbone"] == "efficientnet_lite0"
    assert summary["config"]["run"] == "wb" and summary["config"]["stage"] == "stage1"
    best = json.loads((tmp_path / "runs" / "wb" / "stage1" / "metrics.json").read_text())
    assert best["best_epoch"] == 0 and best["history"][-1]["val_loss"] != best["loss"]
    for metric in ("macro_f1", "top1", "top2", "loss"):  # the best epoch's, not the last one's
        assert summary["summary"][f"val/{metric}"] == pytest.approx(best[metric], abs=1e-6), metric
    assert summary["summary"]["best_epoch"] == best["best_epoch"]


@pytest.mark.parametrize("env,netrc,expected", [
    ({"WANDB_MODE": "disabled"}, False, "disabled"),
    ({"WANDB_MODE": "online"}, False, "online"),
    ({}, False, "offline"),                       # no account: offline files, never a failure
    ({"WANDB_API_KEY": "x" * 40}, False, "online"),
    ({}, True, "online"),                         # `wandb login` writes ~/.netrc
])
def test_wandb_mode(monkeypatch, tmp_path, env, netrc, expected):
    from artist_cli.wandb_mode import wandb_mode
    for key in ("WANDB_MODE", "WANDB_API_KEY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "netrc"
    path.write_text("machine api.wandb.ai\n  login user\n  password " + "k" * 40 + "\n" if netrc else "")
    path.chmod(0o600)
    monkeypatch.setenv("NETRC", str(path))
    assert wandb_mode() == expected


def test_metrics_json_round_trips_with_one_line_per_epoch(tmp_path):
    from fileio import atomic_write_json
    history = [{"epoch": i, "val_macro_f1": 0.1 * i, "val_confusion": [[3, i], [0, 2]]} for i in range(3)]
    payload = {"stage": "stage1", "macro_f1": 0.2, "best_epoch": 2, "history": history}
    atomic_write_json(tmp_path / "metrics.json", payload)
    text = (tmp_path / "metrics.json").read_text()
    assert json.loads(text) == payload
    epoch_lines = [line.strip().rstrip(",") for line in text.splitlines() if '"epoch"' in line]
    assert [json.loads(line) for line in epoch_lines] == history
    for other in ({"history": history}, {"stage": "s", "history": []}, {}):
        atomic_write_json(tmp_path / "other.json", other)
        assert json.loads((tmp_path / "other.json").read_text()) == other


def test_time_to_accuracy_chains_the_stages_on_the_wall_clock(tmp_path):
    from reports.time_to_accuracy import curve, main, minutes_to_reach
    run = tmp_path / "run"
    histories = {"stage1": [(60, 0.2), (120, 0.5), (180, 0.4)], "stage2": [(30, 0.6)], "stage3": [(90, 0.55), (180, 0.65)]}
    for stage, epochs in histories.items():
        (run / stage).mkdir(parents=True)
        history = [{"epoch": i, "wall_s": wall, "val_macro_f1": f1} for i, (wall, f1) in enumerate(epochs)]
        (run / stage / "metrics.json").write_text(json.dumps({"stage": stage, "history": history}))
    minutes, best, estimated = curve(run)
    # stage 2 starts where stage 1 ended (3 min), stage 3 where stage 2 ended (3.5 min)
    assert minutes == pytest.approx([1, 2, 3, 3.5, 5, 6.5]) and not estimated
    assert best == [0.2, 0.5, 0.5, 0.6, 0.55, 0.65]  # each stage's running best, as its best.ckpt holds
    assert minutes_to_reach(run, 0.6) == pytest.approx(3.5) and minutes_to_reach(run, 0.9) is None
    # Given seconds per epoch replace the recorded ones (a run that was paused or shared its cores).
    minutes, _, estimated = curve(run, {"stage1": 30})
    assert minutes == pytest.approx([0.5, 1, 1.5, 2, 3.5, 5]) and estimated
    main([f"{run}=new", "--out", str(tmp_path / "tta.png")])
    assert (tmp_path / "tta.png").stat().st_size > 0


def test_seed_spread_is_the_mean_and_half_the_range_over_runs(tmp_path, capsys):
    from reports.seeds import main, spread

    def run(name, test_f1, test_top1, total_s):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "stage3_views_test.json").write_text(json.dumps(
            {"macro_f1": test_f1, "top1": test_top1, "top2": 0.8, "macro_f1_sampling_error": {"std": 0.02}}))
        (folder / "wall_clock.json").write_text(json.dumps({"total_s": total_s}))
        return folder

    a, b = run("seed42", 0.64, 0.71, 2190), run("seed1", 0.60, 0.69, 2310)
    summary = spread([a, b])
    assert summary["test macro-F1, views"]["mean"] == pytest.approx(0.62)
    assert summary["test macro-F1, views"]["spread"] == pytest.approx(0.02)
    assert summary["test top-1, views"]["values"] == [0.71, 0.69]
    assert summary["wall minutes, 3 stages"]["mean"] == pytest.approx(37.5)
    assert "test macro-F1, one pass" not in summary  # no plain report in either folder
    (b / "stage3_views_test.json").unlink()
    assert "test macro-F1, views" not in spread([a, b])  # only what every run has
    main([str(a), str(tmp_path / "seed1")])
    assert "wall minutes, 3 stages" in capsys.readouterr().out
