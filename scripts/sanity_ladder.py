r"""The sanity ladder: where imitation breaks, rung by rung (docs/results.md).

  python scripts/sanity_ladder.py --out_dir=out/ladder
  python scripts/sanity_ladder.py --out_dir=out/ladder --rungs=1 \
      --tasks=press_red_button --demos_per_task=100 --train_steps=2000
  python scripts/sanity_ladder.py --out_dir=out/ladder --rungs=3 \
      --play_policy=out/gcbc/policy

Rung 1: GCBC on N demonstrations of one task, clean and recovery-rich;
rung 2: on demonstrations of all 18 suite tasks; rung 3: on play
(--play_dataset to train, or --play_policy to evaluate a trained one).
Writes `ladder.json` after every row and prints the table at the end. Runs
whose saved policy exists are not retrained (rerun to resume).
"""

from absl import app
from absl import flags

from playlearn import console
from playlearn.experiments import ladder

_OUT_DIR = flags.DEFINE_string("out_dir", "out/ladder", "Output directory.")
_RUNGS = flags.DEFINE_list("rungs", ["1", "2", "3"], "Rungs to run.")
_TASKS = flags.DEFINE_list("tasks", list(ladder.RUNG1_TASKS), "Rung-1 tasks.")
_DEMOS = flags.DEFINE_integer("demos_per_task", 100, "Rung-1 demonstrations.")
_DEMOS_ALL = flags.DEFINE_integer(
    "demos_per_task_all", 30, "Rung-2 demonstrations per suite task."
)
_STEPS = flags.DEFINE_integer("train_steps", 3000, "Training steps per run.")
_EPISODES = flags.DEFINE_integer("episodes_per_task", 10, "Starts per task.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1"], "Evaluation seeds.")
_GOALS = flags.DEFINE_enum(
    "goals",
    "full",
    ["full", "scene"],
    "What goals show the policy (config.data.goals).",
)
_PLAY_DATASET = flags.DEFINE_string(
    "play_dataset", None, "Rung 3: play dataset to train on."
)
_PLAY_POLICY = flags.DEFINE_string(
    "play_policy", None, "Rung 3: a trained play policy."
)


def main(argv):
  del argv
  console.quiet_library_logs()
  cfg = ladder.LadderConfig(
      demos_per_task=_DEMOS.value,
      demos_per_task_all=_DEMOS_ALL.value,
      train_steps=_STEPS.value,
      episodes_per_task=_EPISODES.value,
      goals=_GOALS.value,
      seeds=tuple(int(s) for s in _SEEDS.value),
  )
  rows = ladder.run(
      _OUT_DIR.value,
      rungs=[int(r) for r in _RUNGS.value],
      cfg=cfg,
      rung1_tasks=_TASKS.value,
      play_dataset=_PLAY_DATASET.value,
      play_policy=_PLAY_POLICY.value,
  )
  print(ladder.format_rows(rows))


if __name__ == "__main__":
  app.run(main)
