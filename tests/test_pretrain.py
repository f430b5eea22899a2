"""Frame windows, linear probes and saved encoders."""

import dataclasses
import os
import tempfile

from absl.testing import absltest
from flax import nnx
import jax.numpy as jnp
import numpy as np
import pytest

from playlearn import manifest
from playlearn.data import frames
from playlearn.envs import playtable
from playlearn.evaluation import probe
from playlearn.experiments import pretrain
from playlearn.models import act_jepa
from playlearn.models import dynamo
from playlearn.models import pretrained
from playlearn.models import stacked


def _episode(n, seed):
  rng = np.random.default_rng(seed)
  return {
      "images": {"cam": rng.integers(0, 256, (n, 8, 8, 3), np.uint8)},
      "state": rng.normal(size=(n, playtable.STATE_DIM)).astype(np.float32),
  }


class FrameWindowsTest(absltest.TestCase):

  def test_windows_stay_inside_episodes(self):
    episodes = [_episode(5, 0), _episode(2, 1), _episode(4, 2)]
    windows = frames.FrameWindows(episodes, window=3, views=("cam",))
    # 3 windows in the first episode, none in the second, 2 in the third.
    self.assertEqual(windows.num_windows, 5)
    batch = windows.batch(np.arange(5))
    self.assertEqual(batch["images"]["cam"].shape, (5, 3, 8, 8, 3))
    np.testing.assert_array_equal(
        batch["images"]["cam"][3], episodes[2]["images"]["cam"][:3]
    )
    np.testing.assert_array_equal(batch["state"][4], episodes[2]["state"][1:])
    first = next(windows.batches(4, seed=7))
    again = next(windows.batches(4, seed=7))
    np.testing.assert_array_equal(
        first["images"]["cam"], again["images"]["cam"]
    )
    with self.assertRaisesRegex(ValueError, "as long as the window"):
      frames.FrameWindows([_episode(2, 0)], window=3, views=("cam",))

  def test_consuming_the_episodes_gives_the_same_frames(self):
    kept = [_episode(5, 0), _episode(4, 1)]
    consumed = [_episode(5, 0), _episode(4, 1)]
    a = frames.FrameWindows(kept, window=2, views=("cam",))
    b = frames.FrameWindows(consumed, window=2, views=("cam",), consume=True)
    np.testing.assert_array_equal(a.images["cam"], b.images["cam"])
    self.assertEqual(a.images["cam"].shape, (9, 8, 8, 3))
    # The caller's frames stay unless it hands them over.
    self.assertIn("cam", kept[0]["images"])
    self.assertEqual([e["images"] for e in consumed], [{}, {}])
    with self.assertRaisesRegex(ValueError, "at least one episode"):
      frames.FrameWindows([], window=2, views=("cam",))


class ProbeTest(absltest.TestCase):

  def test_the_state_itself_scores_one_and_noise_does_not(self):
    rng = np.random.default_rng(0)
    train = rng.normal(size=(400, playtable.STATE_DIM))
    test = rng.normal(size=(200, playtable.STATE_DIM))
    perfect = probe.linear_probe(train, train, test, test, ridges=(1e-8,))
    self.assertEqual(set(perfect), set(probe.fields()))
    for name, r2 in perfect.items():
      self.assertGreater(r2, 0.999, name)
    noise = probe.linear_probe(
        rng.normal(size=(400, 8)), train, rng.normal(size=(200, 8)), test
    )
    self.assertLess(max(noise.values()), 0.1)
    # Tool position only: that field is found, the blocks are not.
    tool = playtable.STATE_LAYOUT["tcp_pos"]
    partial = probe.linear_probe(train[:, tool], train, test[:, tool], test)
    self.assertGreater(partial["tcp_pos"], 0.999)
    self.assertLess(partial["block positions"], 0.1)
    # A field constant in the held-out frames gets no score.
    still = test.copy()
    still[:, playtable.STATE_LAYOUT["buttons"]] = 0.0
    self.assertIsNone(probe.linear_probe(train, train, still, still)["buttons"])
    with self.assertRaisesRegex(ValueError, r"\[N, F\]"):
      probe.linear_probe(train[:10], train, test, test)


class PretrainedTest(absltest.TestCase):

  def test_save_and_load_round_trip_and_corruption_named(self):
    cfg = dataclasses.replace(
        dynamo.Config.tiny(), encoder_head="grid", encoder_cells=3
    )
    model = dynamo.Model(cfg, rngs=nnx.Rngs(3))
    # 3 x 3 cells of the last map's 2 x width channels, for each camera.
    self.assertEqual(
        model.encoders["rgb_static"].out.in_features, 9 * 2 * cfg.encoder_width
    )
    images = {
        v: jnp.asarray(
            np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), np.uint8)
        )
        for v in cfg.views
    }
    with tempfile.TemporaryDirectory() as tmp:
      path = os.path.join(tmp, "encoder")
      pretrained.save(model, path)
      loaded = pretrained.load(path)
      self.assertEqual(loaded.config, cfg)
      np.testing.assert_allclose(
          dynamo.embed(loaded, images), dynamo.embed(model, images), atol=1e-6
      )
      with open(os.path.join(path, "encoder.json"), "a") as f:
        f.write(" ")
      with self.assertRaisesRegex(
          manifest.CorruptArtifactError, "encoder.json"
      ):
        pretrained.load(path)
      other = os.path.join(tmp, "other")
      os.makedirs(other)
      open(os.path.join(other, "notes.txt"), "w").close()
      with self.assertRaisesRegex(ValueError, "not a saved encoder"):
        pretrained.save(model, other)
      with self.assertRaisesRegex(FileNotFoundError, "not a saved encoder"):
        pretrained.load(other)


