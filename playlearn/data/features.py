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
* `relative_target`: `relative` and the lead of the commanded tool pose
  (`observation/target`, datasets from 1.2.0) over the actual one: target
  position minus tool position and the wrapped difference of their angles.
  Actions move the target, which runs ahead of the tool (by up to 3 cm per
  axis), so the label depends on where the target is and the tool alone
  does not say it. Goals are given as states only: their lead is 0.
  66 features.

Goals (`config.data.goals`, also saved with the policy): `full` shows the
policy every feature of the goal state; `scene` only what describes the
scene (fixtures, lights, blocks), with the robot's own columns (tool pose,
gripper, joints, a block's position relative to the tool, the lead) set to
their training mean. A task is a change of the scene, and a full goal also
says where the tool ended, which a policy can imitate instead: pressing a
button ends with the tool where it hovered before pressing.
"""

from __future__ import annotations

import functools

import numpy as np

FEATURES = ("raw", "relative", "relative_target")
GOALS = ("full", "scene")
_NUM_BLOCKS = 3
_ROBOT = 14  # Raw entries 0-13: tool position and angles, gripper, joints.
_BLOCKS = 24  # First block entry of the raw state.
_TARGET_DIM = 6
PROPRIO_DIM = _ROBOT  # Width of `proprio`.


def uses_target(name: str) -> bool:
  """Whether features `name` read `observation/target`."""
  return name == "relative_target"


def transform(
    states: np.ndarray, name: str, target: np.ndarray | None = None
) -> np.ndarray:
  """float[..., 42] raw states -> float32[..., F] features `name`.

  `target`: float[..., 6] commanded tool poses, read by `relative_target`
  only; None gives a lead of 0 (goals).
  """
  states = np.asarray(states, np.float32)
  if name == "raw":
    return states
  if name not in FEATURES:
    raise ValueError(f"features must be one of {FEATURES}, got {name!r}")
  tcp = states[..., 0:3]
  parts = [states[..., :_BLOCKS]]
  for i in range(_NUM_BLOCKS):
    block = states[..., _BLOCKS + 6 * i : _BLOCKS + 6 * (i + 1)]
    pos, roll, pitch, yaw = (
        block[..., 0:3],
        block[..., 3],
        block[..., 4],
        block[..., 5],
    )
    parts += [
        pos,
        pos - tcp,
        np.stack(
            [
                np.sin(2 * yaw),
                np.cos(2 * yaw),
                np.sin(roll),
                np.cos(roll),
                np.sin(pitch),
                np.cos(pitch),
            ],
            -1,
        ),
    ]
  if name == "relative_target":
    parts.append(_lead(states, target))
  return np.concatenate(parts, -1).astype(np.float32)


def _lead(states: np.ndarray, target: np.ndarray | None) -> np.ndarray:
  lead = np.zeros(states.shape[:-1] + (_TARGET_DIM,), np.float32)
  if target is None:
    return lead
  target = np.asarray(target, np.float32)
  if target.shape != lead.shape:
    raise ValueError(
        f"target must have shape {lead.shape} (commanded tool "
        f"position and angles per state), got {target.shape}"
    )
  lead[..., :3] = target[..., :3] - states[..., 0:3]
  turn = target[..., 3:6] - states[..., 3:6]
  lead[..., 3:] = (turn + np.pi) % (2 * np.pi) - np.pi  # Wrapped to +-pi.
  return lead


def proprio(states: np.ndarray) -> np.ndarray:
  """float[..., 42] raw states -> float32[..., 14]: the robot's own state.

  Tool position and angles, gripper width and arm joints (the first 14 raw
  entries): what a real robot knows of itself without a camera, the
  proprioception that pixel policies see beside their images
  (`config.data.proprio`; CALVIN's `robot_obs`).
  """
  return np.asarray(states, np.float32)[..., :_ROBOT]


@functools.cache
def robot_columns(name: str, state_dim: int = 42) -> np.ndarray:
  """bool[F]: the columns of features `name` that describe the robot.

  Cached (it is read for every goal an acting policy normalises); the array
  is read-only.
  """
  if name not in FEATURES:
    raise ValueError(f"features must be one of {FEATURES}, got {name!r}")
  robot = np.zeros(dim(name, state_dim), bool)
  robot[:_ROBOT] = True  # Tool pose, gripper, arm joints: the same in all.
  if name != "raw":
    for i in range(_NUM_BLOCKS):  # Per block: pos (3), pos - tcp (3), angles.
      first = _BLOCKS + 12 * i + 3
      robot[first : first + 3] = True
  if name == "relative_target":
    robot[-_TARGET_DIM:] = True
  robot.flags.writeable = False
  return robot


def dim(name: str, state_dim: int = 42) -> int:
  return transform(np.zeros((1, state_dim), np.float32), name).shape[-1]
