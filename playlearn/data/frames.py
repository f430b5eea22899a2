"""Frame-level transforms of camera images, apart from the trajectory ones.

Trajectory-level transforms (windows, goals, features, normalisation) act on
whole steps and live in `windows.py` and `features.py`; these act on images
only, the same way on every frame of one window, so that a window's frames
stay aligned with each other (a shifted window is one camera moved, not a
shaking one):

* `resize`: uint8 [..., H, W, 3] -> [..., size, size, 3], antialiased.
* `random_shift`: DrQ's augmentation (Kostrikov et al. 2021): pad by `pad`
  pixels replicating the border, then crop back at a random offset, one
  offset per window and camera. Its offsets come from the caller's numpy
  Generator, so a batch stays a pure function of (seed, index) as in
  `pipeline.py`.
* `FrameWindows`: windows of frames of an image dataset, for pretraining.
* `ImageWindows`: a policy's training windows (`windows.WindowStore`) with
  their camera images, for policies that train their encoder.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from playlearn.data import features


def _check_frames(frames, name: str = "frames") -> None:
  if frames.ndim < 3 or frames.shape[-1] != 3:
    raise ValueError(
        f"{name} must be images [..., H, W, 3], got shape {frames.shape}."
    )


def check_views(views, observation, where: str) -> None:
  """Raises ValueError naming `where` if `observation` lacks a camera."""
  missing = [v for v in views if v not in observation]
  if missing:
    raise ValueError(
        f"{where} has no {missing} images (it holds {sorted(observation)}); "
        f"cameras {list(views)} are needed. Use an image dataset (e.g. "
        "playtable_play/images_small) or an env made with images=True."
    )


def resize(frames: np.ndarray, size: int) -> np.ndarray:
  """uint8 [..., H, W, 3] -> uint8 [..., size, size, 3] (bilinear, antialiased)."""
  frames = np.asarray(frames)
  _check_frames(frames)
  if size < 1:
    raise ValueError(f"size must be >= 1, got {size}.")
  if frames.shape[-3:-1] == (size, size):
    return frames
  flat = frames.reshape((-1,) + frames.shape[-3:])
  out = np.stack(
      [
          np.asarray(
              Image.fromarray(f).resize((size, size), Image.Resampling.BILINEAR)
          )
          for f in flat
      ]
  )
  return out.reshape(frames.shape[:-3] + (size, size, 3))


def random_shift(
    frames: np.ndarray, pad: int, rng: np.random.Generator
) -> np.ndarray:
  """Shifts windows of frames by up to `pad` pixels each way, one shift each.

  Args:
    frames: [B, T, H, W, 3] (B windows of T frames) or [T, H, W, 3] (one).
    pad: the largest shift in pixels (0: unchanged).
    rng: draws the B (or 1) offsets.

  Returns:
    The shifted frames, same shape and dtype; the border pixels repeat where
    the shift uncovers the image.
  """
  frames = np.asarray(frames)
  _check_frames(frames)
  if frames.ndim not in (4, 5):
    raise ValueError(
        f"random_shift takes [B, T, H, W, 3] or [T, H, W, 3], got "
        f"{frames.shape}."
    )
  if pad < 0:
    raise ValueError(f"pad must be >= 0, got {pad}.")
  if pad == 0:
    return frames
  windows = frames if frames.ndim == 5 else frames[None]
  h, w = windows.shape[2:4]
  padded = np.pad(
      windows, ((0, 0), (0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge"
  )
  offsets = rng.integers(0, 2 * pad + 1, size=(len(windows), 2))
  out = np.stack(
      [p[:, dy : dy + h, dx : dx + w] for p, (dy, dx) in zip(padded, offsets)]
  )
  return out if frames.ndim == 5 else out[0]


class FrameWindows:
  """Windows of consecutive frames of an image dataset, held in memory.

  For encoder pretraining: window i is frames [start_i, start_i + window) of
  one episode (every start whose window fits), with the matching states for
  probes, and, when the episodes carry them, the actions taken from those
  frames. With `goal_horizon` (an int) each window also gets a goal frame
  from the same episode, up to `goal_horizon` steps past its last frame
  (drawn per batch). uint8 frames of 96 + 64 px take 40 KB a step:
  `images_small` (7,500 steps) holds 300 MB, 3 hours 6.5 GB.

    frames = FrameWindows.from_dataset(dir, "train", window=6)
    batch = frames.batch(ids)  # {'images': {camera: [B, T, H, W, 3]},
                               #  'mask': bool [B, T], 'state': [B, T, D],
                               #  'actions': [B, T, A], 'goal_images':
                               #  {camera: [B, H, W, 3]} (when given)}
  """

  def __init__(
      self,
      episodes: list[dict],
      window: int,
      views: tuple[str, ...],
      goal_horizon: int | None = None,
      stride: int = 1,
      consume: bool = False,
  ):
    """episodes: [{'images': {camera: [T_e, H, W, 3]}, 'state': [T_e, D],
    optionally 'actions': [T_e, A]}], each already keeping every `stride`-th
    control step (`from_dataset`; recorded, e.g. in probe.json). With
    `consume`, each episode's frames are dropped from its dict once copied,
    so that reading peaks at one copy of the frames, not two."""
    if not episodes:
      raise ValueError("FrameWindows needs at least one episode.")
    if window < 1:
      raise ValueError(f"window must be >= 1, got {window}.")
    if goal_horizon is not None and goal_horizon < 0:
      raise ValueError(f"goal_horizon must be >= 0, got {goal_horizon}.")
    self.window, self.views, self.stride = window, tuple(views), stride
    self.goal_horizon = goal_horizon
    self.images = {
        v: _fill(
            [
                e["images"].pop(v) if consume else e["images"][v]
                for e in episodes
            ]
        )
        for v in views
    }
    self.state = np.concatenate([e["state"] for e in episodes])
    with_actions = [e for e in episodes if "actions" in e]
    self.actions = (
        np.concatenate([e["actions"] for e in episodes]).astype(np.float32)
        if with_actions and len(with_actions) == len(episodes)
        else None
    )
    starts, last, offset = [], [], 0
    for e in episodes:
      n = len(e["state"])
      count = max(n - window + 1, 0)
      starts.append(offset + np.arange(count))
      last.append(np.full(count, offset + n - 1))
      offset += n
    self.starts = np.concatenate(starts) if starts else np.zeros(0, int)
    self._last = np.concatenate(last) if last else np.zeros(0, int)
    if not len(self.starts):
      raise ValueError(
          f"No episode is as long as the window ({window} frames)."
      )

  @classmethod
  def from_dataset(
      cls,
      dataset_dir,
      split: str = "train",
      window: int = 6,
      views: tuple[str, ...] = ("rgb_static", "rgb_gripper"),
      goal_horizon: int | None = None,
      stride: int = 1,
  ) -> FrameWindows:
    """Reads `split` once; actions are the steps' labels (`action_label`,
    or `action` in datasets that have no label).

    With `stride` > 1 only every stride-th frame of each episode is kept (the
    play at 15 / stride Hz, and 1 / stride of the memory): a window then
    spans (window - 1) * stride control steps, so that the next frame is a
    change worth predicting, and 12 hours of play fit in memory (26 GB of
    frames at stride 1). The actions are dropped then: a control step's
    action does not lead from one kept frame to the next.
    """
    from playlearn.data import reading  # pylint: disable=g-import-not-at-top
    from playlearn.data import rlds  # pylint: disable=g-import-not-at-top

    if stride < 1:
      raise ValueError(f"stride must be >= 1, got {stride}.")
    source = reading.EpisodeSource(dataset_dir, split)
    episodes = []
    for i in range(len(source)):
      steps = source[i]["steps"]
      obs = steps["observation"]
      check_views(views, obs, f"{dataset_dir} ({split}, episode {i})")
      keep = slice(None, None, stride)
      episode = {
          "images": {v: np.array(obs[v][keep]) for v in views},
          "state": np.array(obs["state"][keep]),
      }
      if stride == 1:
        episode["actions"] = rlds.step_actions(steps)
      episodes.append(episode)
    return cls(episodes, window, views, goal_horizon, stride, consume=True)

  @property
  def num_windows(self) -> int:
    return len(self.starts)

  def batch(self, ids: np.ndarray, rng: np.random.Generator | None = None):
    """Windows `ids`; goals `rng`-drawn (None: each window's last frame)."""
    ids = np.asarray(ids)
    index = self.starts[ids][:, None] + np.arange(self.window)
    batch = {
        "images": {v: self.images[v][index] for v in self.views},
        "mask": np.ones(index.shape, bool),
        "state": self.state[index],
    }
    if self.actions is not None:
      batch["actions"] = self.actions[index]
    if self.goal_horizon is not None:
      ahead = (
          rng.integers(0, self.goal_horizon + 1, len(ids))
          if rng is not None
          else 0
      )
      goal = np.minimum(index[:, -1] + ahead, self._last[ids])
      batch["goal_images"] = {v: self.images[v][goal] for v in self.views}
    return batch

  def batches(self, batch_size: int, seed: int, start: int = 0):
    """Endless batches; batch i is a pure function of (seed, i)."""
    i = start
    while True:
      rng = np.random.default_rng([seed, i])
      yield self.batch(rng.integers(0, self.num_windows, batch_size), rng)
      i += 1


def _fill(parts: list[np.ndarray]) -> np.ndarray:
  """`parts` one after the other in one new array. Each entry of `parts` is
  set to None once copied, so that a caller handing over its only
  references to them peaks at one copy of the frames, not two."""
  out = np.empty((sum(map(len, parts)),) + parts[0].shape[1:], parts[0].dtype)
  offset = 0
  for i, part in enumerate(parts):
    out[offset : offset + len(part)] = part
    offset += len(part)
    parts[i] = None
  return out


def read_images(
    dataset_dir, split: str, views: tuple[str, ...]
) -> dict[str, np.ndarray]:
  """{camera: uint8 [N, H, W, 3]}: every frame of `split`, episode after
  episode (the row order of a `WindowStore` of the same split)."""
  from playlearn.data import reading  # pylint: disable=g-import-not-at-top

  source = reading.EpisodeSource(dataset_dir, split)
  parts = {v: [] for v in views}
  for i in range(len(source)):
    obs = source[i]["steps"]["observation"]
    check_views(views, obs, f"{dataset_dir} ({split}, episode {i})")
    for v in views:
      parts[v].append(np.asarray(obs[v], np.uint8))
  return {v: _fill(parts[v]) for v in views}


class ImageWindows:
  """The windows of a `WindowStore` with camera images in place of states.

  For a policy that trains its encoder with it (`config.train_encoder`):
  window i, its length and its goal are the store's window i (the store
  holds the encoder's embeddings only for its normalisation and sizes), and
  the batch carries the frames those rows read, shifted by up to `shift`
  pixels (`random_shift`, one offset per window and camera, the goal frame
  moved with its window):

    {'obs_images': {camera: uint8[B, T, H, W, 3]},
     'goal_images': {camera: uint8[B, H, W, 3]},
     'actions': float32[B, T, 7], 'mask': float32[B, T], 'length': int32[B]}

  Padding positions repeat the window's first frame (their actions are 0
  and their mask 0). A batch is a pure function of (seed, epoch, ids).
  With `proprio` (the store's rows start with the robot's own state,
  `embeddings.with_proprio`) the batch also carries those normalised
  columns: 'obs_proprio' float32[B, T, 14] (0 at padding) and
  'goal_proprio' float32[B, 14] (0 with goals 'scene').
  """

  def __init__(
      self,
      store,
      images: dict[str, np.ndarray],
      shift: int = 0,
      proprio: bool = False,
  ):
    rows = len(store.states)
    for view, frames in images.items():
      _check_frames(frames, f"images[{view!r}]")
      if len(frames) != rows:
        raise ValueError(
            f"images[{view!r}] holds {len(frames)} frames, the windows' "
            f"store {rows} steps: not the same split or dataset."
        )
    if shift < 0:
      raise ValueError(f"shift must be >= 0, got {shift}.")
    self.store, self.images, self.shift = store, images, shift
    self.proprio = proprio

  @property
  def num_windows(self) -> int:
    return self.store.num_windows

  @property
  def state_dim(self) -> int:
    return self.store.state_dim

  @property
  def normalization(self):
    return self.store.normalization

  def batch(self, ids: np.ndarray, seed: int, epoch: int) -> dict:
    rows, valid, length, goal_row = self.store.cut(ids, seed, epoch)
    rng = np.random.default_rng([seed, epoch, *np.asarray(ids[:1], int)])
    with_goal = np.concatenate([rows, goal_row[:, None]], axis=1)
    obs_images, goal_images = {}, {}
    for view in sorted(self.images):
      frames = random_shift(self.images[view][with_goal], self.shift, rng)
      obs_images[view], goal_images[view] = frames[:, :-1], frames[:, -1]
    batch = {
        "obs_images": obs_images,
        "goal_images": goal_images,
        **self.store.labels(rows, valid, length),
    }
    if self.proprio:
      robot = slice(0, features.PROPRIO_DIM)
      batch["obs_proprio"] = self.store.states[rows, robot] * valid[
          ..., None
      ].astype(np.float32)
      batch["goal_proprio"] = self.store.goals(ids, seed, epoch, goal_row)[
          :, robot
      ]
    return batch
