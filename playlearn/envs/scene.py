"""The PlayTable scene, authored with dm_control's MJCF tools.

A tabletop in the spirit of the Play-LMP playroom and the CALVIN play table:
a 7-DoF arm with a parallel-jaw gripper, a drawer, a sliding door, three
buttons that toggle coloured lights, a lever switch that turns a lamp on and
three coloured blocks of different shapes.

Everything is built from primitives (boxes, capsules, spheres) so the scene
installs offline and stays MJX-friendly: no meshes, no downloads.

Frame: z up, the table top at z = 0, the robot base at the front edge looking
along +y. "Left" and "right" are the robot's (and the static camera's): -x is
left, +x is right.

The end-effector is driven by the mocap-weld pattern: a weld equality pins the
tool centre point (site `tcp`) to a mocap body `target`; the arm's joints follow
through the constraint solver. Arm links carry gravity compensation and joint
damping, so the redundant elbow stays where it is put.

Longer than 500 lines: it is one MJCF model, part after part; split, the
dimensions that must agree (the drawer and its slot, the fingers and the
blocks) would sit in different files.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings

import numpy as np

# 1.1: the static camera reframed (images only; the physics is unchanged).
SCENE_VERSION = "playtable-1.1"

# Physics: 15 Hz control with 20 physics steps of 1/300 s per control step.
CONTROL_HZ = 15
PHYSICS_TIMESTEP = 1.0 / 300.0

ROBOT_BASE = (0.0, -0.47, 0.0)
# Home pose of the tool centre point: above the table, fingers pointing down.
HOME_TCP_POS = (0.0, -0.2, 0.25)
# Fingers point down and open along x; the arm's last joint sits mid-range.
HOME_TCP_QUAT = (0.0, 0.7071067811865476, -0.7071067811865476, 0.0)
BLOCK_NAMES = ("red", "green", "blue")
BUTTON_NAMES = ("red", "green", "blue")
RGBA = {
    "red": (0.85, 0.15, 0.15, 1.0),
    "green": (0.2, 0.7, 0.25, 1.0),
    "blue": (0.2, 0.35, 0.85, 1.0),
}


@dataclasses.dataclass(frozen=True)
class Layout:
  """Positions and sizes of the fixtures (metres)."""

  # Blocks: half-sizes of three box shapes, a cube, a long bar, a flat slab.
  block_half_sizes: tuple = (
      (0.02, 0.02, 0.02),
      (0.04, 0.0175, 0.0175),
      (0.03, 0.024, 0.0125),
  )
  block_mass: float = 0.08
  # Region where blocks are spawned: x range, y range.
  block_region: tuple = ((-0.17, 0.13), (-0.23, 0.0))
  # Drawer: cabinet on the right, drawer slides out towards the robot (-y).
  cabinet_center: tuple = (0.37, -0.02)
  cabinet_half: tuple = (0.13, 0.13, 0.075)
  drawer_travel: float = 0.2
  # Sliding door: cupboard on the left, door panel slides along x.
  cupboard_center: tuple = (-0.37, 0.1)
  cupboard_half: tuple = (0.13, 0.08, 0.1)
  door_travel: float = 0.16
  # Buttons along the back edge, lights behind them.
  button_x: tuple = (-0.12, 0.0, 0.12)
  button_y: float = 0.16
  button_travel: float = 0.012
  # Lever switch and lamp on the back right.
  switch_pos: tuple = (0.2, 0.22)
  lamp_pos: tuple = (0.4, 0.24)


LAYOUT = Layout()


# The static camera looks down from the robot's right, over the cabinet's side:
# the arm, whose base is at the front centre, then stays at the left of the
# frame instead of crossing it. Until scene 1.1 it sat at (0.6, -0.76, 0.85),
# looking at (-0.02, -0.02, 0) with fovy 52, and the arm hid 42% of the door
# handle and up to 22% of a button. `scripts/camera_report.py` measures both.
STATIC_CAM_POS = (0.9, -0.25, 1.05)
STATIC_CAM_TARGET = (-0.05, 0.03, 0.0)
STATIC_CAM_FOVY = 40


def look_at(pos, target):
  """MJCF `xyaxes` of a camera at `pos` looking at `target`, z up."""
  z = np.asarray(pos, float) - np.asarray(target, float)
  z /= np.linalg.norm(z)
  x = np.cross((0.0, 0.0, 1.0), z)
  x /= np.linalg.norm(x)
  y = np.cross(z, x)
  return tuple(np.round(np.concatenate([x, y]), 4))


def _box(parent, name, pos, size, rgba, **kwargs):
  return parent.add(
      "geom", name=name, type="box", pos=pos, size=size, rgba=rgba, **kwargs
  )


ARM_POSTURE_STIFFNESS = 2.0  # N m / rad


def _add_arm(root, hand_parent_name="link7"):
  """A 7-DoF arm built from capsules (Panda-like axes z,y,z,y,z,y,z)."""
  base = root.worldbody.add("body", name="robot_base", pos=ROBOT_BASE)
  base.add(
      "geom",
      name="base_visual",
      type="cylinder",
      size=(0.08, 0.075),
      pos=(0, 0, 0.075),
      rgba=(0.25, 0.25, 0.28, 1),
      contype=0,
      conaffinity=0,
      group=1,
  )
  # (offset from parent, hinge axis, capsule length, range). The roll joints
  # 3, 5 and 7 turn without limit, as on the Kinova Gen3.
  links = [
      ((0, 0, 0.15), (0, 0, 1), 0.18, (-2.9, 2.9)),
      ((0, 0, 0.18), (0, 1, 0), 0.21, (-1.8, 1.8)),
      ((0, 0, 0.21), (0, 0, 1), 0.21, None),
      ((0, 0, 0.21), (0, 1, 0), 0.2, (-0.1, 3.0)),
      ((0, 0, 0.2), (0, 0, 1), 0.18, None),
      ((0, 0, 0.18), (0, 1, 0), 0.08, (-3.7, 3.7)),
      ((0, 0, 0.08), (0, 0, 1), 0.04, None),
  ]
  parent = base
  home = home_arm_qpos()
  for i, (pos, axis, length, rng) in enumerate(links, start=1):
    body = parent.add("body", name=f"link{i}", pos=pos, gravcomp=1)
    # A weak spring towards the home posture settles the arm's redundant
    # (null-space) motion, which would otherwise drift over long episodes
    # until a joint hits its limit; the weld is far stiffer.
    limits = dict(range=rng, limited=True) if rng else dict(limited=False)
    body.add(
        "joint",
        name=f"joint{i}",
        type="hinge",
        axis=axis,
        damping=2.0,
        armature=0.05,
        stiffness=ARM_POSTURE_STIFFNESS,
        springref=home[i - 1],
        **limits,
    )
    radius = 0.045 if i <= 4 else 0.035
    body.add(
        "geom",
        name=f"link{i}_geom",
        type="capsule",
        fromto=(0, 0, 0, 0, 0, length),
        size=(radius,),
        rgba=(0.92, 0.92, 0.94, 1) if i % 2 else (0.3, 0.3, 0.33, 1),
        contype=0,
        conaffinity=0,
        group=1,
        mass=0.6,
    )
    parent = body
  return parent


def _add_gripper(link7):
  """Parallel-jaw gripper. The hand's +z axis points from wrist to fingertips."""
  hand = link7.add("body", name="hand", pos=(0, 0, 0.05), gravcomp=1)
  _box(
      hand,
      "hand_geom",
      (0, 0, 0.02),
      (0.02, 0.065, 0.02),
      (0.3, 0.3, 0.33, 1),
      mass=0.3,
      contype=1,
      conaffinity=1,
  )
  hand.add(
      "site",
      name="tcp",
      pos=(0, 0, 0.115),
      size=(0.005,),
      rgba=(1, 1, 0, 0),
      group=5,
  )
  # Beside the wrist, looking along the fingers and slightly inwards.
  hand.add(
      "camera",
      name="gripper_cam",
      pos=(-0.06, 0, 0.02),
      xyaxes=(0, 1, 0, 0.94, 0, -0.33),
      fovy=75,
  )
  finger_pad = dict(
      friction=(1.5, 0.02, 0.001),
      condim=4,
      priority=1,
      solref=(0.01, 1),
      solimp=(0.95, 0.99, 0.001),
  )
  for side, sign in (("left", 1.0), ("right", -1.0)):
    finger = hand.add(
        "body", name=f"finger_{side}", pos=(0, 0, 0.04), gravcomp=1
    )
    finger.add(
        "joint",
        name=f"finger_{side}",
        type="slide",
        axis=(0, sign, 0),
        range=(0.0, 0.045),
        limited=True,
        damping=5.0,
        armature=0.01,
    )
    # The finger: a stem and an inward-facing pad whose inner face sits at the
    # joint position plus 0.002 m from the hand's centre plane.
    _box(
        finger,
        f"finger_{side}_geom",
        (0, sign * 0.012, 0.045),
        (0.009, 0.006, 0.045),
        (0.15, 0.15, 0.17, 1),
        mass=0.05,
        **finger_pad,
    )
  return hand


