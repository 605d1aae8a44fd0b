#!/bin/bash
# One headline measurement of a recipe: the three stages timed, stage 3 scored on the validation and
# test parts (test-time views and one pass), and the run's files copied to results/RUN.
#
#   bash bench/recipe_run.sh RUN SEED PRESET [DATA]
#   bash bench/recipe_run.sh default-cosine-all49-seed1 1 default,all ../shared/data/best-artworks-128
#
# Rerunning it resumes an interrupted stage from its last.ckpt. Seeds of one recipe summarise with
# `python -m reports.seeds results/RUN_A results/RUN_B`. Environment: RUNS (runs folder, default
# runs), RESULTS (default results), ARGS (more CLI overrides for every stage), STAGE1_ARGS (for stage 1
# alone, e.g. "--trainer.max_epochs=24").
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=$1; SEED=$2; PRESET=$3; DATA=${4:-data/sample}
RUNS=${RUNS:-runs}; RESULTS=${RESULTS:-results}
stage() { make "$1" DATA="$DATA" RUN="$RUN" PRESET="$PRESET" ARGS="--seed_everything=$SEED --runs_dir=$RUNS ${ARGS:-} ${2:-}"; }

start=$(date +%s); stage stage1 "${STAGE1_ARGS:-}"
one=$(date +%s); stage stage2
two=$(date +%s); stage stage3
end=$(date +%s)
echo "{\"stage1_s\": $((one - start)), \"stage2_s\": $((two - one)), \"stage3_s\": $((end - two)), \"total_s\": $((end - start))}" \
  > "$RUNS/$RUN/wall_clock.json"

for part in val test; do
  for views in views plain; do
    make evaluate CKPT="$RUNS/$RUN/stage3/best.ckpt" SPLIT="$RUNS/$RUN/split.csv" PART=$part \
      $([ $views = plain ] && echo VIEWS=plain) OUT="$RUNS/$RUN/stage3_${views}_$part.json"
  done
done

out=$RESULTS/$RUN; mkdir -p "$out"
cp "$RUNS/$RUN/summary.json" "$RUNS/$RUN/wall_clock.json" "$RUNS/$RUN"/stage3_*_*.json "$out/"
for s in stage1 stage2 stage3; do
  cp "$RUNS/$RUN/$s/logs/config.yaml" "$out/${s}_config.yaml"
  for f in metrics.json per_artist.csv confusions.csv curves.png; do
    if [ -f "$RUNS/$RUN/$s/$f" ]; then cp "$RUNS/$RUN/$s/$f" "$out/${s}_$f"; fi
  done
done
echo "results in $out"
