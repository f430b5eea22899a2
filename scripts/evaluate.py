r"""Evaluates a saved policy on the PlayTable task suite.

  python scripts/evaluate.py --policy=out/gcbc/policy --out_dir=out/eval/gcbc \
      --episodes_per_task=10 --seeds=0,1,2 --perturb=0.4 --chains=20
  # The same weights acting otherwise (model config fields, saved as `act`):
  python scripts/evaluate.py --policy=out/gcbc/policy --act=act_window=32
  python scripts/evaluate.py --policy=out/lmp/policy \
      --act=policy.act_window=32,replan_every=1
  # The floors, on the same episodes: a random policy, and nearest-neighbour
  # replay of the play data (playlearn/evaluation/baselines.py).
  python scripts/evaluate.py --baseline=random --out_dir=out/eval/random
  python scripts/evaluate.py --baseline=nearest \
      --dataset_dir=out/full/playtable_play/state_full/1.3.0 \
      --out_dir=out/eval/nearest
  # Policies trained alike from several seeds, acting as one (the mean of
  # their actions; playlearn/evaluation/ensemble.py):
  python scripts/evaluate.py --policy=out/lmp/policy,out/lmp_seed1/policy
  # ACT-JEPA (a saved pretrained model) acting from the cameras:
  python scripts/evaluate.py --policy=out/act_jepa/encoder --out_dir=...

A pixel policy (trained with --config.encoder, or ACT-JEPA) is evaluated in an
env that renders the cameras it reads, with goal images.

For each seed: the 18 tasks from oracle-goal starts (and, with --perturb, the
same with the end-effector displaced first); then --chains CALVIN-style
5-task chains. Writes `results.json` (per-task successes per seed, means,
spreads, the config and the hardware), prints markdown tables, and saves a
few videos per task under `videos/`.
"""

import json
import os
import time

from absl import app
from absl import flags

from playlearn import console
from playlearn import evaluation
from playlearn.data import windows
from playlearn.evaluation import baselines
from playlearn.evaluation import ensemble
from playlearn.evaluation import sweep
from playlearn.models import act_jepa
from playlearn.models import pretrained
from playlearn.policy import Policy

_POLICY = flags.DEFINE_list(
    "policy",
    None,
    "Saved policy directory (or a saved ACT-JEPA model); several, "
    "comma-separated, act as an ensemble: the mean of their actions.",
)
_BASELINE = flags.DEFINE_enum(
    "baseline",
    None,
    ["random", "nearest"],
    "Evaluate a floor instead of --policy.",
)
_DATASET_DIR = flags.DEFINE_string(
    "dataset_dir", None, "Play data of --baseline=nearest (its train split)."
)
_OUT_DIR = flags.DEFINE_string("out_dir", "out/eval", "Output directory.")
_EPISODES = flags.DEFINE_integer("episodes_per_task", 10, "Starts per task.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Evaluation seeds.")
_PERTURB = flags.DEFINE_float(
    "perturb",
    0.0,
    "Also evaluate with the tool displaced this far "
    "(metres; the paper used about 0.4). 0: skip.",
)
_CHAINS = flags.DEFINE_integer("chains", 20, "5-task chains (0: skip).")
_VIDEOS = flags.DEFINE_integer("videos_per_task", 1, "Videos per task.")
_TASKS = flags.DEFINE_list(
    "tasks",
    None,
    "Tasks (default: the 18 of evaluation.EVAL_TASKS); 'easy' for the 9 of "
    "evaluation.EASY_TASKS (fixtures, buttons, lamp).",
)
_STEP_BUDGET = flags.DEFINE_integer(
    "step_budget",
    None,
    "Steps per episode for every task (a diagnostic of slow against wrong "
    "policies). Default: the suite's protocol, twice the oracle's steps and "
    "at most 300 (playlearn.evaluation.suite).",
    lower_bound=1,
)
_SAMPLE = console.define_sample_flag()
_ACT = flags.DEFINE_string(
    "act",
    "",
    "Model config fields that change how the saved policy acts, not its "
    "weights, e.g. act_window=32 (GCBC), policy.act_window=32,replan_every=1 "
    "(LMP: a nested field dotted) or sampler=heun,num_steps=5 (BESO).",
)


def _log(line: str) -> None:
  print(line, flush=True)


