"""Tests of the task predicates (`playlearn.envs.tasks`).

The predicates are tested on hand-built `SceneState`s, so each case is exact
and instant; two end-to-end tests check that the predicates agree with the
simulator (oracle succeeds, doing nothing fails).
"""

from __future__ import annotations

import copy
import dataclasses

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from playlearn.envs import registry
from playlearn.envs import scene
from playlearn.envs import tasks
from playlearn.envs.playtable import SceneState
from playlearn.play import oracle as oracle_lib

# Half heights of the red cube, green bar and blue slab: a block resting on
# the table has its centre at this height.
_HALF_Z = [h[2] for h in scene.LAYOUT.block_half_sizes]
_OPEN, _CLOSED = 0.19, 0.0  # drawer positions (travel 0.2)


def neutral() -> SceneState:
  """Everything closed and off; the blocks rest on the table in a column.

  The blocks sit at x = 0, y = -0.24, -0.12, 0.0: 0.12 m apart (more than the
  0.085 m a grasp needs and the 0.09 m a push corridor needs), so every block
  is free, graspable and pushable both ways.
  """
  return SceneState(
      tcp_pos=np.array(scene.HOME_TCP_POS),
      gripper_width=0.09,
      drawer=_CLOSED,
      door=0.0,
      lights=np.zeros(3, bool),
      lamp=False,
      switch=-0.5,
      block_pos=np.array(
          [
              [0.0, -0.24, _HALF_Z[0]],
              [0.0, -0.12, _HALF_Z[1]],
              [0.0, 0.0, _HALF_Z[2]],
          ]
      ),
      block_yaw=np.zeros(3),
      block_tilt=np.zeros(3),
      block_held=np.zeros(3, bool),
      block_in_drawer=np.zeros(3, bool),
      block_support=np.full(3, -1),
  )


def edit(s: SceneState, **fields) -> SceneState:
  """A copy of `s` (arrays included) with `fields` replaced."""
  return dataclasses.replace(copy.deepcopy(s), **fields)


def block(
    s: SceneState,
    i: int,
    *,
    pos=None,
    shift=(0.0, 0.0, 0.0),
    turn: float = 0.0,
    yaw=None,
    held=None,
    support=None,
    in_drawer=None,
) -> SceneState:
  """A copy of `s` with block i placed at `pos` (or moved by `shift`), turned
  by `turn` (or to `yaw`) and its flags set where given."""
  s = copy.deepcopy(s)
  s.block_pos[i] = (s.block_pos[i] if pos is None else pos) + np.array(shift)
  s.block_yaw[i] = (s.block_yaw[i] if yaw is None else yaw) + turn
  if held is not None:
    s.block_held[i] = held
  if support is not None:
    s.block_support[i] = support
  if in_drawer is not None:
    s.block_in_drawer[i] = in_drawer
  return s


def stacked(s: SceneState, top: int, base: int) -> SceneState:
  """Block `top` resting on block `base`."""
  x, y, _ = s.block_pos[base]
  z = 2 * _HALF_Z[base] + _HALF_Z[top]
  return block(s, top, pos=np.array([x, y, z]), support=base)


def with_light(s: SceneState, i: int) -> SceneState:
  lights = s.lights.copy()
  lights[i] = not lights[i]
  return edit(s, lights=lights)


@dataclasses.dataclass
class Case:
  start: SceneState
  done: SceneState  # an end state that completes the task
  not_done: dict[str, SceneState]  # near misses that must not


