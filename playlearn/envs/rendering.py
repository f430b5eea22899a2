"""Offscreen MuJoCo rendering without a display: EGL or OSMesa.

The GL backend is chosen in one place, `select_backend`, when a `Renderer` is
built, never when a module is imported:

* `egl`: EGL on the NVIDIA driver when there is a GPU; on a machine without one,
  EGL on Mesa's software rasteriser (llvmpipe). Debian packages: libegl1,
  libopengl0, libegl-mesa0 and libgl1-mesa-dri.
* `osmesa`: Mesa's off-screen library, also llvmpipe. Debian package:
  libosmesa6.

`mujoco.Renderer` is not used because `import mujoco` fixes its GL context class
from `MUJOCO_GL` at import time (glfw by default, which needs a display).

One process can use only one of the two: PyOpenGL, which MuJoCo's EGL and
OSMesa contexts are built on, fixes its platform (`PYOPENGL_PLATFORM`) the first
time it is imported. The first `Renderer` therefore sets the backend for the
whole process (and, through the environment, for its child processes); asking
for the other one afterwards raises `BackendUnavailableError`. Run the other
backend in a fresh process.

Frames are rendered into MuJoCo's offscreen framebuffer sized to the largest
camera, with shadows, reflections, the skybox and multisampling off. Speed on
one CPU core: see `select_backend`. On llvmpipe the cost of a frame hardly
depends on its size up to 128 px: it is vertex work, so the model's
`<visual><quality numslices=... numquads=...>` (tessellation of round geoms
and box faces) matter more than the image size.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import sys
import time
import weakref

import mujoco
import numpy as np

BACKENDS = ("egl", "osmesa")

# Backend on a machine without an NVIDIA GPU; see the figures in
# `select_backend` for why.
_CPU_DEFAULT = "egl"

_NAMES = {"egl": "EGL", "osmesa": "OSMesa"}
# libopengl0 is not pulled in by the other three, but PyOpenGL's EGL platform
# needs a GL dispatch library (libOpenGL, libGL or libGLESv2) to check errors.
DEBIAN_PACKAGES = {
    "egl": ("libegl1", "libopengl0", "libegl-mesa0", "libgl1-mesa-dri"),
    "osmesa": ("libosmesa6",),
}
# Shared libraries a backend needs: one name out of each group must load.
_LIBRARIES = {
    "egl": (
        ("libEGL.so.1",),
        ("libOpenGL.so.0", "libGL.so.1", "libGLESv2.so.2"),
    ),
    "osmesa": (("libOSMesa.so.8", "libOSMesa.so.6"),),
}


class BackendUnavailableError(RuntimeError):
  """A GL backend cannot be used here; the message says what to install."""


def _install_hint(backend: str) -> str:
  packages = " ".join(DEBIAN_PACKAGES[backend])
  hint = (
      f"Install the Debian packages: apt-get install -y "
      f"--no-install-recommends {packages} (or run `make system-deps`)."
  )
  if backend == "egl":
    hint += (
        " On an NVIDIA GPU, EGL comes with the driver instead "
        "(libEGL_nvidia.so)."
    )
  return hint


def _loads(library: str) -> bool:
  try:
    ctypes.CDLL(library)
  except OSError:
    return False
  return True


def _library_present(backend: str) -> bool:
  """Whether the backend's shared libraries load (no PyOpenGL involved)."""
  return all(
      any(_loads(name) for name in group) for group in _LIBRARIES[backend]
  )


def _pyopengl_platform() -> str | None:
  """The platform PyOpenGL is fixed to in this process, if already decided.

  Returns 'egl', 'osmesa', another lower-case name such as 'glx', or None while
  PyOpenGL is not imported and PYOPENGL_PLATFORM is unset (any backend works).
  """
  platform_module = sys.modules.get("OpenGL.platform")
  platform = getattr(platform_module, "PLATFORM", None)
  if platform is not None:
    return type(platform).__name__.removesuffix("Platform").lower()
  env = os.environ.get("PYOPENGL_PLATFORM", "").strip().lower()
  return env or None


def _has_nvidia_gpu() -> bool:
  return os.path.exists("/dev/nvidia0")


