r"""What a play dataset contains: tasks played, their success, time spent.

  python scripts/describe_dataset.py \
    --dataset_dir=out/data/playtable_play/state_full/1.3.0 --out_dir=out/describe

Reads the task segments stored with every episode (metadata, not used by
learners), prints a per-task table, and writes `segments.json` and a bar chart
`tasks.png`. A segment cut off by the end of its episode is counted apart.
"""

import collections
import json
import os

from absl import app
from absl import flags
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

from playlearn import data
from playlearn.play import replay

_DATASET_DIR = flags.DEFINE_string(
    "dataset_dir", None, "Dataset version dir.", required=True
)
_SPLIT = flags.DEFINE_string("split", "train", "Split.")
_OUT_DIR = flags.DEFINE_string("out_dir", "out/describe", "Output directory.")


def main(argv):
  del argv
  source = data.EpisodeSource(_DATASET_DIR.value, split=_SPLIT.value)
  played, done = collections.Counter(), collections.Counter()
  cut, steps, labelled = 0, 0, 0
  for i in range(len(source)):
    episode = source[i]
    n = len(episode["steps"]["action"])
    steps += n
    for seg in replay.segments_of(episode["episode_metadata"]):
      labelled += seg["end"] - seg["start"]
      if seg["end"] >= n - 1 and not seg["success"]:
        cut += 1  # Ended by the episode, not by the oracle.
        continue
      played[seg["task"]] += 1
      done[seg["task"]] += seg["success"]
  minutes = steps / 15 / 60
  total, ok = sum(played.values()), sum(done.values())
  print(
      f"{source}: {steps} steps = {minutes:.1f} min of play; "
      f"{100 * labelled / steps:.1f}% of steps inside a task segment"
  )
  print(
      f"{total} finished task segments ({total / minutes:.1f} per minute), "
      f"{ok} successful ({100 * ok / max(total, 1):.2f}%); "
      f"{cut} cut off by the end of an episode\n"
  )
  print("| task | segments | successful | rate |")
  print("|---|---|---|---|")
  rows = sorted(played, key=lambda t: -played[t])
  for t in rows:
    print(
        f"| {t} | {played[t]} | {done[t]} | "
        f"{100 * done[t] / played[t]:.1f}% |"
    )
  os.makedirs(_OUT_DIR.value, exist_ok=True)
  with open(os.path.join(_OUT_DIR.value, "segments.json"), "w") as f:
    json.dump(
        {
            "steps": steps,
            "minutes": minutes,
            "cut_segments": cut,
            "tasks": {
                t: {"segments": played[t], "successful": done[t]} for t in rows
            },
        },
        f,
        indent=1,
    )
  fig, ax = plt.subplots(figsize=(8, 0.25 * len(rows) + 1))
  ax.barh(
      rows[::-1], [played[t] for t in rows[::-1]], color="#9ab", label="played"
  )
  ax.barh(
      rows[::-1],
      [done[t] for t in rows[::-1]],
      color="#357",
      label="successful",
  )
  ax.set_xlabel("task segments")
  ax.set_title(f"{minutes:.0f} min of play, {total} tasks")
  ax.legend(loc="lower right")
  fig.tight_layout()
  path = os.path.join(_OUT_DIR.value, "tasks.png")
  fig.savefig(path, dpi=100)
  print(f"\nwrote {path}")


if __name__ == "__main__":
  app.run(main)
