"""The LightningDataModule: point it at a folder of paintings and it does the rest."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Literal

import pandas as pd
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from pytorch_lightning.overrides.distributed import UnrepeatedDistributedSampler
from torch.utils.data import DataLoader, Dataset, DistributedSampler, WeightedRandomSampler

from datamodules.decoding import RESIZE_FILTERS
from datamodules.discovery import REPORT_COLUMNS, DataError
from datamodules.feature_cache import FeatureDataset, compute_features, pick_variants
from datamodules.image_store import ImageStore
from datamodules.near_duplicates import near_duplicate_groups
from datamodules.selection import EXCLUDED, exclusion_key, leave_out, select_artists
from datamodules.sources import artist_table, discover_sources, log_matches, split_roots
from datamodules.split import artists_from_manifest, read_manifest, stratified_split, write_manifest
from fileio import atomic_write_text
from transforms import AUGMENTATIONS, build_augmentation
from transforms.augmentations import NoAugment, to_float
from transforms.degradations import Degrade

log = logging.getLogger(__name__)

# The choices of --data.train_augment, listed by --help, come from the registry.
AugmentationName = Literal[tuple(AUGMENTATIONS)]
ResizeFilter = Literal[tuple(RESIZE_FILTERS)]
REPORT_NAME = "data_report.csv"
ARTISTS_NAME = "artists.csv"  # one row per painter: paintings per source, class or other artist
NEAR_DUPLICATE = "near_duplicate"  # a data_report.csv reason for paintings kept, not skipped
# What a split.json written by an older version meant by the settings it does not name.
UNNAMED_SPLIT_SETTINGS = {"test_fraction": 0.0, "near_duplicate_bits": -1, "exclude_artists": [], "classes_from": "first"}


def near_duplicate_rows(split: pd.DataFrame) -> list[dict]:
    """data_report.csv rows: each painting of a near-duplicate group, with the others and its part."""
    rows = []
    for _, group in split[split.duplicated("group", keep=False)].groupby("group"):
        names = [Path(path).name for path in group["path"]]
        for (_, painting), name in zip(group.iterrows(), names):
            others = ", ".join(other for other in names if other != name)
            rows.append({"path": painting["path"], "artist": painting["artist"], "reason": NEAR_DUPLICATE,
                         "detail": f"near-duplicate of {others}; all in {painting['split']}"})
    return rows


class StoreDataset(Dataset):
    """Rows of a decoded-image store as (uint8 CHW image, label, row) samples."""

    def __init__(self, store: ImageStore, rows, labels):
        self.store, self.rows, self.labels = store, list(rows), list(labels)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        row = self.rows[i]
        image = torch.from_numpy(self.store.pixels[row].copy()).permute(2, 0, 1)
        return image, self.labels[i], row


def unrepeated_distributed_sampler(dataset) -> DistributedSampler | None:
    """Under DDP, every painting scored on exactly one rank. Lightning's default DistributedSampler
    pads the last batch with repeats so that ranks get equal shares, which counts those paintings
    twice in the synced metrics that pick checkpoints and drive the LR schedule (7 validation
    paintings on 2 ranks: top-1 3/8 instead of 3/7). None outside DDP (Lightning then leaves it)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return None
    if torch.distributed.get_world_size() == 1:
        return None
    return UnrepeatedDistributedSampler(dataset, shuffle=False)


