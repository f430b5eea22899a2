"""A gymnasium view of PlayTable, for code written against the gymnasium API.

    import gymnasium, playlearn
    env = gymnasium.make("playlearn/PlayTable-v0", images=True)

The dm_env environment stays the reference; this adapter only translates:

* observations: the dm_env dict, as a `spaces.Dict` of `Box`es built from the
  dm_env specs (copied on every call, as gymnasium requires);
* `reset(seed)` passes `seed` to the dm_env reset, so gymnasium and dm_env
  episodes of one seed are identical; without a seed, the episode seed is drawn
  from `self.np_random`, so `reset(seed=s)` followed by unseeded resets is a
  reproducible sequence;
* a dm_env LAST step with discount 0 (physics blew up,
  `info['physics_unstable']`) is `terminated`; with discount 1 (the config's
  `time_limit`) it is `truncated`. The registered id adds gymnasium's
  `TimeLimit` (300 steps) on top.

The id is registered by `playlearn.gym_registration` (on `import playlearn`),
which points gymnasium here without importing this module.
"""

from __future__ import annotations

from typing import Any

import dm_env
from dm_env import specs
import gymnasium
from gymnasium import spaces
import numpy as np

from playlearn.envs import registry
from playlearn.envs import scene


def spec_to_space(spec: specs.Array) -> spaces.Box:
  """A `Box` with the spec's shape, dtype and (where given) bounds."""
  dtype = np.dtype(spec.dtype)
  if isinstance(spec, specs.BoundedArray):
    low, high = spec.minimum, spec.maximum
  elif np.issubdtype(dtype, np.integer):
    low, high = np.iinfo(dtype).min, np.iinfo(dtype).max
  else:
    low, high = -np.inf, np.inf
  return spaces.Box(
      np.broadcast_to(np.asarray(low, dtype), spec.shape),
      np.broadcast_to(np.asarray(high, dtype), spec.shape),
      spec.shape,
      dtype,
  )


class PlayTableGymEnv(gymnasium.Env):
  """`gymnasium.Env` around `registry.load("PlayTable", **options)`."""

  metadata = {"render_modes": ["rgb_array"], "render_fps": scene.CONTROL_HZ}

  def __init__(self, render_mode: str | None = None, **options):
    """`options` are `EnvConfig` fields (images, static_size, time_limit...)."""
    valid_modes = self.metadata["render_modes"]
    if render_mode is not None and render_mode not in valid_modes:
      raise ValueError(
          f"unknown render_mode {render_mode!r}; valid: {valid_modes}"
      )
    self.base_env = registry.load("PlayTable", **options)
    self.render_mode = render_mode
    # A config may change the control rate; say the real one.
    self.metadata = {
        **self.metadata,
        "render_fps": round(1.0 / self.base_env.control_dt),
    }
    self.observation_space = spaces.Dict(
        {
            k: spec_to_space(s)
            for k, s in self.base_env.observation_spec().items()
        }
    )
    self.action_space = spec_to_space(self.base_env.action_spec())
    self._episode_over = True

  def reset(
      self, *, seed: int | None = None, options: dict[str, Any] | None = None
  ):
    del options  # No reset options.
    super().reset(seed=seed)
    if seed is None:
      seed = int(self.np_random.integers(2**31))
    timestep = self.base_env.reset(seed=seed)
    self._episode_over = False
    return self._obs(timestep), {"physics_unstable": False}

  def step(self, action):
    if self._episode_over:
      raise RuntimeError(
          "step() called before reset() or after the episode "
          "ended (terminated or truncated); call reset()."
      )
    timestep = self.base_env.step(action)
    info = {
        "physics_unstable": bool(
            self.base_env.last_info.get("physics_unstable", False)
        )
    }
    terminated = timestep.last() and timestep.discount == 0.0
    truncated = timestep.last() and not terminated
    self._episode_over = timestep.last()
    return (
        self._obs(timestep),
        float(timestep.reward),
        bool(terminated),
        bool(truncated),
        info,
    )

  def render(self):
    """The static camera's uint8 [S, S, 3] image of the current state."""
    if self.render_mode is None:
      gymnasium.logger.warn(
          "render() called with render_mode=None; pass "
          "render_mode='rgb_array' to the constructor."
      )
      return None
    return self.base_env.render()["rgb_static"]

  def close(self):
    self.base_env.close()

  def _obs(self, timestep: dm_env.TimeStep) -> dict[str, np.ndarray]:
    # dm_env may hand out the same arrays twice (an unstable step repeats the
    # previous observation); gymnasium users keep what they are given.
    return {k: np.array(v) for k, v in timestep.observation.items()}
