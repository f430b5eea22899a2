"""Tests for playlearn.envs.rendering.

Frames are rendered in a child process per backend (this file run as a script):
PyOpenGL allows one platform per process, so one test process cannot draw with
both EGL and OSMesa. The choice of backend is plain logic and is tested here,
in process, with the system probes replaced.
"""

from __future__ import annotations

import os
import subprocess
import sys

import mujoco
import numpy as np
import pytest

from playlearn.envs import rendering

# A grey floor, a red box in the middle (on a slide joint so that it can be
# moved), a green ball on the left and a blue ball floating above the box, so
# that a mirrored or upside-down image shows. Camera "front" looks at the box.
# The offscreen settings are odd values that the Renderer must leave alone.
_XML = """
<mujoco>
  <visual>
    <global offwidth="320" offheight="200"/>
    <quality offsamples="2"/>
  </visual>
  <worldbody>
    <light pos="0 0 2" dir="0 0 -1"/>
    <geom name="floor" type="plane" size="1 1 0.1" rgba="0.6 0.6 0.6 1"/>
    <body name="box" pos="0 0 0.1">
      <joint name="slide" type="slide" axis="1 0 0"/>
      <geom type="box" size="0.1 0.1 0.1" rgba="0.9 0.1 0.1 1"/>
    </body>
    <geom name="left_ball" type="sphere" pos="-0.3 0 0.05" size="0.05"
          rgba="0.1 0.8 0.1 1"/>
    <geom name="top_ball" type="sphere" pos="0 0 0.32" size="0.04"
          rgba="0.1 0.1 0.9 1"/>
    <camera name="front" pos="0 -1 0.5" xyaxes="1 0 0 0 0.45 0.9"/>
    <camera name="side" pos="1 0 0.4" xyaxes="0 1 0 -0.4 0 0.9"/>
  </worldbody>
</mujoco>
"""
_UNAVAILABLE_EXIT_CODE = 3


def _model_and_data():
  model = mujoco.MjModel.from_xml_string(_XML)
  data = mujoco.MjData(model)
  mujoco.mj_forward(model, data)
  return model, data


def _offscreen_settings(model):
  return (
      model.vis.global_.offwidth,
      model.vis.global_.offheight,
      model.vis.quality.offsamples,
  )


def _render_all(backend: str, out_path: str) -> None:
  """Child process: renders with two Renderers and saves the frames."""
  model, data = _model_and_data()
  try:
    small = rendering.Renderer(model, {"front": (64, 64)}, backend=backend)
  except rendering.BackendUnavailableError as e:
    print(e)
    sys.exit(_UNAVAILABLE_EXIT_CODE)
  offscreen = _offscreen_settings(model)
  with rendering.Renderer(
      model, {"front": (96, 96), "side": (64, 80)}, backend=backend
  ) as large:
    frames = {"small_first": small.render(data)["front"]}
    for name, frame in large.render(data).items():
      frames[f"large_{name}"] = frame
    frames["segmentation"] = large.render_segmentation(data)["front"]
    # Again after the other Renderer's context has drawn.
    frames["small_again"] = small.render(data)["front"]
    data.qpos[0] = 0.25
    mujoco.mj_forward(model, data)
    frames["small_moved"] = small.render(data)["front"]
  with rendering.Renderer(
      model, {"front": (64, 64)}, backend=backend, multisamples=4
  ) as smooth:
    frames["small_moved_multisampled"] = smooth.render(data)["front"]
  small.close()
  small.close()  # A second close is harmless.
  try:
    small.render(data)
    closed_error = ""
  except RuntimeError as e:
    closed_error = str(e)
  np.savez(
      out_path,
      backend=small.backend,
      closed_error=closed_error,
      model_unchanged=offscreen == _offscreen_settings(model),
      auto=rendering.select_backend(),
      **frames,
  )


def _child_env() -> dict[str, str]:
  """The environment without GL choices inherited from this process."""
  drop = ("PYOPENGL_PLATFORM", "PLAYLEARN_GL", "MUJOCO_GL")
  env = {k: v for k, v in os.environ.items() if k not in drop}
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  env["PYTHONPATH"] = os.pathsep.join(
      [root] + [p for p in [os.environ.get("PYTHONPATH")] if p]
  )
  return env


