"""ACT-JEPA: shapes, the EMA target, masking, a short run, saving."""

import dataclasses
import os
import shutil
import tempfile

from absl.testing import absltest
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from playlearn import manifest
from playlearn.data import frames
from playlearn.experiments import pretrain
from playlearn.models import act_jepa
from playlearn.models import dynamo
from playlearn.models import embeddings
from playlearn.models import pretrained


def _squares(b, t, size=16, seed=0):
  """b windows of t frames of a square moving (dx, dy) a step, the goal
  frame (the window's last) and actions [b, t, 7] holding (dx, dy)."""
  rng = np.random.default_rng(seed)
  images = np.zeros((b, t, size, size, 3), np.uint8)
  actions = np.zeros((b, t, 7), np.float32)
  for i in range(b):
    x, y = rng.integers(4, size - 8, 2)
    dx, dy = rng.choice([-1, 1], 2)
    actions[i, :, :2] = dx, dy
    for k in range(t):
      xx, yy = x + k * dx, y + k * dy
      images[i, k, yy : yy + 4, xx : xx + 4] = 200
  return images, actions


def _batch(b, t, seed=0, views=("cam",)):
  images, actions = _squares(b, t, seed=seed)
  return {
      "images": {v: jnp.asarray(images) for v in views},
      "goal_images": {v: jnp.asarray(images[:, -1]) for v in views},
      "actions": jnp.asarray(actions),
      "mask": jnp.ones((b, t), bool),
  }


def _config(**changes):
  return dataclasses.replace(act_jepa.Config.tiny(), views=("cam",), **changes)


class ActJepaTest(absltest.TestCase):

  def test_shapes_and_metrics(self):
    cfg = act_jepa.Config.tiny()
    model = act_jepa.Model(cfg, rngs=nnx.Rngs(0))
    batch = _batch(2, cfg.window, views=cfg.views)
    now = {v: x[:, 0] for v, x in batch["images"].items()}
    actions, latent = model(now, batch["goal_images"])
    self.assertEqual(actions.shape, (2, cfg.chunk, 7))
    self.assertEqual(latent.shape, (2, cfg.chunk, 2 * model.features))
    total, metrics = act_jepa.loss(model, batch, None, 0)
    self.assertTrue(np.isfinite(float(total)))
    self.assertEqual(
        set(metrics), {"loss", "action", "latent", "embedding_std"}
    )
    with self.assertRaisesRegex(ValueError, "chunk must be >= 1"):
      act_jepa.Config(chunk=0)
    with self.assertRaisesRegex(ValueError, r"ema must be in \[0, 1\)"):
      act_jepa.Config(ema=1.0)

  def test_target_moves_only_by_its_average(self):
    cfg = _config(ema=0.9)
    model = act_jepa.Model(cfg, rngs=nnx.Rngs(0))
    before = jax.tree.map(np.asarray, model.target.get_value())
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    pretrain.objective_step(act_jepa, model, optimizer, _batch(4, cfg.window))
    online = nnx.to_pure_dict(nnx.state(model.encoders, nnx.Param))
    after = model.target.get_value()
    moved = jax.tree.map(
        lambda t, o: 0.9 * t + 0.1 * np.asarray(o), before, online
    )
    for got, want in zip(jax.tree.leaves(after), jax.tree.leaves(moved)):
      np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    # The step changed the encoders, so the target now differs from them.
    self.assertFalse(
        all(
            np.allclose(a, b)
            for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(online))
        )
    )

  def test_masked_steps_do_not_count(self):
    cfg = _config()
    model = act_jepa.Model(cfg, rngs=nnx.Rngs(0))
    batch = _batch(2, cfg.window)
    batch["mask"] = jnp.asarray([[True, True, False, False]] * 2)
    total, _ = act_jepa.loss(model, batch, None, 0)
    changed = dict(batch)
    changed["images"] = {"cam": batch["images"]["cam"].at[:, 2:].set(255)}
    changed["actions"] = batch["actions"].at[:, 2:].set(5.0)
    np.testing.assert_allclose(
        act_jepa.loss(model, changed, None, 0)[0], total, rtol=1e-6
    )

  def test_learns_the_chunk_without_collapsing(self):
    cfg = _config(chunk=3)
    model = act_jepa.Model(cfg, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)
    history = [
        jax.device_get(
            pretrain.objective_step(
                act_jepa, model, optimizer, _batch(16, 4, seed=step)
            )
        )
        for step in range(150)
    ]
    first = history[0]
    late = lambda key: np.mean([h[key] for h in history[-20:]])
    # The direction to the goal frame is the action: learnable.
    self.assertLess(late("action"), 0.5 * first["action"])
    self.assertGreater(late("embedding_std"), 0.5 * first["embedding_std"])

  def test_saved_and_loaded_as_an_encoder_with_its_target(self):
    cfg = act_jepa.Config.tiny()
    model = act_jepa.Model(cfg, rngs=nnx.Rngs(2))
    # A target apart from the context encoders, as after training.
    model.target.set_value(
        jax.tree.map(lambda w: w + 0.5, model.target.get_value())
    )
    images = {v: jnp.asarray(_squares(3, 1)[0][:, 0]) for v in cfg.views}
    with tempfile.TemporaryDirectory() as tmp:
      path = os.path.join(tmp, "encoder")
      pretrained.save(model, path)
      loaded = pretrained.load(path)
      self.assertIsInstance(loaded, act_jepa.Model)
      np.testing.assert_allclose(
          embeddings.embed(loaded, images),
          embeddings.embed(model, images),
          atol=1e-6,
      )
      np.testing.assert_allclose(
          loaded.target_embeddings(images),
          model.target_embeddings(images),
          atol=1e-6,
      )
      # Saved without a target (before it was kept): it starts at the
      # loaded context encoders.
      shutil.rmtree(os.path.join(path, "target"))
      manifest.write(path)
      older = pretrained.load(path)
      np.testing.assert_allclose(
          older.target_embeddings(images),
          embeddings.embed(model, images),
          atol=1e-6,
      )


