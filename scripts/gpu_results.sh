#!/usr/bin/env bash
# The GPU rows of the results (docs/results.md, "2026-12-04 (GPU)") and of
# the speed page (docs/speed.md): on one NVIDIA GPU, in about nine minutes,
#   1. the side-by-side benchmark against PyTorch, both on the GPU;
#   2. the full-size configs (gcbc.py, lmp.py, beso.py: the reference
#      transformer, which is too slow to train on 2 CPU cores) and GCBC's
#      README recipe with 4x its batch, trained side by side for at most
#      TRAIN_S seconds each on 3 hours of play. A run still going then is
#      stopped by SIGTERM: the trainer saves a checkpoint and its policy at
#      the step it reached (final_metrics.json says which).
# Evaluate the policies it writes on a CPU with scripts/evaluate.py, as
# scripts/readme_results.sh does. Usage:
#   bash scripts/gpu_results.sh DATASET_DIR OUT [TRAIN_S]
# DATASET_DIR: a `state_full` version dir; OUT gets bench/, one folder per
# run (policy/, metrics.jsonl, config.json, final_metrics.json) and logs.
# Needs JAX with its CUDA backend, a CUDA build of torch, and playlearn's
# dependencies but MuJoCo and dm_control (neither the trainer nor the
# benchmark loads them). On a machine without network, carry as wheels what
# it lacks: on 2026-12-04's H200 image, array_record, grain,
# tensorflow-datasets with tensorflow-metadata, promise, toml, immutabledict,
# dm-tree, googleapis-common-protos, zstandard and portpicker, ml_collections,
# gymnasium with farama-notifications, tensorboardX; keep the image's own
# jax, flax, optax and orbax (a flax older than its JAX fails to import).
set -uo pipefail
cd "$(dirname "$0")/.."
DATA=$1
OUT=$2
TRAIN_S=${3:-300}
BENCH_S=${BENCH_S:-100}  # Each of the two benchmark calls.
PY=${PY:-python3}
RUNS=${RUNS:-/tmp/gpu_runs}  # Checkpoints stay here; OUT gets the rest.
mkdir -p "$OUT/bench" "$RUNS"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv \
  >"$OUT/gpu.txt" 2>&1

# 0. A few steps first, so that a broken install fails in seconds.
$PY -c 'import jax, flax, optax, torch; print("jax", jax.__version__,
  "flax", flax.__version__, "torch", torch.__version__, jax.devices())' ||
  exit 1
timeout 180 $PY scripts/train.py --config=playlearn/configs/gcbc.py:debug \
  --config.dataset_dir="$DATA" --config.evals.suite.every=0 \
  --config.total_steps=20 --workdir="$RUNS/smoke" || exit 1

# 1. JAX against PyTorch on the GPU (TF32 matrix products in both; the H100
#    and H200 peak 495 TFLOP/s dense in TF32): the train and act figures,
#    then the width curve and the real trainer's overhead, each with its own
#    time limit, so that one cut short leaves the other.
BENCH=(--device=gpu --peak_tflops=495 --calls=50)
timeout "$BENCH_S" $PY scripts/bench_vs_torch.py "${BENCH[@]}" --widths= \
  --out="$OUT/bench/vs_torch_gpu.json" >"$OUT/bench/log.txt" 2>&1
echo "bench: exit $?"
timeout "$BENCH_S" $PY scripts/bench_vs_torch.py "${BENCH[@]}" \
  --train_batches= --act_batches= --widths=120,360 --dataset_dir="$DATA" \
  --trainer_steps=300 --out="$OUT/bench/vs_torch_gpu_curve.json" \
  >"$OUT/bench/log_curve.txt" 2>&1
echo "bench curve and trainer: exit $?"

# 2. The trainings, side by side on the one GPU.
train() {  # name config [flags...]
  local name=$1 config=$2
  shift 2
  XLA_PYTHON_CLIENT_MEM_FRACTION=0.15 timeout -k 45 "$TRAIN_S" \
    $PY scripts/train.py --config="$config" --config.dataset_dir="$DATA" \
    --config.evals.suite.every=0 --config.checkpoint_every=10000 \
    --workdir="$RUNS/$name" "$@" >"$OUT/$name.log" 2>&1
  echo "$name: exit $?"
  mkdir -p "$OUT/$name"
  cp -r "$RUNS/$name"/{policy,metrics.jsonl,config.json,final_metrics.json} \
    "$OUT/$name/" 2>/dev/null
}
train gcbc_full playlearn/configs/gcbc.py &
train lmp_full playlearn/configs/lmp.py &
train beso_full playlearn/configs/beso.py &
train gcbc_b256_lr1e3 playlearn/configs/gcbc.py:cpu \
  --config.data.batch_size=256 --config.optimizer.lr=1e-3 \
  --config.total_steps=50000 &
wait
