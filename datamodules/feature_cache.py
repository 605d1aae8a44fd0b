"""Stage-2 feature cache: a frozen backbone under an augmentation with a finite set of variants (the
flips: 4, or 2 when mirroring only) has exactly that many outputs per painting.

The head's input (pooled GAP or SPP features) is computed once per variant, and the head then
trains on those, drawing one variant per sample per batch. Same model, same metrics as the live
path (the backbone is in eval mode either way), at a fraction of the cost.
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from transforms import to_float


class FeatureDataset(Dataset):
    """Samples (features, label, row); features are (V, F) for training variants or (F,) for validation."""

    def __init__(self, features: torch.Tensor, labels, rows):
        self.features, self.labels, self.rows = features, list(labels), list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        return self.features[i], self.labels[i], self.rows[i]


@torch.no_grad()
def compute_features(model, dataset, augmentation=None, batch_size: int = 64, desc: str = "",
                     size: int | None = None) -> torch.Tensor:
    """Head inputs for every sample of an image dataset: (N, V, F) float32, exactly the live values.

    V is `augmentation.variants` (each made by `augmentation.variant`), or 1 (the painting as is)
    without an augmentation.
    """
    was_training = model.training
    model.eval()
    out = []
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    variants = [lambda x: x] if augmentation is None else [
        lambda x, i=i: augmentation.variant(x, i) for i in range(augmentation.variants)]
    try:
        for images, _labels, _rows in tqdm(loader, desc=desc, unit="batch", mininterval=2.0):
            images = to_float(images.to(model.device))
            if size is not None and images.shape[-1] != size:
                images = torch.nn.functional.interpolate(images, size=(size, size), mode="bilinear",
                                                         align_corners=False, antialias=True)
            per_variant = [model.features(variant(images)).float().cpu() for variant in variants]
            out.append(torch.stack(per_variant, dim=1))
    finally:
        model.train(was_training)
    return torch.cat(out)


def pick_variants(features: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One random variant per sample from (B, V, F)."""
    batch, variants = features.shape[:2]
    choice = torch.randint(0, variants, (batch,), generator=generator).to(features.device)
    return features[torch.arange(batch, device=features.device), choice]
