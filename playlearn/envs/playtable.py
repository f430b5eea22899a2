"""PlayTable: the tabletop play environment (dm_env interface).

Action: end-effector deltas `[dx, dy, dz, droll, dpitch, dyaw, gripper]` in
[-1, 1]. The first six are scaled by `max_pos_step` (metres) and
`max_rot_step` (radians) and added to the mocap target, which
stays within a few centimetres of the actual tool pose; the mocap weld (see
`scene.py`) moves the arm there. `gripper` is the commanded opening: -1 closed, +1 fully open.

Observation: `state` (float32[42], layout in `STATE_LAYOUT`), `target`
(float32[6], the commanded tool pose, see `TARGET_DIM`), and with
`images=True` also `rgb_static` and `rgb_gripper` (uint8 [S, S, 3]).

Longer than 500 lines: the config, the controller, the observation and the
checked state save/restore share the MuJoCo handles of one class.
"""

from __future__ import annotations

import dataclasses
import numbers

import dm_env
from dm_env import specs
import mujoco
import numpy as np

from playlearn.envs import geometry
from playlearn.envs import scene

# name -> slice into the state vector.
STATE_LAYOUT = {
    "tcp_pos": slice(0, 3),
    "tcp_euler": slice(3, 6),  # world-frame rotation from the home pose
    "gripper_width": slice(6, 7),
    "arm_qpos": slice(7, 14),
    "drawer": slice(14, 15),
    "door": slice(15, 16),
    "buttons": slice(16, 19),
    "switch": slice(19, 20),
    "lights": slice(20, 23),
    "lamp": slice(23, 24),
    "blocks": slice(24, 42),  # per block: position (3), euler (3)
}
STATE_DIM = 42
# observation["target"]: the commanded tool pose (the mocap target the arm is
# pulled to), position (3) and rotation from the home pose (3) as `tcp_euler`.
# Actions move this target, not the tool, so it is what an action acts on.
TARGET_DIM = 6
ACTION_DIM = 7
FINGER_MAX = 0.045
# Button travel below which a press registers, and above which it re-arms.
_PRESS_DEPTH, _RELEASE_DEPTH = 0.7, 0.3
# Switch angle beyond which the lamp changes state (hysteresis band between).
_SWITCH_ON, _SWITCH_OFF = 0.2, -0.2
_UNSTABLE_WARNINGS = (
    mujoco.mjtWarning.mjWARN_BADQACC,
    mujoco.mjtWarning.mjWARN_BADQVEL,
    mujoco.mjtWarning.mjWARN_BADQPOS,
    mujoco.mjtWarning.mjWARN_CONTACTFULL,
    mujoco.mjtWarning.mjWARN_CNSTRFULL,
)
_STATE_SPEC = mujoco.mjtState.mjSTATE_INTEGRATION
# Workspace of the tool centre point; targets outside are clipped.
WORKSPACE = np.array([[-0.55, -0.45, 0.012], [0.55, 0.34, 0.45]])
MAX_TILT = 0.6  # radians of roll and pitch allowed away from pointing down.


@dataclasses.dataclass(frozen=True)
class EnvConfig:
  """Options of `PlayTableEnv` (all have defaults)."""

  images: bool = False
  static_size: int = 96
  gripper_size: int = 64
  max_pos_step: float = 0.02  # metres per control step at |action| = 1
  max_rot_step: float = 0.12  # radians per control step at |action| = 1
  max_lead: float = 0.03  # metres the target may lead the tool
  max_rot_lead: float = 0.15  # radians the target may lead the tool
  # Physics steps per control step: 20 of 1/300 s for 15 Hz control.
  substeps: int = round(1 / (scene.CONTROL_HZ * scene.PHYSICS_TIMESTEP))
  time_limit: int | None = None  # control steps per episode; None: no limit
  stack_probability: float = 0.25  # chance a reset stacks two blocks
  render_backend: str | None = None

  def __post_init__(self):
    # A bad value would otherwise surface far from its cause: time_limit=-1
    # ends every episode after one step, a size of 0 fails inside MuJoCo.
    for name in ("static_size", "gripper_size", "substeps"):
      _check_int(name, getattr(self, name), low=1)
    if self.time_limit is not None:
      _check_int(
          "time_limit", self.time_limit, low=1, none_ok=" (None: no limit)"
      )
    for name in ("max_pos_step", "max_rot_step", "max_lead", "max_rot_lead"):
      value = getattr(self, name)
      if not _is_real(value) or not 0 < value < np.inf:
        raise ValueError(
            f"EnvConfig.{name} must be a finite number > 0, got {value!r}"
        )
    p = self.stack_probability
    if not _is_real(p) or not 0 <= p <= 1:
      raise ValueError(
          f"EnvConfig.stack_probability must be in [0, 1], got {p!r}"
      )
    if self.render_backend is not None:
      from playlearn.envs import rendering  # pylint: disable=g-import-not-at-top

      valid = ("auto",) + rendering.BACKENDS
      if (
          not isinstance(self.render_backend, str)
          or self.render_backend.strip().lower() not in valid
      ):
        raise ValueError(
            f"EnvConfig.render_backend must be None or one of "
            f"{', '.join(valid)}; got {self.render_backend!r}"
        )


