r"""Measures the scripted oracle's success per task from random feasible starts.

  python scripts/oracle_success.py --attempts=200 --out=out/oracle_success.json

Each attempt resets PlayTable with a new seed, skips seeds where the task is
infeasible, samples a random oracle `Style` and judges the task's predicate.
Prints a per-task table and writes JSON (rows, hardware, time).
"""

import json
import os
import platform
import time

from absl import app
from absl import flags

from playlearn.envs import tasks
from playlearn.play import measure

_ATTEMPTS = flags.DEFINE_integer("attempts", 200, "Attempts per task.")
_TASKS = flags.DEFINE_list("tasks", None, "Tasks (default: all).")
_WORKERS = flags.DEFINE_integer("workers", None, "Processes (default: cores).")
_SEED = flags.DEFINE_integer("seed", 0, "First reset seed.")
_OUT = flags.DEFINE_string("out", "out/oracle_success.json", "JSON output.")


def main(argv):
  del argv
  names = _TASKS.value or list(tasks.TASK_NAMES)
  tic = time.perf_counter()
  done = []

  def progress(row):
    done.append(row)
    elapsed = time.perf_counter() - tic
    eta = elapsed / len(done) * (len(names) - len(done))
    print(
        f"[{len(done)}/{len(names)}] {row['task']:26s} "
        f"{row['successes']}/{row['attempts']}  "
        f"elapsed {elapsed:.0f}s eta {eta:.0f}s",
        flush=True,
    )

  rows = measure.oracle_success(
      names, _ATTEMPTS.value, _SEED.value, _WORKERS.value, progress
  )
  seconds = time.perf_counter() - tic
  print("\n| task | success | attempts | rate | mean steps |")
  print("|---|---|---|---|---|")
  for r in rows:
    print(
        f"| {r['task']} | {r['successes']} | {r['attempts']} | "
        f"{100 * r['successes'] / r['attempts']:.1f}% | {r['mean_steps']:.0f} |"
    )
  total = sum(r["successes"] for r in rows)
  count = sum(r["attempts"] for r in rows)
  print(
      f"\nall tasks: {total}/{count} = {100 * total / count:.2f}% "
      f"in {seconds:.0f} s"
  )
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value, "w") as f:
    json.dump(
        {
            "rows": rows,
            "seconds": seconds,
            "machine": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        f,
        indent=1,
    )


if __name__ == "__main__":
  app.run(main)
