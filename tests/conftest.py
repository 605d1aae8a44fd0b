"""Shared fixtures: tiny painting collections generated in tmp_path."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data" / "best-artworks-128"

# Distinct base colours so a tiny model can learn who "painted" what.
PALETTE = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (200, 30, 200), (30, 200, 200)]


def write_painting(path: Path, seed: int, colour=(128, 128, 128), size=(48, 40), mode="RGB", fmt=None) -> Path:
    rng = np.random.default_rng(seed)
    base = np.array(colour, dtype=np.float64)
    pixels = np.clip(base + rng.normal(0, 25, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    image = Image.fromarray(pixels, "RGB")
    if mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)
    return path


def make_collection(root: Path, counts: dict[str, int], nested: bool = False, artists_csv: list[str] | None = None,
                    size=(48, 40)) -> Path:
    """Kaggle layout: root/images[/images]/<Artist_Name>/<Artist_Name>_<n>.jpg (+ artists.csv)."""
    image_root = root / "images" / "images" if nested else root / "images"
    for a, (folder, n) in enumerate(counts.items()):
        for i in range(n):
            write_painting(image_root / folder / f"{folder}_{i + 1}.jpg", seed=a * 1000 + i,
                           colour=PALETTE[a % len(PALETTE)], size=size)
    if artists_csv is not None:
        lines = ["id,name,years,genre,nationality,bio,wikipedia,paintings"]
        lines += [f'{i},{name},1800 - 1900,Genre,Nat,"bio",http://x,{10}' for i, name in enumerate(artists_csv)]
        (root / "artists.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def collection(tmp_path) -> Path:
    """Three artists, 10 paintings each, Kaggle layout."""
    return make_collection(tmp_path / "data", {"Claude_Monet": 10, "Edgar_Degas": 10, "Paul_Gauguin": 10})


@pytest.fixture(autouse=True)
def _offline_and_quiet(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")


def tiny_datamodule_kwargs(tmp_path: Path, **overrides) -> dict:
    kwargs = dict(run_dir=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), image_size=32,
                  batch_size=8, num_workers=0)
    kwargs.update(overrides)
    return kwargs


def tiny_model_kwargs(**overrides) -> dict:
    kwargs = dict(backbone="efficientnet_lite0", pretrained=False, channels_last=False)
    kwargs.update(overrides)
    return kwargs


def env_for_subprocess(tmp_path: Path) -> dict:
    env = dict(os.environ, WANDB_MODE="disabled", PYTHONWARNINGS="ignore")
    return env


TINY = ["--model.pretrained=false", "--model.channels_last=false", "--data.image_size=32", "--data.batch_size=8",
        "--trainer.max_epochs=2", "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false"]


@pytest.fixture(scope="session")
def three_stage_run(tmp_path_factory):
    """`make stage1 stage2 stage3` on generated data, through the Makefile and LightningCLI."""
    tmp = tmp_path_factory.mktemp("three")
    data = make_collection(tmp / "data", {"Claude_Monet": 12, "Edgar_Degas": 12, "Paul_Gauguin": 12})
    args = " ".join(TINY + [f"--runs_dir={tmp / 'runs'}", f"--data.cache_dir={tmp / 'cache'}"])
    result = subprocess.run(["make", "stage1", "stage2", "stage3", f"DATA={data}", "RUN=t", f"ARGS={args}"],
                            cwd=REPO, capture_output=True, text=True, env=env_for_subprocess(tmp), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp, data, result