class PaintingsDataModule(pl.LightningDataModule):
    """Paintings by artist: selection, a stratified split recorded once per run, per-stage augmentation.

    Args:
        root: data folder (Kaggle layout, folder per artist, WikiArt's `<Style>/<artist-slug>_<title>.jpg`)
            or CSV manifest (path,artist); several, comma-separated (`a,b`), are one collection whose
            paintings keep their source (`split.csv`'s `source`), each split on its own.
        classes_from: which painters are the model's classes with several roots: `first`, those of the
            first root (the others' painters are *other artists*: in the split, label -1, never a
            class); `all`, every painter. The selection rules below then apply to the classes.
        run_dir: run folder; its `split.csv` is the one split every stage and evaluation use.
        image_size: square side images are resized to (aspect not kept, as in the study).
        train_augment: a registered augmentation (`transforms.augmentations`): `rotate_zoom`,
            `flips` or `none`; validation only resizes.
        rotate_degrees: `rotate_zoom` rotates by up to +-this many degrees (the study: 30).
        zoom_range: `rotate_zoom` zooms by a factor drawn from [min, max] (the study: 0.5-1.5).
        vertical_flips: `flips` also turns paintings upside down (the study); False: mirroring only.
        val_fraction: share of each artist's paintings held out for validation.
        test_fraction: share of each artist's paintings held out as the test part, which nothing
            in training looks at (not early stopping, the LR schedule, checkpoint choice or the
            unknown-artist threshold); `test` and `make evaluate PART=test` score it. 0: none.
        near_duplicate_bits: paintings of one artist whose 64-bit difference hashes differ in at
            most this many bits are one group and stay in one part; -1: no grouping.
        seed: seed for the split and for `max_images_per_artist` subsampling.
        top_k_artists: keep the k artists with most images (ties broken by name).
        exclude_artists: artists left out of every part (any spelling of their names), e.g. to
            hold them back as unknown artists; listed in data_report.csv.
        min_images_per_artist: leave out artists with fewer images (never below 2).
        max_images_per_artist: seeded subsample of prolific artists.
        batch_size: images per batch (per process under DDP).
        num_workers: loader processes; `None` picks 0 on CPU (pixels come from memory, the
            cores are better spent on the model) and up to 8 with a GPU.
        pin_memory: `None` pins only when CUDA is available.
        cache_dir: where decoded-image stores live (never inside the data folder).
        train_sizes: multi-size training (SPP or GAP heads): each training batch is resized to a
            size drawn from this list; images are cached at the largest size and validation
            uses `image_size`. `None`: every batch at `image_size`.
        balanced_sampler: draw training images with probability 1/(paintings of their artist),
            so every artist is seen equally often (with replacement).
        resize_filter: how the loader resizes a decoded image whose size differs from the cache's
            (`datamodules.decoding.RESIZE_FILTERS`); recorded in the checkpoint for evaluation and prediction.
        degradations: kinds of `transforms.degradations` (frame, resample, jpeg, blur, colour) applied to
            training batches after the augmentation; stage2.yaml and stage3.yaml turn them off, so
            the stage-2 feature cache keeps its finite set of variants.
        degradation_prob: chance that each degradation kind hits a training painting.
        degradation_prob_by_kind: a kind's own chance instead, e.g. `{blur: 0.4}` (kinds that are
            not in `degradations` are ignored).
        paired_views: training batches carry each painting twice, (B, 2, 3, H, W): as augmented, and
            as then degraded, for the model's consistency loss (linked from `--model.consistency_weight`).
    """

    def __init__(
        self,
        root: str = "data/sample",
        run_dir: str = "runs/default",
        image_size: int = 224,
        train_augment: AugmentationName = "rotate_zoom",
        rotate_degrees: float = 30.0,
        zoom_range: tuple[float, float] = (0.5, 1.5),
        vertical_flips: bool = True,
        val_fraction: float = 0.2,
        test_fraction: float = 0.1,
        near_duplicate_bits: int = 3,
        seed: int = 42,
        classes_from: Literal["first", "all"] = "first",
        top_k_artists: int | None = None,
        exclude_artists: list[str] = [],  # noqa: B006 - jsonargparse needs a literal default
        min_images_per_artist: int = 2,
        max_images_per_artist: int | None = None,
        batch_size: int = 32,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        cache_dir: str = ".cache/artist-trainer",
        train_sizes: list[int] | None = None,
        balanced_sampler: bool = False,
        resize_filter: ResizeFilter = "lanczos",
        degradations: list[str] = [],  # noqa: B006 - jsonargparse needs a literal default
        degradation_prob: float = 0.5,
        degradation_prob_by_kind: dict[str, float] = {},  # noqa: B006 - jsonargparse needs a literal default
        paired_views: bool = False,
    ):
        super().__init__()
        self.save_hyperparameters()
        self.roots, self.run_dir = split_roots(root), Path(run_dir)
        self.train_augmentation = self.augmentation(train_augment)
        self.eval_augmentation = NoAugment()
        self.degrade = Degrade(degradations, degradation_prob, degradation_prob_by_kind)
        if paired_views and not self.degrade.active:
            raise ValueError("--model.consistency_weight pairs each painting with a degraded copy: it needs "
                             "--data.degradations and a --data.degradation_prob above 0 (stage2.yaml and "
                             "stage3.yaml turn both off)")
        self._split: pd.DataFrame | None = None
        self._report: list[dict] = []
        self.store: ImageStore | None = None
        self.feature_datasets: dict[str, FeatureDataset] = {}

    def augmentation(self, name: str) -> torch.nn.Module:
        """Augmentation `name` at this run's strengths (rotation, zoom, vertical flips)."""
        hp = self.hparams
        return build_augmentation(name, degrees=hp.rotate_degrees, zoom=tuple(hp.zoom_range),
                                  vertical_flips=hp.vertical_flips)

    # ---- the split: made once per run, then read back ------------------------------------
    def split_params(self) -> dict:
        hp = self.hparams
        return {"root": ",".join(str(Path(r).expanduser().resolve()) for r in self.roots),
                "val_fraction": hp.val_fraction, "classes_from": hp.classes_from,
                "test_fraction": hp.test_fraction, "near_duplicate_bits": hp.near_duplicate_bits, "seed": hp.seed,
                "top_k_artists": hp.top_k_artists, "exclude_artists": exclusion_key(hp.exclude_artists),
                "min_images_per_artist": hp.min_images_per_artist,
                "max_images_per_artist": hp.max_images_per_artist}

    @property
    def split(self) -> pd.DataFrame:
        if self._split is None:
            self._split = self._load_or_make_split()
        return self._split

    def _load_or_make_split(self) -> pd.DataFrame:
        params = self.split_params()
        recorded = read_manifest(self.run_dir)
        if recorded is not None:
            split, old = recorded
            old = {**UNNAMED_SPLIT_SETTINGS, **old}
            old["exclude_artists"] = exclusion_key(old["exclude_artists"])  # runs that recorded names as typed
            differences = {k: (old.get(k), v) for k, v in params.items() if old.get(k) != v}
            if differences:
                lines = "\n".join(f"  {k}: run has {a!r}, asked for {b!r}" for k, (a, b) in differences.items())
                raise DataError(
                    f"Run folder {self.run_dir} already holds a split made with other settings:\n{lines}\n"
                    "Use another RUN name, or delete the run folder to start over.")
            log.info("Using the recorded split %s (%d images)", self.run_dir / "split.csv", len(split))
            return split
        found = discover_sources(self.roots)
        self._report.extend(found.skipped)
        index = leave_out(found.index, self.hparams.exclude_artists, self._report)  # classes and others alike
        first_source = found.index["source"].iloc[0]
        candidates = (set(index.loc[index["source"] == first_source, "artist"]) if self.hparams.classes_from == "first"
                      else set(index["artist"]))
        selected, dropped = select_artists(
            index[index["artist"].isin(candidates)], top_k_artists=self.hparams.top_k_artists,
            min_images_per_artist=self.hparams.min_images_per_artist,
            max_images_per_artist=self.hparams.max_images_per_artist, seed=self.hparams.seed)
        self._report.extend(dropped)
        if selected.empty:
            raise DataError(f"No artist in {','.join(self.roots)} has enough images after selection")
        classes = sorted(selected["artist"].unique())
        others = index[~index["artist"].isin(candidates)]
        selected = pd.concat([selected, others], ignore_index=True)
        groups = near_duplicate_groups(selected["path"].tolist(), selected["artist"].to_numpy(),
                                       self.hparams.near_duplicate_bits)
        split = stratified_split(selected, self.hparams.val_fraction, self.hparams.seed,
                                 self.hparams.test_fraction, groups, classes=classes)
        self._report.extend(near_duplicate_rows(split))
        write_manifest(split, self.run_dir, params)
        table = artist_table(split)
        atomic_write_text(self.run_dir / ARTISTS_NAME, table.to_csv(index=False))
        log_matches(table)
        counts = split["split"].value_counts()
        log.info("Wrote split %s: %d train / %d val / %d test images, %d artists as classes, %d other artists",
                 self.run_dir / "split.csv", counts.get("train", 0), counts.get("val", 0), counts.get("test", 0),
                 len(classes), split.loc[split["label"] < 0, "artist"].nunique())
        return split

    @property
    def artists(self) -> list[str]:
        return artists_from_manifest(self.split)

    @property
    def num_classes(self) -> int:
        return len(self.artists)

    @property
    def class_counts(self) -> list[int]:
        """Training paintings per artist, in label order (for class-weighted losses)."""
        train = self.split[self.split["split"] == "train"]
        counts = train["label"].value_counts()
        return [int(counts.get(label, 0)) for label in range(self.num_classes)]

    @property
    def cache_size(self) -> int:
        """Pixel size of the decoded cache: large enough for every training size."""
        return max([self.hparams.image_size, *(self.hparams.train_sizes or [])])

    # ---- decoding and datasets ------------------------------------------------------------
    def prepare_data(self) -> None:
        # Rank 0 builds the split and the decoded-image store; other ranks then reuse both.
        self._open_store()

    def _open_store(self) -> ImageStore:
        if self.store is None:
            self.store = ImageStore.open_or_build(
                self.split["path"].tolist(), self.cache_size, self.hparams.cache_dir,
                workers=os.cpu_count() or 1, resize_filter=self.hparams.resize_filter)
        return self.store

    def setup(self, stage: str | None = None) -> None:
        store = self._open_store()
        split = self.split
        for row, reason in sorted(store.failed.items()):
            self._report.append({"path": split.at[row, "path"], "artist": split.at[row, "artist"],
                                 "reason": "decode_failed", "detail": reason})
        if store.failed:
            log.warning("%d image(s) could not be decoded and are left out; see %s",
                        len(store.failed), self.run_dir / REPORT_NAME)
        usable = split[store.ok & (split["label"] >= 0).to_numpy()]  # other artists are never a class
        self.datasets = {
            part: StoreDataset(store, rows.index, rows["label"])
            for part, rows in usable.groupby("split")
        }
        self.write_report()

    def write_report(self) -> None:
        if self.trainer is not None and not self.trainer.is_global_zero:
            return
        report = pd.DataFrame(self._report, columns=REPORT_COLUMNS)
        path = self.run_dir / REPORT_NAME
        if path.is_file():  # later stages add to what indexing reported in stage 1, never replace it
            report = pd.concat([pd.read_csv(path), report], ignore_index=True)
        report = report.drop_duplicates(["path", "reason"])
        self.run_dir.mkdir(parents=True, exist_ok=True)
        report.to_csv(path, index=False)
        for reason, count in report["reason"].value_counts().items():
            if reason == NEAR_DUPLICATE:
                log.info("%d paintings are near-duplicates of another; each group stays in one part (%s)",
                         count, path)
            elif reason == EXCLUDED:
                log.info("%d paintings by artists left out with exclude_artists (%s)", count, path)
            else:
                log.warning("Skipped %d file(s): %s", count, reason)

    # ---- stage-2 feature cache ---------------------------------------------------------------
    @property
    def train_variants(self) -> int | None:
        """How many distinct inputs the training augmentation can produce (None: unbounded)."""
        if len(set(self.hparams.train_sizes or [])) > 1:
            return None  # multi-size training: every batch at a random size
        if self.degrade.active:
            return None  # degradations draw from continuous ranges
        return self.train_augmentation.variants

    def cache_features(self, model) -> bool:
        """Serve the head's inputs instead of images, computed once with `model` (frozen backbone)."""
        variants = self.train_variants
        if variants is None:
            log.info("Feature cache off: %s augmentation has no finite set of variants",
                     self.hparams.train_augment)
            return False
        # The parts fit reads; the test part stays images (scored once, by `test`).
        for part, dataset in ((p, d) for p, d in self.datasets.items() if p in ("train", "val")):
            features = compute_features(model, dataset, self.train_augmentation if part == "train" else None,
                                        batch_size=max(self.hparams.batch_size, 64), size=self.hparams.image_size,
                                        desc=f"Caching {part} features ({variants if part == 'train' else 1} variants)")
            self.feature_datasets[part] = FeatureDataset(features, dataset.labels, dataset.rows)
        return True

    # ---- loaders ------------------------------------------------------------------------------
    def _balanced_sampler(self, labels) -> WeightedRandomSampler:
        counts = torch.bincount(torch.as_tensor(labels), minlength=self.num_classes).clamp_min(1)
        weights = 1.0 / counts[torch.as_tensor(labels)].double()
        return WeightedRandomSampler(weights, num_samples=len(labels), replacement=True)

    def _loader(self, part: str, shuffle: bool) -> DataLoader:
        cached = part in self.feature_datasets
        dataset = self.feature_datasets[part] if cached else self.datasets[part]
        sampler = self._balanced_sampler(dataset.labels) if shuffle and self.hparams.balanced_sampler else None
        if not shuffle:
            sampler = unrepeated_distributed_sampler(dataset)
        # A last training batch of one image would break BatchNorm in the head.
        drop_last = shuffle and len(dataset) > self.hparams.batch_size
        if cached:  # features are already in memory: no workers, nothing to decode
            return DataLoader(dataset, batch_size=self.hparams.batch_size, shuffle=shuffle and sampler is None,
                              sampler=sampler, drop_last=drop_last)
        workers = self.hparams.num_workers
        if workers is None:
            workers = min(8, os.cpu_count() or 1) if torch.cuda.is_available() else 0
        pin = torch.cuda.is_available() if self.hparams.pin_memory is None else self.hparams.pin_memory
        return DataLoader(dataset, batch_size=self.hparams.batch_size, shuffle=shuffle and sampler is None,
                          sampler=sampler, num_workers=workers, persistent_workers=workers > 0, pin_memory=pin,
                          drop_last=drop_last)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    @property
    def held_out_part(self) -> str:
        """The part that `test` and `predict` score: the test part where the split has one, else validation."""
        return "test" if "test" in self.datasets else "val"

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.held_out_part, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.held_out_part, shuffle=False)

    def model_inputs(self, inputs: torch.Tensor, training: bool) -> torch.Tensor:
        """What the model gets for a loader batch: augmented floats, or one cached feature variant.

        With `paired_views`, a training batch is (B, 2, 3, H, W): each painting augmented, then degraded.
        """
        if inputs.dim() == 3:  # cached features (B, variants, F): one variant per sample
            return pick_variants(inputs) if training else inputs[:, 0]
        if not training:
            images = self.eval_augmentation(inputs)
        elif self.hparams.paired_views:
            augmented = to_float(self.train_augmentation(inputs))
            images = torch.stack([augmented, self.degrade(augmented)], dim=1)
        else:
            images = self.degrade(self.train_augmentation(inputs))
        sizes = self.hparams.train_sizes
        size = int(sizes[torch.randint(len(sizes), ()).item()]) if training and sizes else self.hparams.image_size
        if images.shape[-1] != size:
            resized = F.interpolate(images.flatten(0, images.dim() - 4), size=(size, size), mode="bilinear",
                                    align_corners=False, antialias=True)
            images = resized.view(*images.shape[:-2], size, size)
        return images

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        inputs, labels, rows = batch
        training = self.trainer is not None and self.trainer.training
        return self.model_inputs(inputs, training), labels, rows
