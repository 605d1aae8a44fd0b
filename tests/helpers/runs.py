"""Small model and data settings, and running the real Makefile/CLI in a subprocess."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data" / "best-artworks-128"

# CLI overrides that make a stage run in seconds on a CPU.
TINY = ["--model.pretrained=false", "--model.channels_last=false", "--data.image_size=32", "--data.batch_size=8",
        "--trainer.max_epochs=2", "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false"]


def tiny_datamodule_kwargs(tmp_path: Path, **overrides) -> dict:
    kwargs = dict(run_dir=str(tmp_path / "run"), cache_dir=str(tmp_path / "cache"), image_size=32,
                  batch_size=8, num_workers=0)
    kwargs.update(overrides)
    return kwargs


def tiny_model_kwargs(**overrides) -> dict:
    kwargs = dict(backbone="efficientnet_lite0", pretrained=False, channels_last=False)
    kwargs.update(overrides)
    return kwargs


def subprocess_env() -> dict:
    """The environment of a CLI run in a test: W&B off, warnings quiet, and a top-level make as from a
    shell (under CI's `make test`, an inherited MAKELEVEL makes every make print "Entering directory")."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    return dict(env, WANDB_MODE="disabled", PYTHONWARNINGS="ignore")


def make(*targets_and_variables: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """`make ...` in the repository, output captured."""
    return subprocess.run(["make", *targets_and_variables], cwd=REPO, capture_output=True, text=True,
                          env=env or subprocess_env(), timeout=timeout)


def tiny_args(tmp_path: Path, *extra: str) -> str:
    """ARGS= for a tiny run whose runs and caches live under `tmp_path`."""
    return " ".join(TINY + [f"--runs_dir={tmp_path / 'runs'}", f"--data.cache_dir={tmp_path / 'cache'}", *extra])
