"""Tests of the PlayTable dm_env environment and the environment registry."""

from __future__ import annotations

import dataclasses
import functools
import subprocess
import sys
from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import dm_env
from dm_env import test_utils
import numpy as np

from playlearn.envs import playtable
from playlearn.envs import registry
from playlearn.envs import rendering

_SMALL_IMAGES = dict(images=True, static_size=32, gripper_size=24)


def _random_actions(seed: int, n: int, scale: float = 1.0) -> np.ndarray:
  return (
      np.random.default_rng(seed)
      .uniform(-scale, scale, (n, playtable.ACTION_DIM))
      .astype(np.float32)
  )


def _states(env, actions) -> np.ndarray:
  """State observations after each action: [T, STATE_DIM]."""
  return np.stack([env.step(a).observation["state"] for a in actions])


@functools.cache
def _rendering_unavailable() -> str | None:
  return rendering.unavailable_reason()


class PlayTableContractTest(test_utils.EnvironmentTestMixin, absltest.TestCase):
  """dm_env's interface contract, episodes ended by a short time limit."""

  def make_object_under_test(self):
    return registry.load("PlayTable", time_limit=8)

  def make_action_sequence(self):
    # 20 steps with time_limit=8: two LAST steps and a restart in between.
    yield from _random_actions(0, 20)


class PlayTableImagesContractTest(
    test_utils.EnvironmentTestMixin, absltest.TestCase
):

  def setUp(self):
    reason = _rendering_unavailable()
    if reason:
      self.skipTest(reason)
    super().setUp()

  def make_object_under_test(self):
    return registry.load("PlayTable", time_limit=4, **_SMALL_IMAGES)

  def make_action_sequence(self):
    yield from _random_actions(0, 6)

  def test_images_match_config(self):
    obs = self.environment.reset(seed=0).observation
    self.assertEqual(obs["rgb_static"].shape, (32, 32, 3))
    self.assertEqual(obs["rgb_gripper"].shape, (24, 24, 3))
    self.assertGreater(obs["rgb_static"].std(), 1.0)  # Not a blank frame.


class PlayTableEnvTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    self.env = registry.load("PlayTable")
    self.addCleanup(self.env.close)

  def test_same_seed_and_actions_give_bitwise_same_observations(self):
    actions = _random_actions(1, 30)
    other = registry.load("PlayTable")
    first = self.env.reset(seed=3).observation["state"]
    np.testing.assert_array_equal(
        first, other.reset(seed=3).observation["state"]
    )
    run_1 = _states(self.env, actions)
    run_2 = _states(other, actions)
    self.env.reset(seed=3)
    run_3 = _states(self.env, actions)  # Same instance, second episode.
    np.testing.assert_array_equal(run_1, run_2)
    np.testing.assert_array_equal(run_1, run_3)
    self.assertGreater(np.abs(run_1[-1] - first).max(), 0.01)  # It moved.

  def test_different_seeds_give_different_scenes(self):
    a = self.env.reset(seed=0).observation["state"]
    b = self.env.reset(seed=1).observation["state"]
    self.assertFalse(np.array_equal(a, b))

  def test_non_finite_action_names_the_indices_and_changes_nothing(self):
    self.env.reset(seed=0)
    time_before = self.env.data.time
    action = np.zeros(7)
    action[2], action[5] = np.inf, np.nan
    with self.assertRaisesRegex(ValueError, r"\b2\b.*\b5\b"):
      self.env.step(action)
    self.assertEqual(self.env.data.time, time_before)
    self.assertEqual(self.env.step(np.zeros(7)).step_type, dm_env.StepType.MID)

  @parameterized.parameters((6,), (8,), (1, 7), ())
  def test_wrong_action_shape_raises(self, *shape):
    self.env.reset(seed=0)
    with self.assertRaisesRegex(ValueError, r"shape"):
      self.env.step(np.zeros(shape))

  def test_out_of_range_action_is_clipped(self):
    action = np.array([3.0, -2.0, 0.5, 1.5, -1.0, -7.0, 2.0])
    other = registry.load("PlayTable")
    self.env.reset(seed=2)
    other.reset(seed=2)
    np.testing.assert_array_equal(
        _states(self.env, [action] * 5),
        _states(other, [np.clip(action, -1.0, 1.0)] * 5),
    )

  @parameterized.named_parameters(
      ("nan_qvel", "qvel", np.nan),
      ("huge_qvel", "qvel", 1e12),
      ("nan_warmstart", "qacc_warmstart", np.nan),
  )
  def test_physics_instability_ends_the_episode(self, field, value):
    self.env.reset(seed=1)
    before = self.env.step(np.zeros(7)).observation["state"].copy()
    getattr(self.env.data, field)[:] = value
    timestep = self.env.step(np.zeros(7))
    self.assertEqual(timestep.step_type, dm_env.StepType.LAST)
    self.assertEqual(timestep.discount, 0.0)
    self.assertIs(self.env.last_info["physics_unstable"], True)
    state = timestep.observation["state"]
    self.assertTrue(np.all(np.isfinite(state)))
    # The documented fallback: the last good (pre-step) observation.
    np.testing.assert_array_equal(state, before)
    self.assertEqual(
        self.env.step(np.zeros(7)).step_type, dm_env.StepType.FIRST
    )
    self.assertIs(self.env.last_info["physics_unstable"], False)

  def test_stable_steps_are_not_flagged(self):
    self.env.reset(seed=1)
    for action in _random_actions(4, 10):
      self.env.step(action)
      self.assertIs(self.env.last_info["physics_unstable"], False)

  # MuJoCo's auto-reset on a bad qvel zeroes `data.warning` and then counts
  # one, and `set_state` keeps the counts: after one instability and a
  # `set_state` (not `reset`), a second one leaves the count at 1, so `step`'s
  # "count went up" test misses it and the arm silently teleports to qpos0.
  # Fix in PlayTableEnv (e.g. clear `data.warning` in `set_state`, or zero the
  # counts before each `mj_step`); then remove this decorator.
  def test_instability_after_set_state_is_detected(self):
    self.env.reset(seed=1)
    saved = self.env.get_state()
    self.env.data.qvel[:] = np.nan
    self.env.step(np.zeros(7))
    self.env.set_state(saved)
    self.env.data.qvel[:] = np.nan
    timestep = self.env.step(np.zeros(7))
    self.assertIs(self.env.last_info["physics_unstable"], True)
    self.assertTrue(timestep.last())

  # After an unstable step the returned observation is the pre-step one, but
  # `env.data` holds MuJoCo's auto-reset (qpos0: arm straight up, drawer
  # shut), so `scene_state()` at the episode's end disagrees with it and
  # `tasks.completed_tasks(start, env.scene_state())` reports spurious
  # successes (close_drawer from an open drawer). Fix in PlayTableEnv.step
  # (e.g. save the physics state before `mj_step` and restore it on
  # instability); then remove this decorator.
  def test_scene_after_instability_matches_the_observation(self):
    self.env.reset(seed=1)
    self.env.step(np.zeros(7))
    self.env.data.qvel[:] = np.nan
    state = self.env.step(np.zeros(7)).observation["state"]
    np.testing.assert_allclose(
        self.env.scene_state().tcp_pos,
        state[playtable.STATE_LAYOUT["tcp_pos"]],
        atol=1e-6,
    )

  def test_time_limit_truncates_with_discount_one(self):
    env = registry.load("PlayTable", time_limit=3)
    env.reset(seed=0)
    steps = [env.step(np.zeros(7)) for _ in range(4)]
    self.assertEqual(
        [s.step_type for s in steps],
        [
            dm_env.StepType.MID,
            dm_env.StepType.MID,
            dm_env.StepType.LAST,
            dm_env.StepType.FIRST,
        ],
    )
    self.assertEqual(steps[2].discount, 1.0)

  def test_observations_match_the_spec(self):
    spec = self.env.observation_spec()
    self.assertEqual(set(spec), {"state", "target"})
    timesteps = [self.env.reset(seed=5)]
    timesteps += [self.env.step(a) for a in _random_actions(5, 10)]
    for timestep in timesteps:
      for key, array_spec in spec.items():
        value = timestep.observation[key]
        array_spec.validate(value)
        self.assertEqual(value.dtype, array_spec.dtype)
        self.assertTrue(np.all(np.isfinite(value)), key)

  def test_state_layout_covers_the_state_exactly(self):
    covered = np.zeros(playtable.STATE_DIM, int)
    for name, s in playtable.STATE_LAYOUT.items():
      self.assertIsNone(s.step, name)
      self.assertLess(s.start, s.stop, name)
      covered[s] += 1
    np.testing.assert_array_equal(covered, 1)  # No gap, no overlap.
    self.assertEqual(
        max(s.stop for s in playtable.STATE_LAYOUT.values()),
        playtable.STATE_DIM,
    )
    self.assertEqual(
        self.env.observation_spec()["state"].shape, (playtable.STATE_DIM,)
    )

  def test_state_layout_matches_the_scene(self):
    self.env.reset(seed=4)
    for action in _random_actions(6, 5):
      self.env.step(action)
    obs = self.env.step(np.zeros(7)).observation["state"]
    part = lambda name: obs[playtable.STATE_LAYOUT[name]]
    s = self.env.scene_state()
    close = functools.partial(np.testing.assert_allclose, atol=1e-6)
    close(part("tcp_pos"), s.tcp_pos)
    close(part("gripper_width"), [s.gripper_width])
    close(part("drawer"), [s.drawer])
    close(part("door"), [s.door])
    close(part("switch"), [s.switch])
    close(part("lights"), s.lights.astype(float))
    close(part("lamp"), [float(s.lamp)])
    blocks = part("blocks").reshape(3, 6)
    close(blocks[:, :3], s.block_pos)
    close(blocks[:, 5], s.block_yaw, atol=1e-5)

  def test_target_is_the_commanded_pose_the_actions_move(self):
    obs = self.env.reset(seed=9).observation
    layout = playtable.STATE_LAYOUT
    # At rest the target sits on the tool.
    np.testing.assert_allclose(
        obs["target"][:3], obs["state"][layout["tcp_pos"]], atol=2e-3
    )
    # A move along +x: the target leads the tool by at most max_lead and in
    # the commanded direction; its angles follow the tool's convention.
    for _ in range(3):
      obs = self.env.step(np.array([1, 0, 0, 0, 0, 0.5, 1.0])).observation
    lead = obs["target"][:3] - obs["state"][layout["tcp_pos"]]
    self.assertGreater(lead[0], 1e-3)
    self.assertLessEqual(np.abs(lead).max(), self.env.config.max_lead + 1e-6)
    np.testing.assert_allclose(
        obs["target"][3:5], obs["state"][layout["tcp_euler"]][:2], atol=0.05
    )
    self.assertGreater(
        obs["target"][5] - obs["state"][layout["tcp_euler"]][2], 0.0
    )
    np.testing.assert_allclose(
        obs["target"][:3], self.env.data.mocap_pos[0], atol=1e-6
    )

  def test_get_set_state_round_trip(self):
    self.env.reset(seed=6)
    for action in _random_actions(7, 10):
      self.env.step(action)
    saved = self.env.get_state()
    actions = _random_actions(8, 15)
    expected = _states(self.env, actions)
    self.env.set_state(saved)
    np.testing.assert_array_equal(_states(self.env, actions), expected)
    other = registry.load("PlayTable")  # A fresh instance, never reset.
    other.set_state(saved)
    np.testing.assert_array_equal(_states(other, actions), expected)