def _add_shell(root, name, xy, half, rgba, t=0.01):
  """A box open at the front (-y) and the bottom: top, sides and back."""
  hx, hy, hz = half
  body = root.worldbody.add("body", name=name, pos=(xy[0], xy[1], 0))
  _box(body, f"{name}_top", (0, 0, 2 * hz - t), (hx, hy, t), rgba)
  _box(body, f"{name}_left", (-hx + t, 0, hz), (t, hy, hz), rgba)
  _box(body, f"{name}_right", (hx - t, 0, hz), (t, hy, hz), rgba)
  _box(body, f"{name}_back", (0, hy - t, hz), (hx, t, hz), rgba)
  return body


def _add_drawer(root, lay: Layout):
  cx, cy = lay.cabinet_center
  hx, hy, hz = lay.cabinet_half
  wood = (0.55, 0.4, 0.28, 1)
  cab = _add_shell(root, "cabinet", (cx, cy), (hx, hy, hz), wood)
  t = 0.01
  # The drawer: a tray that slides along -y.
  drawer = cab.add("body", name="drawer", pos=(0, 0, 0))
  drawer.add(
      "joint",
      name="drawer",
      type="slide",
      axis=(0, -1, 0),
      range=(0.0, lay.drawer_travel),
      limited=True,
      damping=8.0,
      frictionloss=0.5,
      armature=0.1,
  )
  dx, dy, wall_h = hx - 2.2 * t, hy - 1.5 * t, 0.045
  tray = (0.78, 0.62, 0.45, 1)
  _box(drawer, "drawer_bottom", (0, 0, 0.012), (dx, dy, 0.004), tray, mass=0.4)
  _box(
      drawer,
      "drawer_wall_left",
      (-dx + 0.004, 0, 0.012 + wall_h),
      (0.004, dy, wall_h),
      tray,
      mass=0.1,
  )
  _box(
      drawer,
      "drawer_wall_right",
      (dx - 0.004, 0, 0.012 + wall_h),
      (0.004, dy, wall_h),
      tray,
      mass=0.1,
  )
  _box(
      drawer,
      "drawer_wall_back",
      (0, dy - 0.004, 0.012 + wall_h),
      (dx, 0.004, wall_h),
      tray,
      mass=0.1,
  )
  front_y = -hy - 0.004
  _box(
      drawer,
      "drawer_front",
      (0, front_y, hz),
      (hx - 0.002, 0.006, hz - 0.004),
      wood,
      mass=0.2,
  )
  # A horizontal bar handle held by two posts, open below for the fingers.
  handle_y = front_y - 0.056
  _box(
      drawer,
      "drawer_handle",
      (0, handle_y, hz + 0.01),
      (0.05, 0.01, 0.01),
      (0.7, 0.7, 0.72, 1),
      mass=0.05,
  )
  for s in (-1, 1):
    _box(
        drawer,
        f"drawer_handle_post_{'lr'[s > 0]}",
        (s * 0.045, (front_y + handle_y) / 2, hz + 0.01),
        (0.006, 0.028, 0.006),
        (0.7, 0.7, 0.72, 1),
        mass=0.01,
    )
  drawer.add(
      "site",
      name="drawer_handle_site",
      pos=(0, handle_y, hz + 0.01),
      size=(0.005,),
      group=5,
  )
  drawer.add(
      "site", name="drawer_inside", pos=(0, 0, 0.02), size=(0.005,), group=5
  )


