"""What the cameras see: each object's size in pixels over play states.

A pixel policy can only act on what its cameras show. `measure` replays play
episodes and, every few steps, renders a segmentation of each camera twice:
as it is, and with the arm hidden (its geoms made transparent). Per camera and
object it reports how many pixels the object covers, how many pixels across it
is (the larger side of its bounding box), how often it is seen at all, and
how much of it the arm hides. For the gripper camera, whose job is grasps,
each block is also measured over the states where the tool is near it. For
the static camera, each block's `push_pixels`: how far its centre moves in
the image when the block moves by a push's distance (`tasks.PUSH_DISTANCE`)
along x (the pushes' axis) and along y.

  report = views.measure(seeds=(0, 1), num_steps=600, every=20)
  print(views.markdown(report))

`scripts/camera_report.py` writes the table, JSON and a contact sheet.
"""

from __future__ import annotations

import dataclasses

import mujoco
import numpy as np

from playlearn.envs import playtable
from playlearn.envs import rendering
from playlearn.envs import scene
from playlearn.envs import tasks
from playlearn.play import episodes

CAMERAS = {"static": "static_cam", "gripper": "gripper_cam"}
# An object is seen when it covers at least this many pixels.
SEEN_PIXELS = 4
# The gripper camera's blocks are measured where the tool is this close (m).
NEAR = 0.08


def objects() -> dict[str, tuple[str, ...]]:
  """Object name -> the geoms (by name) that the tasks look at or touch."""
  named = {}
  for c in scene.BLOCK_NAMES:
    named[f"{c} block"] = (f"block_{c}_geom",)
  for c in scene.BUTTON_NAMES:
    named[f"{c} button"] = (f"button_{c}_geom", f"light_{c}")
  named["switch"] = ("switch_lever", "switch_knob")
  named["lamp bulb"] = ("lamp_bulb",)
  named["drawer handle"] = (
      "drawer_handle",
      "drawer_handle_post_l",
      "drawer_handle_post_r",
  )
  named["drawer"] = (
      "drawer_front",
      "drawer_bottom",
      "drawer_wall_left",
      "drawer_wall_right",
      "drawer_wall_back",
  )
  named["door handle"] = ("door_handle", "door_handle_post")
  named["door"] = ("door_panel",)
  return named


@dataclasses.dataclass(frozen=True)
class Framing:
  """A camera placement: position, the point it looks at, vertical FOV."""

  pos: tuple[float, float, float]
  target: tuple[float, float, float]
  fovy: float

  @classmethod
  def parse(cls, text: str) -> Framing:
    """'x,y,z,tx,ty,tz,fovy' (metres, degrees) -> Framing."""
    try:
      v = [float(t) for t in text.split(",")]
    except ValueError:
      v = []
    if len(v) != 7 or not 1 <= v[6] < 179:
      raise ValueError(
          f"A framing is 'x,y,z,target_x,target_y,target_z,fovy' with fovy "
          f"in [1, 179) degrees; got {text!r}."
      )
    return cls(tuple(v[:3]), tuple(v[3:6]), v[6])

  def apply(self, model: mujoco.MjModel, camera: str) -> None:
    """Moves the (world-fixed) `camera` of `model` to this framing."""
    cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    if cam < 0:
      raise ValueError(f"Camera {camera!r} is not in the model.")
    axes = np.array(scene.look_at(self.pos, self.target), float)
    x, y = axes[:3], axes[3:]
    rotation = np.stack([x, y, np.cross(x, y)], axis=1)
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, rotation.reshape(-1))
    model.cam_pos[cam] = self.pos
    model.cam_quat[cam] = quat
    model.cam_fovy[cam] = self.fovy


