"""Head search, as the study's Table 1: every (dense1, dense2) pair, warm-started from stage 1.

The backbone is frozen, so its features under the stage-2 flips are computed once (the stage-2
feature cache) and every head of the grid trains on them: the whole grid costs about one
uncached epoch per head. The grid lives in configs/head_grid.yaml.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytorch_lightning as pl
import yaml
from pytorch_lightning.callbacks import Callback, EarlyStopping

from callbacks import BackboneFreeze
from datamodules import PaintingsDataModule
from lightning_modules.checkpoints import init_args, load_model, read_checkpoint
from lightning_modules.classifier import ArtistClassifier

HEAD_GRID = Path(__file__).resolve().parents[1] / "configs" / "head_grid.yaml"


def head_grid() -> tuple[list[int], list[int]]:
    """(dense1 widths, dense2 widths) of configs/head_grid.yaml."""
    grid = yaml.safe_load(HEAD_GRID.read_text())
    return list(grid["dense1"]), list(grid["dense2"])


class BestEpoch(Callback):
    def __init__(self):
        self.best: dict = {}

    def on_train_epoch_end(self, trainer, pl_module):
        logged = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")}
        if logged and logged.get("val/macro_f1", -1) > self.best.get("val/macro_f1", -1):
            self.best = {**logged, "epoch": trainer.current_epoch}


def datamodule_for(run_dir: Path, checkpoint: dict, batch_size: int | None) -> PaintingsDataModule:
    hparams = init_args(PaintingsDataModule, checkpoint.get("datamodule_hyper_parameters", {}))
    # As stage 2: flips at one size, no degradations or paired views, so the feature cache holds.
    hparams.update(run_dir=str(run_dir), train_augment="flips", train_sizes=None, degradations=[],
                   paired_views=False)
    if batch_size:
        hparams["batch_size"] = batch_size
    return PaintingsDataModule(**hparams)


def train_head(base: ArtistClassifier, datamodule, dense_units: list[int], epochs: int, patience: int,
               seed: int) -> dict:
    pl.seed_everything(seed, verbose=False)
    model = ArtistClassifier(**{**init_args(ArtistClassifier, dict(base.hparams)), "pretrained": False,
                                "dense_units": dense_units, "mix_prob": 0.0, "consistency_weight": 0.0})
    model.backbone.load_state_dict(base.backbone.state_dict())
    best = BestEpoch()
    # The data module already serves cached features (run_sweep), so no FeatureCache callback here.
    trainer = pl.Trainer(max_epochs=epochs, accelerator="auto", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[BackboneFreeze(frozen=True), best,
                                    EarlyStopping("val/macro_f1", mode="max", patience=patience)])
    start = time.perf_counter()
    trainer.fit(model, datamodule)
    return {"top1": best.best.get("val/top1"), "top2": best.best.get("val/top2"),
            "macro_f1": best.best.get("val/macro_f1"), "best_epoch": best.best.get("epoch"),
            "epochs": trainer.current_epoch, "seconds": round(time.perf_counter() - start, 1)}


def top3_table(results: pd.DataFrame, head: str) -> str:
    top = results.sort_values("macro_f1", ascending=False).head(3)
    lines = [f"Best 3 heads ({head.upper()}), validation at the best epoch:", "",
             "| dense1 | dense2 | top-1 | top-2 | macro-F1 |", "|---|---|---|---|---|"]
    lines += [f"| {r.dense1} | {r.dense2} | {r.top1:.3f} | {r.top2:.3f} | {r.macro_f1:.3f} |" for r in top.itertuples()]
    return "\n".join(lines)


def run_sweep(run_dir: Path, head: str, dense1: list[int], dense2: list[int], epochs: int, patience: int,
              seed: int = 42, batch_size: int | None = None) -> pd.DataFrame:
    """Train every (dense1, dense2) head on `run_dir`'s stage-1 backbone; writes
    `<run_dir>/sweep_<head>/results.csv` (every combination, as it goes) and `top3.md`."""
    source = run_dir / "stage1" / "best.ckpt"
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist: train the baseline first "
                                f"(make stage1 RUN={run_dir.name} ARGS=--model.head={head})")
    checkpoint = read_checkpoint(source)
    if checkpoint["hyper_parameters"].get("head") != head:
        raise ValueError(f"{source} has head {checkpoint['hyper_parameters'].get('head')!r}, not {head!r}")
    base, _ = load_model(source)
    datamodule = datamodule_for(run_dir, checkpoint, batch_size)
    datamodule.prepare_data()
    datamodule.setup("fit")
    datamodule.cache_features(base)  # once for the whole grid
    out_dir = run_dir / f"sweep_{head}"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for d1 in dense1:
        for d2 in dense2:
            result = {"head": head, "dense1": d1, "dense2": d2,
                      **train_head(base, datamodule, [d1, d2], epochs, patience, seed)}
            rows.append(result)
            print(f"[sweep {head}] {d1:>4}/{d2:<4} macro-F1 {result['macro_f1']:.3f} top-1 {result['top1']:.3f} "
                  f"top-2 {result['top2']:.3f} ({result['seconds']} s)", flush=True)
            pd.DataFrame(rows).to_csv(out_dir / "results.csv", index=False)  # progress survives a stop
    results = pd.DataFrame(rows)
    (out_dir / "top3.md").write_text(top3_table(results, head) + "\n")
    return results


def wandb_sweep_config(head: str, run: str, presets: str = "default") -> dict:
    """The same grid as a W&B sweep: each trial is a real stage 2 into <run>/stage2_sweep."""
    dense1, dense2 = head_grid()
    return {
        "program": "artist_cli/train.py",
        "name": f"head-search-{head}",
        "method": "grid",
        "metric": {"name": "val/macro_f1", "goal": "maximize"},
        "parameters": {"model.dense_units": {"values": [[d1, d2] for d1 in dense1 for d2 in dense2]}},
        "command": ["${env}", "${interpreter}", "-m", "artist_cli.train", "fit", "--preset", presets,
                    "--config", "configs/stage2.yaml", f"--model.head={head}", f"--run={run}",
                    "--stage=stage2_sweep", "--force=true", "${args}"],
    }