def main(argv):
  del argv
  console.quiet_library_logs()
  seeds = [int(s) for s in _SEEDS.value]
  os.makedirs(_OUT_DIR.value, exist_ok=True)

  if (_POLICY.value is None) == (_BASELINE.value is None):
    raise app.UsageError("give one of --policy and --baseline")
  if _ACT.value and _BASELINE.value:
    raise app.UsageError("--act changes a saved policy, not a --baseline")
  act = sweep.parse_variant(_ACT.value)
  if _BASELINE.value == "nearest":
    if not _DATASET_DIR.value:
      raise app.UsageError("--baseline=nearest needs --dataset_dir")
    store = windows.WindowStore.from_dataset(_DATASET_DIR.value, "train")
  paths = _POLICY.value or []
  jepa = any(os.path.exists(os.path.join(p, "encoder.json")) for p in paths)
  if jepa and (_ACT.value or len(paths) > 1):
    raise app.UsageError(
        "--act and ensembles are for saved Policies, not ACT-JEPA"
    )
  greedy = console.greedy_from_sample(_SAMPLE.value)
  if jepa:
    loaded = pretrained.load_actor(paths[0])
  elif len(paths) > 1:  # Loaded and checked once, before any episode.
    loaded = ensemble.Ensemble.load(paths, greedy=greedy)
    changes = sweep.typed(loaded.members[0], act)
  elif paths:
    loaded = Policy.load(paths[0], greedy=greedy)
    changes = sweep.typed(loaded, act)

  def factory():
    if _BASELINE.value == "random":
      return baselines.RandomPolicy()
    if _BASELINE.value == "nearest":
      return baselines.NearestNeighbourReplay(store)
    if jepa:  # ACT-JEPA keeps no noise; a fresh chunk history.
      return act_jepa.Actor(loaded.model, loaded.image_sizes, loaded.ensemble)
    # A fresh policy per evaluation seed (its noise from seed 0 again) on the
    # loaded weights, acting with --act's fields.
    return loaded.with_config(**changes)

  tasks = _TASKS.value or list(evaluation.EVAL_TASKS)
  if tasks == ["easy"]:
    tasks = list(evaluation.EASY_TASKS)
  tic = time.perf_counter()
  results = {
      "policy": (
          ",".join(os.path.abspath(p) for p in paths)
          if paths
          else f"baseline:{_BASELINE.value}"
      ),
      "episodes_per_task": _EPISODES.value,
      "step_budget": _STEP_BUDGET.value,
      "act": act,
      "greedy": getattr(loaded, "greedy", None) if _POLICY.value else None,
  }
  budget = {"step_budget": _STEP_BUDGET.value}
  results["tasks"] = evaluation.evaluate_over_seeds(
      factory,
      seeds,
      tasks=tasks,
      episodes_per_task=_EPISODES.value,
      **budget,
      video_dir=os.path.join(_OUT_DIR.value, "videos"),
      videos_per_task=_VIDEOS.value,
      progress=_log,
  )
  print("## Tasks\n" + evaluation.format_table(results["tasks"]), flush=True)
  if _PERTURB.value > 0:
    results["perturbed"] = evaluation.evaluate_over_seeds(
        factory,
        seeds,
        tasks=tasks,
        episodes_per_task=_EPISODES.value,
        perturb=_PERTURB.value,
        **budget,
        progress=lambda line: _log("perturbed " + line),
    )
    print(
        f"\n## Perturbed start ({_PERTURB.value} m)\n"
        + evaluation.format_table(results["perturbed"]),
        flush=True,
    )
  if _CHAINS.value > 0:
    chains = evaluation.evaluate_chains(
        factory(), _CHAINS.value, seed=seeds[0], tasks=tasks, progress=_log
    )
    results["chains"] = chains
    rates = " | ".join(f"{100 * r:.0f}%" for r in chains["success_rates"])
    print(
        f"\n## Chains ({_CHAINS.value})\n| 1 | 2 | 3 | 4 | 5 | avg len |\n"
        f"|---|---|---|---|---|---|\n| {rates} | {chains['avg_len']:.2f} |"
    )
  results["seconds"] = time.perf_counter() - tic
  path = os.path.join(_OUT_DIR.value, "results.json")
  with open(path, "w") as f:
    json.dump(results, f, indent=1)
  print(f"\nwrote {path} ({results['seconds']:.0f} s)")


if __name__ == "__main__":
  app.run(main)