class ActorTest(absltest.TestCase):

  def test_temporal_ensemble_of_the_chunks_covering_a_step(self):
    cfg = _config(chunk=3)
    model = act_jepa.Model(cfg, rngs=nnx.Rngs(0))
    actor = act_jepa.Actor(model, {"cam": 16}, ensemble=0.5)
    calls = []

    def predict(model, now, goal):  # Chunk k holds 10 k + its index.
      del model, now, goal
      calls.append(len(calls))
      k = calls[-1]
      return jnp.asarray(
          (10.0 * k + np.arange(3))[None, :, None] * np.ones((1, 3, 7)) / 100
      )

    original = act_jepa._predict
    act_jepa._predict = predict
    try:
      frame = {"cam": np.zeros((16, 16, 3), np.uint8)}
      got = [actor.act(frame, frame)[0] for _ in range(4)]
    finally:
      act_jepa._predict = original
    # Step 3: chunks 1, 2, 3 cover it as their actions 2, 1, 0 (values 12,
    # 21, 30), weighted exp(-0.5 i) from the oldest (chunk 1, i = 0).
    w = np.exp(-0.5 * np.arange(3))
    want = (w * np.array([12.0, 21.0, 30.0])).sum() / w.sum() / 100
    np.testing.assert_allclose(got[3], want, rtol=1e-5)
    np.testing.assert_allclose(got[0], 0.0, atol=1e-7)  # Chunk 0 only.
    actor.reset()
    with self.assertRaisesRegex(ValueError, r"obs has no \['cam'\]"):
      actor.act({"state": np.zeros(3)}, frame)

  def test_loaded_from_a_saved_model_with_its_frame_sizes(self):
    with tempfile.TemporaryDirectory() as tmp:
      path = os.path.join(tmp, "model")
      model = act_jepa.Model(_config(), rngs=nnx.Rngs(0))
      pretrained.save(model, path, {"cam": 16})
      actor = pretrained.load_actor(path)
      self.assertEqual(actor.image_sizes, {"cam": 16})
      frame = {"cam": np.zeros((16, 16, 3), np.uint8)}
      self.assertEqual(actor.act(frame, frame).shape, (7,))
      other = os.path.join(tmp, "dynamo")
      pretrained.save(
          dynamo.Model(dynamo.Config.tiny(), rngs=nnx.Rngs(0)), other
      )
      with self.assertRaisesRegex(
          ValueError, "dynamo encoder, which does not act"
      ):
        pretrained.load_actor(other)
      pretrained.save(model, path)  # No frame sizes recorded.
      with self.assertRaisesRegex(ValueError, "records no image_sizes"):
        pretrained.load_actor(path)


class PretrainTest(absltest.TestCase):

  def test_act_jepa_needs_goal_frames(self):
    rng = np.random.default_rng(0)
    episode = {
        "images": {"cam": rng.integers(0, 256, (8, 16, 16, 3), np.uint8)},
        "state": np.zeros((8, 42), np.float32),
        "actions": np.zeros((8, 7), np.float32),
    }
    no_goals = frames.FrameWindows([episode], 4, ("cam",))
    config = pretrain.PretrainConfig(model=_config(), steps=1)
    with tempfile.TemporaryDirectory() as tmp:
      with self.assertRaisesRegex(ValueError, "goal_horizon"):
        pretrain.run(no_goals, no_goals, config, tmp)


class FrameWindowsWithGoalsTest(absltest.TestCase):

  def test_actions_and_goals_stay_in_the_episode(self):
    rng = np.random.default_rng(0)
    episodes = [
        {
            "images": {"cam": rng.integers(0, 256, (n, 4, 4, 3), np.uint8)},
            "state": np.arange(n, dtype=np.float32)[:, None] + 100 * e,
            "actions": np.full((n, 7), e, np.float32),
        }
        for e, n in enumerate((6, 9))
    ]
    windows = frames.FrameWindows(episodes, 3, ("cam",), goal_horizon=4)
    batch = windows.batch(np.arange(windows.num_windows))
    # Without a generator the goal is the window's last frame.
    np.testing.assert_array_equal(
        batch["goal_images"]["cam"], batch["images"]["cam"][:, -1]
    )
    np.testing.assert_array_equal(
        batch["actions"][:, 0, 0], batch["state"][:, 0, 0] // 100
    )
    # Drawn goals lie 0-4 frames past the window's last, in its episode
    # (random 4x4 frames are told apart by their pixels).
    every = np.concatenate([ep["images"]["cam"] for ep in episodes])
    for seed in range(5):
      batch = next(windows.batches(32, seed))
      for i in range(32):
        e = int(batch["state"][i, 0, 0] // 100)
        [row] = np.flatnonzero(
            (every == batch["goal_images"]["cam"][i]).all((1, 2, 3))
        )
        row -= 6 * e  # The row in its own episode.
        last = int(batch["state"][i, -1, 0]) - 100 * e
        self.assertBetween(row, last, min(last + 4, (6, 9)[e] - 1))


if __name__ == "__main__":
  absltest.main()
