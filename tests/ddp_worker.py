"""Run by tests/test_ddp.py: one frozen-backbone epoch on CPU with N processes (gloo), results per rank.

    python tests/ddp_worker.py DATA OUT_DIR DEVICES LR DENSE_UNITS
"""
import hashlib
import json
import sys
from pathlib import Path

import pytorch_lightning as pl
import torch

from callbacks import BackboneFreeze, FeatureCache
from datamodules import PaintingsDataModule
from lightning_modules import ArtistClassifier


def digest(module: torch.nn.Module) -> str:
    h = hashlib.sha1()
    for name, tensor in module.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class Record(pl.Callback):
    def __init__(self, out: Path):
        self.out = out

    def on_fit_start(self, trainer, pl_module):
        self.backbone_before = digest(pl_module.backbone)

    def on_fit_end(self, trainer, pl_module):
        payload = {
            "rank": trainer.global_rank, "world_size": trainer.world_size,
            "metrics": {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")},
            "backbone_unchanged": digest(pl_module.backbone) == self.backbone_before,
            "backbone_requires_grad": any(p.requires_grad for p in pl_module.backbone.parameters()),
            "backbone_in_eval": not any(m.training for m in pl_module.backbone.modules()),
            "head": digest(pl_module.classifier),
        }
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(payload))


def main() -> None:
    data, out, devices, lr = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    dense_units = [int(u) for u in sys.argv[5].split(",") if u]
    out.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(0)
    dm = PaintingsDataModule(root=str(data), run_dir=str(out.parent / "run"), cache_dir=str(out.parent / "cache"),
                             image_size=32, batch_size=4, train_augment="flips", num_workers=0)
    model = ArtistClassifier(backbone="efficientnet_lite0", pretrained=False, channels_last=False,
                             num_classes=dm.num_classes, artists=dm.artists, dense_units=dense_units, lr=lr)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", devices=devices,
                         strategy="ddp" if devices > 1 else "auto", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
                         callbacks=[BackboneFreeze(frozen=True), FeatureCache(), Record(out)])
    trainer.fit(model, dm)


if __name__ == "__main__":
    main()
