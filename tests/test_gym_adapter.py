"""Tests of the gymnasium adapter (`playlearn.envs.gym_adapter`)."""

from __future__ import annotations

import functools
import warnings

from absl.testing import absltest
import gymnasium
from gymnasium import spaces
from gymnasium.utils import env_checker
import numpy as np

import playlearn  # noqa: F401  (registers the gymnasium id)
from playlearn import gym_registration
from playlearn.envs import gym_adapter
from playlearn.envs import registry
from playlearn.envs import rendering

_SMALL_IMAGES = dict(images=True, static_size=32, gripper_size=24)


@functools.cache
def _rendering_unavailable() -> str | None:
  return rendering.unavailable_reason()


def _check_env(env: gymnasium.Env, **kwargs) -> None:
  """gymnasium's checker, with its warnings turned into failures.

  Allowed: the warning that the state Box is unbounded (the dm_env spec
  gives no bounds), and, for an env built without `gymnasium.make`, that the
  other render modes cannot be made from a spec.
  """
  with warnings.catch_warnings():
    warnings.simplefilter("error")
    warnings.filterwarnings("ignore", message=".*Box observation space.*inf")
    warnings.filterwarnings("ignore", message=".*not having a spec")
    env_checker.check_env(env, **kwargs)


class GymAdapterTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    gym_registration.register()
    self.env = gym_adapter.PlayTableGymEnv()
    self.addCleanup(self.env.close)

  def test_check_env(self):
    _check_env(self.env.unwrapped)

  def test_check_env_on_the_registered_id(self):
    env = gymnasium.make(gym_registration.ENV_ID)
    self.addCleanup(env.close)
    self.assertEqual(env.spec.max_episode_steps, 300)
    # check_env renders every declared mode of a made env; that is tested
    # (and skipped without a GL library) in test_render_rgb_array.
    _check_env(env.unwrapped, skip_render_check=True)

  def test_register_gymnasium_is_idempotent(self):
    with warnings.catch_warnings():
      warnings.simplefilter("error")  # gymnasium warns when it re-registers.
      gym_registration.register()
      gym_registration.register()
    spec = gymnasium.spec(gym_registration.ENV_ID)
    self.assertEqual(
        spec.entry_point, "playlearn.envs.gym_adapter:PlayTableGymEnv"
    )

  def test_spaces(self):
    self.assertEqual(
        self.env.action_space, spaces.Box(-1.0, 1.0, (7,), np.float32)
    )
    self.assertEqual(
        set(self.env.observation_space.spaces), {"state", "target"}
    )
    state = self.env.observation_space["state"]
    self.assertEqual((state.shape, state.dtype), ((42,), np.float32))
    self.assertEqual(self.env.metadata["render_fps"], 15)

  def test_spaces_contain_observations(self):
    obs, info = self.env.reset(seed=0)
    self.assertIn(obs, self.env.observation_space)
    self.assertEqual(info, {"physics_unstable": False})
    self.env.action_space.seed(0)
    for _ in range(10):
      obs, reward, terminated, truncated, info = self.env.step(
          self.env.action_space.sample()
      )
      self.assertIn(obs, self.env.observation_space)
      self.assertEqual(reward, 0.0)
      self.assertFalse(terminated or truncated)
      self.assertEqual(info, {"physics_unstable": False})

  def test_seed_goes_to_the_dm_env(self):
    dm = registry.load("PlayTable")
    obs, _ = self.env.reset(seed=11)
    np.testing.assert_array_equal(
        obs["state"], dm.reset(seed=11).observation["state"]
    )

  def test_seeded_resets_are_reproducible(self):
    other = gym_adapter.PlayTableGymEnv()
    runs = []
    for env in (self.env, other, self.env):
      first, _ = env.reset(seed=3)
      # Unseeded resets continue a sequence drawn from env.np_random.
      runs.append(
          [first["state"]] + [env.reset()[0]["state"] for _ in range(2)]
      )
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])
    self.assertFalse(np.array_equal(runs[0][1], runs[0][2]))
    self.assertFalse(np.array_equal(runs[0][0], runs[0][1]))

  def test_physics_instability_terminates_with_the_info_flag(self):
    self.env.reset(seed=1)
    self.env.base_env.data.qvel[:] = np.nan
    obs, _, terminated, truncated, info = self.env.step(np.zeros(7, np.float32))
    self.assertTrue(terminated)
    self.assertFalse(truncated)
    self.assertIs(info["physics_unstable"], True)
    self.assertIn(obs, self.env.observation_space)
    with self.assertRaisesRegex(RuntimeError, "reset"):
      self.env.step(np.zeros(7, np.float32))

  def test_config_time_limit_truncates(self):
    env = gym_adapter.PlayTableGymEnv(time_limit=2)
    env.reset(seed=0)
    ends = [env.step(np.zeros(7, np.float32))[2:4] for _ in range(2)]
    self.assertEqual(ends, [(False, False), (False, True)])

  def test_registered_time_limit_truncates(self):
    env = gymnasium.make(gym_registration.ENV_ID, max_episode_steps=3)
    self.addCleanup(env.close)
    env.reset(seed=0)
    ends = [env.step(np.zeros(7, np.float32))[2:4] for _ in range(3)]
    self.assertEqual(ends, [(False, False), (False, False), (False, True)])

  def test_bad_options_raise(self):
    with self.assertRaisesRegex(ValueError, "'imgs'.*images"):
      gym_adapter.PlayTableGymEnv(imgs=True)
    with self.assertRaisesRegex(ValueError, "'human'.*rgb_array"):
      gym_adapter.PlayTableGymEnv(render_mode="human")

  def test_non_finite_action_raises(self):
    self.env.reset(seed=0)
    with self.assertRaisesRegex(ValueError, "non-finite"):
      self.env.step(np.full(7, np.nan, np.float32))


class GymAdapterImagesTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    reason = _rendering_unavailable()
    if reason:
      self.skipTest(reason)

  def test_check_env_with_images(self):
    env = gym_adapter.PlayTableGymEnv(render_mode="rgb_array", **_SMALL_IMAGES)
    self.addCleanup(env.close)
    _check_env(env)
    self.assertEqual(
        set(env.observation_space.spaces),
        {"state", "target", "rgb_static", "rgb_gripper"},
    )
    obs, _ = env.reset(seed=0)
    self.assertIn(obs, env.observation_space)

  def test_render_rgb_array(self):
    env = gymnasium.make(
        gym_registration.ENV_ID, render_mode="rgb_array", static_size=32
    )
    self.addCleanup(env.close)
    env.reset(seed=0)
    frame = env.render()
    self.assertEqual((frame.shape, frame.dtype), ((32, 32, 3), np.uint8))
    self.assertGreater(frame.std(), 1.0)  # Not a blank frame.
    _check_env(env.unwrapped)  # Includes the render checks of a made env.


if __name__ == "__main__":
  absltest.main()
