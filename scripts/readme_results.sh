#!/usr/bin/env bash
# Reproduces the README's learning results on a CPU machine (several hours
# on 2 cores). Steps whose output exists are skipped, so an interrupted run
# picks up where it stopped. Usage:
#   bash scripts/readme_results.sh [OUT]   (default OUT=out)
#
# 1. Recovery-rich play (dataset version 1.3.0, `state_full`: the episodes
#    of 1.1.0 and the commanded tool pose; the results were measured on
#    1.2.0, whose states and actions 1.3.0 repeats bitwise): GCBC, the floors (random policy,
#    nearest-neighbour replay), the noise ablation (sigma 0.15 and 0.6, OU),
#    action chunks of 8, relative and commanded-pose features, the logistic
#    head, success against hours of play (30 min, 1 h, 12 h, 24 h), history
#    length, Play-LMP, C-BESO and CFG-BESO, the best recipe (relative
#    features on 12 h, three training seeds, each acting with and without
#    a sliding window) and the sanity ladder, evaluated
#    with 10 starts per task x 3 seeds.
# 2. The earlier results on noise-free play (`state_full_clean`, the same
#    data as version 1.0.0): GCBC, LMP, CFG-BESO, C-BESO, GCBC on 12 hours,
#    BESO's sweep and play generator, diagnostics, the comparison plots;
#    evaluated as they were then (5 starts x 2 seeds, perturbed, chains).
# 3. Where gpu/ holds what scripts/gpu_results.sh wrote on a GPU (the
#    full-size configs; docs/results.md, "2026-12-04 (GPU)"), and
#    gpu_recipes/ what scripts/gpu_recipes.sh wrote (Play-LMP and BESO with
#    the CPU recipe), their evaluation here.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out}
PY=${PY:-.venv/bin/python}
V=1.3.0
D=$OUT/full/playtable_play/state_full/$V
C=$OUT/full/playtable_play/state_full_clean/$V
EVAL_FLAGS=(--episodes_per_task=10 --seeds=0,1,2 --chains=0)
CLEAN_EVAL_FLAGS=(--episodes_per_task=5 --seeds=0,1 --perturb=0.4 --chains=20)
# BESO's figures before 2026-12-04's seventh session acted greedily (one
# fixed noise, then the default); a saved BESO policy now samples.
GREEDY=--nosample

collect() {  # config
  [ -f "$OUT/full/playtable_play/$1/$V/statistics.json" ] || \
    $PY scripts/collect_play.py --config="$1" --data_dir=$OUT/full
}
train() {  # name dataset config [flags...]
  local name=$1 data=$2 config=$3; shift 3
  [ -f "$OUT/$name/policy/policy.json" ] || \
    $PY scripts/train.py --config="$config" --config.dataset_dir="$data" \
      --workdir=$OUT/$name "$@"
}
evaluate() {  # name [flags...]
  local name=$1; shift
  [ -f "$OUT/eval/$name/results.json" ] || \
    $PY scripts/evaluate.py --policy=$OUT/$name/policy \
      --out_dir=$OUT/eval/$name "$@"
}
pretrain() {  # name dataset [flags...]: the conv encoder of width 16 (lr
  # 3e-4) pretrained and probed, unless its probe.json exists.
  local name=$1 data=$2; shift 2
  [ -f "$OUT/$name/probe.json" ] || \
    $PY scripts/pretrain_encoder.py --dataset_dir="$data" \
      --workdir=$OUT/$name --encoder=conv --encoder_width=16 --lr=3e-4 "$@"
}
evaluate_policies() {  # name seeds policy...: 5 starts x 18 tasks a seed
  # of the policies (several: one ensemble), written to $OUT/eval/name.
  local name=$1 seeds=$2 paths; shift 2
  paths=$(printf '%s,' "$@")
  [ -f "$OUT/eval/$name/results.json" ] || \
    $PY scripts/evaluate.py --policy="${paths%,}" --out_dir=$OUT/eval/$name \
      --episodes_per_task=5 --seeds=$seeds --chains=0 --videos_per_task=1
}
evaluate_pixels() {  # dataset name...: a pixel policy's 180 episodes from
  # the cameras (5 starts x 18 tasks x seeds 0-1) and held-out imitation.
  local data=$1 name; shift
  for name in "$@"; do
    evaluate_policies $name 0,1 $OUT/$name/policy
    [ -f "$OUT/eval/$name/diagnose.json" ] || \
      $PY scripts/diagnose_policy.py --policy=$OUT/$name/policy \
        --dataset_dir="$data" --goal_horizon=64 \
        --out=$OUT/eval/$name/diagnose.json
  done
}
lmp_recipe() {  # name dataset encoder [flags...]: the best pixel recipe
  # (Play-LMP, $PIX, the robot's state, 12k steps) on a frozen encoder.
  local name=$1 data=$2 encoder=$3; shift 3
  train $name "$data" playlearn/configs/lmp.py:cpu \
    --config.encoder=$encoder "${PIX[@]:1}" \
    --config.total_steps=12000 --config.data.proprio=True "$@"
}
lmp_12h() {  # name encoder [flags...]: the best pixel recipe on the 12 hours.
  local name=$1; shift
  lmp_recipe $name "$L12" "$@"
}
describe() {  # name dataset: the tasks played ($OUT/describe/name).
  [ -f "$OUT/describe/$1/segments.json" ] || \
    $PY scripts/describe_dataset.py --dataset_dir="$2" --out_dir=$OUT/describe/$1
}
evaluate_act() {  # name suffix act [flags...]: acting with --act=act
  local name=$1 suffix=$2 act=$3; shift 3
  [ -f "$OUT/eval/${name}_$suffix/results.json" ] || \
    $PY scripts/evaluate.py --policy=$OUT/$name/policy --act="$act" \
      --out_dir=$OUT/eval/${name}_$suffix "$@"
}

# --- 1. recovery-rich play ------------------------------------------------
collect state_full
train gcbc "$D" playlearn/configs/gcbc.py:cpu
evaluate gcbc "${EVAL_FLAGS[@]}"
[ -f "$OUT/eval/random/results.json" ] || \
  $PY scripts/evaluate.py --baseline=random --out_dir=$OUT/eval/random \
    --videos_per_task=0 "${EVAL_FLAGS[@]}"
[ -f "$OUT/eval/nearest/results.json" ] || \
  $PY scripts/evaluate.py --baseline=nearest --dataset_dir="$D" \
    --out_dir=$OUT/eval/nearest --videos_per_task=0 \
    --episodes_per_task=10 --seeds=0 --chains=0
# The noise ablation: white noise of 0.15 and 0.6, correlated (OU) noise.
for noise in sigma15 sigma60 ou; do
  collect state_full_$noise
  train gcbc_$noise "$OUT/full/playtable_play/state_full_$noise/$V" \
    playlearn/configs/gcbc.py:cpu
  evaluate gcbc_$noise --videos_per_task=0 "${EVAL_FLAGS[@]}"
done
# Observation features and action chunking, one change at a time.
train gcbc_chunk8 "$D" playlearn/configs/gcbc.py:cpu --config.model.chunk=8
evaluate gcbc_chunk8 --videos_per_task=0 "${EVAL_FLAGS[@]}"
train gcbc_relative "$D" playlearn/configs/gcbc.py:cpu \
  --config.data.features=relative
