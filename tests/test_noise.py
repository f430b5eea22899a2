"""Recovery-rich play: noise on executed actions, labels, replay, readers."""

import json

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from playlearn.data import rlds
from playlearn.data import windows
from playlearn.play import episodes
from playlearn.play import noise as noise_lib
from playlearn.play import replay


def _draw(config, steps=20_000, seed=0, label=None):
  noise = noise_lib.ActionNoise(config, np.random.default_rng(seed))
  label = np.zeros(7, np.float32) if label is None else label
  return np.array([noise(label) for _ in range(steps)])


class ActionNoiseTest(parameterized.TestCase):

  @parameterized.parameters("gaussian", "ou")
  def test_stationary_std_is_sigma_on_motion_dims_only(self, kind):
    x = _draw(noise_lib.NoiseConfig(sigma=0.2, kind=kind, ou_theta=0.3))
    np.testing.assert_allclose(x[:, :3].std(0), 0.2, rtol=0.1)
    # Rotations at rotation_scale (0.5) of sigma; the gripper untouched.
    np.testing.assert_allclose(x[:, 3:6].std(0), 0.1, rtol=0.1)
    np.testing.assert_array_equal(x[:, 6], 0.0)

  def test_ou_is_correlated_and_white_is_not(self):
    lag1 = lambda x: np.corrcoef(x[1:, 0], x[:-1, 0])[0, 1]
    ou = _draw(noise_lib.NoiseConfig(sigma=0.2, kind="ou", ou_theta=0.3))
    white = _draw(noise_lib.NoiseConfig(sigma=0.2, kind="gaussian"))
    self.assertAlmostEqual(lag1(ou), 0.7, delta=0.05)  # 1 - theta
    self.assertLess(abs(lag1(white)), 0.05)

  def test_executed_action_is_clipped(self):
    x = _draw(
        noise_lib.NoiseConfig(sigma=0.5, kind="gaussian"),
        steps=2000,
        label=np.ones(7, np.float32),
    )
    self.assertLessEqual(x.max(), 1.0)
    self.assertLess(x[:, 0].min(), 0.5)

  def test_disabled_noise_returns_the_label_and_draws_nothing(self):
    rng = np.random.default_rng(3)
    noise = noise_lib.ActionNoise(noise_lib.NoiseConfig(), rng)
    label = np.linspace(-1, 1, 7).astype(np.float32)
    noise.start_segment()
    np.testing.assert_array_equal(noise(label), label)
    self.assertEqual(rng.random(), np.random.default_rng(3).random())

  def test_clean_segments_and_nudges(self):
    config = noise_lib.NoiseConfig(
        sigma=0.0, nudge_rate=0.05, nudge_size=0.8, clean_fraction=0.5
    )
    noise = noise_lib.ActionNoise(config, np.random.default_rng(0))
    scales, moved = [], []
    for _ in range(200):
      noise.start_segment()
      scales.append(noise.segment_scale)
      x = np.array([noise(np.zeros(7, np.float32)) for _ in range(30)])
      moved.append(np.abs(x).max() > 0)
    scales, moved = np.array(scales), np.array(moved)
    self.assertAlmostEqual((scales == 0).mean(), 0.5, delta=0.1)
    # Clean segments get no nudge; most noisy ones (rate 0.05 x 30 steps) do.
    self.assertFalse(moved[scales == 0].any())
    self.assertGreater(moved[scales > 0].mean(), 0.6)

  @parameterized.parameters(
      ("sigma", -0.1),
      ("ou_theta", 0.0),
      ("clean_fraction", 1.5),
      ("episode_scale", (2.0, 1.0)),
      ("kind", "pink"),
  )
  def test_bad_config_names_the_field(self, field, value):
    with self.assertRaisesRegex(ValueError, field):
      noise_lib.NoiseConfig(**{"sigma": 0.1, field: value})

  def test_from_dict_round_trips_and_names_unknown_fields(self):
    config = noise_lib.OU_NOISE
    again = noise_lib.NoiseConfig.from_dict(json.loads(config.to_json()))
    self.assertEqual(again, config)
    with self.assertRaisesRegex(ValueError, "sigmaa"):
      noise_lib.NoiseConfig.from_dict({"sigmaa": 0.1})


class NoisyEpisodeTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.episode = episodes.generate_episode(
        "play",
        3,
        num_steps=300,
        noise=noise_lib.NoiseConfig(sigma=0.3, kind="ou", nudge_rate=0.02),
    )

  def test_labels_differ_from_executed_actions_on_motion_only(self):
    steps = self.episode["steps"]
    diff = np.abs(steps["action"] - steps["action_label"])[:-1]
    self.assertGreater(diff[:, :6].mean(), 0.05)
    np.testing.assert_array_equal(diff[:, 6], 0.0)
    self.assertTrue(np.all(np.abs(steps["action"]) <= 1.0))

  def test_executed_actions_replay_bitwise(self):
    steps = self.episode["steps"]
    out = replay.replay(
        steps,
        self.episode["episode_metadata"]["reset_seed"],
        static_size=16,
        gripper_size=16,
    )
    self.assertEqual(out["max_state_error"], 0.0)

  def test_metadata_records_the_noise(self):
    meta = self.episode["episode_metadata"]
    self.assertEqual(json.loads(meta["noise"])["sigma"], 0.3)
    for segment in json.loads(meta["segments"]):
      self.assertIn("noise_scale", segment)

  def test_clean_play_has_equal_label_and_action(self):
    clean = episodes.generate_episode("play", 3, num_steps=60)
    np.testing.assert_array_equal(
        clean["steps"]["action"], clean["steps"]["action_label"]
    )

  def test_noisy_demonstration_succeeds_and_records_labels(self):
    demo = episodes.generate_episode(
        "demo", 1, task="press_red_button", noise=noise_lib.PLAY_NOISE
    )
    (segment,) = json.loads(demo["episode_metadata"]["segments"])
    self.assertTrue(segment["success"])
    self.assertFalse(
        np.array_equal(demo["steps"]["action"], demo["steps"]["action_label"])
    )


class StepActionsTest(absltest.TestCase):

  def test_label_or_executed_and_the_old_version_fallback(self):
    steps = {
        "action": np.ones((3, 7), np.float32),
        "action_label": np.zeros((3, 7), np.float32),
    }
    np.testing.assert_array_equal(rlds.step_actions(steps), 0.0)
    np.testing.assert_array_equal(rlds.step_actions(steps, "executed"), 1.0)
    # Version 1.0.0: no label; its play had no noise, so action is the label.
    old = {"action": np.ones((3, 7), np.float32)}
    np.testing.assert_array_equal(rlds.step_actions(old, "label"), 1.0)
    with self.assertRaisesRegex(ValueError, "labels"):
      rlds.step_actions(steps, "labels")

  def test_window_config_names_a_bad_actions_field(self):
    with self.assertRaisesRegex(ValueError, "actions"):
      windows.WindowConfig(actions="clean")

  def test_window_store_cuts_the_chosen_actions(self):
    episode = episodes.generate_episode(
        "play", 4, num_steps=80, noise=noise_lib.NoiseConfig(sigma=0.3)
    )
    stats = {
        "state": {"mean": np.zeros(42), "std": np.ones(42)},
        "action": {"min": -np.ones(7), "max": np.ones(7)},
    }
    norm = windows.Normalization.from_statistics(stats)
    for which, key in (("label", "action_label"), ("executed", "action")):
      store = windows.WindowStore(
          [episode],
          norm,
          windows.WindowConfig(kappa_min=8, kappa_max=8, actions=which),
      )
      np.testing.assert_array_equal(store.actions, episode["steps"][key])


if __name__ == "__main__":
  absltest.main()
