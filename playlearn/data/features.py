"""Observation features: what a state-based policy sees of the 42-D state.

One place, chosen by name in the config (`config.data.features`) and saved
with every policy (inside its normalisation, `windows.Normalization`), so
training and acting compute the same thing:

* `raw`: the environment's state as it is (`envs.playtable.STATE_LAYOUT`).
* `relative`: the raw state's first 24 entries (tool, arm, fixtures, lights)
  and, per block, its position, its position relative to the tool centre
  point, and its angles as sines and cosines: the yaw doubled (a block is
  symmetric under a half turn, so yaw and yaw + pi are the same grasp) and
  roll and pitch as they are. Euler angles wrap at +-pi, where a block that
  turns a hair jumps by 2 pi in the raw state; the sines and cosines do not.
  60 features.
"""
from __future__ import annotations

import numpy as np

FEATURES = ("raw", "relative")
_NUM_BLOCKS = 3
_BLOCKS = 24  # First block entry of the raw state.


def transform(states: np.ndarray, name: str) -> np.ndarray:
  """float[..., 42] raw states -> float32[..., F] features `name`."""
  states = np.asarray(states, np.float32)
  if name == "raw":
    return states
  if name != "relative":
    raise ValueError(f"features must be one of {FEATURES}, got {name!r}")
  tcp = states[..., 0:3]
  parts = [states[..., :_BLOCKS]]
  for i in range(_NUM_BLOCKS):
    block = states[..., _BLOCKS + 6 * i:_BLOCKS + 6 * (i + 1)]
    pos, roll, pitch, yaw = (block[..., 0:3], block[..., 3], block[..., 4],
                             block[..., 5])
    parts += [pos, pos - tcp,
              np.stack([np.sin(2 * yaw), np.cos(2 * yaw), np.sin(roll),
                        np.cos(roll), np.sin(pitch), np.cos(pitch)], -1)]
  return np.concatenate(parts, -1).astype(np.float32)


def dim(name: str, state_dim: int = 42) -> int:
  return transform(np.zeros((1, state_dim), np.float32), name).shape[-1]
