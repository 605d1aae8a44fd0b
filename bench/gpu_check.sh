#!/usr/bin/env bash
# GPU check (issue 5): model-only vs pipeline images/s for ResNet50 at 224 px, bf16 mixed
# precision, channels_last, batch 128, on one GPU. Needs the project's venv on the GPU machine
# (`make install`) and the data beside the repo (../shared/data/best-artworks-128, or the
# embedded sample otherwise). Writes bench/gpu_results.json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
WANDB_MODE=disabled "$PY" bench/run_bench.py --throughput-only --backbone resnet50 --image-size 224 \
  --batch 128 --batches 30 --accelerator gpu --precision bf16-mixed --out gpu_results