def _cases() -> dict[str, Case]:
  n = neutral()
  drawer_open = edit(n, drawer=_OPEN)
  door_open = edit(n, door=0.15)
  lamp_on = edit(n, lamp=True, switch=0.5)
  cases = {
      # DRAWER_OPEN = 0.15 < 0.19; half-way (0.08) is not open.
      "open_drawer": Case(n, drawer_open, {"half_open": edit(n, drawer=0.08)}),
      # DRAWER_CLOSED = 0.03 > 0.01; 0.06 is still ajar.
      "close_drawer": Case(
          drawer_open, edit(n, drawer=0.01), {"ajar": edit(n, drawer=0.06)}
      ),
      # DOOR_MOVE = 0.1: moved 0.14 counts, 0.06 does not.
      "slide_door_right": Case(
          n, edit(n, door=0.14), {"short": edit(n, door=0.06)}
      ),
      "slide_door_left": Case(
          door_open, edit(n, door=0.01), {"short": edit(n, door=0.09)}
      ),
      "turn_on_lamp": Case(
          n,
          lamp_on,
          # The lever moved but stayed in the hysteresis band.
          {"lever_half_way": edit(n, switch=0.1)},
      ),
      "turn_off_lamp": Case(
          lamp_on, n, {"lever_half_way": edit(lamp_on, switch=-0.1)}
      ),
      "stack_block": Case(
          n,
          stacked(n, 0, 1),
          {
              "still_held": block(stacked(n, 0, 1), 0, held=True),
              "beside": block(n, 0, pos=n.block_pos[1] + [0.06, 0.0, 0.0]),
          },
      ),
      "unstack_block": Case(
          stacked(n, 0, 1),
          n,
          {
              "lifted_off": block(n, 0, shift=(0, 0, 0.1), held=True),
              "still_stacked": stacked(n, 0, 1),
          },
      ),
      "place_in_drawer": Case(
          drawer_open,
          block(drawer_open, 0, pos=[0.37, -0.12, 0.04], in_drawer=True),
          {
              "still_held": block(
                  drawer_open,
                  0,
                  pos=[0.37, -0.12, 0.06],
                  in_drawer=True,
                  held=True,
              ),
              "in_front": block(drawer_open, 0, pos=[0.37, -0.3, _HALF_Z[0]]),
          },
      ),
  }
  for i, colour in enumerate(scene.BUTTON_NAMES):
    cases[f"press_{colour}_button"] = Case(
        n, with_light(n, i), {"other_light": with_light(n, (i + 1) % 3)}
    )
  for i, colour in enumerate(scene.BLOCK_NAMES):
    # LIFT_HEIGHT = 0.05: 0.08 up and held counts.
    cases[f"lift_{colour}_block"] = Case(
        n,
        block(n, i, shift=(0, 0, 0.08), held=True),
        {
            "low": block(n, i, shift=(0, 0, 0.03), held=True),
            "not_held": block(n, i, shift=(0, 0, 0.08)),
        },
    )
    for side, sign in (("left", -1.0), ("right", 1.0)):
      # PUSH_DISTANCE = 0.05 along x: 0.08 counts, 0.03 does not.
      cases[f"push_{colour}_block_{side}"] = Case(
          n,
          block(n, i, shift=(sign * 0.08, 0, 0)),
          {
              "short": block(n, i, shift=(sign * 0.03, 0, 0)),
              "wrong_way": block(n, i, shift=(-sign * 0.08, 0, 0)),
              "carried": block(n, i, shift=(sign * 0.08, 0, 0.06), held=True),
          },
      )
    for side, sign in (("left", 1.0), ("right", -1.0)):
      # ROTATE_ANGLE = 30 deg = 0.52 rad: 0.8 rad counts, 0.3 does not; the
      # block may shift 0.01 m but not 0.1 m (limit 0.06).
      cases[f"rotate_{colour}_block_{side}"] = Case(
          n,
          block(n, i, turn=sign * 0.8, shift=(0.01, 0, 0)),
          {
              "small": block(n, i, turn=sign * 0.3),
              "wrong_way": block(n, i, turn=-sign * 0.8),
              "moved_away": block(n, i, turn=sign * 0.8, shift=(0.1, 0, 0)),
              "carried": block(
                  n, i, turn=sign * 0.8, shift=(0, 0, 0.06), held=True
              ),
          },
      )
  return cases


_CASES = _cases()
_NEGATIVES = [
    (f"{name}_{label}", name, label)
    for name, case in _CASES.items()
    for label in case.not_done
]


class SuccessPredicateTest(parameterized.TestCase):

  def test_every_task_has_cases(self):
    self.assertCountEqual(_CASES, tasks.TASK_NAMES)

  @parameterized.named_parameters((name, name) for name in tasks.TASK_NAMES)
  def test_positive(self, name):
    task, case = tasks.get(name), _CASES[name]
    self.assertTrue(task.feasible(case.start), "the case's start is infeasible")
    self.assertTrue(task.success(case.start, case.done))

  @parameterized.named_parameters(_NEGATIVES)
  def test_negative(self, name, label):
    case = _CASES[name]
    self.assertFalse(tasks.get(name).success(case.start, case.not_done[label]))

  def test_rotation_is_measured_across_the_pi_wrap(self):
    # yaw 3.0 -> -2.7 is a +0.58 rad turn (-5.7 + 2 pi), not -5.7 rad.
    start = block(neutral(), 2, yaw=3.0)
    end = block(neutral(), 2, yaw=-2.7)
    self.assertTrue(tasks.get("rotate_blue_block_left").success(start, end))
    self.assertFalse(tasks.get("rotate_blue_block_right").success(start, end))

  def test_button_press_toggles_either_way(self):
    on = with_light(neutral(), 1)
    self.assertTrue(tasks.get("press_green_button").success(on, neutral()))

  def test_close_drawer_needs_an_open_start(self):
    ajar = edit(neutral(), drawer=0.05)
    self.assertFalse(tasks.get("close_drawer").success(ajar, neutral()))