def _add_door(root, lay: Layout):
  cx, cy = lay.cupboard_center
  hx, hy, hz = lay.cupboard_half
  paint = (0.85, 0.83, 0.76, 1)
  cup = _add_shell(root, "cupboard", (cx, cy), (hx, hy, hz), paint)
  # The door covers half the opening and slides along x in a rail in front.
  door = cup.add("body", name="door", pos=(-hx / 2, -hy - 0.012, hz))
  door.add(
      "joint",
      name="door",
      type="slide",
      axis=(1, 0, 0),
      range=(0.0, lay.door_travel),
      limited=True,
      damping=6.0,
      frictionloss=0.3,
      armature=0.1,
  )
  _box(
      door,
      "door_panel",
      (0, 0, 0),
      (hx / 2 + 0.01, 0.006, hz - 0.012),
      (0.45, 0.55, 0.7, 1),
      mass=0.3,
  )
  # A vertical handle standing off the panel, pushed sideways by the fingers.
  _box(
      door,
      "door_handle",
      (0, -0.035, -0.02),
      (0.008, 0.008, 0.045),
      (0.7, 0.7, 0.72, 1),
      mass=0.03,
  )
  _box(
      door,
      "door_handle_post",
      (0, -0.018, -0.02),
      (0.006, 0.012, 0.01),
      (0.7, 0.7, 0.72, 1),
      mass=0.01,
  )
  door.add(
      "site",
      name="door_handle_site",
      pos=(0, -0.035, -0.02),
      size=(0.005,),
      group=5,
  )