@pytest.fixture(scope="module", params=rendering.BACKENDS)
def frames(request, tmp_path_factory) -> dict[str, np.ndarray]:
  backend = request.param
  out_path = tmp_path_factory.mktemp(backend) / "frames.npz"
  result = subprocess.run(
      [sys.executable, os.path.abspath(__file__), backend, str(out_path)],
      capture_output=True,
      text=True,
      env=_child_env(),
      timeout=120,
      check=False,
  )
  if result.returncode == _UNAVAILABLE_EXIT_CODE:
    pytest.skip(f"{backend} is not usable here: {result.stdout.strip()}")
  assert result.returncode == 0, result.stderr
  with np.load(out_path) as saved:
    return {k: saved[k] for k in saved.files} | {"requested": backend}


def _mask(frame, channel):
  """Pixels where `channel` (0 red, 1 green, 2 blue) clearly dominates."""
  frame = frame.astype(np.int32)
  others = [c for c in range(3) if c != channel]
  return (
      (frame[..., channel] > 60)
      & (frame[..., channel] > 2 * frame[..., others[0]])
      & (frame[..., channel] > 2 * frame[..., others[1]])
  )


def test_uses_the_requested_backend(frames):
  assert str(frames["backend"]) == frames["requested"]
  assert str(frames["auto"]) in rendering.BACKENDS


@pytest.mark.parametrize(
    "key,shape",
    [
        ("small_first", (64, 64, 3)),
        ("large_front", (96, 96, 3)),
        ("large_side", (64, 80, 3)),
    ],
)
def test_frames_have_requested_shape_and_content(frames, key, shape):
  frame = frames[key]
  assert frame.dtype == np.uint8
  assert frame.shape == shape
  assert frame.flags.c_contiguous
  assert frame.std() > 10, "image is (nearly) uniform"