def _is_real(value) -> bool:
  return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_int(name: str, value, low: int, none_ok: str = "") -> None:
  if (
      not isinstance(value, numbers.Integral)
      or isinstance(value, bool)
      or value < low
  ):
    raise ValueError(
        f"EnvConfig.{name} must be an integer >= {low}{none_ok}, "
        f"got {value!r}"
    )


@dataclasses.dataclass
class SceneState:
  """Task-relevant facts about the scene, compared by the task predicates."""

  tcp_pos: np.ndarray
  gripper_width: float
  drawer: float
  door: float
  lights: np.ndarray  # bool[3]
  lamp: bool
  switch: float
  block_pos: np.ndarray  # [3, 3]
  block_yaw: np.ndarray  # [3]
  block_tilt: np.ndarray  # [3] z component of the block's long (x) axis
  block_held: np.ndarray  # bool[3]: touched by both fingers
  block_in_drawer: np.ndarray  # bool[3]
  block_support: np.ndarray  # int[3]: index of the block below, -1 none


class PlayTableEnv(dm_env.Environment):
  """The PlayTable tabletop. Create through `playlearn.envs.load`."""

  def __init__(self, config: EnvConfig = EnvConfig()):
    self.config = config
    xml = scene.scene_xml(config.static_size, config.gripper_size)
    self.model = mujoco.MjModel.from_xml_string(xml)
    self.data = mujoco.MjData(self.model)
    self._ids = _Ids(self.model)
    self._home_qpos = _home_qpos(self.model, self._ids)
    self._home_rot = geometry.quat_to_mat(scene.HOME_TCP_QUAT)
    self._rng = np.random.default_rng()
    self._renderer = None
    self._lights = np.zeros(3, bool)
    self._lamp = False
    self._button_down = np.zeros(3, bool)
    self._steps = 0
    self._needs_reset = True
    self.last_info = {}
    self._saved_state = np.empty(mujoco.mj_stateSize(self.model, _STATE_SPEC))

  # ---------------------------------------------------------------- dm_env
  def reset(self, seed: int | None = None) -> dm_env.TimeStep:
    """Starts an episode; the same `seed` gives bitwise the same episode."""
    if seed is not None:
      self._rng = np.random.default_rng(seed)
    self._randomize(self._rng)
    self._steps = 0
    self._needs_reset = False
    self.last_info = {"physics_unstable": False}
    return dm_env.restart(self._observation())

  def step(self, action) -> dm_env.TimeStep:
    if self._needs_reset:
      return self.reset()
    action = self._check_action(action)
    # MuJoCo resets the simulation by itself when it diverges; keep the
    # pre-step state so that a diverged step can be undone, and count only
    # this step's warnings.
    mujoco.mj_getState(self.model, self.data, self._saved_state, _STATE_SPEC)
    warnings = self.data.warning
    for w in _UNSTABLE_WARNINGS:
      if warnings[w].number:
        warnings[w].number = 0
    self._apply_action(action)
    mujoco.mj_step(self.model, self.data, nstep=self.config.substeps)
    # mj_step leaves body poses computed before its last integration; bring
    # them up to date so observations, renders and predicates agree with qpos.
    mujoco.mj_kinematics(self.model, self.data)
    self._steps += 1
    unstable = any(self.data.warning[w].number for w in _UNSTABLE_WARNINGS)
    unstable = unstable or not np.all(np.isfinite(self.data.qpos))
    self.last_info = {"physics_unstable": bool(unstable)}
    if unstable:
      # End the episode rather than return a corrupt state: the scene goes
      # back to where it was before the step, and so does the observation.
      mujoco.mj_setState(self.model, self.data, self._saved_state, _STATE_SPEC)
      mujoco.mj_forward(self.model, self.data)
      self._needs_reset = True
      return dm_env.termination(0.0, self._observation())
    self._update_switches()
    obs = self._observation()
    if self.config.time_limit and self._steps >= self.config.time_limit:
      self._needs_reset = True
      return dm_env.truncation(0.0, obs)
    return dm_env.transition(0.0, obs)

  def observation_spec(self):
    spec = {
        "state": specs.Array((STATE_DIM,), np.float32, "state"),
        "target": specs.Array((TARGET_DIM,), np.float32, "target"),
    }
    if self.config.images:
      s, g = self.config.static_size, self.config.gripper_size
      spec["rgb_static"] = specs.BoundedArray(
          (s, s, 3), np.uint8, 0, 255, "rgb_static"
      )
      spec["rgb_gripper"] = specs.BoundedArray(
          (g, g, 3), np.uint8, 0, 255, "rgb_gripper"
      )
    return spec

  def action_spec(self):
    return specs.BoundedArray((ACTION_DIM,), np.float32, -1.0, 1.0, "action")

  def close(self):
    if self._renderer is not None:
      self._renderer.close()
      self._renderer = None

  # ----------------------------------------------------------- public API
  def tcp_pos(self) -> np.ndarray:
    """Position of the tool centre point (between the fingertips), [3]."""
    return self.data.site_xpos[self._ids.tcp].copy()

  @property
  def control_dt(self) -> float:
    return self.config.substeps * self.model.opt.timestep

  def scene_state(self) -> SceneState:
    """Facts for the task predicates, computed from the current physics."""
    d, ids = self.data, self._ids
    pos = np.stack([d.xpos[b] for b in ids.blocks])
    mats = [d.xmat[b].reshape(3, 3) for b in ids.blocks]
    held = np.zeros(3, bool)
    touching = {}
    for c in d.contact[: d.ncon]:
      for g, other in ((c.geom1, c.geom2), (c.geom2, c.geom1)):
        touching.setdefault(int(g), set()).add(int(other))
    for i, g in enumerate(ids.block_geoms):
      fingers = touching.get(g, set())
      held[i] = (
          ids.finger_geoms[0] in fingers and ids.finger_geoms[1] in fingers
      )
    support = np.full(3, -1)
    for i in range(3):
      for j in range(3):
        if i != j and ids.block_geoms[j] in touching.get(
            ids.block_geoms[i], ()
        ):
          if pos[i, 2] > pos[j, 2] + 0.01:
            support[i] = j
    drawer_pos = d.xpos[ids.drawer_body]
    half = np.array(scene.LAYOUT.cabinet_half[:2]) - 0.02
    in_drawer = np.array(
        [
            np.all(np.abs(p[:2] - drawer_pos[:2]) < half) and p[2] < 0.1
            for p in pos
        ]
    )
    return SceneState(
        tcp_pos=d.site_xpos[ids.tcp].copy(),
        gripper_width=float(d.qpos[ids.finger_qadr].sum()),
        drawer=float(d.qpos[ids.drawer_qadr]),
        door=float(d.qpos[ids.door_qadr]),
        lights=self._lights.copy(),
        lamp=bool(self._lamp),
        switch=float(d.qpos[ids.switch_qadr]),
        block_pos=pos,
        block_yaw=np.array([geometry.yaw_of(m) for m in mats]),
        block_tilt=np.array([m[2, 0] for m in mats]),
        block_held=held,
        block_in_drawer=in_drawer,
        block_support=support,
    )

  def get_state(self) -> dict:
    """Everything needed to restore this exact moment (see `set_state`)."""
    physics = np.empty(mujoco.mj_stateSize(self.model, _STATE_SPEC))
    mujoco.mj_getState(self.model, self.data, physics, _STATE_SPEC)
    return {
        "physics": physics,
        "lights": self._lights.copy(),
        "lamp": bool(self._lamp),
        "button_down": self._button_down.copy(),
        "steps": self._steps,
    }

  def set_state(self, state: dict) -> None:
    """Restores `get_state()`'s dict.

    Raises:
      ValueError: naming the field that is missing, of the wrong shape or not
        finite; the simulator is left as it was (NaN physics would otherwise
        turn the next observation into NaN).
    """
    missing = [k for k in _STATE_FIELDS if k not in state]
    if missing:
      raise ValueError(
          f"state lacks {', '.join(missing)}; a state holds "
          f"{', '.join(_STATE_FIELDS)} (see get_state)"
      )
    physics = np.asarray(state["physics"])
    size = mujoco.mj_stateSize(self.model, _STATE_SPEC)
    if physics.shape != (size,) or not np.issubdtype(physics.dtype, np.number):
      raise ValueError(
          f"state['physics'] must be a float array of shape "
          f"({size},), got {physics.dtype} {physics.shape}"
      )
    bad = np.flatnonzero(~np.isfinite(physics))
    if bad.size:
      raise ValueError(
          f"state['physics'] has non-finite values at indices "
          f"{bad[:10].tolist()}{' ...' if bad.size > 10 else ''}"
      )
    lights = _flags("lights", state["lights"], (3,))
    button_down = _flags("button_down", state["button_down"], (3,))
    lamp = _flags("lamp", state["lamp"], ())
    steps = state["steps"]
    if (
        not isinstance(steps, numbers.Integral)
        or isinstance(steps, bool)
        or steps < 0
    ):
      raise ValueError(f"state['steps'] must be an integer >= 0, got {steps!r}")
    mujoco.mj_setState(
        self.model, self.data, physics.astype(np.float64), _STATE_SPEC
    )
    mujoco.mj_forward(self.model, self.data)
    self._lights = lights
    self._lamp = bool(lamp)
    self._button_down = button_down
    self._steps = int(steps)
    self._needs_reset = False

  def render(self) -> dict:
    """Camera images of the current state: {'rgb_static', 'rgb_gripper'}."""
    if self._renderer is None:
      from playlearn.envs import rendering  # pylint: disable=g-import-not-at-top

      s, g = self.config.static_size, self.config.gripper_size
      self._renderer = rendering.Renderer(
          self.model,
          {"static_cam": (s, s), "gripper_cam": (g, g)},
          backend=self.config.render_backend,
      )
    self._set_light_colours()
    images = self._renderer.render(self.data)
    return {
        "rgb_static": images["static_cam"],
        "rgb_gripper": images["gripper_cam"],
    }

  # ------------------------------------------------------------ internals
  def _check_action(self, action) -> np.ndarray:
    action = np.asarray(action, dtype=np.float64)
    if action.shape != (ACTION_DIM,):
      raise ValueError(
          f"action must have shape ({ACTION_DIM},) "
          f"[dx, dy, dz, droll, dpitch, dyaw, gripper], got "
          f"shape {action.shape}"
      )
    bad = ~np.isfinite(action)
    if bad.any():
      raise ValueError(
          f"action has non-finite values at indices "
          f"{np.flatnonzero(bad).tolist()}: {action.tolist()}"
      )
    return np.clip(action, -1.0, 1.0)

  def _apply_action(self, action: np.ndarray) -> None:
    """Moves the mocap target by the action, kept close to the actual tool.

    The target integrates the commanded deltas (so lag in fast motions does
    not accumulate into drift) but never leads the actual tool pose by more
    than `max_lead`/`max_rot_lead`, so a blocked arm does not wind up and the
    command stays close to Markov in the observed tool pose.
    """
    d, cfg, ids = self.data, self.config, self._ids
    tcp = d.site_xpos[ids.tcp]
    target = d.mocap_pos[0] + action[:3] * cfg.max_pos_step
    target = tcp + np.clip(target - tcp, -cfg.max_lead, cfg.max_lead)
    d.mocap_pos[0] = np.clip(target, WORKSPACE[0], WORKSPACE[1])

    delta = geometry.euler_to_mat(action[3:6] * cfg.max_rot_step)
    target_quat = geometry.mat_to_quat(
        delta @ geometry.quat_to_mat(d.mocap_quat[0])
    )
    tcp_quat = geometry.mat_to_quat(d.site_xmat[ids.tcp])
    err = np.empty(3)
    mujoco.mju_subQuat(err, target_quat, tcp_quat)
    norm = np.linalg.norm(err)
    if norm > cfg.max_rot_lead:
      target_quat = tcp_quat.copy()
      mujoco.mju_quatIntegrate(
          target_quat, err * (cfg.max_rot_lead / norm), 1.0
      )
    euler = geometry.mat_to_euler(
        geometry.quat_to_mat(target_quat) @ self._home_rot.T
    )
    euler[:2] = np.clip(euler[:2], -MAX_TILT, MAX_TILT)
    d.mocap_quat[0] = geometry.mat_to_quat(
        geometry.euler_to_mat(euler) @ self._home_rot
    )
    d.ctrl[ids.finger_act] = (action[6] + 1.0) * 0.5 * FINGER_MAX

  def _update_switches(self):
    d, ids = self.data, self._ids
    travel = scene.LAYOUT.button_travel
    for i, adr in enumerate(ids.button_qadr):
      depth = -d.qpos[adr] / travel
      if not self._button_down[i] and depth > _PRESS_DEPTH:
        self._button_down[i] = True
        self._lights[i] = not self._lights[i]
      elif self._button_down[i] and depth < _RELEASE_DEPTH:
        self._button_down[i] = False
    switch = d.qpos[ids.switch_qadr]
    if switch > _SWITCH_ON:
      self._lamp = True
    elif switch < _SWITCH_OFF:
      self._lamp = False

  def _observation(self) -> dict:
    d, ids = self.data, self._ids
    state = np.empty(STATE_DIM, np.float64)
    state[0:3] = d.site_xpos[ids.tcp]
    state[3:6] = geometry.mat_to_euler(
        d.site_xmat[ids.tcp].reshape(3, 3) @ self._home_rot.T
    )
    state[6] = d.qpos[ids.finger_qadr].sum()
    state[7:14] = d.qpos[ids.arm_qadr]
    state[14] = d.qpos[ids.drawer_qadr]
    state[15] = d.qpos[ids.door_qadr]
    state[16:19] = d.qpos[ids.button_qadr]
    state[19] = d.qpos[ids.switch_qadr]
    state[20:23] = self._lights
    state[23] = self._lamp
    blocks = state[24:42].reshape(3, 6)
    blocks[:, :3] = d.xpos[ids.blocks]
    blocks[:, 3:] = geometry.mats_to_euler(d.xmat[ids.blocks])
    target = np.empty(TARGET_DIM, np.float64)
    target[0:3] = d.mocap_pos[0]
    target[3:6] = geometry.mat_to_euler(
        geometry.quat_to_mat(d.mocap_quat[0]) @ self._home_rot.T
    )
    obs = {
        "state": state.astype(np.float32),
        "target": target.astype(np.float32),
    }
    if self.config.images:
      obs.update(self.render())
    return obs

  def _set_light_colours(self):
    m, ids = self.model, self._ids
    for i, name in enumerate(scene.BUTTON_NAMES):
      base = np.array(scene.RGBA[name][:3])
      m.geom_rgba[ids.light_geoms[i], :3] = (
          np.minimum(1.0, base * 1.3 + 0.25) if self._lights[i] else base * 0.35
      )
    m.geom_rgba[ids.lamp_geom, :3] = (
        (1.0, 0.95, 0.55) if self._lamp else (0.45, 0.42, 0.25)
    )

  def _randomize(self, rng: np.random.Generator) -> None:
    m, d, ids, lay = self.model, self.data, self._ids, scene.LAYOUT
    mujoco.mj_resetData(m, d)
    d.qpos[:] = self._home_qpos
    d.mocap_pos[0] = scene.HOME_TCP_POS
    d.mocap_quat[0] = scene.HOME_TCP_QUAT
    d.ctrl[ids.finger_act] = FINGER_MAX
    d.qpos[ids.finger_qadr] = FINGER_MAX
    # Fixtures: each in one of its two rest states, with a little jitter.
    d.qpos[ids.drawer_qadr] = (
        rng.uniform(0.0, 0.02)
        if rng.random() < 0.5
        else rng.uniform(0.17, lay.drawer_travel)
    )
    d.qpos[ids.door_qadr] = (
        rng.uniform(0.0, 0.01)
        if rng.random() < 0.5
        else rng.uniform(lay.door_travel - 0.01, lay.door_travel)
    )
    switch_on = rng.random() < 0.5
    d.qpos[ids.switch_qadr] = 0.5 if switch_on else -0.5
    self._lamp = switch_on
    self._lights = rng.random(3) < 0.5
    self._button_down[:] = False
    # Blocks: non-overlapping random poses, sometimes one stacked on another.
    placed = []
    order = rng.permutation(3)
    stack = rng.random() < self.config.stack_probability
    for k, i in enumerate(order):
      half = lay.block_half_sizes[i]
      yaw = rng.uniform(-np.pi, np.pi)
      if stack and k == 2:
        j, (xy, _) = order[0], placed[0]
        z = 2 * lay.block_half_sizes[j][2] + half[2]
        yaw = rng.uniform(-0.3, 0.3) + _yaw_of_qpos(d, ids, j)
      else:
        xy = _sample_free_xy(rng, placed, lay.block_region)
        z = half[2]
      placed.append((xy, i))
      adr = ids.block_qadr[i]
      d.qpos[adr : adr + 3] = (xy[0], xy[1], z + 0.001)
      d.qpos[adr + 3 : adr + 7] = (np.cos(yaw / 2), 0, 0, np.sin(yaw / 2))
    # Let everything settle under gravity before the first observation.
    mujoco.mj_forward(m, d)
    mujoco.mj_step(m, d, nstep=60)
    mujoco.mj_kinematics(m, d)
    d.time = 0.0


