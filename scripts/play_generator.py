r"""Runs a policy as a play generator and counts the tasks it completes.

  python scripts/play_generator.py --policy=out/beso/policy --guidance=0 \
      --dataset_dir=out/full/playtable_play/state_full/1.3.0 \
      --runs=10 --minutes_per_run=2 --out=out/play_generator.json

With --guidance=0 a CFG-BESO policy plays goal-free (the null goal); other
policies are given the current observation as goal. Tasks are detected the
same way for the policy and for the scripted play agent, whose recorded
validation play is replayed for comparison (--dataset_dir; see
`playlearn.evaluation.play_generator`). Prints tasks per minute per task.
"""

import os

from absl import app
from absl import flags

from playlearn import console
from playlearn import manifest
from playlearn.evaluation import play_generator
from playlearn.policy import Policy

_POLICY = flags.DEFINE_string(
    "policy", None, "Saved policy directory.", required=True
)
_GUIDANCE = flags.DEFINE_float(
    "guidance", None, "BESO guidance weight (0: goal-free). Default: as saved."
)
_DATASET_DIR = flags.DEFINE_string(
    "dataset_dir",
    None,
    "Dataset whose validation play is replayed as the "
    "scripted baseline (optional).",
)
_RUNS = flags.DEFINE_integer("runs", 10, "Resets to play from.")
_MINUTES = flags.DEFINE_float(
    "minutes_per_run", 2.0, "Simulated minutes per run (15 steps/s)."
)
_SAMPLE = flags.DEFINE_bool(
    "sample",
    True,
    "Sample actions (play is stochastic); --nosample uses the fixed noise.",
)
_SEED = flags.DEFINE_integer("seed", 1000, "First reset seed.")
_OUT = flags.DEFINE_string("out", None, "JSON file to write (optional).")


def main(argv):
  del argv
  console.quiet_library_logs()
  policy = Policy.load(
      _POLICY.value, seed=_SEED.value, greedy=not _SAMPLE.value
  )
  if _GUIDANCE.value is not None:
    policy = policy.with_config(guidance=_GUIDANCE.value)
  steps = int(round(_MINUTES.value * play_generator.STEPS_PER_MINUTE))
  name = f"{policy.method_name} policy"
  if _GUIDANCE.value is not None:
    name += f" (guidance {_GUIDANCE.value:g})"
  results = {
      name: play_generator.policy_play(
          policy,
          num_runs=_RUNS.value,
          steps_per_run=steps,
          seed=_SEED.value,
          progress=lambda line: print(line, flush=True),
      )
  }
  if _DATASET_DIR.value:
    results["scripted play agent"] = play_generator.scripted_play(
        _DATASET_DIR.value, num_runs=_RUNS.value, steps_per_run=steps
    )
  print(play_generator.table(results))
  if _OUT.value:
    manifest.write_json(
        _OUT.value,
        {"policy": os.path.abspath(_POLICY.value), "results": results},
    )


if __name__ == "__main__":
  app.run(main)
