"""Fixtures: tiny painting collections generated in tmp_path, and one real three-stage run."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.paintings import make_collection
from tests.helpers.runs import make, tiny_args


@pytest.fixture
def collection(tmp_path) -> Path:
    """Three artists, 10 paintings each, Kaggle layout."""
    return make_collection(tmp_path / "data", {"Claude_Monet": 10, "Edgar_Degas": 10, "Paul_Gauguin": 10})


@pytest.fixture(autouse=True)
def _offline_and_quiet(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")


@pytest.fixture(scope="session")
def three_stage_run(tmp_path_factory):
    """`make stage1 stage2 stage3` on generated data, through the Makefile and LightningCLI."""
    tmp = tmp_path_factory.mktemp("three")
    data = make_collection(tmp / "data", {"Claude_Monet": 12, "Edgar_Degas": 12, "Paul_Gauguin": 12})
    result = make("stage1", "stage2", "stage3", f"DATA={data}", "RUN=t", f"ARGS={tiny_args(tmp)}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp, data, result
