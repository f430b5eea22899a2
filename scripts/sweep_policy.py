r"""Compares ways of acting with one trained policy: success and latency.

  python scripts/sweep_policy.py --policy=out/beso/policy \
      --out=out/eval/beso_sweep.json
  python scripts/sweep_policy.py --policy=out/beso/policy \
      --variant=sampler=heun,num_steps=3 --variant=sampler=ddim,num_steps=10

Without --variant, BESO's ablation (`sweep.BESO_VARIANTS`): DDIM with 1, 3,
5 and 10 steps, the other samplers at 3 steps, guidance 0 and 2. Every
variant is evaluated on the same starts and goals (--episodes_per_task per
task, one seed) and timed at batch 1. Prints a markdown table.
"""

import os

from absl import app
from absl import flags

from playlearn import console
from playlearn import hardware
from playlearn import manifest
from playlearn.evaluation import suite
from playlearn.evaluation import sweep
from playlearn.policy import Policy

_POLICY = flags.DEFINE_string(
    "policy", None, "Saved policy directory.", required=True
)
_VARIANTS = flags.DEFINE_multi_string(
    "variant",
    None,
    "Config fields to change, e.g. sampler=heun,num_steps=5 "
    "(repeat the flag; default: the BESO ablation).",
)
_EPISODES = flags.DEFINE_integer("episodes_per_task", 3, "Starts per task.")
_SEED = flags.DEFINE_integer("seed", 0, "Evaluation seed.")
_TASKS = flags.DEFINE_list("tasks", None, "Tasks (default: the 18).")
_SAMPLE = console.define_sample_flag()
_OUT = flags.DEFINE_string("out", None, "JSON file to write (optional).")


def main(argv):
  del argv
  console.quiet_library_logs()
  policy = Policy.load(
      _POLICY.value, greedy=console.greedy_from_sample(_SAMPLE.value)
  )
  variants = (
      [sweep.parse_variant(v) for v in _VARIANTS.value]
      if _VARIANTS.value
      else list(sweep.BESO_VARIANTS)
  )
  for variant in variants:
    sweep.typed(policy, variant)  # Bad field names fail before any rollout.
  rows = sweep.run(
      policy,
      variants,
      tasks=_TASKS.value or suite.EVAL_TASKS,
      episodes_per_task=_EPISODES.value,
      seed=_SEED.value,
      progress=lambda line: print(line, flush=True),
  )
  print(sweep.table(rows))
  if _OUT.value:
    manifest.write_json(
        _OUT.value,
        {
            "policy": os.path.abspath(_POLICY.value),
            "seed": _SEED.value,
            "hardware": hardware.describe(),
            "rows": rows,
        },
    )


if __name__ == "__main__":
  app.run(main)
