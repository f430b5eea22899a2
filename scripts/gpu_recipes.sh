#!/usr/bin/env bash
# The GPU rows of docs/results.md, "2026-12-04 (sixth session)": the CPU
# recipe (12 h of play, `relative` features, lr 1e-3, 48k steps) applied to
# Play-LMP (beta 0.001 and 0.01) and to C-BESO and CFG-BESO, on one NVIDIA
# GPU in about ten minutes:
#   1. 12 h of play (`state_large`) generated on the machine's cores (the
#      101 MB dataset is larger than what a device call may carry; the
#      generator is seeded, so these are the CPU's episodes up to the
#      floating point of another machine: 100.6 MiB on both, not compared
#      byte for byte);
#   2. the trainings side by side, each stopped by SIGTERM after at most
#      TRAIN_S seconds (the trainer then saves a checkpoint and its policy
#      at the step it reached: final_metrics.json says which).
# Evaluate the policies it writes on a CPU with scripts/evaluate.py, as
# scripts/readme_results.sh does. Usage:
#   bash scripts/gpu_recipes.sh OUT [TRAIN_S]
# OUT gets one folder per run (policy/, metrics.jsonl, config.json,
# final_metrics.json), the logs, and runs.tgz with all of them (a device
# call may return few files). Needs what scripts/gpu_results.sh lists, and
# here MuJoCo and dm_control too (for the play); on 2026-12-04's H200 image
# carry also mujoco 3.17.0, dm_control 1.0.50 (its locomotion and suite
# assets can be dropped from the wheel to fit the carry limit), dm-env,
# labmaze, glfw, pyopengl, lxml, pyparsing, tqdm, termcolor,
# importlib_resources, zipp, fsspec, simple_parsing, docstring_parser and
# psutil.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=$1
TRAIN_S=${2:-420}
PY=${PY:-python3}
DATA_DIR=${DATA_DIR:-/tmp/gpu_data}
RUNS=${RUNS:-/tmp/gpu_recipe_runs}  # Checkpoints stay here; OUT gets the rest.
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # Four trainings share the GPU.
mkdir -p "$OUT" "$RUNS"

$PY scripts/collect_play.py --config=state_large --data_dir="$DATA_DIR" \
  >"$OUT/collect.log" 2>&1 || { tail "$OUT/collect.log"; exit 1; }
DATA="$DATA_DIR/playtable_play/state_large/1.3.0"

train() {  # name config [flags...]
  local name=$1 config=$2
  shift 2
  timeout -k 45 "$TRAIN_S" $PY scripts/train.py --config="$config" \
    --config.dataset_dir="$DATA" --config.evals.suite.every=0 \
    --config.data.features=relative --workdir="$RUNS/$name" "$@" \
    >"$OUT/$name.log" 2>&1
  echo "$name: exit $?"
  mkdir -p "$OUT/$name"
  cp -r "$RUNS/$name"/{policy,metrics.jsonl,config.json,final_metrics.json} \
    "$OUT/$name/" 2>/dev/null
}
LMP=(playlearn/configs/lmp.py:cpu --config.optimizer.lr=1e-3
  --config.total_steps=48000)
train lmp_rel_b001 "${LMP[@]}" &
train lmp_rel_b01 "${LMP[@]}" --config.model.beta=0.01 &
train cbeso_rel playlearn/configs/beso.py:cpu \
  --config.model.cond_drop_prob=0 &
train cfgbeso_rel playlearn/configs/beso.py:cpu &
wait
tar czf "$OUT/runs.tgz" -C "$OUT" --exclude=runs.tgz .
