"""What a robustness condition leaves to learn: stage 1 trained on nothing but that condition.

The robustness goal asks one model to lose at most 0.03 top-1 on each condition against clean
paintings while scoring within 0.01 of `default` on clean ones. A model that sees every training
painting as the condition (every one blurred at sigma 1.2, say) is about the best any model can do
on it with this backbone, size and budget: if even it scores more than 0.04 below `default`'s clean
top-1 on the condition, no training mix meets the goal there, because the condition took the
information out of the pixels. (A bound in practice, not a proof: a model that also sees clean
paintings might learn features a little better.)

The condition is registered as one more degradation kind and applied to every training painting
(probability 1) after the stage's augmentation, by the benchmark's own rendering (the same PIL
filters and file format, read back by the project's loader); everything else is the ordinary
`artist_cli.train` command line:

    python -m artist_cli.condition_specialist blur-1.2 fit --preset default,all --config configs/stage1.yaml \\
        --run spec-blur-1.2-all49 --data.root ../shared/data/best-artworks-128 --seed_everything=42
    python -m artist_cli.robustness --ckpt runs/spec-blur-1.2-all49/stage1/last.ckpt \\
        --split runs/spec-blur-1.2-all49/split.csv --conditions clean,blur-1.2 --views plain

Byte for byte only where the paintings are already square at the model's size (the 128 px set at
128 px): elsewhere the benchmark renders the file before the loader's resize, and this after it,
with the default (Lanczos) filter. DDP's subprocess launcher reruns this script, so each process
registers the condition; `ddp_spawn` would not.

A range of blurs is one more condition here, `blur-LOW-HIGH` (e.g. `blur-0.5-1.6`): the benchmark's
blur (PIL's Gaussian, then JPEG 95) at a sigma drawn uniformly from that range for each painting, for a
specialist that must read every softness a router may send it (`bench/routed_pair.py`).

The checkpoint records `degradations: [<condition>]`, which only this script can rebuild: it is a
measuring instrument, not a model to use.
"""
from __future__ import annotations

import re
import sys

import torch
from PIL import Image, ImageFilter

from artist_cli.train import main as train
from datamodules.decoding import load_rgb
from inference.robustness import CONDITIONS, jpeg, render_picture
from transforms import degradations


def as_benchmark_renders(condition: str, image: torch.Tensor, generator=None) -> torch.Tensor:
    """(3, H, W) float picture -> the same picture made into a file by the benchmark's `condition` and read
    back by the project's loader at H x W, exactly as `make robustness` reads its paintings."""
    pixels = (image.detach() * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    seed = int(torch.randint(0, 2**31 - 1, (), generator=generator))
    read = torch.from_numpy(load_rgb(render_picture(Image.fromarray(pixels, "RGB"), condition, seed),
                                     image.shape[-1])).permute(2, 0, 1)
    return read.to(image.device, image.dtype) / 255


def blur_range(low: float, high: float):
    """A benchmark-style render: PIL's Gaussian blur at a sigma drawn from [low, high], saved as JPEG 95."""
    def render(image, rng):
        return image.filter(ImageFilter.GaussianBlur(float(rng.uniform(low, high)))), *jpeg(95)
    return render


def register(condition: str) -> None:
    """Make `condition` a degradation kind, so `--data.degradations=[condition]` applies it."""
    blur = re.fullmatch(r"blur-(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)", condition)
    if blur and float(blur[1]) < float(blur[2]):
        CONDITIONS[condition] = blur_range(float(blur[1]), float(blur[2]))
    if condition not in CONDITIONS or condition == "clean":
        raise SystemExit(f"error: no condition {condition!r}; choose from {', '.join(c for c in CONDITIONS if c != 'clean')}")
    degradations.KINDS[condition] = lambda image, generator=None: as_benchmark_renders(condition, image, generator)
    if condition not in degradations.DEGRADATIONS:
        degradations.DEGRADATIONS = (*degradations.DEGRADATIONS, condition)


def main(argv: list[str]) -> None:
    if not argv or argv[0].startswith("-"):
        raise SystemExit(__doc__)
    condition, cli_args = argv[0], argv[1:]
    register(condition)
    # Validation stays on clean paintings, which a specialist reads badly by design: early stopping on it
    # would cut the stage short (it did, at epoch 13 of 16), so it is off; score last.ckpt, not best.ckpt.
    train([*cli_args, f"--data.degradations=[{condition}]", "--data.degradation_prob=1.0",
           "--early_stopping.patience=1000"])


if __name__ == "__main__":
    main(sys.argv[1:])