@pytest.mark.parametrize("key", ["small_first", "large_front"])
def test_box_is_in_the_middle_and_image_is_upright(frames, key):
  frame = frames[key]
  h, w, _ = frame.shape
  r, g, b = frame[h // 2, w // 2].astype(int)
  assert r > 60 and r > 2 * g and r > 2 * b, f"centre pixel {r, g, b}"
  # The green ball is left of the box, not mirrored to the right.
  green_columns = np.nonzero(_mask(frame, 1).any(axis=0))[0]
  assert green_columns.size and green_columns.max() < w // 2
  # The blue ball floats above the box: rows count from the top.
  blue_rows = np.nonzero(_mask(frame, 2).any(axis=1))[0]
  red_rows = np.nonzero(_mask(frame, 0).any(axis=1))[0]
  assert blue_rows.size and blue_rows.mean() < red_rows.mean()


def test_segmentation_names_the_geom_of_each_pixel(frames):
  ids, rgb = frames["segmentation"], frames["large_front"]
  model, _ = _model_and_data()
  h, w = ids.shape
  assert ids.dtype == np.int32 and ids.shape == rgb.shape[:2]
  box = model.geom_bodyid == model.body("box").id
  assert box[ids[h // 2, w // 2]], "the centre pixel is not the box"
  green = _mask(rgb, 1)
  assert green.any()
  ball = model.geom("left_ball").id
  # The pixels the ball colours green are the ball's (edges may differ).
  assert (ids[green] == ball).mean() > 0.9
  assert set(np.unique(ids)) <= set(range(-1, model.ngeom))


def test_same_state_renders_identically_across_renderers(frames):
  np.testing.assert_array_equal(frames["small_first"], frames["small_again"])


def test_moving_the_box_changes_the_frame(frames):
  changed = np.any(frames["small_first"] != frames["small_moved"], axis=-1)
  assert changed.mean() > 0.02


def test_render_after_close_raises_and_model_is_untouched(frames):
  assert "close" in str(frames["closed_error"])
  assert bool(frames["model_unchanged"])


def test_multisampling_smooths_edges_only(frames):
  plain = frames["small_moved"].astype(int)
  smooth = frames["small_moved_multisampled"].astype(int)
  differs = np.any(plain != smooth, axis=-1)
  # Anti-aliasing changes some edge pixels, and nothing else much.
  assert 0 < differs.mean() < 0.2
  assert np.abs(plain - smooth).mean() < 5


def test_import_and_selection_load_no_gl():
  code = (
      "import os, sys\n"
      "from playlearn.envs import rendering\n"
      "backend = rendering.select_backend()\n"
      "assert 'OpenGL' not in sys.modules, 'PyOpenGL imported'\n"
      "assert 'PYOPENGL_PLATFORM' not in os.environ\n"
      "print(backend)\n"
  )
  result = subprocess.run(
      [sys.executable, "-c", code],
      capture_output=True,
      text=True,
      env=_child_env(),
      timeout=60,
      check=False,
  )
  if result.returncode and "BackendUnavailableError" in result.stderr:
    pytest.skip(f"no GL library: {result.stderr.strip().splitlines()[-1]}")
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() in rendering.BACKENDS


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_unknown_camera_names_it():
  model, _ = _model_and_data()
  with pytest.raises(ValueError, match=r"'nope'.*\['front', 'side'\]"):
    rendering.Renderer(model, {"nope": (64, 64)})


def test_bad_sizes():
  model, _ = _model_and_data()
  with pytest.raises(ValueError, match="'front'"):
    rendering.Renderer(model, {"front": (0, 64)})
  with pytest.raises(ValueError, match="at least one camera"):
    rendering.Renderer(model, {})
  with pytest.raises(ValueError, match="multisamples"):
    rendering.Renderer(model, {"front": (64, 64)}, multisamples=-1)


@pytest.fixture
def fresh_process(monkeypatch):
  """As if nothing had rendered yet, with both libraries installed."""
  for name in ("PLAYLEARN_GL", "MUJOCO_GL", "PYOPENGL_PLATFORM"):
    monkeypatch.delenv(name, raising=False)
  monkeypatch.setattr(rendering, "_pyopengl_platform", lambda: None)
  monkeypatch.setattr(rendering, "_has_nvidia_gpu", lambda: False)
  monkeypatch.setattr(rendering, "_library_present", lambda backend: True)
  return monkeypatch


@pytest.mark.usefixtures("fresh_process")
def test_bogus_backend_lists_valid_ones():
  with pytest.raises(ValueError, match="'vulkan'.*auto, egl, osmesa"):
    rendering.select_backend("vulkan")
  model, _ = _model_and_data()
  with pytest.raises(ValueError, match="'vulkan'"):
    rendering.Renderer(model, {"front": (64, 64)}, backend="vulkan")


def test_bogus_backend_in_environment(fresh_process):
  fresh_process.setenv("PLAYLEARN_GL", "gpu")
  with pytest.raises(ValueError, match="'gpu' \\(from PLAYLEARN_GL\\)"):
    rendering.select_backend()


@pytest.mark.usefixtures("fresh_process")
def test_explicit_choice_wins():
  assert rendering.select_backend("OSMesa") == "osmesa"
  assert rendering.select_backend("egl") == "egl"


@pytest.mark.parametrize(
    "env,gpu,expected",
    [
        ({}, False, rendering._CPU_DEFAULT),
        ({}, True, "egl"),
        ({"MUJOCO_GL": "osmesa"}, True, "osmesa"),
        ({"PLAYLEARN_GL": "osmesa", "MUJOCO_GL": "egl"}, True, "osmesa"),
        ({"PLAYLEARN_GL": "egl"}, False, "egl"),
        ({"PLAYLEARN_GL": "auto", "MUJOCO_GL": "glfw"}, True, "egl"),
    ],
)
def test_auto_order(fresh_process, env, gpu, expected):
  for name, value in env.items():
    fresh_process.setenv(name, value)
  fresh_process.setattr(rendering, "_has_nvidia_gpu", lambda: gpu)
  assert rendering.select_backend() == expected
  assert rendering.select_backend("auto") == expected


def test_auto_falls_back_to_the_installed_library(fresh_process):
  fresh_process.setattr(
      rendering, "_library_present", lambda backend: backend == "osmesa"
  )
  assert rendering.select_backend() == "osmesa"
  fresh_process.setattr(
      rendering, "_library_present", lambda backend: backend == "egl"
  )
  assert rendering.select_backend() == "egl"


@pytest.mark.parametrize(
    "backend,packages",
    [
        ("egl", "libegl1 libopengl0 libegl-mesa0 libgl1-mesa-dri"),
        ("osmesa", "libosmesa6"),
    ],
)
def test_missing_library_names_the_debian_package(
    fresh_process, backend, packages
):
  fresh_process.setattr(rendering, "_library_present", lambda b: False)
  with pytest.raises(rendering.BackendUnavailableError, match=packages):
    rendering.select_backend(backend)
  with pytest.raises(rendering.BackendUnavailableError, match=packages):
    rendering.select_backend()


def test_process_already_committed_to_a_platform(fresh_process):
  fresh_process.setattr(rendering, "_pyopengl_platform", lambda: "osmesa")
  assert rendering.select_backend() == "osmesa"
  with pytest.raises(
      rendering.BackendUnavailableError,
      match="one process can use only one backend",
  ):
    rendering.select_backend("egl")
  fresh_process.setattr(rendering, "_pyopengl_platform", lambda: "glx")
  with pytest.raises(
      rendering.BackendUnavailableError,
      match="'glx' platform.*PYOPENGL_PLATFORM",
  ):
    rendering.select_backend()


if __name__ == "__main__":
  _render_all(backend=sys.argv[1], out_path=sys.argv[2])
