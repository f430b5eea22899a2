"""Watching episodes: replay recorded actions, videos and contact sheets.

PlayTable is deterministic (the same reset seed and actions give bitwise the
same trajectory), so a state-only episode can be turned back into images by
replaying its actions from its reset seed.
"""

from __future__ import annotations

import json

import numpy as np
from PIL import Image
from PIL import ImageDraw

from playlearn.envs import playtable


def replay(
    steps: dict,
    reset_seed: int,
    *,
    static_size: int = 96,
    gripper_size: int = 64,
    env: playtable.PlayTableEnv | None = None,
) -> dict:
  """Re-simulates an episode; returns images and the largest state mismatch.

  Args:
    steps: RLDS steps with `action` [T, 7] and `observation/state` [T, D].
    reset_seed: the seed the episode's environment was reset with.

  Returns:
    {'rgb_static': uint8[T, S, S, 3], 'rgb_gripper': uint8[T, G, G, 3],
     'max_state_error': float} (0.0 when the replay is bitwise identical).
  """
  env = env or playtable.PlayTableEnv(
      playtable.EnvConfig(
          images=True, static_size=static_size, gripper_size=gripper_size
      )
  )
  timestep = env.reset(seed=reset_seed)
  actions = np.asarray(steps["action"])
  recorded = np.asarray(steps["observation"]["state"])
  frames = {"rgb_static": [], "rgb_gripper": []}
  error = 0.0
  for t in range(len(actions)):
    for k in frames:
      frames[k].append(timestep.observation[k])
    error = max(
        error,
        float(np.max(np.abs(timestep.observation["state"] - recorded[t]))),
    )
    if t + 1 < len(actions):
      timestep = env.step(actions[t])
  env.close()
  return {
      "rgb_static": np.stack(frames["rgb_static"]),
      "rgb_gripper": np.stack(frames["rgb_gripper"]),
      "max_state_error": error,
  }


def segments_of(episode_metadata: dict) -> list[dict]:
  raw = episode_metadata.get("segments", "[]")
  if isinstance(raw, bytes):
    raw = raw.decode()
  return json.loads(raw)


def side_by_side(static: np.ndarray, gripper: np.ndarray) -> np.ndarray:
  """[T, S, S, 3] and [T, G, G, 3] -> [T, S, S + G', 3], gripper view scaled."""
  t, s = static.shape[:2]
  scaled = np.stack(
      [np.asarray(Image.fromarray(g).resize((s, s))) for g in gripper]
  )
  return np.concatenate([static, scaled[:t]], axis=2)


def write_video(path: str, frames: np.ndarray, fps: float = 15.0) -> None:
  """Writes an MP4 with mediapy, using the ffmpeg that imageio-ffmpeg ships."""
  import imageio_ffmpeg  # pylint: disable=g-import-not-at-top
  import mediapy  # pylint: disable=g-import-not-at-top

  mediapy.set_ffmpeg(imageio_ffmpeg.get_ffmpeg_exe())
  mediapy.write_video(path, frames, fps=fps)


def contact_sheet(
    frames: list[np.ndarray],
    captions: list[str],
    columns: int = 6,
    scale: int = 2,
) -> Image.Image:
  """A grid of frames with a caption under each."""
  if not frames:
    raise ValueError("contact_sheet needs at least one frame")
  h, w = frames[0].shape[:2]
  h, w = h * scale, w * scale
  caption_h = 14
  rows = (len(frames) + columns - 1) // columns
  sheet = Image.new("RGB", (columns * w, rows * (h + caption_h)), "white")
  draw = ImageDraw.Draw(sheet)
  for k, (frame, caption) in enumerate(zip(frames, captions)):
    x, y = (k % columns) * w, (k // columns) * (h + caption_h)
    sheet.paste(Image.fromarray(frame).resize((w, h)), (x, y))
    draw.text((x + 2, y + h + 1), caption[: w // 6], fill="black")
  return sheet