class FeasibilityTest(absltest.TestCase):

  def test_neutral_scene(self):
    infeasible = {
        "close_drawer",
        "slide_door_left",
        "turn_off_lamp",
        "unstack_block",
        "place_in_drawer",
    }
    self.assertCountEqual(
        tasks.feasible_tasks(neutral()), set(tasks.TASK_NAMES) - infeasible
    )

  def test_cannot_open_an_open_drawer(self):
    self.assertFalse(
        tasks.get("open_drawer").feasible(edit(neutral(), drawer=_OPEN))
    )
    self.assertTrue(
        tasks.get("close_drawer").feasible(edit(neutral(), drawer=_OPEN))
    )

  def test_cannot_unstack_without_a_stack(self):
    self.assertFalse(tasks.get("unstack_block").feasible(neutral()))
    self.assertTrue(
        tasks.get("unstack_block").feasible(stacked(neutral(), 2, 0))
    )

  def test_cannot_place_in_a_closed_drawer(self):
    task = tasks.get("place_in_drawer")
    self.assertFalse(task.feasible(neutral()))
    self.assertFalse(task.feasible(edit(neutral(), drawer=0.1)))
    self.assertTrue(task.feasible(edit(neutral(), drawer=_OPEN)))

  def test_cannot_turn_on_a_lit_lamp(self):
    self.assertFalse(
        tasks.get("turn_on_lamp").feasible(edit(neutral(), lamp=True))
    )

  def test_cannot_lift_a_covered_or_crowded_block(self):
    lift_green = tasks.get("lift_green_block")
    self.assertFalse(lift_green.feasible(stacked(neutral(), 0, 1)))
    # Red 0.05 m from green: closer than the 0.085 m a grasp needs.
    crowded = block(neutral(), 0, pos=neutral().block_pos[1] + [0.05, 0, 0])
    self.assertFalse(lift_green.feasible(crowded))

  def test_cannot_push_into_another_block(self):
    # Green 0.16 m right of red: inside the corridor a right push sweeps
    # (0.1 push + 0.08 ahead + 0.05 margin = 0.23 m), outside the one a left
    # push needs behind red for the gripper (0.09 + 0.05 = 0.14 m).
    s = block(neutral(), 1, pos=neutral().block_pos[0] + [0.16, 0, 0])
    self.assertFalse(tasks.get("push_red_block_right").feasible(s))
    self.assertTrue(tasks.get("push_red_block_left").feasible(s))


class TaskContractTest(parameterized.TestCase):

  @parameterized.named_parameters((name, name) for name in tasks.TASK_NAMES)
  def test_task(self, name):
    task = tasks.get(name)
    self.assertIs(task, tasks.TASKS[name])
    self.assertEqual(task.name, name)
    self.assertIsInstance(task.instruction, str)
    self.assertNotEmpty(task.instruction)
    # Nothing happening completes no task, from any start.
    for start in (
        neutral(),
        stacked(neutral(), 0, 1),
        edit(
            neutral(),
            drawer=_OPEN,
            door=0.15,
            lamp=True,
            lights=np.ones(3, bool),
        ),
    ):
      self.assertIsInstance(task.feasible(start), (bool, np.bool_))
      self.assertFalse(task.success(start, copy.deepcopy(start)))

  def test_unknown_task_lists_valid_names(self):
    with self.assertRaises(ValueError) as raised:
      tasks.get("open_drawr")
    message = str(raised.exception)
    self.assertIn("'open_drawr'", message)
    for name in tasks.TASK_NAMES:
      self.assertIn(name, message)


class EndToEndTest(absltest.TestCase):
  """The predicates agree with the simulator on a real attempt."""

  def _start(self, env, task) -> int:
    for seed in range(50):
      env.reset(seed=seed)
      if task.feasible(env.scene_state()):
        return seed
    self.fail(f"no seed in 0..49 where {task.name} is feasible")

  def test_oracle_opens_the_drawer(self):
    env = registry.load("PlayTable")
    task = tasks.get("open_drawer")
    seed = self._start(env, task)
    start = env.scene_state()
    oracle = oracle_lib.Oracle(env, np.random.default_rng(0))
    for action in oracle.run(task.name):
      self.assertFalse(env.step(action).last())
    end = env.scene_state()
    self.assertTrue(
        task.success(start, end),
        f"seed {seed}: drawer {start.drawer:.3f} -> {end.drawer:.3f}",
    )

  def test_doing_nothing_does_not_open_the_drawer(self):
    env = registry.load("PlayTable")
    task = tasks.get("open_drawer")
    self._start(env, task)
    start = env.scene_state()
    for _ in range(60):  # More steps than the oracle needs.
      env.step(np.zeros(7))
    end = env.scene_state()
    self.assertFalse(task.success(start, end))
    self.assertAlmostEqual(end.drawer, start.drawer, delta=0.01)


if __name__ == "__main__":
  absltest.main()
