r"""Video of a PlayTable episode and a contact sheet with one frame per task.

From a dataset built by `scripts/collect_play.py` (or `tfds build`):

  python scripts/render_episode.py \
    --dataset_dir=out/demo/data/playtable_play/state_small/1.3.0 \
    --episode=0 --out_dir=out/demo/video

or straight from the play agent, without a dataset:

  python scripts/render_episode.py --seed=3 --num_steps=900 --out_dir=out/video

State-only episodes are re-simulated from their reset seed and actions
(PlayTable is deterministic); the largest difference between the replayed and
the recorded states is printed. Writes `episode.mp4` (static camera beside
the gripper camera) and `tasks.png`.
"""

import os

from absl import app
from absl import flags
import numpy as np

from playlearn.play import episodes
from playlearn.play import replay

_DATASET_DIR = flags.DEFINE_string(
    "dataset_dir", None, "Dataset version directory (holds dataset_info.json)."
)
_SPLIT = flags.DEFINE_string("split", "train", "Split to read.")
_EPISODE = flags.DEFINE_integer("episode", 0, "Episode index in the split.")
_SEED = flags.DEFINE_integer("seed", 0, "Play seed when no dataset is given.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 900, "Play steps (no dataset).")
_MAX_FRAMES = flags.DEFINE_integer("max_frames", 3000, "Frames in the video.")
_OUT_DIR = flags.DEFINE_string("out_dir", "out/video", "Output directory.")


def _load_episode():
  if _DATASET_DIR.value:
    from playlearn import data  # pylint: disable=g-import-not-at-top

    source = data.EpisodeSource(_DATASET_DIR.value, split=_SPLIT.value)
    print(f"{source}: episode {_EPISODE.value}")
    return source[_EPISODE.value]
  print(
      f"generating play episode seed={_SEED.value} "
      f"({_NUM_STEPS.value} steps)"
  )
  return episodes.generate_episode(
      "play", _SEED.value, num_steps=_NUM_STEPS.value
  )


def main(argv):
  del argv
  episode = _load_episode()
  steps, meta = episode["steps"], episode["episode_metadata"]
  obs = steps["observation"]
  if "rgb_static" in obs:
    static, gripper = np.asarray(obs["rgb_static"]), np.asarray(
        obs["rgb_gripper"]
    )
  else:
    reset_seed = int(meta.get("reset_seed", meta["seed"]))
    print(
        f"state-only episode: replaying {len(steps['action'])} actions "
        f"from reset seed {reset_seed}"
    )
    frames = replay.replay(steps, reset_seed)
    print(
        f"largest |replayed - recorded| state difference: "
        f"{frames['max_state_error']:.3g}"
    )
    static, gripper = frames["rgb_static"], frames["rgb_gripper"]
  os.makedirs(_OUT_DIR.value, exist_ok=True)
  video = os.path.join(_OUT_DIR.value, "episode.mp4")
  n = min(len(static), _MAX_FRAMES.value)
  replay.write_video(video, replay.side_by_side(static[:n], gripper[:n]))
  print(f"wrote {video} ({n} frames at 15 fps)")

  segments = replay.segments_of(meta)
  shown, frames, captions = set(), [], []
  for seg in segments:
    if seg["success"] and seg["task"] not in shown:
      shown.add(seg["task"])
      frames.append(static[min(seg["end"], len(static) - 1)])
      captions.append(seg["task"])
  if frames:
    sheet = os.path.join(_OUT_DIR.value, "tasks.png")
    replay.contact_sheet(frames, captions).save(sheet)
    print(f"wrote {sheet} ({len(frames)} tasks, frame at each task's end)")
  print(
      f"{sum(s['success'] for s in segments)}/{len(segments)} task segments "
      "succeeded"
  )


if __name__ == "__main__":
  app.run(main)
