"""The PlayTable tasks and their success predicates.

In CALVIN's style, a task is judged by comparing the scene at the start and
at the end of an attempt (`SceneState`s from `PlayTableEnv.scene_state`).
`feasible(start)` says whether the task makes sense from a start state (you
cannot open an open drawer), `success(start, end)` whether it was done.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from playlearn.envs import geometry
from playlearn.envs import scene
from playlearn.envs.playtable import SceneState

DRAWER_OPEN, DRAWER_CLOSED = 0.15, 0.03
DOOR_MOVE = 0.1
LIFT_HEIGHT = 0.05
PUSH_DISTANCE = 0.05
ROTATE_ANGLE = np.deg2rad(30.0)
# A block higher than this above the table cannot be resting on the table.
_ON_TABLE_Z = 0.035
# Blocks beyond these limits are out of the region the oracle works in.
_BLOCK_WORK_REGION = ((-0.24, 0.2), (-0.3, 0.06))


@dataclasses.dataclass(frozen=True)
class Task:
  name: str
  instruction: str
  feasible: Callable[[SceneState], bool]
  success: Callable[[SceneState, SceneState], bool]


# ----------------------------------------------------------------- facts
def block_on_table(s: SceneState, i: int) -> bool:
  """Resting on the table top (not held, stacked, on end or in the drawer)."""
  x, y, z = s.block_pos[i]
  return (
      not s.block_held[i]
      and s.block_support[i] < 0
      and not s.block_in_drawer[i]
      and 0.0 < z < _ON_TABLE_Z
      and abs(x) < 0.6
      and -0.47 < y < 0.37
  )


def block_covered(s: SceneState, i: int) -> bool:
  return bool(np.any(s.block_support == i))


def block_free(s: SceneState, i: int) -> bool:
  """On the table, long axis level, nothing on top, inside the work region."""
  (x0, x1), (y0, y1) = _BLOCK_WORK_REGION
  x, y = s.block_pos[i, :2]
  return (
      block_on_table(s, i)
      and not block_covered(s, i)
      and abs(s.block_tilt[i]) < 0.3
      and x0 <= x <= x1
      and y0 <= y <= y1
  )


def clearance(s: SceneState, i: int) -> float:
  """Distance from block i to the nearest other block (xy)."""
  others = [j for j in range(3) if j != i]
  return float(
      min(
          np.linalg.norm(s.block_pos[i, :2] - s.block_pos[j, :2])
          for j in others
      )
  )


def path_clear(
    s: SceneState, i: int, direction: float, distance: float
) -> bool:
  """No other block in the corridor swept by pushing block i along x."""
  x, y = s.block_pos[i, :2]
  lo, hi = sorted((x - direction * 0.09, x + direction * (distance + 0.08)))
  for j in range(3):
    if j != i and not s.block_in_drawer[j]:
      px, py = s.block_pos[j, :2]
      if lo - 0.05 < px < hi + 0.05 and abs(py - y) < 0.09:
        return False
  return True


def push_feasible(s: SceneState, i: int, sign: float) -> bool:
  """Block i can be pushed 0.1 m along sign * x and stay in the work region."""
  x = s.block_pos[i, 0]
  (x0, x1), _ = _BLOCK_WORK_REGION
  start, end = x - sign * 0.08, x + sign * 0.12
  return (
      block_free(s, i)
      and path_clear(s, i, sign, 0.1)
      and x0 < min(start, end)
      and max(start, end) < x1 + 0.03
  )


# Open fingers reach 0.065 m from the grasp point: blocks closer than this to
# the drawer cabinet's wall (x = 0.24) cannot be grasped from above.
_GRASP_MAX_X = 0.17


def graspable(s: SceneState, i: int) -> bool:
  return (
      block_free(s, i)
      and clearance(s, i) > 0.085
      and s.block_pos[i, 0] < _GRASP_MAX_X
  )


# ------------------------------------------------------------ predicates
def _fixture_tasks():
  yield Task(
      "open_drawer",
      "open the drawer",
      lambda s: s.drawer < 0.1,
      lambda s, e: s.drawer < 0.1 and e.drawer > DRAWER_OPEN,
  )
  yield Task(
      "close_drawer",
      "close the drawer",
      lambda s: s.drawer > 0.1,
      lambda s, e: s.drawer > 0.1 and e.drawer < DRAWER_CLOSED,
  )
  travel = scene.LAYOUT.door_travel
  yield Task(
      "slide_door_right",
      "slide the door to the right",
      lambda s: s.door < travel - DOOR_MOVE - 0.01,
      lambda s, e: e.door - s.door > DOOR_MOVE,
  )
  yield Task(
      "slide_door_left",
      "slide the door to the left",
      lambda s: s.door > DOOR_MOVE + 0.01,
      lambda s, e: s.door - e.door > DOOR_MOVE,
  )
  for i, colour in enumerate(scene.BUTTON_NAMES):
    yield Task(
        f"press_{colour}_button",
        f"press the {colour} button",
        lambda s: True,
        lambda s, e, i=i: bool(s.lights[i] != e.lights[i]),
    )
  yield Task(
      "turn_on_lamp",
      "turn on the lamp",
      lambda s: not s.lamp,
      lambda s, e: not s.lamp and e.lamp,
  )
  yield Task(
      "turn_off_lamp",
      "turn off the lamp",
      lambda s: s.lamp,
      lambda s, e: s.lamp and not e.lamp,
  )


def _block_tasks():
  for i, colour in enumerate(scene.BLOCK_NAMES):
    yield Task(
        f"lift_{colour}_block",
        f"lift the {colour} block",
        lambda s, i=i: graspable(s, i),
        lambda s, e, i=i: bool(
            e.block_held[i]
            and e.block_pos[i, 2] - s.block_pos[i, 2] > LIFT_HEIGHT
        ),
    )
    for side, sign in (("left", -1.0), ("right", 1.0)):
      yield Task(
          f"push_{colour}_block_{side}",
          f"push the {colour} block to the {side}",
          lambda s, i=i, sign=sign: push_feasible(s, i, sign),
          lambda s, e, i=i, sign=sign: bool(
              block_on_table(e, i)
              and sign * (e.block_pos[i, 0] - s.block_pos[i, 0]) > PUSH_DISTANCE
          ),
      )
    for side, sign in (("left", 1.0), ("right", -1.0)):
      yield Task(
          f"rotate_{colour}_block_{side}",
          f"rotate the {colour} block to the {side}",
          lambda s, i=i: graspable(s, i),
          lambda s, e, i=i, sign=sign: bool(
              block_on_table(e, i)
              and sign * geometry.wrap_angle(e.block_yaw[i] - s.block_yaw[i])
              > ROTATE_ANGLE
              and np.linalg.norm(e.block_pos[i, :2] - s.block_pos[i, :2]) < 0.06
          ),
      )


def _stacked_pairs(s: SceneState):
  return [
      (i, int(s.block_support[i]))
      for i in range(3)
      if s.block_support[i] >= 0 and not s.block_held[i]
  ]


def _arrangement_tasks():
  def stack_feasible(s):
    free = [i for i in range(3) if graspable(s, i)]
    bases = [i for i in range(3) if block_free(s, i)]
    return any(a != b for a in free for b in bases)

  def stack_success(s, e):
    before = set(_stacked_pairs(s))
    return any(p not in before for p in _stacked_pairs(e))

  def unstack_feasible(s):
    return any(block_on_table(s, b) for _, b in _stacked_pairs(s))

  def unstack_success(s, e):
    return any(
        block_on_table(e, top) and not e.block_held[top]
        for top, _ in _stacked_pairs(s)
    )

  yield Task(
      "stack_block", "stack one block on another", stack_feasible, stack_success
  )
  yield Task(
      "unstack_block",
      "take the top block off the stack",
      unstack_feasible,
      unstack_success,
  )
  yield Task(
      "place_in_drawer",
      "put a block in the drawer",
      lambda s: s.drawer > DRAWER_OPEN
      and any(graspable(s, i) for i in range(3)),
      lambda s, e: any(
          e.block_in_drawer[i]
          and not s.block_in_drawer[i]
          and not e.block_held[i]
          for i in range(3)
      ),
  )


TASKS: dict[str, Task] = {
    t.name: t
    for gen in (_fixture_tasks, _block_tasks, _arrangement_tasks)
    for t in gen()
}
TASK_NAMES = tuple(TASKS)
# The tasks of the drawer, doors, buttons and lamp: they move no block.
FIXTURE_TASKS = tuple(t.name for t in _fixture_tasks())


def get(name: str) -> Task:
  try:
    return TASKS[name]
  except KeyError:
    raise ValueError(
        f"unknown task {name!r}; valid tasks: {', '.join(TASK_NAMES)}"
    ) from None


def feasible_tasks(s: SceneState) -> list[str]:
  return [n for n, t in TASKS.items() if t.feasible(s)]


def completed_tasks(start: SceneState, end: SceneState) -> list[str]:
  return [n for n, t in TASKS.items() if t.success(start, end)]
