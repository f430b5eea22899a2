r"""Checks whether a saved policy imitates held-out play and reads its goal.

  python scripts/diagnose_policy.py --policy=out/gcbc/policy \
      --dataset_dir=out/full/playtable_play/state_full/1.3.0

Acts along held-out play windows (teacher forcing, hindsight goals) and
prints, per action dimension, the correlation with the demonstrated actions,
the same with shuffled goals, and how often the policy moves at all (see
`playlearn.evaluation.diagnostics`). For a Play-LMP policy, also the
held-out action error with the plan from the recognition network, from the
proposal (what acting uses), from another window and zero
(`latent.plan_errors`). Then, in closed loop on suite episodes, how far the
observations it meets leave its training data and how far the tool tilts
(`diagnostics.closed_loop_drift`; --drift_episodes=0 skips it). Writes the
figures as JSON with --out.
"""

import os

from absl import app
from absl import flags

from playlearn import console
from playlearn import manifest
from playlearn.evaluation import diagnostics
from playlearn.evaluation import latent
from playlearn.policy import Policy

_POLICY = flags.DEFINE_string(
    "policy", None, "Saved policy directory.", required=True
)
_DATASET_DIR = flags.DEFINE_string(
    "dataset_dir", None, "Dataset version directory.", required=True
)
_SPLIT = flags.DEFINE_string("split", "validation", "Split to read.")
_WINDOWS = flags.DEFINE_integer("num_windows", 256, "Windows to act along.")
_LENGTH = flags.DEFINE_integer("length", 32, "Steps per window.")
_GOAL_HORIZON = flags.DEFINE_integer(
    "goal_horizon", 0, "The goal lies 0..goal_horizon steps past the window."
)
_SAMPLE = console.define_sample_flag()
_DRIFT_EPISODES = flags.DEFINE_integer(
    "drift_episodes",
    3,
    "Closed-loop rollouts per task (open_drawer, press_red_button,"
    " lift_red_block) for the drift figures; 0 skips them.",
)
_SEED = flags.DEFINE_integer("seed", 0, "Window and sampling seed.")
_OUT = flags.DEFINE_string("out", None, "JSON file to write (optional).")


def main(argv):
  del argv
  console.quiet_library_logs()
  policy = Policy.load(
      _POLICY.value,
      seed=_SEED.value,
      greedy=console.greedy_from_sample(_SAMPLE.value),
  )
  result = diagnostics.diagnose(
      policy,
      _DATASET_DIR.value,
      split=_SPLIT.value,
      num_windows=_WINDOWS.value,
      length=_LENGTH.value,
      goal_horizon=_GOAL_HORIZON.value,
      seed=_SEED.value,
  )
  result["policy"] = os.path.abspath(_POLICY.value)
  result["greedy"] = policy.greedy
  print(diagnostics.table(result))
  if policy.method_name == "lmp":
    plans = latent.plan_errors(
        policy, _DATASET_DIR.value, split=_SPLIT.value, seed=_SEED.value
    )
    result["plan_errors"] = plans
    print("\n| plan z from | action squared error (windows of 16-32 steps) |")
    print("|---|---|")
    for name, error in plans["action_sq_error"].items():
      print(f"| {name} | {error:.3f} |")
  if _DRIFT_EPISODES.value > 0:
    drift = diagnostics.closed_loop_drift(
        policy, episodes_per_task=_DRIFT_EPISODES.value, seed=_SEED.value
    )
    result["closed_loop_drift"] = drift
    print()
    print(diagnostics.drift_table(drift))
  if _OUT.value:
    manifest.write_json(_OUT.value, result)


if __name__ == "__main__":
  app.run(main)