def _add_buttons(root, lay: Layout):
  for name, x in zip(BUTTON_NAMES, lay.button_x):
    base = root.worldbody.add(
        "body", name=f"button_base_{name}", pos=(x, lay.button_y, 0)
    )
    _box(
        base,
        f"button_plinth_{name}",
        (0, 0, 0.01),
        (0.035, 0.035, 0.01),
        (0.2, 0.2, 0.22, 1),
    )
    cap = base.add("body", name=f"button_{name}", pos=(0, 0, 0.03))
    cap.add(
        "joint",
        name=f"button_{name}",
        type="slide",
        axis=(0, 0, 1),
        range=(-lay.button_travel, 0.0),
        limited=True,
        stiffness=300.0,
        springref=0.0,
        damping=3.0,
        armature=0.01,
    )
    _box(
        cap,
        f"button_{name}_geom",
        (0, 0, 0),
        (0.022, 0.022, 0.01),
        RGBA[name],
        mass=0.02,
    )
    # The light: a flat dome behind the button, brightened when on.
    light_rgba = tuple(0.35 * c for c in RGBA[name][:3]) + (1.0,)
    base.add(
        "geom",
        name=f"light_{name}",
        type="sphere",
        size=(0.02,),
        pos=(0, 0.06, 0.01),
        rgba=light_rgba,
        contype=0,
        conaffinity=0,
    )