_STATE_FIELDS = ("physics", "lights", "lamp", "button_down", "steps")


def _flags(name: str, value, shape: tuple[int, ...]) -> np.ndarray:
  """`value` as a bool array of `shape`; 0/1 numbers are accepted too."""
  flags = np.asarray(value)
  if flags.shape != shape:
    raise ValueError(
        f"state[{name!r}] must have shape {shape}, got {flags.shape}"
    )
  if flags.dtype != bool and not (
      np.issubdtype(flags.dtype, np.number) and np.isin(flags, (0, 1)).all()
  ):
    raise ValueError(
        f"state[{name!r}] must be booleans (or 0/1), got {flags.tolist()!r}"
    )
  return flags.astype(bool)


def _yaw_of_qpos(d, ids, i) -> float:
  adr = ids.block_qadr[i]
  w, z = d.qpos[adr + 3], d.qpos[adr + 6]
  return 2.0 * np.arctan2(z, w)


def _sample_free_xy(rng, placed, region, min_dist=0.1):
  for _ in range(1000):
    xy = np.array([rng.uniform(*region[0]), rng.uniform(*region[1])])
    if all(np.linalg.norm(xy - p) >= min_dist for p, _ in placed):
      return xy
  raise RuntimeError("could not place the blocks without overlap")