evaluate gcbc_relative "${EVAL_FLAGS[@]}"
train gcbc_relative_target "$D" playlearn/configs/gcbc.py:cpu \
  --config.data.features=relative_target
evaluate gcbc_relative_target "${EVAL_FLAGS[@]}"
# The logistic-mixture head in place of the MSE head (the only change).
train gcbc_logistic "$D" playlearn/configs/gcbc.py:cpu --config.model.head=logistic
evaluate gcbc_logistic --videos_per_task=0 "${EVAL_FLAGS[@]}"
# Success against hours of play: 30 min, 1 h, (3 h is `gcbc` above), 12 h.
for play in state_30min state_1h state_large; do
  collect $play
  train gcbc_$play "$OUT/full/playtable_play/$play/$V" playlearn/configs/gcbc.py:cpu
  evaluate gcbc_$play --videos_per_task=0 "${EVAL_FLAGS[@]}"
done
train gcbc_state_large_24k "$OUT/full/playtable_play/state_large/$V" \
  playlearn/configs/gcbc.py:cpu --config.total_steps=24000
evaluate gcbc_state_large_24k --videos_per_task=0 "${EVAL_FLAGS[@]}"
train gcbc_state_large_48k "$OUT/full/playtable_play/state_large/$V" \
  playlearn/configs/gcbc.py:cpu --config.total_steps=48000
evaluate gcbc_state_large_48k --videos_per_task=0 "${EVAL_FLAGS[@]}"
# History: none (a Markov policy: one-step windows, the GRU reset every step,
# 1,024 windows a batch, goals up to 128 steps ahead), and a longer one
# (windows of 32-64 steps, the GRU reset every 64 when acting).
train gcbc_markov "$D" playlearn/configs/gcbc.py:cpu \
  --config.data.kappa_min=1 --config.data.kappa_max=1 \
  --config.model.reset_every=1 --config.data.batch_size=1024 \
  --config.data.goal_horizon=128
evaluate gcbc_markov --videos_per_task=0 "${EVAL_FLAGS[@]}"
train gcbc_history64 "$D" playlearn/configs/gcbc.py:cpu \
  --config.data.kappa_min=32 --config.data.kappa_max=64 \
  --config.model.reset_every=64
evaluate gcbc_history64 --videos_per_task=0 "${EVAL_FLAGS[@]}"
# Play-LMP on recovery-rich play.
train lmp_full "$D" playlearn/configs/lmp.py:cpu
evaluate lmp_full "${EVAL_FLAGS[@]}"
# Optimisation, one change at a time (2026-12-03 evening): an EMA of the
# weights for acting, lr 1e-3 instead of 3e-4, then lr 1e-3 for 24k steps.
train gcbc_ema "$D" playlearn/configs/gcbc.py:cpu --config.ema_decay=0.999
evaluate gcbc_ema "${EVAL_FLAGS[@]}"
train gcbc_lr1e3 "$D" playlearn/configs/gcbc.py:cpu --config.optimizer.lr=1e-3
evaluate gcbc_lr1e3 "${EVAL_FLAGS[@]}"
train gcbc_lr1e3_24k "$D" playlearn/configs/gcbc.py:cpu \
  --config.optimizer.lr=1e-3 --config.total_steps=24000
evaluate gcbc_lr1e3_24k "${EVAL_FLAGS[@]}"
# 2026-12-04: Gaussian noise of 0.1 on the training observations (lr 1e-3);
# lr 1e-3 on 12 hours of play for 48k steps; Play-LMP with beta 0.01.
train gcbc_lr1e3_noise10 "$D" playlearn/configs/gcbc.py:cpu \
  --config.optimizer.lr=1e-3 --config.data.obs_noise=0.1
evaluate gcbc_lr1e3_noise10 "${EVAL_FLAGS[@]}"
train gcbc_large_lr1e3_48k "$OUT/full/playtable_play/state_large/$V" \
  playlearn/configs/gcbc.py:cpu --config.optimizer.lr=1e-3 \
  --config.total_steps=48000
evaluate gcbc_large_lr1e3_48k "${EVAL_FLAGS[@]}"
train lmp_beta01 "$D" playlearn/configs/lmp.py:cpu --config.model.beta=0.01
evaluate lmp_beta01 "${EVAL_FLAGS[@]}"
# 2026-12-04, later: BESO on recovery-rich play (C-BESO; CFG-BESO under
# guidance 1, 2, 4), what LMP's plan is worth and how it acts (sampled
# plans, re-planning intervals), GCBC lr 1e-3 on 24 hours of play.
train cbeso "$D" playlearn/configs/beso.py:cpu --config.model.cond_drop_prob=0
evaluate cbeso $GREEDY "${EVAL_FLAGS[@]}"
train cfgbeso "$D" playlearn/configs/beso.py:cpu
[ -f "$OUT/eval/cfgbeso_guidance.json" ] || \
  $PY scripts/sweep_policy.py --policy=$OUT/cfgbeso/policy $GREEDY \
    --variant=guidance=1 --variant=guidance=2 --variant=guidance=4 \
    --episodes_per_task=5 --out=$OUT/eval/cfgbeso_guidance.json
[ -f "$OUT/eval/lmp_beta01/diagnostics_1.2.0.json" ] || \
  $PY scripts/diagnose_policy.py --policy=$OUT/lmp_beta01/policy \
    --dataset_dir="$D" --goal_horizon=96 \
    --out=$OUT/eval/lmp_beta01/diagnostics_1.2.0.json
[ -f "$OUT/eval/lmp_beta01_sample/results.json" ] || \
  $PY scripts/evaluate.py --policy=$OUT/lmp_beta01/policy --sample \
    --out_dir=$OUT/eval/lmp_beta01_sample --episodes_per_task=10 --seeds=0 \
    --chains=0 --videos_per_task=0
[ -f "$OUT/eval/lmp_beta01_replan.json" ] || \
  $PY scripts/sweep_policy.py --policy=$OUT/lmp_beta01/policy \
    --variant=replan_every=16 --variant=replan_every=32 \
    --variant=replan_every=64 --episodes_per_task=5 \
    --out=$OUT/eval/lmp_beta01_replan.json
train cbeso_large "$OUT/full/playtable_play/state_large/$V" \
  playlearn/configs/beso.py:cpu --config.model.cond_drop_prob=0
evaluate cbeso_large $GREEDY "${EVAL_FLAGS[@]}"
collect state_xl
train gcbc_xl_lr1e3_48k "$OUT/full/playtable_play/state_xl/$V" \
  playlearn/configs/gcbc.py:cpu --config.optimizer.lr=1e-3 \
  --config.total_steps=48000