def _add_switch_and_lamp(root, lay: Layout):
  sx, sy = lay.switch_pos
  base = root.worldbody.add("body", name="switch_base", pos=(sx, sy, 0))
  _box(
      base,
      "switch_plinth",
      (0, 0, 0.015),
      (0.04, 0.03, 0.015),
      (0.2, 0.2, 0.22, 1),
  )
  lever = base.add("body", name="switch", pos=(0, 0, 0.03))
  # A lever hinged about x: tilted towards +y (away from the robot) is "on".
  lever.add(
      "joint",
      name="switch",
      type="hinge",
      axis=(-1, 0, 0),
      range=(-0.6, 0.6),
      limited=True,
      damping=0.3,
      frictionloss=0.05,
      armature=0.002,
  )
  lever.add(
      "geom",
      name="switch_lever",
      type="capsule",
      fromto=(0, 0, 0, 0, 0, 0.07),
      size=(0.008,),
      rgba=(0.75, 0.75, 0.78, 1),
      mass=0.02,
  )
  lever.add(
      "geom",
      name="switch_knob",
      type="sphere",
      size=(0.014,),
      pos=(0, 0, 0.075),
      rgba=(0.1, 0.1, 0.1, 1),
      mass=0.01,
  )
  lever.add(
      "site", name="switch_knob_site", pos=(0, 0, 0.075), size=(0.005,), group=5
  )
  lx, ly = lay.lamp_pos
  lamp = root.worldbody.add("body", name="lamp", pos=(lx, ly, 0))
  lamp.add(
      "geom",
      name="lamp_post",
      type="capsule",
      fromto=(0, 0, 0, 0, 0, 0.2),
      size=(0.01,),
      rgba=(0.3, 0.3, 0.3, 1),
      contype=0,
      conaffinity=0,
  )
  lamp.add(
      "geom",
      name="lamp_bulb",
      type="sphere",
      size=(0.04,),
      pos=(0, 0, 0.22),
      rgba=(0.45, 0.42, 0.25, 1),
      contype=0,
      conaffinity=0,
  )


def _add_blocks(root, lay: Layout):
  for name, half in zip(BLOCK_NAMES, lay.block_half_sizes):
    body = root.worldbody.add("body", name=f"block_{name}", pos=(0, 0, half[2]))
    body.add("freejoint", name=f"block_{name}")
    body.add(
        "geom",
        name=f"block_{name}_geom",
        type="box",
        size=half,
        rgba=RGBA[name],
        mass=lay.block_mass,
        friction=(1.0, 0.01, 0.001),
        condim=4,
    )


def _import_mjcf():
  # dm_control probes for a glfw display when first imported and warns on a
  # headless machine; playlearn renders through EGL/OSMesa (`rendering.py`).
  with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from dm_control import mjcf  # pylint: disable=g-import-not-at-top
  return mjcf


