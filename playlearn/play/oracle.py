"""A scripted oracle that performs every PlayTable task with waypoint motions.

The oracle is a privileged expert: it reads the simulator (fixture handles,
block poses, the mocap target) and plans a short list of `Waypoint`s for the
tool centre point, which `follow` turns into the environment's end-effector
delta actions. A `Style` (speed, approach height, grasp offsets, pauses)
varies the motions, so that play generated from it is diverse.
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

import mujoco
import numpy as np

from playlearn.envs import geometry
from playlearn.envs import scene
from playlearn.envs import tasks as tasks_lib
from playlearn.envs.playtable import PlayTableEnv, SceneState

OPEN, CLOSED = 1.0, -1.0
TRANSIT_Z = 0.2
_TIP = 0.015  # fingertips sit this far below the tool centre point.
_YAW_LIMIT = 2.5


@dataclasses.dataclass(frozen=True)
class Style:
  """How a motion is performed; `Style.sample` draws one per episode."""

  speed: float = 1.0  # fraction of the maximum tool speed
  approach_height: float = 0.07  # height above a grasp before descending
  grasp_depth: float = 0.0  # extra depth of grasps (metres)
  grasp_shift: float = 0.0  # grasp point along the block's long axis
  pause: int = 1  # steps to wait after closing/opening
  push_extra: float = 0.02  # extra distance on pushes and slides
  rotate_angle: float = np.deg2rad(75.0)
  jitter: float = 0.0  # random xy offset of transit waypoints

  @classmethod
  def sample(cls, rng: np.random.Generator) -> "Style":
    return cls(
        speed=rng.uniform(0.55, 1.0),
        approach_height=rng.uniform(0.05, 0.1),
        grasp_depth=rng.uniform(-0.003, 0.004),
        grasp_shift=rng.uniform(-0.006, 0.006),
        pause=int(rng.integers(1, 5)),
        push_extra=rng.uniform(0.01, 0.04),
        rotate_angle=np.deg2rad(rng.uniform(55.0, 90.0)),
        jitter=rng.uniform(0.0, 0.03),
    )


@dataclasses.dataclass
class Waypoint:
  pos: np.ndarray
  yaw: float
  grip: float
  tol: float = 0.006
  hold: int = 0  # steps to stay once reached
  max_steps: int = 60  # give up on reaching after this many steps
  speed: float = 1.0  # multiplies the style's speed


class Oracle:
  """Plans and executes tasks in a `PlayTableEnv`."""

  def __init__(
      self, env: PlayTableEnv, rng: np.random.Generator, style: Style = Style()
  ):
    self.env = env
    self.rng = rng
    self.style = style
    m = env.model
    site = lambda n: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, n)
    self._drawer_handle = site("drawer_handle_site")
    self._door_handle = site("door_handle_site")
    self._switch_knob = site("switch_knob_site")
    self._home_rot = geometry.quat_to_mat(scene.HOME_TCP_QUAT)

  # ------------------------------------------------------------ execution
  def tool_yaw(self) -> float:
    rot = geometry.quat_to_mat(self.env.data.mocap_quat[0])
    return float(geometry.mat_to_euler(rot @ self._home_rot.T)[2])

  def act(self, wp: Waypoint) -> np.ndarray:
    """One action towards a waypoint, from the mocap target's pose."""
    env, d = self.env, self.env.data
    speed = min(1.0, self.style.speed * wp.speed)
    action = np.zeros(7)
    err = (wp.pos - d.mocap_pos[0]) / env.config.max_pos_step
    norm = np.linalg.norm(err)
    action[:3] = err * (min(norm, speed) / norm) if norm > 1e-9 else 0.0
    desired = (
        geometry.euler_to_mat(np.array([0.0, 0.0, wp.yaw])) @ self._home_rot
    )
    current = geometry.quat_to_mat(d.mocap_quat[0])
    rotvec = np.empty(3)
    mujoco.mju_subQuat(
        rotvec, geometry.mat_to_quat(desired), geometry.mat_to_quat(current)
    )
    rotvec = current @ rotvec / env.config.max_rot_step
    action[3:6] = np.clip(rotvec, -1.0, 1.0)
    action[6] = wp.grip
    return action

  def reached(self, wp: Waypoint) -> bool:
    tcp = self.env.tcp_pos()
    yaw_err = abs(geometry.wrap_angle(self.tool_yaw() - wp.yaw))
    return np.linalg.norm(tcp - wp.pos) < wp.tol and yaw_err < 0.05

  def follow(self, waypoints: list[Waypoint]) -> Iterator[np.ndarray]:
    """Yields actions; the caller steps the environment after each.

    A waypoint is left when reached or after its `max_steps`, extended by the
    steps its turn needs at this style's speed, so that the tool never starts
    a contact motion still turning.
    """
    rate = self.env.config.max_rot_step * min(1.0, self.style.speed)
    for wp in waypoints:
      turn = abs(geometry.wrap_angle(self.tool_yaw() - wp.yaw))
      for _ in range(wp.max_steps + int(np.ceil(turn / rate))):
        if self.reached(wp):
          break
        yield self.act(wp)
      for _ in range(wp.hold):
        yield self.act(wp)

  def run(self, task: str) -> Iterator[np.ndarray]:
    """Actions performing `task` from the current state."""
    return self.follow(self.plan(task))

  # -------------------------------------------------------------- planning
  def plan(self, task: str) -> list[Waypoint]:
    s = self.env.scene_state()
    name = tasks_lib.get(task).name
    if name in ("open_drawer", "close_drawer"):
      return self._drawer(name == "open_drawer")
    if name.startswith("slide_door"):
      return self._door(name.endswith("right"))
    if name.startswith("press_"):
      return self._button(scene.BUTTON_NAMES.index(name.split("_")[1]))
    if name in ("turn_on_lamp", "turn_off_lamp"):
      return self._switch(name == "turn_on_lamp")
    if name in ("stack_block", "unstack_block", "place_in_drawer"):
      return getattr(self, "_" + name)(s)
    verb, colour = name.split("_")[:2]
    i = scene.BLOCK_NAMES.index(colour)
    if verb == "lift":
      return self._lift(s, i)
    if verb == "push":
      return self._push(s, i, 1.0 if name.endswith("right") else -1.0)
    if verb == "rotate":
      return self._rotate(s, i, 1.0 if name.endswith("left") else -1.0)
    raise ValueError(f"no plan for task {task!r}")

  def _tcp(self) -> np.ndarray:
    return self.env.tcp_pos()

  def _transit(self, xy, yaw, grip, z=TRANSIT_Z) -> list[Waypoint]:
    """Up to a safe height, across (with a little style jitter), then to z.

    The crossing is at least at TRANSIT_Z, above every fixture.
    """
    tcp = self._tcp()
    safe = max(z, TRANSIT_Z)
    up = np.array([tcp[0], tcp[1], max(tcp[2], safe)])
    j = self.rng.uniform(-1, 1, 2) * self.style.jitter
    mid = np.array(
        [(tcp[0] + xy[0]) / 2 + j[0], (tcp[1] + xy[1]) / 2 + j[1], safe]
    )
    wps = [
        Waypoint(up, yaw, grip, tol=0.02, max_steps=30),
        Waypoint(mid, yaw, grip, tol=0.03, max_steps=40),
        Waypoint(
            np.array([xy[0], xy[1], safe]), yaw, grip, tol=0.01, max_steps=40
        ),
    ]
    if z < safe:
      wps.append(
          Waypoint(
              np.array([xy[0], xy[1], z]), yaw, grip, tol=0.01, max_steps=30
          )
      )
    return wps

  def _grasp_yaw(self, s: SceneState, i: int, turn: float = 0.0) -> float:
    """Tool yaw that closes the fingers across block i's narrow side."""
    base = s.block_yaw[i] + np.pi / 2
    now = self.tool_yaw()
    options = [base + k * np.pi for k in range(-3, 4)]
    options = [
        y for y in options if abs(y) < _YAW_LIMIT and abs(y + turn) < _YAW_LIMIT
    ]
    return min(options, key=lambda y: abs(y - now))

  def _grasp_z(self, s: SceneState, i: int) -> float:
    return max(s.block_pos[i, 2] + self.style.grasp_depth, 0.018)

  def _pick(self, s: SceneState, i: int, turn: float = 0.0):
    """Waypoints that grasp block i; returns (waypoints, yaw, grasp z)."""
    yaw = self._grasp_yaw(s, i, turn)
    long_axis = np.array([np.cos(s.block_yaw[i]), np.sin(s.block_yaw[i])])
    xy = s.block_pos[i, :2] + long_axis * self.style.grasp_shift
    z = self._grasp_z(s, i)
    above = np.array([*xy, z + self.style.approach_height])
    at = np.array([*xy, z])
    wps = self._transit(xy, yaw, OPEN, z=max(TRANSIT_Z, above[2]))
    wps += [
        Waypoint(above, yaw, OPEN, tol=0.008, max_steps=40),
        Waypoint(at, yaw, OPEN, tol=0.004, max_steps=40, speed=0.6),
        Waypoint(at, yaw, CLOSED, hold=5 + self.style.pause, max_steps=0),
    ]
    return wps, yaw, z

  def _pick_xy(self, wps) -> np.ndarray:
    return wps[-1].pos[:2]

  def _place(
      self, from_xy, xy, yaw, z_release, lift_to=TRANSIT_Z
  ) -> list[Waypoint]:
    """Lift the held block up from from_xy, carry it to xy, lower, release."""
    carry = [
        Waypoint(
            np.array([from_xy[0], from_xy[1], lift_to]),
            yaw,
            CLOSED,
            tol=0.02,
            max_steps=40,
            speed=0.7,
        )
    ]
    over = np.array([xy[0], xy[1], lift_to])
    down = np.array([xy[0], xy[1], z_release])
    return carry + [
        Waypoint(over, yaw, CLOSED, tol=0.01, max_steps=60, speed=0.8),
        Waypoint(down, yaw, CLOSED, tol=0.005, max_steps=50, speed=0.5),
        Waypoint(down, yaw, OPEN, hold=3 + self.style.pause, max_steps=0),
        Waypoint(down + [0, 0, 0.08], yaw, OPEN, tol=0.02, max_steps=30),
    ]

  def _lift(self, s, i):
    wps, yaw, z = self._pick(s, i)
    top = np.array(
        [*s.block_pos[i, :2], z + 0.1 + self.style.approach_height / 2]
    )
    return wps + [
        Waypoint(
            top,
            yaw,
            CLOSED,
            tol=0.01,
            hold=self.style.pause,
            max_steps=40,
            speed=0.7,
        )
    ]

  def _rotate(self, s, i, sign):
    turn = sign * self.style.rotate_angle
    wps, yaw, z = self._pick(s, i, turn)
    xy = s.block_pos[i, :2]
    up = np.array([*xy, z + 0.015])
    down = np.array([*xy, z + 0.003])
    return wps + [
        Waypoint(up, yaw, CLOSED, tol=0.006, max_steps=20, speed=0.6),
        Waypoint(up, yaw + turn, CLOSED, tol=0.01, max_steps=40),
        Waypoint(down, yaw + turn, CLOSED, tol=0.006, max_steps=20, speed=0.6),
        Waypoint(
            down, yaw + turn, OPEN, hold=3 + self.style.pause, max_steps=0
        ),
        Waypoint(down + [0, 0, 0.08], yaw + turn, OPEN, tol=0.02, max_steps=30),
    ]

  def _push(self, s, i, sign):
    x, y, _ = s.block_pos[i]
    yaw = min((np.pi / 2, -np.pi / 2), key=lambda a: abs(a - self.tool_yaw()))
    half = scene.LAYOUT.block_half_sizes[i]
    c, sn = abs(np.cos(s.block_yaw[i])), abs(np.sin(s.block_yaw[i]))
    extent = c * half[0] + sn * half[1]
    start = np.array([x - sign * (extent + 0.035), y, 0.022])
    end = start + [sign * (0.1 + self.style.push_extra), 0, 0]
    wps = self._transit(start[:2], yaw, CLOSED)
    return wps + [
        Waypoint(start, yaw, CLOSED, tol=0.006, max_steps=40, speed=0.8),
        Waypoint(end, yaw, CLOSED, tol=0.008, max_steps=60, speed=0.5),
        Waypoint(
            end - [sign * 0.03, 0, 0], yaw, CLOSED, tol=0.01, max_steps=20
        ),
        Waypoint(
            end - [sign * 0.03, 0, -0.1], yaw, CLOSED, tol=0.02, max_steps=30
        ),
    ]

  def _drawer(self, open_it: bool):
    handle = self.env.data.site_xpos[self._drawer_handle].copy()
    q = self.env.scene_state().drawer
    yaw = 0.0
    if open_it:
      # Hook the closed fingers behind the handle bar and pull.
      behind = handle + [0, 0.027, 0]
      behind[2] = 0.08
      pull = scene.LAYOUT.drawer_travel - q + self.style.push_extra
      end = behind - [0, pull, 0]
      wps = self._transit(behind[:2], yaw, CLOSED)
      return wps + [
          Waypoint(behind, yaw, CLOSED, tol=0.005, max_steps=50, speed=0.6),
          Waypoint(end, yaw, CLOSED, tol=0.01, max_steps=60, speed=0.6),
          Waypoint(end + [0, 0, 0.12], yaw, CLOSED, tol=0.02, max_steps=30),
      ]
    front = handle - [0, 0.025, 0]
    front[2] = 0.08
    # Push the handle a little past its closed position (the joint stops it).
    end = front + [0, q + 0.012 + self.style.push_extra / 4, 0]
    wps = self._transit(front[:2], yaw, CLOSED)
    return wps + [
        Waypoint(front, yaw, CLOSED, tol=0.006, max_steps=50, speed=0.8),
        Waypoint(end, yaw, CLOSED, tol=0.01, max_steps=60, speed=0.6),
        Waypoint(end - [0, 0.04, 0], yaw, CLOSED, tol=0.01, max_steps=20),
        Waypoint(end - [0, 0.04, -0.12], yaw, CLOSED, tol=0.02, max_steps=30),
    ]

  def _door(self, right: bool):
    handle = self.env.data.site_xpos[self._door_handle].copy()
    q = self.env.scene_state().door
    sign = 1.0 if right else -1.0
    yaw = 0.0
    start = handle - [sign * 0.04, 0, 0]
    start[2] = 0.075
    travel = (scene.LAYOUT.door_travel - q) if right else q
    end = start + [sign * (travel + 0.015 + self.style.push_extra), 0, 0]
    wps = self._transit(start[:2], yaw, CLOSED)
    return wps + [
        Waypoint(start, yaw, CLOSED, tol=0.005, max_steps=50, speed=0.8),
        Waypoint(end, yaw, CLOSED, tol=0.01, max_steps=60, speed=0.6),
        Waypoint(
            end - [sign * 0.03, 0, 0], yaw, CLOSED, tol=0.01, max_steps=20
        ),
        Waypoint(
            end - [sign * 0.03, 0.03, -0.12],
            yaw,
            CLOSED,
            tol=0.02,
            max_steps=30,
        ),
    ]

  def _button(self, i):
    lay = scene.LAYOUT
    xy = np.array([lay.button_x[i], lay.button_y])
    yaw = self.tool_yaw()
    top = 0.04  # cap top at rest
    press = np.array([*xy, top + _TIP - lay.button_travel - 0.006])
    wps = self._transit(xy, yaw, CLOSED, z=0.12)
    return wps + [
        Waypoint(press, yaw, CLOSED, tol=0.004, max_steps=40, speed=0.5),
        Waypoint(press, yaw, CLOSED, hold=self.style.pause, max_steps=0),
        Waypoint(press + [0, 0, 0.08], yaw, CLOSED, tol=0.02, max_steps=30),
    ]

  def _switch(self, on: bool):
    knob = self.env.data.site_xpos[self._switch_knob].copy()
    sign = 1.0 if on else -1.0  # push towards +y to turn on
    yaw = 0.0
    start = knob - [0, sign * 0.04, 0]
    start[2] = 0.07
    # Push until the fingers are well past the lever's pivot.
    end = start.copy()
    end[1] = scene.LAYOUT.switch_pos[1] + sign * (
        0.035 + self.style.push_extra / 2
    )
    wps = self._transit(start[:2], yaw, CLOSED)
    return wps + [
        Waypoint(start, yaw, CLOSED, tol=0.006, max_steps=50, speed=0.8),
        Waypoint(end, yaw, CLOSED, tol=0.01, max_steps=40, speed=0.5),
        Waypoint(
            end - [0, sign * 0.04, 0], yaw, CLOSED, tol=0.01, max_steps=20
        ),
        Waypoint(
            end - [0, sign * 0.04, -0.12], yaw, CLOSED, tol=0.02, max_steps=30
        ),
    ]

  def _stack_block(self, s):
    pairs = [
        (a, b)
        for a in range(3)
        for b in range(3)
        if a != b and tasks_lib.graspable(s, a) and tasks_lib.block_free(s, b)
    ]
    a, b = pairs[self.rng.integers(len(pairs))]
    wps, yaw, z = self._pick(s, a)
    grip_offset = z - s.block_pos[a, 2]
    top_of_b = s.block_pos[b, 2] + scene.LAYOUT.block_half_sizes[b][2]
    release = (
        top_of_b + scene.LAYOUT.block_half_sizes[a][2] + grip_offset + 0.006
    )
    return wps + self._place(
        self._pick_xy(wps), s.block_pos[b, :2], yaw, release
    )

  def _unstack_block(self, s):
    tops = [t for t, b in tasks_lib._stacked_pairs(s)]  # pylint: disable=protected-access
    t = tops[self.rng.integers(len(tops))]
    wps, yaw, z = self._pick(s, t)
    grip_offset = z - s.block_pos[t, 2]
    xy = free_spot(self.rng, s, exclude=t)
    release = scene.LAYOUT.block_half_sizes[t][2] + grip_offset + 0.006
    return wps + self._place(self._pick_xy(wps), xy, yaw, release)

  def _place_in_drawer(self, s):
    choices = [i for i in range(3) if tasks_lib.graspable(s, i)]
    i = choices[self.rng.integers(len(choices))]
    wps, yaw, z = self._pick(s, i)
    lay = scene.LAYOUT
    cx, cy = lay.cabinet_center
    front = cy - lay.cabinet_half[1]
    tray_front = cy - s.drawer - lay.cabinet_half[1] + 0.02
    xy = np.array(
        [cx + self.rng.uniform(-0.03, 0.03), (front + tray_front) / 2]
    )
    grip_offset = z - s.block_pos[i, 2]
    release = 0.016 + lay.block_half_sizes[i][2] + grip_offset + 0.02
    # Carried high enough that the hanging block clears the cabinet's top.
    return wps + self._place(
        self._pick_xy(wps), xy, yaw, release, lift_to=TRANSIT_Z + 0.02
    )

  def put_down(self) -> list[Waypoint]:
    """Puts a held block down on a free spot of the table (not a task)."""
    s = self.env.scene_state()
    held = [i for i in range(3) if s.block_held[i]]
    yaw = self.tool_yaw()
    if not held:
      return [Waypoint(self._tcp(), yaw, OPEN, hold=2, max_steps=0)]
    i = held[0]
    xy = free_spot(self.rng, s, exclude=i)
    grip_offset = self._tcp()[2] - s.block_pos[i, 2]
    release = scene.LAYOUT.block_half_sizes[i][2] + grip_offset + 0.006
    return self._place(self._tcp()[:2], xy, yaw, release)

  def wander(self) -> list[Waypoint]:
    """A random idle motion between tasks."""
    xy = np.array([self.rng.uniform(-0.2, 0.2), self.rng.uniform(-0.3, 0.0)])
    z = self.rng.uniform(0.12, 0.3)
    yaw = float(
        np.clip(self.tool_yaw() + self.rng.uniform(-0.5, 0.5), -1.5, 1.5)
    )
    grip = OPEN if self.rng.random() < 0.5 else CLOSED
    return [
        Waypoint(
            np.array([*xy, z]),
            yaw,
            grip,
            tol=0.02,
            max_steps=40,
            hold=int(self.rng.integers(0, 8)),
        )
    ]


def free_spot(
    rng: np.random.Generator,
    s: SceneState,
    exclude: int,
    min_dist: float = 0.11,
) -> np.ndarray:
  """A table spot in the block region away from the other blocks."""
  (x0, x1), (y0, y1) = scene.LAYOUT.block_region
  others = [
      s.block_pos[j, :2]
      for j in range(3)
      if j != exclude and not s.block_in_drawer[j]
  ]
  for _ in range(500):
    xy = np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)])
    if all(np.linalg.norm(xy - o) > min_dist for o in others):
      return xy
  return np.array([(x0 + x1) / 2, y0])