evaluate gcbc_xl_lr1e3_48k "${EVAL_FLAGS[@]}"
# 2026-12-04, evening: the best recipe so far, `relative` features on 12
# hours of play, with three training seeds (the third with a closed-loop
# curve during training); each policy also acting with a sliding 32-step
# window (`act_window=32`, a later session) instead of the GRU restarted
# every 32 steps.
for seed in 0 1 2; do
  name=gcbc_large_relative_48k$([ $seed = 0 ] || echo _seed$seed)
  curve=()
  [ $seed = 2 ] && curve=(--config.evals.suite.every=8000 \
    --config.evals.suite.episodes_per_task=5 \
    --config.evals.suite.videos_per_task=0)
  train $name "$OUT/full/playtable_play/state_large/$V" \
    playlearn/configs/gcbc.py:cpu --config.optimizer.lr=1e-3 \
    --config.total_steps=48000 --config.data.features=relative \
    --config.seed=$seed "${curve[@]}"
  evaluate $name "${EVAL_FLAGS[@]}"
  evaluate_act $name aw32 act_window=32 "${EVAL_FLAGS[@]}"
done
# The window on the raw-feature runs of 12 and 24 hours.
evaluate_act gcbc_large_lr1e3_48k aw32 act_window=32 "${EVAL_FLAGS[@]}"
evaluate_act gcbc_xl_lr1e3_48k aw32 act_window=32 "${EVAL_FLAGS[@]}"
# The window's length on other starts (evaluation seed 3), seeds 0 and 1.
VAL_FLAGS=(--episodes_per_task=10 --seeds=3 --chains=0 --videos_per_task=0)
for name in gcbc_large_relative_48k gcbc_large_relative_48k_seed1; do
  evaluate_act $name val3 "" "${VAL_FLAGS[@]}"
  for k in 16 32 48; do
    evaluate_act $name val3_aw$k act_window=$k "${VAL_FLAGS[@]}"
  done
done
# Goals up to 64 steps beyond the window (the suite's are 40-110 steps
# away; sixth session): GCBC's recipe (training seeds 0 and 1, acting both
# ways) and C-BESO.
L=$OUT/full/playtable_play/state_large/$V
for seed in 0 1; do
  name=gcbc_large_relative_48k_gh64$([ $seed = 0 ] || echo _seed$seed)
  train $name "$L" playlearn/configs/gcbc.py:cpu --config.seed=$seed \
    --config.optimizer.lr=1e-3 --config.total_steps=48000 \
    --config.data.features=relative --config.data.goal_horizon=64
  evaluate $name "${EVAL_FLAGS[@]}"
  evaluate_act $name aw32 act_window=32 "${EVAL_FLAGS[@]}"
done
train cbeso_rel_gh64 "$L" playlearn/configs/beso.py:cpu \
  --config.model.cond_drop_prob=0 --config.data.features=relative \
  --config.data.goal_horizon=64 --config.evals.suite.every=0
evaluate cbeso_rel_gh64 $GREEDY "${EVAL_FLAGS[@]}"
# 2026-12-04 (seventh session): C-BESO acting greedily (one fixed noise)
# against sampling (the default now); the commanded pose's lead as a
# feature (relative_target); action chunks of 10 executed open loop from one
# observation, as the reference's CALVIN agents; 8 and 16 observations.
CB=(playlearn/configs/beso.py:cpu --config.model.cond_drop_prob=0
  --config.data.goal_horizon=64 --config.evals.suite.every=0)
C10=(--config.model.chunk=10 --config.model.execute=10 --config.model.obs_window=1)
train cbeso_c10_w1 "$L" "${CB[@]}" --config.data.features=relative "${C10[@]}"
train cbeso_c10_w4 "$L" "${CB[@]}" --config.data.features=relative \
  --config.model.chunk=10 --config.model.execute=10
train cbeso_tgt "$L" "${CB[@]}" --config.data.features=relative_target
train cbeso_tgt_c10_w1 "$L" "${CB[@]}" --config.data.features=relative_target \
  "${C10[@]}"
for w in 8 16; do
  train cbeso_tgt_w$w "$L" "${CB[@]}" --config.data.features=relative_target \
    --config.model.obs_window=$w
  evaluate cbeso_tgt_w$w "${EVAL_FLAGS[@]}"
done
for name in cbeso_c10_w1 cbeso_tgt cbeso_tgt_c10_w1; do
  evaluate $name $GREEDY "${EVAL_FLAGS[@]}"
  evaluate_act $name sample "" --sample "${EVAL_FLAGS[@]}"
done
evaluate_act cbeso_c10_w4 s0 "" $GREEDY --videos_per_task=0 \
  --episodes_per_task=10 --seeds=0 --chains=0
evaluate_act cbeso_tgt sample_ddim10 num_steps=10 --sample "${EVAL_FLAGS[@]}"
evaluate_act cbeso_tgt avg16 average=16 "${EVAL_FLAGS[@]}"
train cbeso_tgt_seed1 "$L" "${CB[@]}" --config.data.features=relative_target \
  --config.seed=1
evaluate_act cbeso_tgt_seed1 sample "" --videos_per_task=0 "${EVAL_FLAGS[@]}"
# CFG-BESO (beso.py:cpu's own variant) the same way, sampled, guidance 1 and 2.
train cfgbeso_tgt "$L" playlearn/configs/beso.py:cpu \
  --config.data.goal_horizon=64 --config.evals.suite.every=0 \
  --config.data.features=relative_target
evaluate_act cfgbeso_tgt sample "" "${EVAL_FLAGS[@]}"
evaluate_act cfgbeso_tgt sample_g2 guidance=2 --videos_per_task=0 \
  "${EVAL_FLAGS[@]}"
# 2026-12-05 (eighth session): C-BESO with its history carried in a GRU, as
# GCBC's policy carries it, on GCBC's batches (64 windows, every step a
# target, lr 1e-3), acting with a sliding window of 32 observations.
GRU=(--config.model.network=gru --config.model.obs_window=32
  --config.data.batch_size=64 --config.optimizer.lr=1e-3)
train cbeso_gru "$L" "${CB[@]}" --config.data.features=relative_target "${GRU[@]}"
evaluate cbeso_gru "${EVAL_FLAGS[@]}"
evaluate_act cbeso_gru avg8 average=8 --videos_per_task=0 "${EVAL_FLAGS[@]}"
evaluate_act cbeso_gru greedy "" $GREEDY --videos_per_task=0 "${EVAL_FLAGS[@]}"
train cbeso_gru_seed1 "$L" "${CB[@]}" --config.data.features=relative_target \
  "${GRU[@]}" --config.seed=1
evaluate cbeso_gru_seed1 --videos_per_task=0 "${EVAL_FLAGS[@]}"
# 2026-12-05 (ninth session): Play-LMP with GCBC's whole recipe, goals up to
# 64 steps past the window included (about 95 min alone on 2 cores); and
# the perturbed starts (tool moved 0.4 m) and 5-task chains of the best
# policies of each method.
train lmp_gh64 "$L" playlearn/configs/lmp.py:cpu --config.optimizer.lr=1e-3 \
  --config.total_steps=48000 --config.data.features=relative \
  --config.data.goal_horizon=64 --config.evals.suite.every=0
PC_FLAGS=(--episodes_per_task=10 --seeds=0,1,2 --perturb=0.4 --chains=20)
evaluate lmp_gh64 "${PC_FLAGS[@]}"
evaluate_act cbeso_gru perturbed_chains "" --videos_per_task=0 "${PC_FLAGS[@]}"
evaluate_act gcbc_large_relative_48k_gh64 perturbed_chains "" \
  --videos_per_task=0 "${PC_FLAGS[@]}"