def build_mjcf(
    layout: Layout = LAYOUT, *, static_size: int = 96, gripper_size: int = 64
):
  """Returns the MJCF model (`dm_control.mjcf.RootElement`) of the scene."""
  root = _import_mjcf().RootElement(model="playtable")
  root.compiler.angle = "radian"
  root.option.timestep = PHYSICS_TIMESTEP
  root.option.integrator = "implicitfast"
  # Pyramidal friction cones: elliptic cones with a high impratio made thin
  # grasped blocks jump out of the fingers while the wrist turned.
  root.option.cone = "pyramidal"
  root.option.iterations = 20
  root.option.ls_iterations = 10
  getattr(root.visual, "global").offwidth = max(static_size, gripper_size)
  getattr(root.visual, "global").offheight = max(static_size, gripper_size)
  root.visual.quality.shadowsize = 0
  # Coarser tessellation of round shapes and box faces: the software renderer
  # spends its time on geometry, not pixels, at these image sizes.
  root.visual.quality.numslices = 16
  root.visual.quality.numquads = 1
  root.visual.headlight.ambient = (0.45, 0.45, 0.45)
  root.visual.headlight.diffuse = (0.55, 0.55, 0.55)
  root.default.geom.solref = (0.01, 1)
  # Stiff joint limits: a finger or a drawer pushed hard must stop at its end
  # stop rather than sink through it (MuJoCo's default limit is softer).
  root.default.joint.solreflimit = (0.005, 1)
  root.default.joint.solimplimit = (0.95, 0.99, 0.001)

  root.worldbody.add(
      "light",
      name="top_light",
      pos=(0, -0.2, 1.5),
      dir=(0, 0.2, -1),
      diffuse=(0.5, 0.5, 0.5),
      castshadow=False,
  )
  root.worldbody.add(
      "geom",
      name="floor",
      type="plane",
      size=(2, 2, 0.1),
      pos=(0, 0, -0.75),
      rgba=(0.35, 0.37, 0.4, 1),
      contype=0,
      conaffinity=0,
  )
  _box(
      root.worldbody,
      "table",
      (0, -0.05, -0.02),
      (0.6, 0.42, 0.02),
      (0.78, 0.74, 0.66, 1),
      friction=(0.6, 0.005, 0.0001),
  )
  for sx in (-1, 1):
    for sy in (-1, 1):
      root.worldbody.add(
          "geom",
          name=f"table_leg_{sx}{sy}",
          type="box",
          pos=(0.55 * sx, -0.05 + 0.37 * sy, -0.39),
          size=(0.025, 0.025, 0.35),
          rgba=(0.4, 0.35, 0.3, 1),
          contype=0,
          conaffinity=0,
      )
  # The static camera: see STATIC_CAM_POS.
  root.worldbody.add(
      "camera",
      name="static_cam",
      pos=STATIC_CAM_POS,
      xyaxes=look_at(STATIC_CAM_POS, STATIC_CAM_TARGET),
      fovy=STATIC_CAM_FOVY,
  )

  link7 = _add_arm(root)
  _add_gripper(link7)
  target = root.worldbody.add(
      "body", name="target", mocap=True, pos=HOME_TCP_POS, quat=HOME_TCP_QUAT
  )
  target.add(
      "site", name="target_site", size=(0.005,), group=5, rgba=(0, 1, 0, 0)
  )
  # The weld is softer than the contacts (time constant 0.03 s against 0.01 s)
  # so that pushing against a fixture never drives the fingers through it.
  root.equality.add(
      "weld",
      name="tcp_weld",
      site1="target_site",
      site2="tcp",
      solref=(0.03, 1),
      solimp=(0.9, 0.95, 0.001),
  )
  for side in ("left", "right"):
    root.actuator.add(
        "position",
        name=f"finger_{side}",
        joint=f"finger_{side}",
        kp=400.0,
        kv=10.0,
        ctrlrange=(0.0, 0.045),
        ctrllimited=True,
        forcerange=(-25, 25),
        forcelimited=True,
    )
  _add_drawer(root, layout)
  _add_door(root, layout)
  _add_buttons(root, layout)
  _add_switch_and_lamp(root, layout)
  _add_blocks(root, layout)
  # The hand never needs to collide with the table-mounted fixtures' bodies it
  # is not touching; robot links already have contype 0.
  return root


@functools.lru_cache(maxsize=8)
def scene_xml(static_size: int = 96, gripper_size: int = 64) -> str:
  """The compiled-ready XML string (cached per image size)."""
  return build_mjcf(
      static_size=static_size, gripper_size=gripper_size
  ).to_xml_string()


def home_arm_qpos() -> np.ndarray:
  """A comfortable arm posture with the hand pointing down above the table."""
  return np.array([np.pi / 2, -0.0283, 0.0, 2.3341, 0.0, 0.8358, 0.0])
