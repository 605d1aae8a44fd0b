"""`make bench`: how close the trainer runs to the speed of the model itself, measured in one run.

Writes bench/results.json and bench/results.md and prints the table. Every ratio compares numbers
taken in this same run, so they hold on a noisy machine. Nothing here runs in the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from callbacks import BackboneFreeze  # noqa: E402
from datamodules import PaintingsDataModule  # noqa: E402
from lightning_modules import ArtistClassifier  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "best-artworks-128"


class Throughput(pl.Callback):
    """Images/s over training batches after `warmup`, wall time between batch ends (loading included)."""

    def __init__(self, warmup: int = 2):
        self.warmup, self.times, self.sizes = warmup, [], []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.times.append(time.perf_counter())
        self.sizes.append(len(batch[1]))

    @property
    def images_per_second(self) -> float:
        t, n = self.times[self.warmup:], self.sizes[self.warmup + 1:]
        return sum(n) / (t[-1] - t[0])

    @property
    def epoch_seconds(self) -> float:
        return self.times[-1] - self.times[0]


OPTIONS = {"backbone": "efficientnet_lite0", "accelerator": "cpu", "precision": "32-true"}


def device() -> torch.device:
    return torch.device("cuda" if OPTIONS["accelerator"] == "gpu" else "cpu")


def model_only(image_size: int, batch: int, steps: int) -> float:
    """Training steps on random tensors already on the device: the ceiling for this model here."""
    model = ArtistClassifier(backbone=OPTIONS["backbone"], pretrained=False, num_classes=10).to(device())
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, fused=True)
    x = torch.rand(batch, 3, image_size, image_size, device=device())
    y = torch.randint(0, 10, (batch,), device=device())
    bf16 = OPTIONS["precision"].startswith("bf16")
    times = []
    for _ in range(steps + 2):
        with torch.autocast(device().type, dtype=torch.bfloat16, enabled=bf16):
            loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device().type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter())
    return batch * (len(times) - 2) / (times[-1] - times[1])


def trainer(callbacks, batches: int | None = None, epochs: int = 1) -> pl.Trainer:
    return pl.Trainer(max_epochs=epochs, accelerator=OPTIONS["accelerator"], precision=OPTIONS["precision"], logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                      limit_train_batches=batches, limit_val_batches=1, callbacks=callbacks)


def pipeline(root: Path, work: Path, image_size: int, batch: int, batches: int) -> tuple[float, float]:
    """The project's stage-1 pipeline (decoded cache + batched on-device rotate/zoom). Returns (img/s, cache build s)."""
    dm = PaintingsDataModule(root=str(root), run_dir=str(work / "run"), cache_dir=str(work / "cache"),
                             image_size=image_size, batch_size=batch, train_augment="rotate_zoom")
    start = time.perf_counter()
    dm.prepare_data()
    build = time.perf_counter() - start
    meter = Throughput()
    model = ArtistClassifier(backbone=OPTIONS["backbone"], pretrained=False, num_classes=dm.num_classes)
    trainer([meter], batches).fit(model, dm)
    return meter.images_per_second, build


class NaiveModule(ArtistClassifier):
    """The same model fed by a plain (images, labels) loader, with no validation set."""

    def training_step(self, batch, batch_idx):
        images, labels = batch
        return torch.nn.functional.cross_entropy(self(images), labels)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def naive(root: Path, image_size: int, batch: int, batches: int, workers: int) -> float:
    """torchvision ImageFolder + PIL full decode + the same augmentation, every epoch."""
    from torchvision import datasets, transforms

    transform = transforms.Compose([
        transforms.Resize((image_size, image_size)),
        transforms.RandomAffine(degrees=30, scale=(0.5, 1.5)),
        transforms.ToTensor(),
    ])
    dataset = datasets.ImageFolder(str(root / "images"), transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True, num_workers=workers,
                                         persistent_workers=workers > 0)
    meter = Throughput()
    trainer([meter], batches).fit(NaiveModule(pretrained=False, num_classes=len(dataset.classes)), loader)
    return meter.images_per_second