# Pixels (issue 12): the cameras, a small image dataset and DynaMo
# pretraining of the conv encoder, probed as initialised and as pretrained.
$PY scripts/camera_report.py --out_dir=$OUT/cameras
$PY scripts/collect_play.py --config=images_small --data_dir=$OUT/data
pretrain dynamo_small $OUT/data/playtable_play/images_small/$V --steps=1000
# 2026-12-05 (tenth session): C-BESO-GRU with GCBC's `relative` features
# instead of `relative_target` (the commanded pose's lead), one change.
train cbeso_gru_rel "$L" "${CB[@]}" --config.data.features=relative "${GRU[@]}"
evaluate cbeso_gru_rel --videos_per_task=1 "${EVAL_FLAGS[@]}"
evaluate_act cbeso_gru_rel perturbed_chains "" --videos_per_task=0 "${PC_FLAGS[@]}"
# Pixel policies (issue 12): 3 hours of image play (the same play as
# state_full), a frozen conv encoder as initialised (0 steps of DynaMo) and
# after DynaMo on that play, Play-GCBC on each encoder's embeddings with the
# 3-hour GCBC recipe (lr 1e-3, 12k steps), evaluated from the cameras.
collect images_full
I=$OUT/full/playtable_play/images_full/$V
for steps in 0 1000; do
  name=$([ $steps = 0 ] && echo encoder_init || echo dynamo_full)
  pretrain $name "$I" --steps=$steps
  train gcbc_pixels_${name#encoder_} "$I" playlearn/configs/gcbc.py:cpu \
    --config.encoder=$OUT/$name/encoder --config.optimizer.lr=1e-3
  evaluate gcbc_pixels_${name#encoder_} --episodes_per_task=5 --seeds=0,1 \
    --chains=0 --videos_per_task=1
done
# ACT-JEPA on the small image play (chunks of 10), probed, then acting.
pretrain act_jepa_small $OUT/data/playtable_play/images_small/$V \
  --objective=act_jepa --chunk=10 --steps=1000
[ -f "$OUT/eval/act_jepa_small/results.json" ] || \
  $PY scripts/evaluate.py --policy=$OUT/act_jepa_small/encoder \
    --out_dir=$OUT/eval/act_jepa_small --episodes_per_task=5 --seeds=0 \
    --chains=0 --videos_per_task=1
# 2026-12-05 (eleventh session): C-BESO-GRU `relative` with half the steps
# (15k) and with 40k, each with 20 chains; the acting sweep of the 30k
# policy (90 episodes a variant).
train cbeso_gru_rel_15k "$L" "${CB[@]}" --config.data.features=relative \
  "${GRU[@]}" --config.total_steps=15000
evaluate cbeso_gru_rel_15k --videos_per_task=1 --episodes_per_task=10 \
  --seeds=0,1,2
train cbeso_gru_rel_40k "$L" "${CB[@]}" --config.data.features=relative \
  "${GRU[@]}" --config.total_steps=40000
evaluate cbeso_gru_rel_40k --videos_per_task=1 --episodes_per_task=10 \
  --seeds=0,1,2
[ -f "$OUT/eval/cbeso_gru_rel_sweep.json" ] || \
  $PY scripts/sweep_policy.py --policy=$OUT/cbeso_gru_rel/policy \
    --episodes_per_task=5 --seed=0 --variant=num_steps=3 \
    --variant=average=4 --variant=average=16 --variant=num_steps=10 \
    --out=$OUT/eval/cbeso_gru_rel_sweep.json
# Pixel GCBC fine-tuned with its encoder (issue 12): the DynaMo policy above
# as the start, the encoder trained with it (32 windows of 16 steps, lr 3e-4,
# 1,000 steps).
train gcbc_pixels_ft "$I" playlearn/configs/gcbc.py:cpu \
  --config.encoder=$OUT/dynamo_full/encoder \
  --config.init_policy=$OUT/gcbc_pixels_dynamo_full/policy \
  --config.train_encoder=True --config.optimizer.lr=3e-4 \
  --config.optimizer.warmup_steps=100 --config.total_steps=1000 \
  --config.data.batch_size=32 --config.data.kappa_min=16 \
  --config.data.kappa_max=16 --config.data.goal_horizon=96 \
  --config.evals.val.every=250 --config.evals.suite.every=0
evaluate gcbc_pixels_ft --episodes_per_task=5 --seeds=0,1 --chains=0 \
  --videos_per_task=1
# 12 hours of image play (state_large's episodes with both cameras).
collect images_large
# 2026-12-05 (twelfth session): pixel GCBC on the 12 hours of image play,
# DynaMo's frozen encoder (pretrained on the 3 hours), the state recipe's lr
# and goals (lr 1e-3, goals up to 64 steps past the window), 24k steps;
# then the same with the robot's own state beside the embeddings
# (--config.data.proprio=True), and with the goal's robot state hidden
# (--config.data.goals=scene). 180 episodes each, and held-out imitation.
L12=$OUT/full/playtable_play/images_large/$V
PIX=(--config.encoder=$OUT/dynamo_full/encoder --config.optimizer.lr=1e-3
  --config.data.goal_horizon=64 --config.evals.val.every=2000
  --config.evals.suite.every=0)
train gcbc_pixels_large "$L12" playlearn/configs/gcbc.py:cpu "${PIX[@]}" \
  --config.total_steps=24000
train gcbc_pixels_large_proprio "$L12" playlearn/configs/gcbc.py:cpu \
  "${PIX[@]}" --config.total_steps=24000 --config.data.proprio=True
train gcbc_pixels_large_proprio_scene "$L12" playlearn/configs/gcbc.py:cpu \
  "${PIX[@]}" --config.total_steps=24000 --config.data.proprio=True \
  --config.data.goals=scene
evaluate_pixels "$L12" gcbc_pixels_large gcbc_pixels_large_proprio \
  gcbc_pixels_large_proprio_scene
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_large \
  --results="3h=$OUT/eval/gcbc_pixels_dynamo_full/results.json,\
12h=$OUT/eval/gcbc_pixels_large/results.json,\
12h+robot=$OUT/eval/gcbc_pixels_large_proprio/results.json,\
12h+robot+scene=$OUT/eval/gcbc_pixels_large_proprio_scene/results.json"
cp $OUT/compare/pixels_large/comparison.png docs/pixels/pixels_large_comparison.png
# 2026-12-05 (thirteenth session): pixel Play-LMP on the same embeddings
# (12k steps); DynaMo with frames 4 control steps apart; DynaMo with the
# conv encoder's grid head (each feature map averaged over 6 x 6 cells, in
# place of the spatial softmax's keypoints), probed, and GCBC on its
# embeddings of the 12 hours.
train lmp_pixels_large "$L12" playlearn/configs/lmp.py:cpu "${PIX[@]}" \
  --config.total_steps=12000
pretrain dynamo_stride4 "$I" --steps=1000 --frame_stride=4
pretrain dynamo_grid "$I" --steps=1000 --encoder_head=grid
PIX_GRID=("${PIX[@]}")
PIX_GRID[0]=--config.encoder=$OUT/dynamo_grid/encoder
train gcbc_pixels_grid "$L12" playlearn/configs/gcbc.py:cpu "${PIX_GRID[@]}" \
  --config.total_steps=24000
train lmp_pixels_grid "$L12" playlearn/configs/lmp.py:cpu "${PIX_GRID[@]}" \
  --config.total_steps=12000
train lmp_pixels_grid_seed1 "$L12" playlearn/configs/lmp.py:cpu \
  "${PIX_GRID[@]}" --config.total_steps=12000 --config.seed=1
evaluate_pixels "$L12" lmp_pixels_large gcbc_pixels_grid lmp_pixels_grid \
  lmp_pixels_grid_seed1
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_grid \
  --results="GCBC keypoints=$OUT/eval/gcbc_pixels_large/results.json,\
GCBC grid=$OUT/eval/gcbc_pixels_grid/results.json,\
LMP keypoints=$OUT/eval/lmp_pixels_large/results.json,\
LMP grid=$OUT/eval/lmp_pixels_grid/results.json,\
LMP grid seed 1=$OUT/eval/lmp_pixels_grid_seed1/results.json"
cp $OUT/compare/pixels_grid/comparison.png docs/pixels/pixels_grid_comparison.png
# 2026-12-05 (fourteenth session): the grid head with 12 x 12 cells, and
# DynaMo 3,000 steps in place of 1,000 (probed); Play-LMP on the longer-
# pretrained encoder's embeddings of the 12 hours, without and with the
# robot's own state.
pretrain dynamo_grid12 "$I" --steps=1000 --encoder_head=grid --encoder_cells=12
pretrain dynamo_grid_3k "$I" --steps=3000 --encoder_head=grid
PIX_3K=("${PIX[@]}")
PIX_3K[0]=--config.encoder=$OUT/dynamo_grid_3k/encoder
train lmp_pixels_grid3k "$L12" playlearn/configs/lmp.py:cpu "${PIX_3K[@]}" \
  --config.total_steps=12000
train lmp_pixels_grid3k_proprio "$L12" playlearn/configs/lmp.py:cpu \
  "${PIX_3K[@]}" --config.total_steps=12000 --config.data.proprio=True
train lmp_pixels_grid3k_proprio_seed1 "$L12" playlearn/configs/lmp.py:cpu \
  "${PIX_3K[@]}" --config.total_steps=12000 --config.data.proprio=True \
  --config.seed=1
evaluate_pixels "$L12" lmp_pixels_grid3k lmp_pixels_grid3k_proprio \
  lmp_pixels_grid3k_proprio_seed1
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_proprio \
  --results="LMP grid 3k=$OUT/eval/lmp_pixels_grid3k/results.json,\
LMP grid 3k + robot state=$OUT/eval/lmp_pixels_grid3k_proprio/results.json,\
the same seed 1=$OUT/eval/lmp_pixels_grid3k_proprio_seed1/results.json"
cp $OUT/compare/pixels_proprio/comparison.png \
  docs/pixels/pixels_proprio_comparison.png
# 2026-12-05 (fifteenth session): that Play-LMP trained twice as long, the
# first pixel BESO (C-BESO with its history in a GRU, the state results'
# best BESO) and GCBC (as trained and with its window) on the same
# embeddings and robot's state.
train lmp_pixels_grid3k_proprio_24k "$L12" playlearn/configs/lmp.py:cpu \
  "${PIX_3K[@]}" --config.total_steps=24000 --config.data.proprio=True
train beso_pixels_grid3k_proprio "$L12" playlearn/configs/beso.py:cpu \
  "${PIX_3K[@]}" --config.data.proprio=True --config.model.cond_drop_prob=0 \
  --config.model.network=gru --config.model.obs_window=32 \
  --config.data.batch_size=64
train gcbc_pixels_grid3k_proprio "$L12" playlearn/configs/gcbc.py:cpu \
  "${PIX_3K[@]}" --config.total_steps=24000 --config.data.proprio=True
evaluate_pixels "$L12" lmp_pixels_grid3k_proprio_24k beso_pixels_grid3k_proprio \
  gcbc_pixels_grid3k_proprio
evaluate_act gcbc_pixels_grid3k_proprio aw32 act_window=32 \
  --episodes_per_task=5 --seeds=0,1 --chains=0 --videos_per_task=1
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_fifteenth \
  --results="LMP 12k + robot state=$OUT/eval/lmp_pixels_grid3k_proprio/results.json,\
LMP 24k + robot state=$OUT/eval/lmp_pixels_grid3k_proprio_24k/results.json,\
C-BESO-GRU + robot state=$OUT/eval/beso_pixels_grid3k_proprio/results.json,\
GCBC + robot state=$OUT/eval/gcbc_pixels_grid3k_proprio/results.json"
cp $OUT/compare/pixels_fifteenth/comparison.png \
  docs/pixels/pixels_fifteenth_comparison.png
# 2026-12-06 (sixteenth session): the reference encoder with no weights
# (each camera's pixels averaged over 12 x 12 cells; saved untrained and
# probed on the 3 hours), and Play-LMP and GCBC on it with the robot's
# state, as on the grid head above; GCBC also with the cells' spread floored.
pretrain pixels12 "$I" --steps=0 --encoder=pixels --encoder_cells=12
PIX_GRID=("${PIX[@]}")
PIX_GRID[0]=--config.encoder=$OUT/pixels12/encoder
train lmp_pixels_pixels12_proprio "$L12" playlearn/configs/lmp.py:cpu \
  "${PIX_GRID[@]}" --config.total_steps=12000 --config.data.proprio=True
train gcbc_pixels_pixels12_proprio "$L12" playlearn/configs/gcbc.py:cpu \
  "${PIX_GRID[@]}" --config.total_steps=24000 --config.data.proprio=True
train gcbc_pixels_pixels12_proprio_floor "$L12" playlearn/configs/gcbc.py:cpu \
  "${PIX_GRID[@]}" --config.total_steps=12000 --config.data.proprio=True \
  --config.data.std_floor=0.05
evaluate_pixels "$L12" lmp_pixels_pixels12_proprio gcbc_pixels_pixels12_proprio \
  gcbc_pixels_pixels12_proprio_floor
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_sixteenth \
  --results="LMP on the grid head=$OUT/eval/lmp_pixels_grid3k_proprio/results.json,\
LMP on pixel means=$OUT/eval/lmp_pixels_pixels12_proprio/results.json,\
GCBC on the grid head=$OUT/eval/gcbc_pixels_grid3k_proprio/results.json,\
GCBC on pixel means=$OUT/eval/gcbc_pixels_pixels12_proprio/results.json,\
GCBC on pixel means with a std floor=$OUT/eval/gcbc_pixels_pixels12_proprio_floor/results.json"
cp $OUT/compare/pixels_sixteenth/comparison.png \
  docs/pixels/pixels_sixteenth_comparison.png
# 2026-12-06 (seventeenth session): an encoder trained to read the
# simulator's state (privileged labels: a reference, not a method for a
# real arm), on every 4th frame of the 12 hours, with the conv encoder's
# keypoint head; then Play-LMP and GCBC on it with the robot's state. And
# the same objective with the grid head on the 3 hours (probed only).
[ -f "$OUT/state_grid/probe.json" ] || \
  $PY scripts/pretrain_encoder.py --dataset_dir="$I" \
    --workdir=$OUT/state_grid --objective=state_regression \
    --encoder=conv --encoder_width=16 --encoder_head=grid \
    --batch_size=128 --lr=1e-3 --steps=3000
[ -f "$OUT/state_keypoints_large/probe.json" ] || \
  $PY scripts/pretrain_encoder.py --dataset_dir="$L12" \
    --workdir=$OUT/state_keypoints_large --objective=state_regression \
    --encoder=conv --encoder_width=16 --encoder_head=keypoints \
    --batch_size=128 --lr=1e-3 --steps=4000 --frame_stride=4
[ -f "$OUT/probes_seventeenth.json" ] || \
  $PY scripts/probe_encoders.py --dataset_dir="$I" \
    --encoders=$OUT/dynamo_grid_3k/encoder,$OUT/pixels12/encoder,$OUT/state_grid/encoder,$OUT/state_keypoints_large/encoder \
    --out=$OUT/probes_seventeenth.json
PIX_STATE=("${PIX[@]}")
PIX_STATE[0]=--config.encoder=$OUT/state_keypoints_large/encoder
train lmp_pixels_state_keypoints_large_proprio "$L12" \
  playlearn/configs/lmp.py:cpu "${PIX_STATE[@]}" --config.total_steps=12000 \
  --config.data.proprio=True
train gcbc_pixels_state_keypoints_large_proprio "$L12" \
  playlearn/configs/gcbc.py:cpu "${PIX_STATE[@]}" --config.total_steps=24000 \
  --config.data.proprio=True
evaluate_pixels "$L12" lmp_pixels_state_keypoints_large_proprio \
  gcbc_pixels_state_keypoints_large_proprio
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_seventeenth \
  --results="LMP on the grid head=$OUT/eval/lmp_pixels_grid3k_proprio/results.json,\
LMP on the state-trained encoder=$OUT/eval/lmp_pixels_state_keypoints_large_proprio/results.json,\
GCBC on the grid head=$OUT/eval/gcbc_pixels_grid3k_proprio/results.json,\
GCBC on the state-trained encoder=$OUT/eval/gcbc_pixels_state_keypoints_large_proprio/results.json"
cp $OUT/compare/pixels_seventeenth/comparison.png \
  docs/pixels/pixels_seventeenth_comparison.png
# ACT-JEPA as the pretraining of a frozen encoder (the grid head, 1,000
# steps on the 3 hours), then GCBC on it with the robot's state (12k steps).
pretrain act_jepa_grid "$I" --objective=act_jepa --chunk=10 --steps=1000 \
  --encoder_head=grid
PIX_ACT=("${PIX[@]}")
PIX_ACT[0]=--config.encoder=$OUT/act_jepa_grid/encoder
train gcbc_pixels_act_jepa_grid_proprio_12k "$L12" playlearn/configs/gcbc.py:cpu \
  "${PIX_ACT[@]}" --config.total_steps=12000 --config.data.proprio=True
evaluate_pixels "$L12" gcbc_pixels_act_jepa_grid_proprio_12k
# 2026-12-06 (eighteenth session): does a finer static view help the block
# tasks? The same 3 hours of play rendered with the static view at 160 px
# (a push 6-7 px in place of 4), DynaMo's grid head (1,000 steps) on each,
# and Play-LMP with the robot's state on each (3 hours, the 12-hour row's
# recipe). And ACT-JEPA pretrained 3,000 steps: acting, and as Play-LMP's
# frozen encoder on the 3 hours.
collect images_full_160px
H=$OUT/full/playtable_play/images_full_160px/$V
[ -f "$OUT/cameras_160/views.md" ] || \
  $PY scripts/camera_report.py --static_size=160 --out_dir=$OUT/cameras_160
pretrain dynamo_grid_160px "$H" --steps=1000 --encoder_head=grid
pretrain act_jepa_grid_3k "$I" --objective=act_jepa --chunk=10 --steps=3000 \
  --encoder_head=grid
[ -f "$OUT/eval/act_jepa_grid_3k/results.json" ] || \
  $PY scripts/evaluate.py --policy=$OUT/act_jepa_grid_3k/encoder \
    --out_dir=$OUT/eval/act_jepa_grid_3k --episodes_per_task=5 --seeds=0,1 \
    --chains=0 --videos_per_task=1
for run in grid:dynamo_grid:"$I" grid_160px:dynamo_grid_160px:"$H" \
  act_jepa_grid_3k:act_jepa_grid_3k:"$I"; do
  IFS=: read -r name encoder data <<<"$run"
  PIX_3H=("${PIX[@]}")
  PIX_3H[0]=--config.encoder=$OUT/$encoder/encoder
  train lmp3h_pixels_${name}_proprio "$data" playlearn/configs/lmp.py:cpu \
    "${PIX_3H[@]}" --config.total_steps=12000 --config.data.proprio=True
  evaluate_pixels "$data" lmp3h_pixels_${name}_proprio
done
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_eighteenth \
  --results="3 h at 96 px=$OUT/eval/lmp3h_pixels_grid_proprio/results.json,\
3 h at 160 px=$OUT/eval/lmp3h_pixels_grid_160px_proprio/results.json,\
3 h at 96 px on ACT-JEPA=$OUT/eval/lmp3h_pixels_act_jepa_grid_3k_proprio/results.json,\
12 h at 96 px (grid head 3k)=$OUT/eval/lmp_pixels_grid3k_proprio/results.json"
cp $OUT/compare/pixels_eighteenth/comparison.png \
  docs/pixels/pixels_eighteenth_comparison.png
# 2026-12-06 (nineteenth session): the 12-hour best row's recipe with one
# change each: half the training goals without the robot's state
# (--config.data.goal_dropout=0.5), the ACT-JEPA-pretrained grid head
# (3,000 steps on the 3 hours) in place of DynaMo's, and both encoders
# stacked (each camera's two embeddings side by side).
lmp_12h lmp_pixels_grid3k_proprio_gd50 $OUT/dynamo_grid_3k/encoder \
  --config.data.goal_dropout=0.5
lmp_12h lmp_pixels_act_jepa_grid_3k_proprio $OUT/act_jepa_grid_3k/encoder
[ -f "$OUT/stacked_grid3k_aj/encoder/encoder.json" ] || \
  $PY scripts/stack_encoders.py \
    --encoders=$OUT/dynamo_grid_3k/encoder,$OUT/act_jepa_grid_3k/encoder \
    --out=$OUT/stacked_grid3k_aj/encoder
lmp_12h lmp_pixels_stacked_grid3k_aj_proprio $OUT/stacked_grid3k_aj/encoder
evaluate_pixels "$L12" lmp_pixels_grid3k_proprio_gd50 \
  lmp_pixels_act_jepa_grid_3k_proprio lmp_pixels_stacked_grid3k_aj_proprio
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_nineteenth \
  --results="DynaMo (best row)=$OUT/eval/lmp_pixels_grid3k_proprio/results.json,\
DynaMo seed 1=$OUT/eval/lmp_pixels_grid3k_proprio_seed1/results.json,\
DynaMo goal dropout 0.5=$OUT/eval/lmp_pixels_grid3k_proprio_gd50/results.json,\
ACT-JEPA=$OUT/eval/lmp_pixels_act_jepa_grid_3k_proprio/results.json,\
both stacked=$OUT/eval/lmp_pixels_stacked_grid3k_aj_proprio/results.json"
cp $OUT/compare/pixels_nineteenth/comparison.png \
  docs/pixels/pixels_nineteenth_comparison.png
# Twentieth session (the same 12 hours and 180 episodes): the stacked row's
# training seeds 1 and 2, and the weightless 12 x 12 cell means (pixels12)
# stacked as a third part.
for seed in 1 2; do
  lmp_12h lmp_pixels_stacked_grid3k_aj_proprio_seed$seed \
    $OUT/stacked_grid3k_aj/encoder --config.seed=$seed
done
[ -f "$OUT/stacked_grid3k_aj_pixels12/encoder/encoder.json" ] || \
  $PY scripts/stack_encoders.py --encoders=$OUT/dynamo_grid_3k/encoder,\
$OUT/act_jepa_grid_3k/encoder,$OUT/pixels12/encoder \
    --out=$OUT/stacked_grid3k_aj_pixels12/encoder
lmp_12h lmp_pixels_stacked_grid3k_aj_pixels12_proprio \
  $OUT/stacked_grid3k_aj_pixels12/encoder
evaluate_pixels "$L12" lmp_pixels_stacked_grid3k_aj_proprio_seed1 \
  lmp_pixels_stacked_grid3k_aj_proprio_seed2 \
  lmp_pixels_stacked_grid3k_aj_pixels12_proprio
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_twentieth \
  --results="DynaMo (seed 0)=$OUT/eval/lmp_pixels_grid3k_proprio/results.json,\
DynaMo seed 1=$OUT/eval/lmp_pixels_grid3k_proprio_seed1/results.json,\
stacked (seed 0)=$OUT/eval/lmp_pixels_stacked_grid3k_aj_proprio/results.json,\
stacked seed 1=$OUT/eval/lmp_pixels_stacked_grid3k_aj_proprio_seed1/results.json,\
stacked seed 2=$OUT/eval/lmp_pixels_stacked_grid3k_aj_proprio_seed2/results.json,\
stacked + pixels12=$OUT/eval/lmp_pixels_stacked_grid3k_aj_pixels12_proprio/results.json"
cp $OUT/compare/pixels_twentieth/comparison.png \
  docs/pixels/pixels_twentieth_comparison.png
# Twenty-first session. Ways of acting with the stacked row's seed-0
# policy on evaluation seed 2 (90 episodes each): re-planning every 16
# (as trained), 8 or 32 steps, and plans sampled from the proposal.
S=$OUT/lmp_pixels_stacked_grid3k_aj_proprio
[ -f $OUT/eval/sweep_stacked_replan.json ] || \
  $PY scripts/sweep_policy.py --policy=$S/policy --episodes_per_task=5 \
    --seed=2 --variant=replan_every=16 --variant=replan_every=8 \
    --variant=replan_every=32 --out=$OUT/eval/sweep_stacked_replan.json
[ -f $OUT/eval/sweep_stacked_sample.json ] || \
  $PY scripts/sweep_policy.py --policy=$S/policy --episodes_per_task=5 \
    --seed=2 --sample --variant=replan_every=16 \
    --out=$OUT/eval/sweep_stacked_sample.json
# The stacked row's three training seeds as one ensemble (the mean of
# their actions), and DynaMo's two, on the 180 episodes; the stacked
# seeds and their ensemble again on evaluation seeds 2-3 (180 more).
STACKED=($S/policy ${S}_seed1/policy ${S}_seed2/policy)
G=$OUT/lmp_pixels_grid3k_proprio
evaluate_policies ensemble_stacked_3seeds 0,1 "${STACKED[@]}"
evaluate_policies ensemble_grid3k_2seeds 0,1 $G/policy ${G}_seed1/policy
evaluate_policies ensemble_stacked_3seeds_s23 2,3 "${STACKED[@]}"
for seed in 0 1 2; do
  evaluate_policies stacked_seed${seed}_s23 2,3 "${STACKED[$seed]}"
done
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_twenty_first \
  --results="stacked seed 0=$OUT/eval/stacked_seed0_s23/results.json,\
stacked seed 1=$OUT/eval/stacked_seed1_s23/results.json,\
stacked seed 2=$OUT/eval/stacked_seed2_s23/results.json,\
the three as one ensemble=$OUT/eval/ensemble_stacked_3seeds_s23/results.json"
cp $OUT/compare/pixels_twenty_first/comparison.png \
  docs/pixels/pixels_twenty_first_comparison.png
describe images_large "$L12"  # Tasks played in the 12 hours.
# C-BESO with its history in a GRU (the fifteenth session's pixel BESO)
# on the stacked encoder, evaluation seeds 0-1 and 2-3.
train beso_pixels_stacked_grid3k_aj_proprio "$L12" playlearn/configs/beso.py:cpu \
  --config.encoder=$OUT/stacked_grid3k_aj/encoder "${PIX[@]:1}" \
  --config.data.proprio=True --config.model.cond_drop_prob=0 \
  --config.model.network=gru --config.model.obs_window=32 \
  --config.data.batch_size=64
evaluate_pixels "$L12" beso_pixels_stacked_grid3k_aj_proprio
evaluate_policies beso_stacked_s23 2,3 \
  $OUT/beso_pixels_stacked_grid3k_aj_proprio/policy
# Episode by episode on seeds 0-1 (comparison.md's paired table).
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_twenty_first_s01 \
  --results="stacked seed 0=$OUT/eval/lmp_pixels_stacked_grid3k_aj_proprio/results.json,\
stacked seed 1=$OUT/eval/lmp_pixels_stacked_grid3k_aj_proprio_seed1/results.json,\
stacked seed 2=$OUT/eval/lmp_pixels_stacked_grid3k_aj_proprio_seed2/results.json,\
the three as one ensemble=$OUT/eval/ensemble_stacked_3seeds/results.json,\
BESO stacked=$OUT/eval/beso_pixels_stacked_grid3k_aj_proprio/results.json,\
BESO DynaMo=$OUT/eval/beso_pixels_grid3k_proprio/results.json"
# Twenty-second session: are the pushes rare or hard? 12 hours of image
# play from the same seeds in which the play agent pushes 2.5x as often
# (images_large_pushes), and the stacked row's recipe on it, evaluated on
# seeds 0-1 and 2-3 like the rows it is compared with.
collect images_large_pushes
LP=$OUT/full/playtable_play/images_large_pushes/$V
describe images_large_pushes "$LP"
cp $OUT/describe/images_large_pushes/tasks.png \
  docs/pixels/images_large_pushes_tasks.png
lmp_recipe lmp_pixels_stacked_pushes "$LP" $OUT/stacked_grid3k_aj/encoder
evaluate_pixels "$LP" lmp_pixels_stacked_pushes
evaluate_policies stacked_pushes_s23 2,3 $OUT/lmp_pixels_stacked_pushes/policy
# Twenty-third session: issue 12's row (a), an encoder trained end to end
# from scratch with Play-LMP, at the budget this CPU allows (the 3 hours,
# 2,500 steps of 32 windows of 16, DrQ's shift of 4 px), against the same
# budget on a frozen encoder: as initialised, and DynaMo's grid head.
budget_3h() {  # name encoder [flags...]: the recipe on the 3 hours at
  # 2,500 steps of 32 windows of 16 (later flags override lmp_recipe's).
  local name=$1 encoder=$2; shift 2
  lmp_recipe $name "$I" $encoder --config.data.batch_size=32 \
    --config.data.kappa_min=16 --config.data.kappa_max=16 \
    --config.total_steps=2500 --config.evals.val.every=500 \
    --config.checkpoint_every=500 "$@"
}
pretrain conv_grid_init "$I" --steps=0 --encoder_head=grid
budget_3h lmp3h_e2e_scratch $OUT/conv_grid_init/encoder \
  --config.train_encoder=True --config.data.image_shift=4
budget_3h lmp3h_budget_init $OUT/conv_grid_init/encoder
budget_3h lmp3h_budget_dynamo $OUT/dynamo_grid_3k/encoder
evaluate_pixels "$I" lmp3h_e2e_scratch lmp3h_budget_init lmp3h_budget_dynamo
$PY scripts/compare_results.py --out_dir=$OUT/compare/pixels_twenty_third \
  --results="end to end from scratch=$OUT/eval/lmp3h_e2e_scratch/results.json,\
frozen as initialised=$OUT/eval/lmp3h_budget_init/results.json,\
frozen DynaMo grid head 3k=$OUT/eval/lmp3h_budget_dynamo/results.json"
cp $OUT/compare/pixels_twenty_third/comparison.png \
  docs/pixels/pixels_twenty_third_comparison.png
# The sanity ladder: rung 2 (one policy on demonstrations of the 18 tasks)
# with full and with scene-only goals, then rung 1 (single-task, clean
# against recovery-rich) on lift_red_block, press_red_button, open_drawer.
$PY scripts/sanity_ladder.py --out_dir=$OUT/ladder_r2 --rungs=2
mkdir -p $OUT/ladder_r2_scene && ln -sfn ../ladder_r2/data $OUT/ladder_r2_scene/data
$PY scripts/sanity_ladder.py --out_dir=$OUT/ladder_r2_scene --rungs=2 --goals=scene
$PY scripts/sanity_ladder.py --out_dir=$OUT/ladder_r1 --rungs=1 \
  --tasks=lift_red_block,press_red_button,open_drawer

# --- 2. noise-free play (the results of dataset version 1.0.0) ------------
collect state_full_clean
train gcbc_clean "$C" playlearn/configs/gcbc.py:cpu
evaluate gcbc_clean "${CLEAN_EVAL_FLAGS[@]}"
train beso_cfg "$C" playlearn/configs/beso.py:cpu
evaluate beso_cfg $GREEDY "${CLEAN_EVAL_FLAGS[@]}"
train beso_c "$C" playlearn/configs/beso.py:cpu --config.model.cond_drop_prob=0
evaluate beso_c $GREEDY "${CLEAN_EVAL_FLAGS[@]}"
train lmp "$C" playlearn/configs/lmp.py:cpu
evaluate lmp "${CLEAN_EVAL_FLAGS[@]}"
collect state_large_clean
train gcbc_large "$OUT/full/playtable_play/state_large_clean/$V" \
  playlearn/configs/gcbc.py:cpu
evaluate gcbc_large "${CLEAN_EVAL_FLAGS[@]}"
[ -f "$OUT/eval/beso_sweep.json" ] || \
  $PY scripts/sweep_policy.py --policy=$OUT/beso_cfg/policy $GREEDY \
    --out=$OUT/eval/beso_sweep.json
[ -f "$OUT/eval/play_generator.json" ] || \
  $PY scripts/play_generator.py --policy=$OUT/beso_cfg/policy --guidance=0 \
    --dataset_dir="$C" --runs=10 --minutes_per_run=2 \
    --out=$OUT/eval/play_generator.json
for name in gcbc_clean lmp beso_cfg; do
  [ -f "$OUT/eval/$name/diagnostics.json" ] || \
    $PY scripts/diagnose_policy.py --policy=$OUT/$name/policy $GREEDY \
      --dataset_dir="$C" --out=$OUT/eval/$name/diagnostics.json
done
$PY scripts/compare_results.py --out_dir=$OUT/compare \
  --results=GCBC=$OUT/eval/gcbc_clean/results.json,LMP=$OUT/eval/lmp/results.json,CFG-BESO=$OUT/eval/beso_cfg/results.json,C-BESO=$OUT/eval/beso_c/results.json,GCBC-12h=$OUT/eval/gcbc_large/results.json \
  --workdirs=GCBC=$OUT/gcbc_clean,LMP=$OUT/lmp --curve_keys=nll,val/nll
$PY scripts/plot_latents.py --policy=$OUT/lmp/policy --dataset_dir="$C" \
  --out=$OUT/compare/latents_lmp.png

# --- 3. the policies trained on a GPU by scripts/gpu_results.sh ----------
for name in gcbc_full lmp_full beso_full gcbc_b256_lr1e3; do
  [ -f "$OUT/gpu/$name/policy/policy.json" ] || continue
  [ -f "$OUT/eval/gpu_$name/results.json" ] || \
    $PY scripts/evaluate.py --policy=$OUT/gpu/$name/policy $GREEDY \
      --out_dir=$OUT/eval/gpu_$name "${EVAL_FLAGS[@]}"
done
# And by scripts/gpu_recipes.sh (the CPU recipe for Play-LMP and BESO;
# docs/results.md, "2026-12-04 (sixth session)"): each as trained, and
# Play-LMP also acting with a sliding window and a plan per step.
for name in lmp_rel_b001 lmp_rel_b01 cbeso_rel cfgbeso_rel; do
  [ -f "$OUT/gpu_recipes/$name/policy/policy.json" ] || continue
  for act in "" policy.act_window=32,replan_every=1; do
    case $name:$act in cbeso*:?* | cfgbeso*:?*) continue ;; esac
    suffix=${act:+_aw32r1}
    [ -f "$OUT/eval/gpu_recipes_$name$suffix/results.json" ] || \
      $PY scripts/evaluate.py --policy=$OUT/gpu_recipes/$name/policy $GREEDY \
        ${act:+--act=$act} --out_dir=$OUT/eval/gpu_recipes_$name$suffix \
        --videos_per_task=1 "${EVAL_FLAGS[@]}"
  done
done
# Play-LMP with the window, each plan held 16 steps (evaluation seed 0).
P=$OUT/gpu_recipes/lmp_rel_b001/policy
[ ! -f "$P/policy.json" ] || [ -f "$OUT/eval/gpu_recipes_lmp_rel_b001_aw32r16_s0/results.json" ] || \
  $PY scripts/evaluate.py --policy=$P --act=policy.act_window=32,replan_every=16 \
    --out_dir=$OUT/eval/gpu_recipes_lmp_rel_b001_aw32r16_s0 \
    --episodes_per_task=10 --seeds=0 --chains=0 --videos_per_task=0