class RegistryTest(absltest.TestCase):

  def test_load_passes_options_to_the_config(self):
    env = registry.load("PlayTable", time_limit=5, substeps=10)
    self.assertEqual(env.config.time_limit, 5)
    self.assertEqual(env.config.substeps, 10)
    self.assertFalse(env.config.images)
    self.assertEqual(set(env.observation_spec()), {"state", "target"})

  def test_images_variants(self):
    self.assertTrue(registry.load("PlayTable", images=True).config.images)
    self.assertTrue(registry.load("PlayTableImages").config.images)
    self.assertFalse(
        registry.load("PlayTableImages", images=False).config.images
    )
    self.assertEqual(
        set(registry.load("PlayTableImages").observation_spec()),
        {"state", "target", "rgb_static", "rgb_gripper"},
    )

  def test_unknown_env_lists_valid_names(self):
    with self.assertRaisesRegex(
        ValueError, r"'PlayTabel'.*PlayTable, PlayTableImages"
    ):
      registry.load("PlayTabel")

  def test_unknown_option_is_named_with_the_valid_ones(self):
    with self.assertRaisesRegex(ValueError, r"'time_limt'.*time_limit"):
      registry.load("PlayTable", time_limt=10)
    valid = [f.name for f in dataclasses.fields(playtable.EnvConfig)]
    with self.assertRaisesRegex(ValueError, ", ".join(valid)):
      registry.load("PlayTable", colour="red")

  def test_register_and_load_a_new_env(self):
    made = []

    def factory(config):
      made.append(config)
      return playtable.PlayTableEnv(config)

    with mock.patch.dict(registry._ENVS):  # pylint: disable=protected-access
      registry.register("Tiny", factory, playtable.EnvConfig(substeps=5))
      self.assertIn("Tiny", registry.names())
      env = registry.load("Tiny", time_limit=2)
      self.assertIsInstance(env, playtable.PlayTableEnv)
      self.assertEqual(made, [playtable.EnvConfig(substeps=5, time_limit=2)])
      with self.assertRaisesRegex(ValueError, "already registered"):
        registry.register("Tiny", factory)
    self.assertNotIn("Tiny", registry.names())

  def test_package_reexports(self):
    from playlearn import envs  # pylint: disable=g-import-not-at-top

    self.assertIs(envs.load, registry.load)
    self.assertIs(envs.register, registry.register)
    self.assertIs(envs.PlayTableEnv, playtable.PlayTableEnv)
    self.assertIs(envs.EnvConfig, playtable.EnvConfig)
    self.assertIn("open_drawer", envs.TASK_NAMES)

  def test_importing_envs_loads_no_rendering(self):
    code = (
        "import sys, playlearn.envs\n"
        "heavy = [m for m in ('playlearn.envs.rendering', 'OpenGL') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    self.assertEqual(result.returncode, 0, result.stderr)


if __name__ == "__main__":
  absltest.main()