def make_fullsize_jpegs(root: Path, n: int, artists: int = 5) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        w, h = (int(v) for v in rng.integers(1000, 2001, 2))
        # smooth gradients plus noise: compresses like a painting photo, decodes like one
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([(xx * (i % 7 + 1)) % 256, (yy * 3) % 256, ((xx + yy) // 4) % 256], -1)
        pixels = np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)
        path = root / "images" / f"Artist_{i % artists}" / f"Artist_{i % artists}_{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, quality=90)
    return root


def stage2_epoch(root: Path, work: Path, image_size: int, batch: int, cache: bool) -> float:
    dm = PaintingsDataModule(root=str(root), run_dir=str(work / "run"), cache_dir=str(work / "cache"),
                             image_size=image_size, batch_size=batch, train_augment="flips")
    model = ArtistClassifier(pretrained=False, num_classes=dm.num_classes, dense_units=[384, 128])
    meter = Throughput(warmup=0)
    trainer([BackboneFreeze(frozen=True, feature_cache=cache), meter], epochs=2).fit(model, dm)
    # time of the 2nd epoch alone: after warm-up, caches (if any) already built
    per_epoch = len(dm.datasets["train"]) // batch
    return meter.times[-1] - meter.times[-per_epoch]


def default_run_seconds() -> float:
    """Wall time of the README's main command; the run stays in runs/bench-default for its numbers."""
    shutil.rmtree(REPO / "runs" / "bench-default", ignore_errors=True)
    start = time.perf_counter()
    subprocess.run(["make", "stage1", "stage2", "stage3", "RUN=bench-default",
                    "ARGS=--trainer.enable_progress_bar=false"],
                   cwd=REPO, check=True, env=dict(os.environ, WANDB_MODE="disabled"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--image-size", type=int, default=128, help="the default preset's size")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--batches", type=int, default=20, help="training batches per throughput measurement")
    parser.add_argument("--fullsize-images", type=int, default=300)
    parser.add_argument("--skip-default-run", action="store_true")
    parser.add_argument("--throughput-only", action="store_true", help="model-only vs pipeline only (GPU check)")
    parser.add_argument("--backbone", default="efficientnet_lite0")
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--precision", default="32-true", help="e.g. bf16-mixed on a GPU")
    parser.add_argument("--out", default="results", help="file stem under bench/")
    args = parser.parse_args()
    OPTIONS.update(backbone=args.backbone, accelerator=args.accelerator, precision=args.precision)
    torch.manual_seed(0)
    data = SHARED if SHARED.is_dir() else REPO / "data" / "sample"
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores"
    if args.accelerator == "gpu":
        machine += f", {torch.cuda.get_device_name(0)}"
    results: dict = {"date": time.strftime("%Y-%m-%d"), "machine": machine, "torch": torch.__version__,
                     "backbone": args.backbone, "precision": args.precision, "image_size": args.image_size,
                     "batch": args.batch, "data": str(data)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        first_model_only = model_only(args.image_size, args.batch, args.batches)
        results["pipeline_img_s"], results["pipeline_cache_build_s"] = pipeline(
            data, work / "p", args.image_size, args.batch, args.batches)
        if args.throughput_only:
            results["model_only_img_s"] = max(first_model_only, model_only(args.image_size, args.batch, args.batches))
            results["pipeline_vs_model_only"] = results["pipeline_img_s"] / results["model_only_img_s"]
            (REPO / "bench" / f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n")
            print(json.dumps(results, indent=2))
            return
        results["naive_img_s"] = naive(data, args.image_size, args.batch, args.batches, workers=0)
        full = make_fullsize_jpegs(work / "full", args.fullsize_images)
        results["fullsize_pipeline_img_s"], results["fullsize_cache_build_s"] = pipeline(
            full, work / "f", args.image_size, args.batch, args.batches)
        # Same worker count as the project's loader on CPU (0), and the naive loader's best case (2).
        results["fullsize_naive_img_s"] = naive(full, args.image_size, args.batch, args.batches, workers=0)
        results["fullsize_naive_2_workers_img_s"] = naive(full, args.image_size, args.batch, args.batches, workers=2)
        # Stage 2 on the embedded sample keeps the uncached epochs short; the ratio is per epoch.
        sample = REPO / "data" / "sample"
        results["stage2_uncached_epoch_s"] = stage2_epoch(sample, work / "s", args.image_size, args.batch, cache=False)
        results["stage2_cached_epoch_s"] = stage2_epoch(sample, work / "s", args.image_size, args.batch, cache=True)
        # The ceiling: best of a measurement at the start and one at the end (warm caches, same load).
        results["model_only_img_s"] = max(first_model_only, model_only(args.image_size, args.batch, args.batches))
        if not args.skip_default_run:
            results["default_run_seconds"] = default_run_seconds()
    results["pipeline_vs_model_only"] = results["pipeline_img_s"] / results["model_only_img_s"]
    results["naive_vs_model_only"] = results["naive_img_s"] / results["model_only_img_s"]
    results["fullsize_vs_model_only"] = results["fullsize_pipeline_img_s"] / results["model_only_img_s"]
    results["fullsize_vs_naive"] = results["fullsize_pipeline_img_s"] / results["fullsize_naive_img_s"]
    results["stage2_cache_speedup"] = results["stage2_uncached_epoch_s"] / results["stage2_cached_epoch_s"]
    out = REPO / "bench"
    (out / f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n")
    table = markdown_table(results)
    (out / f"{args.out}.md").write_text(table + "\n")
    print(table)


def markdown_table(r: dict) -> str:
    rows = [
        ("model only (random tensors in memory)", f"{r['model_only_img_s']:.1f} img/s", "1.00 (ceiling)"),
        (f"stage-1 pipeline, {Path(r['data']).name}", f"{r['pipeline_img_s']:.1f} img/s", f"{r['pipeline_vs_model_only']:.2f} of model-only (target >= 0.9)"),
        (f"naive ImageFolder pipeline (0 workers), {Path(r['data']).name}", f"{r['naive_img_s']:.1f} img/s", f"{r['naive_vs_model_only']:.2f} of model-only"),
        ("stage-1 pipeline, full-size JPEGs", f"{r['fullsize_pipeline_img_s']:.1f} img/s", f"{r['fullsize_vs_model_only']:.2f} of model-only"),
        ("naive pipeline, full-size JPEGs, 0 workers (as the project's loader)", f"{r['fullsize_naive_img_s']:.1f} img/s", f"project / naive = {r['fullsize_vs_naive']:.2f} (target >= 2)"),
        ("naive pipeline, full-size JPEGs, 2 workers", f"{r['fullsize_naive_2_workers_img_s']:.1f} img/s", f"project / naive = {r['fullsize_pipeline_img_s'] / r['fullsize_naive_2_workers_img_s']:.2f}"),
        ("decoded-image cache build, full-size JPEGs (once)", f"{r['fullsize_cache_build_s']:.1f} s", ""),
        ("stage-2 epoch (embedded sample, GAP+384/128 head), no feature cache", f"{r['stage2_uncached_epoch_s']:.2f} s", ""),
        ("stage-2 epoch, feature cache", f"{r['stage2_cached_epoch_s']:.3f} s", f"speed-up {r['stage2_cache_speedup']:.0f}x (target >= 50)"),
    ]
    if "default_run_seconds" in r:
        rows.append(("default `make stage1 stage2 stage3`", f"{r['default_run_seconds'] / 60:.1f} min", "target <= 10 min"))
    lines = [f"Measured {r['date']} on {r['machine']}, torch {r['torch']}, {r['backbone']} at "
             f"{r['image_size']} px, batch {r['batch']}, {r['precision']}. Command: `make bench`.", "", "| measurement | value | ratio |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