def select_backend(backend: str | None = None) -> str:
  """Returns the GL backend to render with: 'egl' or 'osmesa'.

  `None` or 'auto' chooses, in this order:
    1. the environment variable PLAYLEARN_GL ('egl', 'osmesa' or 'auto'),
    2. the backend this process is already committed to (an earlier Renderer,
       or PYOPENGL_PLATFORM set by the user or by dm_control),
    3. MUJOCO_GL if it is 'egl' or 'osmesa', so that dm_control and playlearn
       agree,
    4. 'egl' if there is an NVIDIA GPU (/dev/nvidia0),
    5. otherwise also 'egl' (see below),
  and in 3-5 falls back to the other backend when the preferred one's
  libraries are not installed.

  On a CPU the two are about as fast (docs/speed.md, "Rendering backends");
  EGL is the default because it is the code path used on GPUs and because
  recent Mesa releases (25.1 on) no longer ship OSMesa.

  Args:
    backend: 'egl', 'osmesa', 'auto' or None (same as 'auto').

  Returns:
    'egl' or 'osmesa'.

  Raises:
    ValueError: unknown backend name (the message lists the valid ones).
    BackendUnavailableError: the backend's system library is missing (the
      message names the Debian package) or PyOpenGL in this process is already
      fixed to another platform.
  """
  where = ""
  if backend is None or backend.strip().lower() == "auto":
    backend = os.environ.get("PLAYLEARN_GL", "").strip() or "auto"
    where = " (from PLAYLEARN_GL)"
  name = backend.strip().lower()
  if name not in BACKENDS + ("auto",):
    raise ValueError(
        f"Unknown rendering backend {backend!r}{where}; valid "
        f"backends: {', '.join(('auto',) + BACKENDS)}."
    )

  committed = _pyopengl_platform()
  if name == "auto":
    if committed in BACKENDS:
      return committed
    if committed is not None:
      raise BackendUnavailableError(_conflict_message(committed, "egl/osmesa"))
    mujoco_gl = os.environ.get("MUJOCO_GL", "").strip().lower()
    if mujoco_gl in BACKENDS:
      preferred = mujoco_gl
    elif _has_nvidia_gpu():
      preferred = "egl"
    else:
      preferred = _CPU_DEFAULT
    candidates = (preferred,) + tuple(b for b in BACKENDS if b != preferred)
    for candidate in candidates:
      if _library_present(candidate):
        return candidate
    raise BackendUnavailableError(
        "No offscreen GL library found (neither libEGL nor libOSMesa). "
        + " Or: ".join(_install_hint(b) for b in candidates)
    )

  if committed is not None and committed != name:
    raise BackendUnavailableError(_conflict_message(committed, name))
  if not _library_present(name):
    libraries = " and ".join(" or ".join(group) for group in _LIBRARIES[name])
    raise BackendUnavailableError(
        f"Rendering backend {name!r} needs {libraries}, which did not load. "
        f"{_install_hint(name)}"
    )
  return name


def _conflict_message(committed: str, wanted: str) -> str:
  return (
      f"Cannot render with {wanted}: PyOpenGL in this process is already fixed "
      f"to the {committed!r} platform (PYOPENGL_PLATFORM="
      f"{os.environ.get('PYOPENGL_PLATFORM')!r}). PyOpenGL chooses its "
      "platform once, at its first import, so one process can use only one "
      "backend. Use the same backend for every Renderer in the process (leave "
      "PLAYLEARN_GL unset, or set it before anything renders), or unset "
      "PYOPENGL_PLATFORM and make sure nothing imports OpenGL before the "
      "first Renderer."
  )


def _gl_context_class(backend: str):
  """Imports MuJoCo's context class; this fixes PyOpenGL's platform."""
  try:
    if backend == "egl":
      from mujoco import egl as gl_module  # pylint: disable=g-import-not-at-top
    else:
      from mujoco import osmesa as gl_module  # pylint: disable=g-import-not-at-top
  except (ImportError, OSError, AttributeError) as e:
    raise BackendUnavailableError(
        f"Cannot load MuJoCo's {_NAMES[backend]} context ({e}). "
        f"{_install_hint(backend)}"
    ) from e
  return gl_module.GLContext


# Renderers still open at interpreter exit are closed before MuJoCo's own
# exit handler terminates the EGL display; otherwise GLContext.__del__ prints
# an EGL error. atexit runs handlers last-in first-out, so ours is registered
# after MuJoCo's GL module is imported (see `_track`).
_OPEN_RENDERERS = weakref.WeakSet()
_EXIT_HANDLER_REGISTERED = False


def _close_open_renderers():
  for renderer in list(_OPEN_RENDERERS):
    renderer.close()


def _track(renderer) -> None:
  global _EXIT_HANDLER_REGISTERED
  if not _EXIT_HANDLER_REGISTERED:
    atexit.register(_close_open_renderers)
    _EXIT_HANDLER_REGISTERED = True
  _OPEN_RENDERERS.add(renderer)