def pixel_shift(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    camera: str,
    point,
    delta,
    size: int,
) -> float:
  """Pixels that `point` (world, m) moves by in `camera`'s size x size image
  when moved by `delta` (m): a pinhole projection through the camera's pose
  in `data` (after `mj_forward`) and its vertical field of view."""
  cam = model.camera(camera).id
  position, rotation = data.cam_xpos[cam], data.cam_xmat[cam].reshape(3, 3)
  focal = size / 2 / np.tan(np.deg2rad(model.cam_fovy[cam]) / 2)

  def project(p):
    local = rotation.T @ (np.asarray(p, float) - position)  # Looks along -z.
    return focal * local[:2] / -local[2]

  point = np.asarray(point, float)
  return float(np.linalg.norm(project(point + delta) - project(point)))


def _arm_geoms(model: mujoco.MjModel) -> np.ndarray:
  """The robot's geoms: every body from the base down to the fingers."""
  base = model.body("robot_base").id
  arm = []
  for g in range(model.ngeom):
    b = model.geom_bodyid[g]
    while b not in (0, base):
      b = model.body_parentid[b]
    if b == base:
      arm.append(g)
  return np.array(arm)


def _footprint(ids: np.ndarray, geoms: np.ndarray) -> tuple[int, int]:
  """(pixels, pixels across) of the pixels showing any of `geoms`."""
  mask = np.isin(ids, geoms)
  count = int(mask.sum())
  if not count:
    return 0, 0
  rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
  return count, int(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)


def measure(
    seeds=(0, 1),
    num_steps: int = 600,
    every: int = 20,
    static_size: int = 96,
    gripper_size: int = 64,
    static_framing: Framing | None = None,
    frames_for_sheet: int = 0,
) -> dict:
  """Per camera and object: pixels, pixels across, how often seen, occlusion.

  Args:
    seeds: play episodes to replay (the play agent's seeds).
    num_steps: steps of each play episode.
    every: measure every this many steps.
    static_size, gripper_size: image sizes (square), as in `EnvConfig`.
    static_framing: the static camera's placement (None: the scene's).
    frames_for_sheet: also return this many (static, gripper) frame pairs
      spread over the measured states, for a contact sheet.

  Returns:
    {'states': n, 'sizes': {...}, 'framing': ..., 'cameras': {camera:
    {object: {'pixels' (median where seen), 'across' (median where seen),
    'seen' (fraction of states), 'hidden_by_arm' (fraction of its unoccluded
    pixels)}}}, 'near': {block: {'across', 'pixels', 'states'}} (gripper
    camera, tool within NEAR), 'frames': [(static, gripper), ...]}.
  """
  if every < 1 or num_steps < 2:
    raise ValueError(
        f"every must be >= 1 and num_steps >= 2; got {every}, {num_steps}."
    )
  env = playtable.PlayTableEnv(
      playtable.EnvConfig(static_size=static_size, gripper_size=gripper_size)
  )
  model = env.model
  if static_framing is not None:
    static_framing.apply(model, CAMERAS["static"])
  sizes = {"static": static_size, "gripper": gripper_size}
  renderer = rendering.Renderer(
      model, {CAMERAS[k]: (s, s) for k, s in sizes.items()}
  )
  named = {
      name: np.array([model.geom(g).id for g in geoms])
      for name, geoms in objects().items()
  }
  arm = _arm_geoms(model)
  alpha = model.geom_rgba[arm, 3].copy()
  blocks = {c: model.body(f"block_{c}").id for c in scene.BLOCK_NAMES}
  raw = {k: {o: [] for o in named} for k in sizes}  # (visible, across, whole)
  near = {c: [] for c in scene.BLOCK_NAMES}
  pushes = {c: [] for c in scene.BLOCK_NAMES}  # (along x, along y) in px.
  states, frames = 0, []
  try:
    for seed in seeds:
      episode = episodes.generate_episode(
          "play", int(seed), num_steps=num_steps, env=env
      )
      env.reset(seed=int(episode["episode_metadata"]["reset_seed"]))
      for t, action in enumerate(episode["steps"]["action"]):
        if t % every == 0:
          seen = renderer.render_segmentation(env.data)
          model.geom_rgba[arm, 3] = 0.0
          whole = renderer.render_segmentation(env.data)
          model.geom_rgba[arm, 3] = alpha
          for k, camera in CAMERAS.items():
            for o, geoms in named.items():
              pixels, across = _footprint(seen[camera], geoms)
              unoccluded, _ = _footprint(whole[camera], geoms)
              raw[k][o].append((pixels, across, unoccluded))
          for c, body in blocks.items():
            pushes[c].append(
                [
                    pixel_shift(
                        model,
                        env.data,
                        CAMERAS["static"],
                        env.data.xpos[body],
                        tasks.PUSH_DISTANCE * axis,
                        static_size,
                    )
                    for axis in np.eye(3)[:2]
                ]
            )
            if np.linalg.norm(env.data.xpos[body] - env.tcp_pos()) < NEAR:
              gripper_ids = seen[CAMERAS["gripper"]]
              near[c].append(_footprint(gripper_ids, named[f"{c} block"]))
          states += 1
          if frames_for_sheet:
            images = env.render()
            frames.append((images["rgb_static"], images["rgb_gripper"]))
        if t + 1 < len(episode["steps"]["action"]):
          env.step(action)
  finally:
    model.geom_rgba[arm, 3] = alpha
    renderer.close()
    env.close()
  report = {
      "states": states,
      "sizes": sizes,
      "framing": dataclasses.asdict(static_framing) if static_framing else None,
      "cameras": {k: {o: _summary(v) for o, v in raw[k].items()} for k in raw},
      "near": {f"{c} block": _near_summary(v) for c, v in near.items()},
      "push_pixels": {
          f"{c} block": dict(zip("xy", np.median(v, axis=0).tolist()))
          for c, v in pushes.items()
      },
  }
  if frames_for_sheet:
    pick = np.linspace(0, len(frames) - 1, frames_for_sheet).round()
    report["frames"] = [frames[int(i)] for i in pick]
  return report