def test_a_stacked_encoder_reads_its_parts_side_by_side(tmp_path):
  tiny = dynamo.Config.tiny()
  parts = [
      dynamo.Model(tiny, rngs=nnx.Rngs(1)),
      act_jepa.Model(act_jepa.Config.tiny(), rngs=nnx.Rngs(2)),
  ]
  model = stacked.Model(stacked.Config.of(parts), rngs=nnx.Rngs(0))
  stacked.copy_weights(model, parts)
  images = {
      v: jnp.asarray(
          np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3), np.uint8)
      )
      for v in tiny.views
  }
  widths = [p.features for p in parts]
  assert model.features == sum(widths)
  e = model.embeddings(images)  # [2, V, E_1 + E_2]
  for part, cols in zip(parts, (slice(0, widths[0]), slice(widths[0], None))):
    np.testing.assert_allclose(e[..., cols], part.embeddings(images), atol=1e-6)
  path = str(tmp_path / "stacked")
  pretrained.save(model, path, {"rgb_static": 16})
  loaded = pretrained.load(path)
  assert loaded.config == model.config
  assert pretrained.views(path) == tuple(tiny.views)
  np.testing.assert_allclose(
      dynamo.embed(loaded, images), dynamo.embed(model, images), atol=1e-6
  )
  one_view = dataclasses.replace(tiny, views=("rgb_static",))
  with pytest.raises(ValueError, match="different cameras"):
    stacked.Config.of([parts[0], dynamo.Model(one_view, rngs=nnx.Rngs(3))])
  with pytest.raises(ValueError, match="at least 2 parts"):
    stacked.Model(stacked.Config.of(parts[:1]), rngs=nnx.Rngs(0))
  with pytest.raises(TypeError, match="not a single encoder"):
    stacked.Config.of([parts[0], model])


def test_the_pixels_encoder_is_saved_untrained_never_pretrained(tmp_path):
  cfg = dynamo.Config(encoder="pixels", encoder_cells=4, window=3, width=16)
  model = dynamo.Model(cfg, rngs=nnx.Rngs(0))
  images = {
      "rgb_static": np.full((2, 96, 96, 3), 255, np.uint8),
      "rgb_gripper": np.zeros((2, 64, 64, 3), np.uint8),
  }
  features = np.asarray(dynamo.embed(model, images))
  assert features.shape == (2, 2 * 4 * 4 * 3)  # Cameras in config order.
  np.testing.assert_allclose(features[:, :48], 1.0)
  np.testing.assert_allclose(features[:, 48:], -1.0)
  pretrained.save(model, str(tmp_path / "encoder"))
  loaded = pretrained.load(str(tmp_path / "encoder"))
  np.testing.assert_array_equal(dynamo.embed(loaded, images), features)
  frames_ = frames.FrameWindows([_episode(4, 0)], window=3, views=("cam",))
  with pytest.raises(ValueError, match="no weights for DynaMo.*--steps=0"):
    pretrain.run(
        frames_,
        frames_,
        pretrain.PretrainConfig(model=cfg, steps=10),
        str(tmp_path / "run"),
    )


def test_pixel_means_average_each_square_of_each_camera():
  images = {
      "rgb_static": np.full((2, 96, 96, 3), 51, np.uint8),
      "rgb_gripper": np.zeros((2, 64, 64, 3), np.uint8),
  }
  images["rgb_gripper"][:, :8, :8] = 255  # The gripper view's first square.
  means = pretrain.pixel_means(images)
  assert means.shape == (2, 12 * 12 * 3 + 8 * 8 * 3)  # Cameras sorted.
  np.testing.assert_allclose(means[:, :3], 1.0)
  np.testing.assert_allclose(means[:, 3:192], 0.0)
  np.testing.assert_allclose(means[:, 192:], 0.2, atol=1e-6)


def test_a_frame_stride_keeps_every_nth_frame(tiny_image_dataset):
  from playlearn.data import reading  # pylint: disable=g-import-not-at-top

  views = ("rgb_static",)
  every = frames.FrameWindows.from_dataset(
      tiny_image_dataset, "train", 3, views
  )
  strided = frames.FrameWindows.from_dataset(
      tiny_image_dataset, "train", 3, views, stride=4
  )
  first = reading.EpisodeSource(tiny_image_dataset, "train")[0]["steps"]
  n = len(first["observation"]["state"])
  kept = len(range(0, n, 4))
  np.testing.assert_array_equal(
      strided.images["rgb_static"][:kept],
      first["observation"]["rgb_static"][::4],
  )
  np.testing.assert_array_equal(
      strided.state[:kept], first["observation"]["state"][::4]
  )
  # A window of 3 kept frames spans 8 control steps of the first episode.
  np.testing.assert_array_equal(
      strided.batch([0])["images"]["rgb_static"][0],
      every.images["rgb_static"][[0, 4, 8]],
  )
  assert every.actions is not None and strided.actions is None
  assert (every.stride, strided.stride) == (1, 4)
  assert 3 * strided.num_windows < every.num_windows
  with pytest.raises(ValueError, match="stride must be >= 1"):
    frames.FrameWindows.from_dataset(
        tiny_image_dataset, "train", 3, views, stride=0
    )


if __name__ == "__main__":
  absltest.main()