class Renderer:
  """Renders RGB frames from named cameras of one model, offscreen.

  One GL context and one `MjrContext` per Renderer; a process may hold several
  (one per env). Each makes its own context current before it draws, so they
  can be used in turn from the same thread. A Renderer must not be used from
  two threads at once.

  Usage:
    with Renderer(model, {"static_cam": (96, 96)}) as renderer:
      frames = renderer.render(data)  # {"static_cam": uint8[96, 96, 3]}

  Attributes:
    backend: 'egl' or 'osmesa', as chosen by `select_backend`.
  """

  def __init__(
      self,
      model: mujoco.MjModel,
      cameras: dict[str, tuple[int, int]],
      backend: str | None = None,
      *,
      multisamples: int = 0,
  ):
    """Creates the GL context and the MuJoCo rendering context.

    Args:
      model: the model to render. Its offscreen buffer settings are changed
        only while the context is made, then restored.
      cameras: camera name in the model -> (height, width) of its frames.
      backend: see `select_backend`.
      multisamples: anti-aliasing samples per pixel. MuJoCo's default, 4, makes
        llvmpipe about 3x slower (measured on the PlayTable scene); use it for
        videos, not for training images.

    Raises:
      ValueError: no cameras, an unknown camera name or a bad size.
      BackendUnavailableError: see `select_backend`; also when the context
        cannot be created (for example EGL without Mesa's driver).
    """
    # Set first so that close() and __del__ work if __init__ fails below.
    self._gl_context = None
    self._mjr_context = None
    if not cameras:
      raise ValueError("Renderer needs at least one camera.")
    if multisamples < 0:
      raise ValueError(f"multisamples must be >= 0, got {multisamples}.")
    self._model = model
    self._views = []  # (name, MjvCamera, MjrRect, pixel buffer [H, W, 3])
    for name, size in cameras.items():
      camera_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, name)
      if camera_id < 0:
        known = [model.camera(i).name for i in range(model.ncam)]
        raise ValueError(
            f"Camera {name!r} is not in the model; its cameras are {known}."
        )
      height, width = (int(s) for s in size)
      if height <= 0 or width <= 0:
        raise ValueError(
            f"Camera {name!r}: bad size {size}, expected "
            "(height, width) > 0."
        )
      camera = mujoco.MjvCamera()
      camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
      camera.fixedcamid = camera_id
      self._views.append(
          (
              name,
              camera,
              mujoco.MjrRect(0, 0, width, height),
              np.empty((height, width, 3), np.uint8),
          )
      )
    max_height = max(h for h, _ in cameras.values())
    max_width = max(w for _, w in cameras.values())

    self.backend = select_backend(backend)
    gl_context_class = _gl_context_class(self.backend)
    try:
      self._gl_context = gl_context_class(max_width, max_height)
      self._gl_context.make_current()
    except (
        ImportError,
        RuntimeError,
        OSError,
        AttributeError,
        ctypes.ArgumentError,
    ) as e:
      raise BackendUnavailableError(
          f"Cannot create an {_NAMES[self.backend]} context ({e}). "
          f"{_install_hint(self.backend)}"
      ) from e

    # MjrContext sizes its offscreen buffer from the model: size it to the
    # largest camera, then put the model back as it was.
    global_, quality = model.vis.global_, model.vis.quality
    saved = (global_.offwidth, global_.offheight, quality.offsamples)
    global_.offwidth, global_.offheight = max_width, max_height
    quality.offsamples = multisamples
    try:
      self._mjr_context = mujoco.MjrContext(
          model, mujoco.mjtFontScale.mjFONTSCALE_100
      )
    finally:
      global_.offwidth, global_.offheight, quality.offsamples = saved
    mujoco.mjr_setBuffer(
        mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._mjr_context
    )

    self._option = mujoco.MjvOption()
    self._scene = mujoco.MjvScene(model, maxgeom=10_000)
    # Shadows and reflections cost a render pass each; the skybox is a large
    # textured draw. None of them is worth it at 64-128 px.
    self._scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = False
    self._scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
    self._scene.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = False
    _track(self)

  @property
  def cameras(self) -> dict[str, tuple[int, int]]:
    """Camera name -> (height, width)."""
    return {name: buffer.shape[:2] for name, _, _, buffer in self._views}

  def render(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
    """Renders every camera for the state in `data`.

    Args:
      data: the state to draw (of the Renderer's model); only read.

    Returns:
      Camera name -> uint8 [H, W, 3] RGB frame, upright (row 0 is the top),
      newly allocated on each call.
    """
    return {name: frame.copy() for name, frame in self._draw(data, "render")}

  def render_segmentation(self, data: mujoco.MjData) -> dict[str, np.ndarray]:
    """Which geom each pixel shows, for every camera.

    Returns:
      Camera name -> int32 [H, W] geom ids of the model, upright; -1 where no
      geom is drawn. Geoms hidden by `geom_rgba` alpha 0 or by their group are
      not drawn, as in `render`.
    """
    flags = self._scene.flags
    segment = (mujoco.mjtRndFlag.mjRND_SEGMENT, mujoco.mjtRndFlag.mjRND_IDCOLOR)
    for flag in segment:
      flags[flag] = True
    try:
      ids = {}
      for name, rgb in self._draw(data, "render_segmentation"):
        # A pixel's colour encodes 1 + the segid of the scene geom drawn
        # there (0: none); each scene geom knows its model object.
        rgb = rgb.astype(np.int32)
        segid = rgb[..., 0] + (rgb[..., 1] << 8) + (rgb[..., 2] << 16)
        lookup = np.full(self._scene.ngeom + 1, -1, np.int32)
        for g in self._scene.geoms[: self._scene.ngeom]:
          if g.segid >= 0 and g.objtype == mujoco.mjtObj.mjOBJ_GEOM:
            lookup[g.segid + 1] = g.objid
        ids[name] = lookup[np.clip(segid, 0, self._scene.ngeom)]
    finally:
      for flag in segment:
        flags[flag] = False
    return ids

  def _draw(self, data: mujoco.MjData, caller: str):
    """Yields (camera name, its upright frame as a view of its buffer)."""
    if self._mjr_context is None:
      raise RuntimeError(f"Renderer.{caller} called after close().")
    self._gl_context.make_current()
    for name, camera, rect, buffer in self._views:
      mujoco.mjv_updateScene(
          self._model,
          data,
          self._option,
          None,
          camera,
          mujoco.mjtCatBit.mjCAT_ALL,
          self._scene,
      )
      mujoco.mjr_render(rect, self._scene, self._mjr_context)
      mujoco.mjr_readPixels(buffer, None, rect, self._mjr_context)
      yield name, buffer[::-1]  # OpenGL's rows run bottom to top.

  def close(self) -> None:
    """Frees the GL resources; safe to call more than once."""
    if self._mjr_context is not None:
      # The textures and buffers belong to this Renderer's context, which need
      # not be the current one when several Renderers exist.
      if self._gl_context is not None:
        self._gl_context.make_current()
      self._mjr_context.free()
      self._mjr_context = None
    if self._gl_context is not None:
      self._gl_context.free()
      self._gl_context = None

  def __enter__(self) -> Renderer:
    return self

  def __exit__(self, *exc_info) -> None:
    self.close()

  def __del__(self):
    try:
      self.close()
    except Exception:  # pylint: disable=broad-except
      # At interpreter exit the GL libraries may already be unloaded.
      pass


def render_frames_per_second(
    model: mujoco.MjModel,
    data: mujoco.MjData,
    camera: str,
    size: tuple[int, int],
    seconds: float = 2.0,
    backend: str | None = None,
    multisamples: int = 0,
) -> float:
  """Measures how many frames/s one camera renders at (height, width) `size`.

  The rate includes scene update, drawing and read-back, not physics. The
  number of llvmpipe threads is fixed by the environment (LP_NUM_THREADS) when
  the first GL context of the process is made; set it before calling this.
  """
  with Renderer(
      model, {camera: size}, backend=backend, multisamples=multisamples
  ) as renderer:
    renderer.render(data)  # Warm up: shader compilation, texture upload.
    frames, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or frames < 10:
      renderer.render(data)
      frames += 1
  return frames / elapsed


def unavailable_reason(backend: str | None = None) -> str | None:
  """Why offscreen rendering does not work here (naming the packages), or None.

  Makes (and frees) a tiny Renderer, so it fixes the process's GL backend
  like the first real Renderer would.
  """
  model = mujoco.MjModel.from_xml_string(
      '<mujoco><worldbody><camera name="c" pos="0 0 1"/>'
      '<geom type="sphere" size="0.1"/></worldbody></mujoco>'
  )
  try:
    with Renderer(model, {"c": (8, 8)}, backend=backend) as renderer:
      renderer.render(mujoco.MjData(model))
  except BackendUnavailableError as e:
    return f"offscreen rendering unavailable: {e}"
  return None
