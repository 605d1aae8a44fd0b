#!/usr/bin/env bash
# GPU check (issue 19): on one GPU, (1) model-only vs pipeline images/s for the study's ResNet50 at
# 224 px, bf16 mixed precision, channels_last, batch 128; (2) the three stages of a preset on the
# 49-artist set, with wall time and training images/s per stage (bench/gpu_runs.py).
#   bench/gpu_check.sh throughput          (1)
#   bench/gpu_check.sh train PRESET [ARGS]  (2), run name gpu-PRESET
# Needs the project's packages (`make install`, or a machine's own torch + Lightning with
# PYTHON=python3) and DATA (default ../shared/data/best-artworks-128). Writes bench/gpu_*.json.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
DATA=${DATA:-../shared/data/best-artworks-128}
export WANDB_MODE=disabled PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
case "${1:-throughput}" in
  throughput)
    "$PY" bench/run_bench.py --throughput-only --data "$DATA" --backbone resnet50 --image-size 224 \
      --batch 128 --batches "${BATCHES:-30}" --rounds "${ROUNDS:-3}" --accelerator gpu --precision bf16-mixed \
      --out gpu_results ;;
  train)
    preset=${2:?preset}; shift 2
    for stage in 1 2 3; do
      start=$SECONDS
      "$PY" -m artist_cli.train fit --preset "$preset" --config "configs/stage$stage.yaml" --run "gpu-$preset" \
        --data.root "$DATA" --trainer.enable_progress_bar=false "$@" || exit 1
      echo "stage$stage of gpu-$preset: $((SECONDS - start)) s with start-up"
    done
    "$PY" bench/gpu_runs.py "gpu-$preset" --out "bench/gpu_runs_$preset.json" ;;
  *) echo "usage: $0 throughput | train PRESET [ARGS]" >&2; exit 2 ;;
esac
