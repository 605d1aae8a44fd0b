"""Bad input is skipped with a reason, interrupted stages resume, finished stages are not redone."""
import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from datamodules import PaintingsDataModule
from datamodules.discovery import discover
from tests.helpers.paintings import make_collection
from tests.helpers.runs import REPO, TINY, subprocess_env, tiny_datamodule_kwargs


def build(tmp_path, root, **kw):
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(root), **kw))
    dm.prepare_data()
    dm.setup("fit")
    report = pd.read_csv(tmp_path / "run" / "data_report.csv")
    return dm, dict(zip(report["path"].map(lambda p: os.path.basename(p)), report["reason"]))


def rgb(size=(40, 30), seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


@pytest.fixture
def base(tmp_path):
    return make_collection(tmp_path / "data", {"Claude_Monet": 6, "Edgar_Degas": 6})


def folder(base):
    return base / "images" / "Claude_Monet"


# ---- one test per bad-input kind ----------------------------------------------------------
@pytest.mark.parametrize("name,content,reason", [
    ("zero.jpg", b"", "empty_file"),
    ("page.jpg", b"<!DOCTYPE html><html><body>404</body></html>", "not_an_image"),
    ("notes.jpg", b"just some text saved with the wrong name", "not_an_image"),
    ("broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not_an_image"),
])
def test_unreadable_files_are_reported(tmp_path, base, name, content, reason):
    (folder(base) / name).write_bytes(content)
    dm, reasons = build(tmp_path, base)
    assert reasons == {name: reason}
    assert sum(len(part) for part in dm.datasets.values()) == 12


def test_truncated_jpeg_fails_at_decoding_and_is_reported(tmp_path, base):
    data = (folder(base) / "Claude_Monet_1.jpg").read_bytes()
    (folder(base) / "Claude_Monet_1.jpg").write_bytes(data[: len(data) * 2 // 3])  # header intact
    dm, reasons = build(tmp_path, base)
    assert reasons == {"Claude_Monet_1.jpg": "decode_failed"}
    assert sum(len(part) for part in dm.datasets.values()) == 11


@pytest.mark.parametrize("mode,fmt,extra", [
    ("CMYK", "JPEG", {}), ("I;16", "PNG", {}), ("RGBA", "PNG", {}), ("P", "PNG", {"transparency": 0}),
    ("L", "JPEG", {}), ("1", "PNG", {}),
])
def test_odd_modes_are_used_not_skipped(tmp_path, base, mode, fmt, extra):
    image = rgb().convert("L").convert(mode) if mode == "I;16" else rgb().convert(mode)
    image.save(folder(base) / f"odd.{fmt.lower()}", format=fmt, **extra)
    dm, reasons = build(tmp_path, base)
    assert reasons == {}
    assert sum(len(part) for part in dm.datasets.values()) == 13


def test_decompression_bomb_is_skipped_without_lifting_the_limit(tmp_path, base, monkeypatch):
    rgb((60, 60)).save(folder(base) / "huge.png")        # 3600 px: over 1x, under 2x the limit below
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2500)
    found = discover(base)
    assert found.skipped_frame().set_index("path")["reason"].to_dict() == {
        str(folder(base) / "huge.png"): "decompression_bomb"}
    assert Image.MAX_IMAGE_PIXELS == 2500


def test_file_removed_after_indexing_is_counted_and_training_goes_on(tmp_path, base):
    dm = PaintingsDataModule(**tiny_datamodule_kwargs(tmp_path, root=str(base)))
    assert len(dm.split) == 12  # indexed
    (folder(base) / "Claude_Monet_2.jpg").unlink()
    dm.prepare_data()
    dm.setup("fit")
    report = pd.read_csv(tmp_path / "run" / "data_report.csv")
    assert report["reason"].tolist() == ["decode_failed"] and "FileNotFoundError" in report["detail"][0]
    assert sum(len(part) for part in dm.datasets.values()) == 11
    next(iter(dm.train_dataloader()))


def test_symlink_outside_root_and_os_junk_are_skipped(tmp_path, base):
    outside = tmp_path / "elsewhere.jpg"
    rgb().save(outside)
    (folder(base) / "link.jpg").symlink_to(outside)
    (folder(base) / ".DS_Store").write_bytes(b"\x00\x01")
    (folder(base) / "Thumbs.db").write_bytes(b"\x00\x01")
    _, reasons = build(tmp_path, base)
    assert reasons == {"link.jpg": "symlink_outside_root", ".DS_Store": "os_junk_or_hidden",
                       "Thumbs.db": "os_junk_or_hidden"}


# ---- folders and names ----------------------------------------------------------------------
def test_no_images_at_all_is_a_clear_error(tmp_path):
    (tmp_path / "images" / "Claude_Monet").mkdir(parents=True)
    with pytest.raises(ValueError, match="No images found"):
        discover(tmp_path)


def test_empty_artist_folder_and_single_image_artist(tmp_path, base):
    (base / "images" / "Jan_van_Eyck").mkdir()
    make_collection(base, {"Claude_Monet": 6, "Edgar_Degas": 6, "Titian": 1})
    dm, reasons = build(tmp_path, base)
    assert dm.artists == ["Claude Monet", "Edgar Degas"]
    assert reasons == {"Jan_van_Eyck": "empty_artist_folder", "Titian_1.jpg": "artist_below_min_images"}


def test_accented_and_broken_names_are_one_artist(tmp_path):
    root = make_collection(tmp_path / "d", {"Albrecht_Du╠êrer": 3, "Albrecht_Dürer": 3, "Claude_Monet": 4})
    assert sorted(discover(root).index["artist"].value_counts().to_dict().items()) == [
        ("Albrecht Dürer", 6), ("Claude Monet", 4)]


def test_manifest_path_outside_its_root_is_rejected(tmp_path):
    rgb().save(tmp_path / "outside.jpg")
    (tmp_path / "m").mkdir()
    rgb().save(tmp_path / "m" / "a.jpg")
    (tmp_path / "m" / "list.csv").write_text("path,artist\na.jpg,Titian\n../outside.jpg,Titian\n,Titian\n")
    found = discover(tmp_path / "m" / "list.csv")
    assert len(found.index) == 1
    assert sorted(found.skipped_frame()["reason"]) == ["manifest_row_incomplete", "path_outside_manifest_root"]


# ---- interrupted and repeated runs ------------------------------------------------------------
def make_stage(tmp_path, data, run, extra=(), timeout=600, wait=True):
    args = " ".join(TINY[:-3] + [f"--runs_dir={tmp_path / 'runs'}", f"--data.cache_dir={tmp_path / 'cache'}",
                                 "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false", *extra])
    command = ["make", "stage1", f"DATA={data}", f"RUN={run}", f"ARGS={args}"]
    if not wait:
        return subprocess.Popen(command, cwd=REPO, env=subprocess_env(), start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=subprocess_env(),
                          timeout=timeout)


def test_last_checkpoint_is_written_every_epoch_not_only_on_a_new_best(tmp_path, collection):
    # lr 0: validation never improves after epoch 0, so best.ckpt stays at epoch 0; a resume must
    # still find the latest epoch in last.ckpt (Lightning's save_last alone would leave it at 0).
    result = make_stage(tmp_path, collection, "l", ["--trainer.max_epochs=3", "--model.lr=0.0"])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    import torch
    stage = tmp_path / "runs" / "l" / "stage1"
    assert torch.load(stage / "best.ckpt", weights_only=True)["epoch"] == 0
    assert torch.load(stage / "last.ckpt", weights_only=True)["epoch"] == 2
    metrics = json.loads((stage / "metrics.json").read_text())
    assert metrics["best_checkpoint"] == str(stage / "best.ckpt")
    assert metrics["stopped_by"] == "max_epochs" and metrics["epochs"] == 3
    assert sorted(p.name for p in stage.glob("*.ckpt")) == ["best.ckpt", "last.ckpt"]


def finished_stage_metrics(tmp_path, data, extra) -> dict:
    """metrics.json of a stage 1 that must finish."""
    result = make_stage(tmp_path, data, "m", extra)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads((tmp_path / "runs" / "m" / "stage1" / "metrics.json").read_text())


def test_stage_ends_when_the_learning_rate_would_fall_below_its_floor(tmp_path, collection):
    # lr 0: no epoch after the first improves; with a patience of one epoch the first plateau asks
    # for lr 0 * 0.1, below the floor, so the stage ends there instead of running to max_epochs.
    metrics = finished_stage_metrics(tmp_path, collection, ["--trainer.max_epochs=6", "--model.lr=0.0",
                                                            "--model.min_lr=1e-9", "--model.lr_patience=1",
                                                            "--model.schedule=plateau"])
    assert metrics["stopped_by"] == "lr_floor"
    assert metrics["epochs"] == 2 and metrics["best_epoch"] == 0
    assert 0 < metrics["history"][0]["wall_s"] < metrics["history"][1]["wall_s"] == metrics["wall_s"]


def test_cosine_schedule_peaks_after_its_warm_up_and_ends_at_min_lr_on_the_last_epoch(tmp_path, collection):
    metrics = finished_stage_metrics(tmp_path, collection, ["--trainer.max_epochs=3", "--model.schedule=cosine",
                                                            "--model.lr=1e-3", "--model.min_lr=1e-6",
                                                            "--model.warmup_epochs=1"])
    lrs = [record["lr"][0] for record in metrics["history"]]  # after each epoch's last step
    assert lrs == pytest.approx([1e-3, 1e-6 + (1e-3 - 1e-6) / 2, 1e-6], rel=1e-6)
    assert metrics["stopped_by"] == "max_epochs"


@pytest.mark.slow
def test_sigkill_mid_stage_then_rerun_resumes_and_finishes(tmp_path):
    data = make_collection(tmp_path / "data", {"Claude_Monet": 16, "Edgar_Degas": 16, "Paul_Gauguin": 16},
                           size=(96, 80))
    stage = tmp_path / "runs" / "k" / "stage1"
    process = make_stage(tmp_path, data, "k", ["--trainer.max_epochs=12", "--data.image_size=96"], wait=False)
    deadline = time.time() + 300
    while not (stage / "last.ckpt").is_file() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert (stage / "last.ckpt").is_file(), process.communicate()[0][-3000:]
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (stage / "metrics.json").is_file(), "the stage finished before it could be killed"
    result = make_stage(tmp_path, data, "k", ["--trainer.max_epochs=12", "--data.image_size=96"])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "resuming the interrupted stage" in result.stdout
    import torch
    best = torch.load(stage / "best.ckpt", weights_only=True)
    assert best["state_dict"] and best["artist_trainer"]["artists"]
    metrics = json.loads((stage / "metrics.json").read_text())
    # The epochs before the kill are kept (the history travels in last.ckpt), and so is their time.
    assert [r["epoch"] for r in metrics["history"]] == list(range(12))
    walls = [r["wall_s"] for r in metrics["history"]]
    assert walls == sorted(walls) and walls[0] > 0
    # Lightning's CSV logger starts a fresh metrics.csv: the epochs logged before the kill are kept beside it.
    import pandas as pd
    logs = stage / "logs"
    before, after = pd.read_csv(logs / "metrics_before_resume_1.csv"), pd.read_csv(logs / "metrics.csv")
    assert set(before["epoch"].dropna()) | set(after["epoch"].dropna()) == set(range(12))
    assert not list(stage.glob(".*.tmp"))


def test_finished_stage_is_not_silently_redone(three_stage_run):
    tmp, data, _ = three_stage_run
    best = tmp / "runs" / "t" / "stage1" / "best.ckpt"
    stamp = best.stat().st_mtime_ns
    args = " ".join(TINY + [f"--runs_dir={tmp / 'runs'}", f"--data.cache_dir={tmp / 'cache'}"])
    result = subprocess.run(["make", "stage1", f"DATA={data}", "RUN=t", f"ARGS={args}"], cwd=REPO,
                            capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert result.returncode == 0
    assert "already complete" in result.stdout and "FORCE=1" in result.stdout
    assert best.stat().st_mtime_ns == stamp


def test_finished_stage_asked_with_other_settings_names_them(three_stage_run):
    tmp, data, _ = three_stage_run
    best = tmp / "runs" / "t" / "stage1" / "best.ckpt"
    stamp = best.stat().st_mtime_ns
    args = " ".join(TINY + [f"--runs_dir={tmp / 'runs'}", f"--data.cache_dir={tmp / 'cache'}", "--model.lr=0.01"])
    result = subprocess.run(["make", "stage1", f"DATA={data}", "RUN=t", f"ARGS={args}"], cwd=REPO,
                            capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert result.returncode != 0 and "already complete" not in result.stdout
    assert "with other settings than asked" in result.stderr and "model.lr: 0.0003 in the finished stage, 0.01 asked" \
        in result.stderr
    assert "FORCE=1" in result.stderr and "RUN=" in result.stderr
    assert best.stat().st_mtime_ns == stamp


def test_force_with_wrong_data_deletes_nothing(tmp_path, collection):
    result = make_stage(tmp_path, collection, "f", ["--trainer.max_epochs=1"])
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    stage = tmp_path / "runs" / "f" / "stage1"
    kept = sorted(p.name for p in stage.iterdir())
    other = make_collection(tmp_path / "other", {"Titian": 4, "Jan_van_Eyck": 4})
    args = " ".join(TINY[:-3] + [f"--runs_dir={tmp_path / 'runs'}", f"--data.cache_dir={tmp_path / 'cache'}",
                                 "--trainer.accelerator=cpu", "--trainer.max_epochs=1"])
    forced = subprocess.run(["make", "stage1", f"DATA={other}", "RUN=f", "FORCE=1", f"ARGS={args}"], cwd=REPO,
                            capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert forced.returncode != 0 and "split made with other settings" in forced.stderr
    assert "removed the previous outputs" not in forced.stdout
    assert sorted(p.name for p in stage.iterdir()) == kept and (stage / "metrics.json").is_file()


def stage2_from_copied_stage1(three_stage_run, tmp_path, data, *extra_args) -> subprocess.CompletedProcess:
    """`make stage2` in a fresh run whose stage 1 is a copy of the shared run's; must fail."""
    tmp, _, _ = three_stage_run
    (tmp_path / "runs" / "x" / "stage1").mkdir(parents=True)
    shutil.copy(tmp / "runs" / "t" / "stage1" / "best.ckpt", tmp_path / "runs" / "x" / "stage1" / "best.ckpt")
    args = " ".join(TINY + [f"--runs_dir={tmp_path / 'runs'}", f"--data.cache_dir={tmp_path / 'cache'}",
                            *extra_args])
    result = subprocess.run(["make", "stage2", f"DATA={data}", "RUN=x", f"ARGS={args}"], cwd=REPO,
                            capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert result.returncode != 0
    return result


def test_later_stage_with_a_checkpoint_for_other_artists_stops_clearly(three_stage_run, tmp_path):
    other = make_collection(tmp_path / "other", {"Claude_Monet": 8, "Titian": 8, "Paul_Gauguin": 8})
    result = stage2_from_copied_stage1(three_stage_run, tmp_path, other)
    assert "other artists" in result.stderr
    assert "only in the data: Titian" in result.stderr and "only in the checkpoint: Edgar Degas" in result.stderr
    assert "Traceback" not in result.stderr


def test_later_stage_with_another_head_stops_clearly(three_stage_run, tmp_path):
    result = stage2_from_copied_stage1(three_stage_run, tmp_path, three_stage_run[1],
                                       "--model.head=spp", "--model.dense_units=[16,8]")
    assert "different network" in result.stderr
    assert "head: 'gap' in the checkpoint, 'spp' here" in result.stderr
    assert "dense_units: [] in the checkpoint, [16, 8] here" in result.stderr
    assert "Traceback" not in result.stderr


def test_later_stages_keep_what_indexing_reported(tmp_path, base):
    (folder(base) / "page.jpg").write_text("<html></html>")
    build(tmp_path, base)  # stage 1: indexes, reports page.jpg
    _, reasons = build(tmp_path, base)  # stage 2: reuses split.csv, indexes nothing
    assert reasons == {"page.jpg": "not_an_image"}


def test_run_with_other_split_settings_stops_without_traceback(three_stage_run):
    tmp, data, _ = three_stage_run
    args = " ".join(TINY + [f"--runs_dir={tmp / 'runs'}", f"--data.cache_dir={tmp / 'cache'}",
                            "--stage=other", "--data.seed=7"])
    result = subprocess.run(["make", "stage1", f"DATA={data}", "RUN=t", f"ARGS={args}"], cwd=REPO,
                            capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert result.returncode != 0
    assert "already holds a split made with other settings" in result.stderr
    assert "seed: run has 42, asked for 7" in result.stderr
    assert "Traceback" not in result.stderr
