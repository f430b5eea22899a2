r"""Checks offscreen rendering on this machine and measures its speed.

    .venv/bin/python scripts/check_system.py
    .venv/bin/python scripts/check_system.py --cpus=2 --lp_num_threads=2
    .venv/bin/python scripts/check_system.py --xml=/tmp/playtable.xml \
        --camera=static_cam --multisamples=4

Prints which Debian packages each GL backend needs and whether they are
installed, then renders one camera at each size with each backend and prints
frames/s (median and best of --repeats runs of --seconds each; on a shared
machine the best is closer to the uncontended speed). Each backend runs in its
own process because PyOpenGL allows one platform per process; the process is
pinned to --cpus cores, and LP_NUM_THREADS (llvmpipe's rasteriser threads) is
set only there, never by the library. Exits non-zero when no backend works.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from absl import app
from absl import flags
from playlearn.envs import rendering

_BACKENDS = flags.DEFINE_list(
    "backends", list(rendering.BACKENDS), "Backends to try."
)
_SIZES = flags.DEFINE_list(
    "sizes", ["64", "96", "128"], "Square image sizes in pixels."
)
_SECONDS = flags.DEFINE_float("seconds", 1.0, "Length of one measurement.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Measurements per size.")
_CPUS = flags.DEFINE_integer("cpus", 1, "Cores the renderer may run on.")
_LP_NUM_THREADS = flags.DEFINE_string(
    "lp_num_threads", None, "LP_NUM_THREADS for llvmpipe; unset if not given."
)
_XML = flags.DEFINE_string("xml", None, "MJCF file; default a small scene.")
_CAMERA = flags.DEFINE_string("camera", "front", "Camera to render.")
_MULTISAMPLES = flags.DEFINE_integer(
    "multisamples", 0, "Anti-aliasing samples per pixel (0 is fastest)."
)
_JSON_OUT = flags.DEFINE_string("json_out", None, "Also write results here.")
_WORKER = flags.DEFINE_string("worker", None, "Internal: measure one backend.")

# A floor, a red box and a green ball seen from the front: the same kind of
# scene as tests/test_rendering.py.
_SCENE_XML = """
<mujoco>
  <worldbody>
    <light pos="0 0 2" dir="0 0 -1"/>
    <geom type="plane" size="1 1 0.1" rgba="0.6 0.6 0.6 1"/>
    <geom type="box" pos="0 0 0.1" size="0.1 0.1 0.1" rgba="0.9 0.1 0.1 1"/>
    <geom type="sphere" pos="-0.3 0 0.05" size="0.05" rgba="0.1 0.8 0.1 1"/>
    <camera name="front" pos="0 -1 0.5" xyaxes="1 0 0 0 0.45 0.9"/>
  </worldbody>
</mujoco>
"""


def _installed(package: str) -> bool:
  try:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
  except FileNotFoundError:  # Not a Debian system.
    return False
  return result.stdout.strip().endswith("installed")


def _measure(backend: str) -> dict:
  """Runs in the worker process."""
  import mujoco  # pylint: disable=g-import-not-at-top

  cpus = sorted(os.sched_getaffinity(0))[: _CPUS.value]
  os.sched_setaffinity(0, cpus)
  if _XML.value:
    model = mujoco.MjModel.from_xml_path(_XML.value)
  else:
    model = mujoco.MjModel.from_xml_string(_SCENE_XML)
  data = mujoco.MjData(model)
  mujoco.mj_forward(model, data)
  fps = {}
  for size in (int(s) for s in _SIZES.value):
    runs = [
        rendering.render_frames_per_second(
            model,
            data,
            _CAMERA.value,
            (size, size),
            seconds=_SECONDS.value,
            backend=backend,
            multisamples=_MULTISAMPLES.value,
        )
        for _ in range(_REPEATS.value)
    ]
    fps[size] = {
        "median": round(statistics.median(runs)),
        "best": round(max(runs)),
    }
  return {
      "backend": rendering.select_backend(backend),
      "fps": fps,
      "cpus": cpus,
      "multisamples": _MULTISAMPLES.value,
  }


def _run_worker(backend: str) -> dict:
  env = {
      k: v
      for k, v in os.environ.items()
      if k
      not in (
          "PYOPENGL_PLATFORM",
          "MUJOCO_GL",
          "PLAYLEARN_GL",
          "LP_NUM_THREADS",
      )
  }
  if _LP_NUM_THREADS.value is not None:
    env["LP_NUM_THREADS"] = _LP_NUM_THREADS.value
  args = [a for a in sys.argv[1:] if not a.startswith("--worker")]
  result = subprocess.run(
      [sys.executable, __file__, f"--worker={backend}", *args],
      capture_output=True,
      text=True,
      env=env,
      check=False,
  )
  lines = result.stdout.strip().splitlines()
  if result.returncode == 0 and lines:
    return json.loads(lines[-1])
  error = result.stderr.strip().splitlines()
  return {"backend": backend, "error": error[-1] if error else "no output"}


def main(argv):
  del argv  # Unused.
  if _WORKER.value:
    print(json.dumps(_measure(_WORKER.value)))
    return 0

  print(f"NVIDIA GPU (/dev/nvidia0): {os.path.exists('/dev/nvidia0')}")
  for backend, packages in rendering.DEBIAN_PACKAGES.items():
    status = ", ".join(
        f"{p} {'ok' if _installed(p) else 'MISSING'}" for p in packages
    )
    print(f"{backend:7s} needs {status}")
  threads = _LP_NUM_THREADS.value or "unset"
  print(
      f"\nframes/s, {_CPUS.value} core(s), LP_NUM_THREADS={threads}, "
      f"median of {_REPEATS.value} x {_SECONDS.value:g} s"
  )
  sizes = [int(s) for s in _SIZES.value]
  print("backend " + "".join(f"{s:>7d}" for s in sizes))
  results = []
  for backend in _BACKENDS.value:
    result = _run_worker(backend)
    results.append(result)
    if "error" in result:
      print(f"{backend:8s}failed: {result['error']}")
    else:
      print(
          f"{backend:8s}"
          + "".join(f"{result['fps'][str(s)]['median']:>7d}" for s in sizes)
          + "   best: "
          + " ".join(f"{result['fps'][str(s)]['best']}" for s in sizes)
      )
  if _JSON_OUT.value:
    with open(_JSON_OUT.value, "w") as f:
      json.dump(
          {"lp_num_threads": _LP_NUM_THREADS.value, "results": results},
          f,
          indent=2,
      )
  return 0 if any("error" not in r for r in results) else 1


if __name__ == "__main__":
  app.run(main)
