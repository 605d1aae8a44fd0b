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

from data_scaling import data_scaling  # bench/ is sys.path[0]: this file runs as a script
from time_to_accuracy_bench import table_rows, time_to_accuracy
from callbacks import BackboneFreeze, FeatureCache
from datamodules import PaintingsDataModule
from lightning_modules import ArtistClassifier

REPO = Path(__file__).resolve().parents[1]

SHARED = REPO.parent / "shared" / "data" / "best-artworks-128"


def relative_to_repo(path: Path) -> str:
    """A path as written from the repository's root (what results.json records, never a machine's own path)."""
    return os.path.relpath(path.resolve(), REPO)


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


class BenchModule(ArtistClassifier):
    """The same model and optimiser for loaders without a validation set (model-only and naive)."""

    def training_step(self, batch, batch_idx):
        images, labels = batch[0], batch[1]
        return torch.nn.functional.cross_entropy(self(images), labels)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, fused=True)


def model_only(image_size: int, batch: int, batches: int) -> float:
    """The same training loop on random uint8 images already in memory: the ceiling for this model here."""
    n = batch * (batches + 1)
    dataset = torch.utils.data.TensorDataset(
        torch.randint(0, 256, (n, 3, image_size, image_size), dtype=torch.uint8), torch.randint(0, 10, (n,)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True)
    meter = Throughput()
    trainer([meter], batches).fit(BenchModule(backbone=OPTIONS["backbone"], pretrained=False, num_classes=10), loader)
    return meter.images_per_second


def trainer(callbacks, batches: int | None = None, epochs: int = 1) -> pl.Trainer:
    return pl.Trainer(max_epochs=epochs, accelerator=OPTIONS["accelerator"], precision=OPTIONS["precision"], logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                      limit_train_batches=batches, limit_val_batches=1, callbacks=callbacks)


def project_datamodule(root: Path, work: Path, image_size: int, batch: int, augment: str = "rotate_zoom"):
    return PaintingsDataModule(root=str(root), run_dir=str(work / "run"), cache_dir=str(work / "cache"),
                               image_size=image_size, batch_size=batch, train_augment=augment)


def cache_build_seconds(root: Path, work: Path, image_size: int, batch: int) -> float:
    """One-off: index, split and decode every image into the memory-mapped store."""
    start = time.perf_counter()
    project_datamodule(root, work, image_size, batch).prepare_data()
    return time.perf_counter() - start


def pipeline(root: Path, work: Path, image_size: int, batch: int, batches: int) -> float:
    """The project's stage-1 pipeline (decoded cache + batched on-device rotate/zoom), in img/s."""
    dm = project_datamodule(root, work, image_size, batch)
    meter = Throughput()
    model = ArtistClassifier(backbone=OPTIONS["backbone"], pretrained=False, num_classes=dm.num_classes)
    trainer([meter], batches).fit(model, dm)
    return meter.images_per_second


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
    trainer([meter], batches).fit(BenchModule(backbone=OPTIONS["backbone"], pretrained=False,
                                           num_classes=len(dataset.classes)), loader)
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
    dm = project_datamodule(root, work, image_size, batch, augment="flips")
    model = ArtistClassifier(pretrained=False, num_classes=dm.num_classes, dense_units=[384, 128])
    meter = Throughput(warmup=0)
    trainer([BackboneFreeze(frozen=True), FeatureCache(enabled=cache), meter], epochs=2).fit(model, dm)
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


def answer_seconds(ckpt: Path, paintings: list[Path], answers: int = 10) -> tuple[float, float]:
    """(first, median of the next `answers`) seconds for what the web page does per painting: the
    ranked artists with the default views and the unknown-artist answer, plus the Grad-CAM overlay."""
    from artist_inference.explain import answer_with_gradcam
    from artist_inference.predictor import Predictor
    predictor = Predictor.load(ckpt)
    times = []
    for painting in paintings[: answers + 1]:
        start = time.perf_counter()
        answer_with_gradcam(predictor, painting, top_k=5)
        times.append(time.perf_counter() - start)
    return times[0], float(np.median(times[1:]))


def add_answer_latency(results: dict, work: Path) -> None:
    ckpt = REPO / "runs" / "bench-default" / "stage3" / "best.ckpt"
    if not ckpt.is_file():
        return
    full = sorted(make_fullsize_jpegs(work / "answers", 11).rglob("*.jpg"))
    results["web_answer_first_s"], results["web_answer_s"] = answer_seconds(ckpt, full)


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
    parser.add_argument("--data", type=Path, default=None,
                        help="paintings for the pipeline throughput (default: ../shared's 128 px set, else the sample)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions per throughput (median)")
    parser.add_argument("--data-scaling-only", action="store_true",
                        help="only the data side's cost against collection size, added to the existing results file")
    parser.add_argument("--time-to-accuracy-only", action="store_true",
                        help="only the minutes to a validation macro-F1, default against seed, added to the existing results file")
    parser.add_argument("--target", type=float, default=0.65, help="validation macro-F1 of the time-to-accuracy figure")
    parser.add_argument("--answer-latency-only", action="store_true",
                        help="only the web page's seconds per answer, added to the existing results file")
    args = parser.parse_args()
    if args.answer_latency_only or args.data_scaling_only or args.time_to_accuracy_only:
        path = REPO / "bench" / f"{args.out}.json"
        results = json.loads(path.read_text())
        if args.data_scaling_only:
            results.update(data_scaling())
        elif args.time_to_accuracy_only:
            results.update(time_to_accuracy(args.target))
        else:
            with tempfile.TemporaryDirectory() as tmp:
                add_answer_latency(results, Path(tmp))
        path.write_text(json.dumps(results, indent=2) + "\n")
        (REPO / "bench" / f"{args.out}.md").write_text(markdown_table(results) + "\n")
        print(markdown_table(results))
        return
    OPTIONS.update(backbone=args.backbone, accelerator=args.accelerator, precision=args.precision)
    torch.manual_seed(0)
    data = args.data or (SHARED if SHARED.is_dir() else REPO / "data" / "sample")
    machine = f"{platform.machine()}, {os.cpu_count()} CPU cores"
    if args.accelerator == "gpu":
        machine += f", {torch.cuda.get_device_name(0)}"
    results: dict = {"date": time.strftime("%Y-%m-%d"), "machine": machine, "torch": torch.__version__,
                     "backbone": args.backbone, "precision": args.precision, "image_size": args.image_size,
                     "batch": args.batch, "data": relative_to_repo(data)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        size, batch, n = args.image_size, args.batch, args.batches
        # Throughputs are measured in interleaved rounds and the median kept: on a shared VM a
        # single 10-second window can be off by a third.
        measures = {"model_only_img_s": lambda: model_only(size, batch, n),
                    "pipeline_img_s": lambda: pipeline(data, work / "p", size, batch, n)}
        results["pipeline_cache_build_s"] = cache_build_seconds(data, work / "p", size, batch)
        if not args.throughput_only:
            full = make_fullsize_jpegs(work / "full", args.fullsize_images)
            results["fullsize_cache_build_s"] = cache_build_seconds(full, work / "f", size, batch)
            measures.update({
                "naive_img_s": lambda: naive(data, size, batch, n, workers=0),
                "fullsize_pipeline_img_s": lambda: pipeline(full, work / "f", size, batch, n),
                # Same worker count as the project's loader on CPU (0), and the naive loader's best case (2).
                "fullsize_naive_img_s": lambda: naive(full, size, batch, n, workers=0),
                "fullsize_naive_2_workers_img_s": lambda: naive(full, size, batch, n, workers=2),
            })
        samples: dict[str, list[float]] = {name: [] for name in measures}
        for _ in range(args.rounds):
            for name, measure in measures.items():
                samples[name].append(measure())
        results.update({name: float(np.median(values)) for name, values in samples.items()})
        results["rounds"] = args.rounds
        if args.throughput_only:
            results["pipeline_vs_model_only"] = results["pipeline_img_s"] / results["model_only_img_s"]
            (REPO / "bench" / f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n")
            print(json.dumps(results, indent=2))
            return
        # Stage 2 on the embedded sample keeps the uncached epochs short; the ratio is per epoch.
        # The saving grows with the backbone's cost, so it is also measured at the study's 224 px.
        sample = REPO / "data" / "sample"
        for px, suffix in ((size, ""), (224, "_224")):
            results[f"stage2_uncached_epoch_s{suffix}"] = stage2_epoch(sample, work / f"s{px}", px, batch, cache=False)
            results[f"stage2_cached_epoch_s{suffix}"] = stage2_epoch(sample, work / f"s{px}", px, batch, cache=True)
            results[f"stage2_cache_speedup{suffix}"] = (results[f"stage2_uncached_epoch_s{suffix}"]
                                                        / results[f"stage2_cached_epoch_s{suffix}"])
        if not args.skip_default_run:
            results["default_run_seconds"] = default_run_seconds()
            results.update(time_to_accuracy(args.target, results["default_run_seconds"]))
        add_answer_latency(results, work)
    results.update(data_scaling())
    results["pipeline_vs_model_only"] = results["pipeline_img_s"] / results["model_only_img_s"]
    results["naive_vs_model_only"] = results["naive_img_s"] / results["model_only_img_s"]
    results["fullsize_vs_model_only"] = results["fullsize_pipeline_img_s"] / results["model_only_img_s"]
    results["fullsize_vs_naive"] = results["fullsize_pipeline_img_s"] / results["fullsize_naive_img_s"]
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
        ("stage-2 epoch at 224 px, no feature cache", f"{r['stage2_uncached_epoch_s_224']:.2f} s", ""),
        ("stage-2 epoch at 224 px, feature cache", f"{r['stage2_cached_epoch_s_224']:.3f} s", f"speed-up {r['stage2_cache_speedup_224']:.0f}x"),
    ]
    if "default_run_seconds" in r:
        rows.append(("default `make stage1 stage2 stage3`", f"{r['default_run_seconds'] / 60:.1f} min", "target <= 10 min"))
    if "time_to_accuracy" in r:
        rows += table_rows(r["time_to_accuracy"])
    for row in r.get("data_scaling", []):
        rows.append((f"data side for {row['paintings']:,} generated paintings of {row['artists']} artists "
                     "(discovery, split with near-duplicate hashes, decoded cache)",
                     f"{row['total_s']:.1f} s", f"{row['seconds_per_10k']:.1f} s per 10k; peak {row['peak_mb']:.0f} MB; "
                     f"cache {row['cache_mb']:.0f} MB on disk"))
    if "data_scaling_ratio" in r:
        rows.append(("data side, seconds per 10k paintings: largest / smallest collection",
                     f"{r['data_scaling_ratio']:.2f}", "1.0 = linear (target <= 1.3)"))
    if "web_answer_s" in r:
        rows.append(("web page answer for a full-size JPEG (top-5 with the default views, unknown-artist "
                     "answer, Grad-CAM), after the first", f"{r['web_answer_s']:.3f} s",
                     f"first answer {r['web_answer_first_s']:.2f} s; target < 1 s"))
    lines = [f"Measured {r['date']} on {r['machine']}, torch {r['torch']}, {r['backbone']} at "
             f"{r['image_size']} px, batch {r['batch']}, {r['precision']}; throughputs are medians of "
             f"{r['rounds']} interleaved rounds. Command: `make bench`.", "", "| measurement | value | ratio |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
