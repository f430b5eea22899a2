"""Frame-level transforms: resize, the DrQ random shift, image windows."""

from absl.testing import absltest
import numpy as np

from playlearn.data import features
from playlearn.data import frames
from playlearn.data import windows


def _windows(b=3, t=4, h=12, w=10, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (b, t, h, w, 3), np.uint8)


class ResizeTest(absltest.TestCase):

  def test_shape_dtype_and_a_flat_image_stays_flat(self):
    flat = np.full((2, 5, 40, 40, 3), 77, np.uint8)
    out = frames.resize(flat, 24)
    self.assertEqual(out.shape, (2, 5, 24, 24, 3))
    self.assertEqual(out.dtype, np.uint8)
    np.testing.assert_array_equal(out, 77)

  def test_same_size_is_unchanged_and_bad_input_is_named(self):
    x = _windows()[0]
    np.testing.assert_array_equal(
        frames.resize(x[..., :10, :10, :], 10), x[..., :10, :10, :]
    )
    with self.assertRaisesRegex(ValueError, r"\[..., H, W, 3\].*\(4, 5\)"):
      frames.resize(np.zeros((4, 5), np.uint8), 8)
    with self.assertRaisesRegex(ValueError, "size must be >= 1, got 0"):
      frames.resize(x, 0)


class ShiftTest(absltest.TestCase):

  def test_one_shift_per_window_within_the_pad(self):
    x = _windows(h=20, w=20)
    pad = 3
    out = frames.random_shift(x, pad, np.random.default_rng(1))
    self.assertEqual(out.shape, x.shape)
    self.assertEqual(out.dtype, np.uint8)
    padded = np.pad(x, ((0, 0), (0, 0), (pad,) * 2, (pad,) * 2, (0, 0)), "edge")
    for i in range(len(x)):
      # The window is the padded one cropped at one offset, for all frames.
      found = [
          (dy, dx)
          for dy in range(2 * pad + 1)
          for dx in range(2 * pad + 1)
          if np.array_equal(out[i], padded[i, :, dy : dy + 20, dx : dx + 20])
      ]
      self.assertLen(found, 1)

  def test_seeded_and_varied(self):
    x = _windows(b=8, h=16, w=16)
    a = frames.random_shift(x, 4, np.random.default_rng(5))
    b = frames.random_shift(x, 4, np.random.default_rng(5))
    c = frames.random_shift(x, 4, np.random.default_rng(6))
    np.testing.assert_array_equal(a, b)
    self.assertFalse(np.array_equal(a, c))
    np.testing.assert_array_equal(
        frames.random_shift(x, 0, np.random.default_rng(0)), x
    )
    # One window [T, H, W, 3] works too.
    self.assertEqual(
        frames.random_shift(x[0], 2, np.random.default_rng(0)).shape,
        x[0].shape,
    )
    with self.assertRaisesRegex(ValueError, "pad must be >= 0, got -1"):
      frames.random_shift(x, -1, np.random.default_rng(0))


class ImageWindowsTest(absltest.TestCase):

  def _store(self, lengths=(30, 25), dim=5, goal_dropout=0.0):
    episodes = [
        {
            "steps": {
                "observation": {
                    "state": np.random.default_rng(n).normal(size=(n, dim))
                },
                "action": np.full((n, 7), 0.5, np.float32),
            }
        }
        for n in lengths
    ]
    stats = {
        "state": {"mean": np.zeros(dim), "std": np.ones(dim)},
        "action": {"min": -np.ones(7), "max": np.ones(7)},
    }
    config = windows.WindowConfig(
        kappa_min=4, kappa_max=8, goal_horizon=6, goal_dropout=goal_dropout
    )
    return windows.WindowStore(
        episodes, windows.Normalization.from_statistics(stats), config
    )

  def test_frames_are_the_windows_rows_and_goal(self):
    store = self._store()
    rows = len(store.states)
    # Frame r is flat with value r: a shift leaves it as it is, so the
    # batch's pixels name the rows it read.
    images = {
        "rgb_static": np.broadcast_to(
            np.arange(rows, dtype=np.uint8)[:, None, None, None],
            (rows, 12, 12, 3),
        ),
        "rgb_gripper": np.broadcast_to(
            np.arange(rows, dtype=np.uint8)[:, None, None, None],
            (rows, 8, 8, 3),
        ),
    }
    image_windows = frames.ImageWindows(store, images, shift=2)
    self.assertEqual(image_windows.num_windows, store.num_windows)
    ids = np.arange(0, store.num_windows, 5)
    batch = image_windows.batch(ids, seed=3, epoch=1)
    cut, valid, length, goal = store.cut(ids, seed=3, epoch=1)
    state_batch = store.batch(ids, seed=3, epoch=1)
    for key in ("actions", "mask", "length"):
      np.testing.assert_array_equal(batch[key], state_batch[key])
    self.assertNotIn("obs", batch)
    for view, size in (("rgb_static", 12), ("rgb_gripper", 8)):
      obs = batch["obs_images"][view]
      self.assertEqual(obs.shape, (len(ids), 8, size, size, 3))
      np.testing.assert_array_equal(obs[..., 0, 0, 0], cut)
      np.testing.assert_array_equal(
          batch["goal_images"][view][:, 0, 0, 0], goal
      )
    np.testing.assert_array_equal(batch["mask"], valid)
    np.testing.assert_array_equal(batch["length"], length)
    # Deterministic in (seed, epoch, ids).
    again = image_windows.batch(ids, seed=3, epoch=1)
    np.testing.assert_array_equal(
        again["obs_images"]["rgb_static"], batch["obs_images"]["rgb_static"]
    )

  def test_proprio_is_the_rows_first_columns(self):
    store = self._store(dim=features.PROPRIO_DIM + 3)
    images = {"rgb_static": np.zeros((len(store.states), 4, 4, 3), np.uint8)}
    ids = np.arange(0, store.num_windows, 7)
    plain = frames.ImageWindows(store, images).batch(ids, seed=1, epoch=0)
    self.assertNotIn("obs_proprio", plain)
    batch = frames.ImageWindows(store, images, proprio=True).batch(
        ids, seed=1, epoch=0
    )
    rows, valid, _, goal = store.cut(ids, seed=1, epoch=0)
    self.assertFalse(valid.all())  # Some windows are padded.
    robot = store.states[rows][..., :14]
    np.testing.assert_array_equal(batch["obs_proprio"][valid], robot[valid])
    np.testing.assert_array_equal(batch["obs_proprio"][~valid], 0.0)
    np.testing.assert_array_equal(
        batch["goal_proprio"], store.goal_states[goal][:, :14]
    )
    self.assertEqual(batch["goal_proprio"].shape, (len(ids), 14))

  def test_goal_dropout_hides_the_goals_proprio(self):
    store = self._store(dim=features.PROPRIO_DIM + 3, goal_dropout=1.0)
    images = {"rgb_static": np.zeros((len(store.states), 4, 4, 3), np.uint8)}
    ids = np.arange(store.num_windows)
    batch = frames.ImageWindows(store, images, proprio=True).batch(
        ids, seed=1, epoch=0
    )
    np.testing.assert_array_equal(batch["goal_proprio"], 0.0)
    self.assertTrue(np.any(batch["obs_proprio"] != 0.0))

  def test_frames_of_another_split_are_refused(self):
    store = self._store()
    with self.assertRaisesRegex(ValueError, r"images\['rgb_static'\] holds 7"):
      frames.ImageWindows(
          store, {"rgb_static": np.zeros((7, 4, 4, 3), np.uint8)}
      )


if __name__ == "__main__":
  absltest.main()