class _Ids:
  """Indices into the model, looked up once."""

  def __init__(self, m: mujoco.MjModel):
    jnt = lambda n: m.jnt_qposadr[
        mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, n)
    ]
    body = lambda n: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, n)
    geom = lambda n: mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, n)
    self.tcp = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_SITE, "tcp")
    self.arm_qadr = np.array([jnt(f"joint{i}") for i in range(1, 8)])
    self.finger_qadr = np.array([jnt("finger_left"), jnt("finger_right")])
    self.finger_act = np.array(
        [
            mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, f"finger_{s}")
            for s in ("left", "right")
        ]
    )
    self.finger_geoms = (geom("finger_left_geom"), geom("finger_right_geom"))
    self.drawer_qadr = jnt("drawer")
    self.drawer_body = body("drawer")
    self.door_qadr = jnt("door")
    self.switch_qadr = jnt("switch")
    self.button_qadr = np.array(
        [jnt(f"button_{n}") for n in scene.BUTTON_NAMES]
    )
    self.blocks = np.array([body(f"block_{n}") for n in scene.BLOCK_NAMES])
    self.block_geoms = [geom(f"block_{n}_geom") for n in scene.BLOCK_NAMES]
    self.block_qadr = [jnt(f"block_{n}") for n in scene.BLOCK_NAMES]
    self.light_geoms = [geom(f"light_{n}") for n in scene.BUTTON_NAMES]
    self.lamp_geom = geom("lamp_bulb")


def _home_qpos(m: mujoco.MjModel, ids: _Ids) -> np.ndarray:
  """Model reference pose with the arm at its home posture."""
  qpos = m.qpos0.copy()
  qpos[ids.arm_qadr] = scene.home_arm_qpos()
  return qpos
