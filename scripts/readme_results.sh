#!/usr/bin/env bash
# Reproduces the README's learning results on a CPU machine (about 4 hours
# on 2 cores): the state_full play dataset, GCBC, LMP, CFG-BESO and C-BESO
# (`cpu` config variants), their evaluation on the task suite, BESO's
# sampler/steps/guidance sweep, the goal-free BESO as a play generator, GCBC on
# the 12-hour state_large dataset, and
# the comparison tables and plots. Steps whose output exists are skipped, so
# an interrupted run picks up where it stopped. Usage:
#   bash scripts/readme_results.sh [OUT]   (default OUT=out)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out}
PY=${PY:-.venv/bin/python}
D=$OUT/full/playtable_play/state_full/1.0.0
EVAL_FLAGS=(--episodes_per_task=5 --seeds=0,1 --perturb=0.4 --chains=20)

[ -f "$D/statistics.json" ] || \
  $PY scripts/collect_play.py --config=state_full --data_dir=$OUT/full

train() {  # name config [flags...]
  local name=$1 config=$2; shift 2
  [ -f "$OUT/$name/policy/policy.json" ] || \
    $PY scripts/train.py --config="$config" --config.dataset_dir=$D \
      --workdir=$OUT/$name "$@"
}
evaluate() {  # name
  [ -f "$OUT/eval/$1/results.json" ] || \
    $PY scripts/evaluate.py --policy=$OUT/$1/policy --out_dir=$OUT/eval/$1 \
      "${EVAL_FLAGS[@]}"
}

train gcbc playlearn/configs/gcbc.py:cpu
evaluate gcbc
train beso_cfg playlearn/configs/beso.py:cpu
evaluate beso_cfg
train beso_c playlearn/configs/beso.py:cpu --config.model.cond_drop_prob=0
evaluate beso_c
train lmp playlearn/configs/lmp.py:cpu
evaluate lmp

# More play: GCBC on state_large (12 hours of play, about 25 min to build).
L=$OUT/large/playtable_play/state_large/1.0.0
[ -f "$L/statistics.json" ] || \
  $PY scripts/collect_play.py --config=state_large --data_dir=$OUT/large
[ -f "$OUT/gcbc_large/policy/policy.json" ] || \
  $PY scripts/train.py --config=playlearn/configs/gcbc.py:cpu \
    --config.dataset_dir=$L --workdir=$OUT/gcbc_large
evaluate gcbc_large

[ -f "$OUT/eval/beso_sweep.json" ] || \
  $PY scripts/sweep_policy.py --policy=$OUT/beso_cfg/policy \
    --out=$OUT/eval/beso_sweep.json
[ -f "$OUT/eval/play_generator.json" ] || \
  $PY scripts/play_generator.py --policy=$OUT/beso_cfg/policy --guidance=0 \
    --dataset_dir=$D --runs=10 --minutes_per_run=2 \
    --out=$OUT/eval/play_generator.json
for name in gcbc lmp beso_cfg; do
  [ -f "$OUT/eval/$name/diagnostics.json" ] || \
    $PY scripts/diagnose_policy.py --policy=$OUT/$name/policy --dataset_dir=$D \
      --out=$OUT/eval/$name/diagnostics.json
done
$PY scripts/compare_results.py --out_dir=$OUT/compare \
  --results=GCBC=$OUT/eval/gcbc/results.json,LMP=$OUT/eval/lmp/results.json,CFG-BESO=$OUT/eval/beso_cfg/results.json,C-BESO=$OUT/eval/beso_c/results.json,GCBC-12h=$OUT/eval/gcbc_large/results.json \
  --workdirs=GCBC=$OUT/gcbc,LMP=$OUT/lmp --curve_keys=nll,val/nll
$PY scripts/plot_latents.py --policy=$OUT/lmp/policy --dataset_dir=$D \
  --out=$OUT/compare/latents_lmp.png
