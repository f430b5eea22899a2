"""Environment, physics, play-generation and rendering speed of PlayTable.

Every figure is measured on the trajectory of a real play episode (oracle
actions), on one core, after a warm-up:

* `env_steps_per_s`: `PlayTableEnv.step` with state observations.
* `raw_physics_steps_per_s`: bare `mujoco.mj_step(model, data, nstep=substeps)`
  on the same model, replaying the same mocap targets and finger controls, in
  control steps per second. `env_overhead` = env time / raw time - 1.
* `env_image_steps_per_s`: `step` with both cameras rendered.
* `play_realtime_factor`: simulated seconds of play generated (oracle and
  play agent included) per wall-clock second on one core.
* `render_fps`: frames/s of one camera at each size.
"""

from __future__ import annotations

import time

import mujoco
import numpy as np

from playlearn.envs import playtable
from playlearn.envs import rendering
from playlearn.play import episodes


def _time(fn, repeats: int = 3) -> float:
  """Best of `repeats` wall-clock durations of fn() (seconds)."""
  best = float("inf")
  for _ in range(repeats):
    tic = time.perf_counter()
    fn()
    best = min(best, time.perf_counter() - tic)
  return best


def env_and_physics(seed: int = 0, num_steps: int = 1500) -> dict:
  """Env step rate against raw MuJoCo on one recorded play trajectory."""
  env = playtable.PlayTableEnv()
  episode = episodes.generate_episode(
      "play", seed, num_steps=num_steps, env=env
  )
  actions = episode["steps"]["action"][:-1]
  controls = []

  def run_env(record=False):
    env.reset(seed=seed)
    for a in actions:
      env.step(a)
      if record:
        controls.append(
            (
                env.data.mocap_pos[0].copy(),
                env.data.mocap_quat[0].copy(),
                env.data.ctrl.copy(),
            )
        )

  run_env(record=True)
  m, d = env.model, env.data
  substeps = env.config.substeps

  def run_raw():
    env.reset(seed=seed)
    for pos, quat, ctrl in controls:
      d.mocap_pos[0] = pos
      d.mocap_quat[0] = quat
      d.ctrl[:] = ctrl
      mujoco.mj_step(m, d, nstep=substeps)

  # Interleaved, best of five each, so that load from other processes hits
  # both alike.
  env_seconds = raw_seconds = float("inf")
  for _ in range(5):
    env_seconds = min(env_seconds, _time(run_env, repeats=1))
    raw_seconds = min(raw_seconds, _time(run_raw, repeats=1))
  # Resets are part of both loops; take them out of both.
  reset_seconds = _time(lambda: env.reset(seed=seed), repeats=5)
  env_seconds -= reset_seconds
  raw_seconds -= reset_seconds
  n = len(actions)
  return {
      "steps": n,
      "substeps": substeps,
      "env_steps_per_s": n / env_seconds,
      "raw_physics_steps_per_s": n / raw_seconds,
      "raw_physics_substeps_per_s": n * substeps / raw_seconds,
      "env_overhead": env_seconds / raw_seconds - 1.0,
  }


def env_with_images(seed: int = 0, num_steps: int = 300) -> dict:
  env = playtable.PlayTableEnv(playtable.EnvConfig(images=True))
  rng = np.random.default_rng(seed)
  actions = rng.uniform(-0.5, 0.5, (num_steps, 7))
  env.reset(seed=seed)
  env.step(actions[0])  # warm up the renderer

  def run():
    env.reset(seed=seed)
    for a in actions:
      env.step(a)

  seconds = _time(run, repeats=1)
  env.close()
  return {
      "env_image_steps_per_s": num_steps / seconds,
      "image_sizes": {
          "rgb_static": env.config.static_size,
          "rgb_gripper": env.config.gripper_size,
      },
  }


def play_generation(seed: int = 0, num_steps: int = 3000) -> dict:
  env = playtable.PlayTableEnv()
  seconds = _time(
      lambda: episodes.generate_episode(
          "play", seed, num_steps=num_steps, env=env
      ),
      repeats=1,
  )
  sim_seconds = num_steps * env.control_dt
  return {
      "play_steps": num_steps,
      "play_seconds": seconds,
      "play_realtime_factor": sim_seconds / seconds,
      "play_steps_per_s": num_steps / seconds,
  }


def render_fps(sizes=(64, 96, 128), seconds: float = 2.0) -> dict:
  env = playtable.PlayTableEnv(
      playtable.EnvConfig(static_size=max(sizes), gripper_size=max(sizes))
  )
  env.reset(seed=0)
  out = {}
  for camera in ("static_cam", "gripper_cam"):
    for size in sizes:
      out[f"{camera}_{size}px"] = rendering.render_frames_per_second(
          env.model, env.data, camera, (size, size), seconds=seconds
      )
  return {"render_fps": out}
