"""Observation features: the transform, its normalisation, saved policies."""

import dataclasses
import os
import tempfile

from absl.testing import absltest
from flax import nnx
import numpy as np
import pytest

from playlearn import models
from playlearn import policy as policy_lib
from playlearn.data import features
from playlearn.data import windows
from playlearn.envs import playtable


def _state(block_yaw=0.0, tcp=(0.1, -0.2, 0.3)):
  s = np.zeros(playtable.STATE_DIM, np.float32)
  s[0:3] = tcp
  blocks = s[24:42].reshape(3, 6)
  blocks[:, :3] = [[0.1, 0.0, 0.02], [0.2, 0.1, 0.02], [-0.1, 0.0, 0.02]]
  blocks[:, 5] = block_yaw
  return s


class FeaturesTest(absltest.TestCase):

  def test_raw_is_the_state(self):
    s = _state(0.3)
    np.testing.assert_array_equal(features.transform(s, "raw"), s)

  def test_relative_layout(self):
    f = features.transform(_state(0.3), "relative")
    self.assertEqual(f.shape, (60,))
    self.assertEqual(features.dim("relative"), 60)
    # Block 0: position, position minus the tool, sin/cos of twice the yaw.
    np.testing.assert_allclose(f[24:27], [0.1, 0.0, 0.02])
    np.testing.assert_allclose(f[27:30], [0.0, 0.2, -0.28], atol=1e-6)
    np.testing.assert_allclose(f[30:32], [np.sin(0.6), np.cos(0.6)], atol=1e-6)

  def test_no_jump_at_the_wrap_and_half_turn_symmetry(self):
    # Yaw just below +pi and just above -pi: 2 pi apart raw, the same block.
    a = features.transform(_state(np.pi - 1e-3), "relative")
    b = features.transform(_state(-np.pi + 1e-3), "relative")
    self.assertLess(np.abs(a - b).max(), 1e-2)
    c = features.transform(_state(0.4), "relative")
    d = features.transform(_state(0.4 + np.pi), "relative")
    np.testing.assert_allclose(c, d, atol=1e-5)

  def test_relative_target_appends_the_wrapped_lead(self):
    s = _state(0.3)
    s[3:6] = [0.1, -0.2, np.pi - 0.05]
    target = np.concatenate(
        [s[0:3] + [0.004, -0.002, 0.001], [0.15, -0.2, -np.pi + 0.05]]
    ).astype(np.float32)
    f = features.transform(s, "relative_target", target)
    self.assertEqual(f.shape, (66,))
    self.assertEqual(features.dim("relative_target"), 66)
    np.testing.assert_array_equal(f[:60], features.transform(s, "relative"))
    # Yaw from pi - 0.05 to -pi + 0.05 is a turn of +0.1, not -2 pi + 0.1.
    np.testing.assert_allclose(
        f[60:], [0.004, -0.002, 0.001, 0.05, 0.0, 0.1], atol=1e-5
    )
    # Goals come without a commanded pose: their lead is zero.
    np.testing.assert_array_equal(
        features.transform(s, "relative_target")[60:], np.zeros(6)
    )
    with self.assertRaisesRegex(ValueError, "target must have shape"):
      features.transform(s, "relative_target", target[:3])

  def test_unknown_features_are_named(self):
    with self.assertRaisesRegex(ValueError, "polar"):
      features.transform(_state(), "polar")
    with self.assertRaisesRegex(ValueError, "features"):
      windows.WindowConfig(features="polar")


