"""Diagnostic (docs/experiments.md, "Consistency"): does a consistency stage 1 lose clean accuracy through
BatchNorm statistics that mix clean and degraded copies? Re-estimate them on clean (rotate/zoom-augmented)
training paintings, then score validation.

    PYTHONPATH=. .venv/bin/python bench/bn_reestimate.py runs/RUN/stage1/best.ckpt runs/RUN
"""
import sys
import torch
from torchmetrics.classification import MulticlassF1Score, MulticlassAccuracy
from datamodules import PaintingsDataModule
from lightning_modules.checkpoints import init_args, read_checkpoint, rebuild_model

torch.manual_seed(0)
ckpt = read_checkpoint(sys.argv[1])
model = rebuild_model(ckpt)
hp = init_args(PaintingsDataModule, ckpt["datamodule_hyper_parameters"])
hp.update(degradations=[], paired_views=False, run_dir=sys.argv[2], num_workers=0)
data = PaintingsDataModule(**hp)
data.setup("fit")

def score():
    model.eval()
    f1 = MulticlassF1Score(data.num_classes, average="macro"); acc = MulticlassAccuracy(data.num_classes, average="micro")
    with torch.no_grad():
        for images, labels, _ in data.val_dataloader():
            logits = model(data.model_inputs(images, training=False))
            f1.update(logits, labels); acc.update(logits, labels)
    return round(f1.compute().item(), 4), round(acc.compute().item(), 4)

print("stored statistics: macro-F1, top-1", score(), flush=True)
for m in model.modules():
    if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
        m.reset_running_stats(); m.momentum = None  # cumulative average over the pass
model.train()
with torch.no_grad():
    for i, (images, labels, _) in enumerate(data.train_dataloader()):
        model(data.model_inputs(images, training=True))
print("clean re-estimated statistics: macro-F1, top-1", score(), flush=True)