def _summary(rows) -> dict:
  a = np.array(rows, float).reshape(-1, 3)
  seen = a[:, 0] >= SEEN_PIXELS
  whole = a[:, 2].sum()
  return {
      "pixels": float(np.median(a[seen, 0])) if seen.any() else 0.0,
      "across": float(np.median(a[seen, 1])) if seen.any() else 0.0,
      "seen": float(seen.mean()),
      "hidden_by_arm": float(1 - a[:, 0].sum() / whole) if whole else 1.0,
  }


def _near_summary(rows) -> dict:
  a = np.array(rows, float).reshape(-1, 2)
  return {
      "states": len(a),
      "pixels": float(np.median(a[:, 0])) if len(a) else 0.0,
      "across": float(np.median(a[:, 1])) if len(a) else 0.0,
  }


def markdown(report: dict) -> str:
  """The report as a Markdown table, one row per object."""
  s, g = report["sizes"]["static"], report["sizes"]["gripper"]
  lines = [
      f"| object | static {s} px: across / pixels | seen | hidden by the "
      f"arm | gripper {g} px: across / pixels | seen | near the tool "
      f"(< {NEAR} m): across / pixels |",
      "|---|---|---|---|---|---|---|",
  ]
  cams = report["cameras"]
  for o in cams["static"]:
    st, gr = cams["static"][o], cams["gripper"][o]
    near = report["near"].get(o)
    near_text = (
        f"{near['across']:.0f} / {near['pixels']:.0f} ({near['states']} "
        "states)"
        if near and near["states"]
        else ""
    )
    lines.append(
        f"| {o} | {st['across']:.0f} / {st['pixels']:.0f} | "
        f"{st['seen']:.0%} | {st['hidden_by_arm']:.0%} | "
        f"{gr['across']:.0f} / {gr['pixels']:.0f} | {gr['seen']:.0%} | "
        f"{near_text} |"
    )
  lines += [
      "",
      f"| block | static {s} px moved by a push of "
      f"{tasks.PUSH_DISTANCE * 100:.0f} cm along x (the pushes') | along y |",
      "|---|---|---|",
  ]
  for o, moved in report["push_pixels"].items():
    lines.append(f"| {o} | {moved['x']:.1f} | {moved['y']:.1f} |")
  return "\n".join(lines)
