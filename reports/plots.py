"""PNG figures of a run, readable without W&B (the study's figures, reproduced per run)."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def lr_drop_epochs(history: list[dict]) -> list[int]:
    """Epochs whose learning rate is lower than the previous epoch's (first param group)."""
    drops = []
    for before, after in zip(history, history[1:]):
        if before.get("lr") and after.get("lr") and after["lr"][0] < before["lr"][0]:
            drops.append(after["epoch"])
    return drops


def plot_curves(history: list[dict], best_epoch: int, path: Path, title: str = "") -> list[int]:
    """Loss and macro-F1 per epoch; red lines where the LR dropped, a black one at the best epoch."""
    epochs = [r["epoch"] for r in history]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, metric in zip(axes, ("loss", "macro_f1")):
        for part, style in (("train", "-o"), ("val", "-s")):
            values = [r.get(f"{part}_{metric}") for r in history]
            if any(v is not None for v in values):
                ax.plot(epochs, [np.nan if v is None else v for v in values], style, ms=3, label=part)
        drops = lr_drop_epochs(history)
        for i, epoch in enumerate(drops):
            ax.axvline(epoch, color="red", lw=1, label="LR x0.1" if i == 0 else None)
        ax.axvline(best_epoch, color="black", lw=1, ls="--", label="best epoch")
        ax.set_xlabel("epoch")
        ax.set_title(metric.replace("_", "-"))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return lr_drop_epochs(history)


def plot_confusion(matrix, artists: list[str], path: Path, title: str = "") -> None:
    """Row-normalised confusion matrix (each true artist's row sums to 1)."""
    counts = np.asarray(matrix, dtype=np.float64)
    normalised = counts / np.clip(counts.sum(axis=1, keepdims=True), 1, None)
    size = max(6.0, 0.28 * len(artists) + 3)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(artists)), artists, rotation=90, fontsize=7)
    ax.set_yticks(range(len(artists)), artists, fontsize=7)
    ax.set_xlabel("predicted artist")
    ax.set_ylabel("true artist")
    if len(artists) <= 15:
        for i in range(len(artists)):
            for j in range(len(artists)):
                if counts[i, j]:
                    ax.text(j, i, f"{normalised[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if normalised[i, j] > 0.5 else "black")
    fig.colorbar(image, fraction=0.046)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_data_overview(split, sizes, path: Path) -> None:
    """Paintings per artist in train, val (and test), and a scatter of original image sizes."""
    counts = split.groupby(["artist", "split"]).size().unstack(fill_value=0)
    counts = counts.loc[counts.sum(axis=1).sort_values().index]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, max(4.0, 0.22 * len(counts) + 1.5)))
    left.barh(counts.index, counts.get("train", 0), label="train")
    left.barh(counts.index, counts.get("val", 0), left=counts.get("train", 0), label="val")
    if "test" in counts:
        left.barh(counts.index, counts["test"], left=counts.get("train", 0) + counts.get("val", 0), label="test")
    left.set_xlabel("paintings")
    left.tick_params(axis="y", labelsize=7)
    left.legend()
    widths, heights = zip(*sizes) if sizes else ((), ())
    right.scatter(widths, heights, s=4, alpha=0.4)
    right.set_xlabel("original width (px)")
    right.set_ylabel("original height (px)")
    right.set_title(f"{len(sizes)} images")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_augmentation_preview(original, variants: dict[str, list], path: Path) -> None:
    """One painting (H, W, 3 float in [0, 1]) and a few augmented versions per augmentation."""
    n = max(len(v) for v in variants.values())
    fig, axes = plt.subplots(len(variants), n + 1, figsize=(2 * (n + 1), 2 * len(variants)), squeeze=False)
    for row, (name, images) in enumerate(variants.items()):
        axes[row][0].imshow(original)
        axes[row][0].set_title("original", fontsize=8)
        for col in range(n):
            ax = axes[row][col + 1]
            if col < len(images):
                ax.imshow(images[col])
                ax.set_title(name, fontsize=8)
        for ax in axes[row]:
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def heatmap_overlay(image, cam, alpha: float = 0.45) -> np.ndarray:
    """uint8 RGB of `image` (H, W, 3 in [0, 1]) with a jet heat map of `cam` (H, W in [0, 1])."""
    heat = plt.get_cmap("jet")(np.asarray(cam))[..., :3]
    return (np.clip((1 - alpha) * np.asarray(image) + alpha * heat, 0, 1) * 255).astype(np.uint8)


def plot_gradcams(images, cams, truths: list[str], guesses: list[str], path: Path) -> list[np.ndarray]:
    """A row of Grad-CAM overlays (images (N, 3, H, W) in [0, 1], cams (N, H, W)), captioned with the
    true and predicted artist (red where they differ); returns the overlays as uint8 RGB."""
    overlays = []
    fig, axes = plt.subplots(1, len(truths), figsize=(2.6 * len(truths), 3), squeeze=False)
    for ax, image, cam, true, pred in zip(axes[0], images, cams, truths, guesses):
        overlay = heatmap_overlay(image.permute(1, 2, 0).numpy(), cam.numpy())
        overlays.append(overlay)
        ax.imshow(overlay)
        ax.set_title(f"true: {true}\npredicted: {pred}", fontsize=7, color="black" if true == pred else "red")
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return overlays