class FeatureNormalizationTest(absltest.TestCase):

  def test_store_normalises_features_and_the_policy_keeps_them(self):
    rng = np.random.default_rng(0)
    states = rng.normal(size=(40, playtable.STATE_DIM)).astype(np.float32)
    episode = {
        "steps": {
            "observation": {"state": states},
            "action": np.zeros((40, 7), np.float32),
        }
    }
    stats = {
        "state": {"mean": np.zeros(42), "std": np.ones(42)},
        "action": {"min": -np.ones(7), "max": np.ones(7)},
    }
    raw_norm = windows.Normalization.from_statistics(stats)
    store = windows.WindowStore(
        [episode],
        raw_norm,
        windows.WindowConfig(kappa_min=8, kappa_max=8, features="relative"),
    )
    self.assertEqual(store.state_dim, 60)
    self.assertEqual(store.normalization.features, "relative")
    # Normalised over the store's own states: zero mean, unit std (or 0).
    np.testing.assert_allclose(store.states.mean(0), 0.0, atol=1e-5)
    method = models.get("gcbc")
    model = method.Model(method.Config.tiny(), 60, 7, rngs=nnx.Rngs(0))
    policy = policy_lib.Policy("gcbc", model, store.normalization)
    with tempfile.TemporaryDirectory() as tmp:
      policy.save(os.path.join(tmp, "p"))
      loaded = policy_lib.Policy.load(os.path.join(tmp, "p"))
    self.assertEqual(loaded.normalization.features, "relative")
    obs, goal = {"state": states[0]}, {"state": states[-1]}
    np.testing.assert_allclose(
        loaded.act(obs, goal), policy.act(obs, goal), atol=1e-6
    )

  def test_target_features_need_recorded_targets(self):
    rng = np.random.default_rng(1)
    states = rng.normal(size=(30, playtable.STATE_DIM)).astype(np.float32)
    targets = np.concatenate(
        [states[:, 0:3] + rng.normal(0, 0.005, (30, 3)), states[:, 3:6]], -1
    ).astype(np.float32)
    stats = {
        "state": {"mean": np.zeros(42), "std": np.ones(42)},
        "action": {"min": -np.ones(7), "max": np.ones(7)},
    }
    config = windows.WindowConfig(
        kappa_min=8, kappa_max=8, features="relative_target"
    )
    steps = {
        "observation": {"state": states},
        "action": np.zeros((30, 7), np.float32),
    }
    norm = windows.Normalization.from_statistics(stats)
    with self.assertRaisesRegex(ValueError, "observation/target.*1.2.0"):
      windows.WindowStore([{"steps": steps}], norm, config)
    steps["observation"]["target"] = targets
    store = windows.WindowStore([{"steps": steps}], norm, config)
    self.assertEqual(store.state_dim, 66)
    # Observations carry the lead, goals (states only) do not.
    self.assertGreater(np.abs(store.states[:, 60:63]).mean(), 0.5)
    np.testing.assert_allclose(
        store.goal_states,
        store.normalization.normalize_state(states),
        atol=1e-6,
    )
    batch = store.batch(np.arange(4), seed=0, epoch=0)
    self.assertEqual(batch["goal"].shape, (4, 66))
    method = models.get("gcbc")
    model = method.Model(method.Config.tiny(), 66, 7, rngs=nnx.Rngs(0))
    policy = policy_lib.Policy("gcbc", model, store.normalization)
    with self.assertRaisesRegex(ValueError, "observation 'target'"):
      policy.act({"state": states[0]}, {"state": states[-1]})
    action = policy.act(
        {"state": states[0], "target": targets[0]}, {"state": states[-1]}
    )
    self.assertEqual(action.shape, (7,))


@pytest.mark.parametrize("name", features.FEATURES)
def test_robot_columns_are_exactly_those_that_move_with_the_tool(name):
  """Moving the tool, gripper and joints changes the robot columns and only
  them (for `relative_target` the lead too); the scene columns stay."""
  rng = np.random.default_rng(0)
  state = rng.normal(size=(1, 42)).astype(np.float32)
  moved = state.copy()
  moved[:, :14] += 0.3
  target = rng.normal(size=(1, 6)).astype(np.float32)
  changed = ~np.isclose(
      features.transform(state, name, target),
      features.transform(moved, name, target),
  )[0]
  np.testing.assert_array_equal(changed, features.robot_columns(name))


def test_scene_goals_hide_the_robot_and_keep_the_scene():
  rng = np.random.default_rng(1)
  states = rng.normal(size=(50, 42)).astype(np.float32)
  norm = windows.Normalization(
      states.mean(0),
      states.std(0),
      np.zeros(7, np.float32),
      np.ones(7, np.float32),
  ).with_features("relative", states)
  full = norm.normalize_goal(states[:3])
  scene = dataclasses.replace(norm, goals="scene").normalize_goal(states[:3])
  robot = features.robot_columns("relative")
  assert np.all(scene[:, robot] == 0) and np.any(full[:, robot] != 0)
  np.testing.assert_array_equal(scene[:, ~robot], full[:, ~robot])


if __name__ == "__main__":
  absltest.main()
