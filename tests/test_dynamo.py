"""DynaMo pretraining: its regulariser, causal dynamics, and a short run."""

import dataclasses

from absl.testing import absltest
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from playlearn.experiments import pretrain
from playlearn.models import dynamo
from playlearn.models import layers


def _moving_squares(b, t, size=16, seed=0):
  """b windows of t frames: a coloured 4x4 square moving one pixel a step."""
  rng = np.random.default_rng(seed)
  out = np.zeros((b, t, size, size, 3), np.uint8)
  for i in range(b):
    x, y = rng.integers(0, size - 4, 2)
    dx, dy = rng.integers(-1, 2, 2)
    colour = rng.integers(50, 255, 3)
    for k in range(t):
      xx, yy = np.clip(x + k * dx, 0, size - 4), np.clip(
          y + k * dy, 0, size - 4
      )
      out[i, k, yy : yy + 4, xx : xx + 4] = colour
  return out


class CovarianceTest(absltest.TestCase):

  def test_known_answers(self):
    a = jnp.array([-1.0, 1.0, -1.0, 1.0])
    # Two copies of one variable: off-diagonal covariance = its variance,
    # 4/3 (unbiased), in 2 of the 2 off-diagonal entries.
    same = jnp.stack([a, a], 1)
    mask = jnp.ones(4, bool)
    np.testing.assert_allclose(
        dynamo.off_diagonal_covariance(same, mask), (4 / 3) ** 2, rtol=1e-6
    )
    # Uncorrelated columns: 0.
    b = jnp.array([-1.0, -1.0, 1.0, 1.0])
    np.testing.assert_allclose(
        dynamo.off_diagonal_covariance(jnp.stack([a, b], 1), mask),
        0.0,
        atol=1e-7,
    )
    # Masked rows do not count, whatever they hold.
    rows = jnp.concatenate([jnp.stack([a, b], 1), jnp.full((2, 2), 1e6)])
    np.testing.assert_allclose(
        dynamo.off_diagonal_covariance(rows, jnp.arange(6) < 4),
        0.0,
        atol=1e-7,
    )


class CausalTransformerTest(absltest.TestCase):

  def test_a_step_sees_only_valid_steps_up_to_itself(self):
    net = layers.CausalTransformer(
        3, 2, width=8, layers=2, heads=2, max_len=5, rngs=nnx.Rngs(0)
    )
    x = jax.random.normal(jax.random.key(0), (2, 5, 3))
    y = net(x)
    later = net(x.at[:, 3].set(9.0))
    np.testing.assert_allclose(y[:, :3], later[:, :3], atol=1e-6)
    self.assertFalse(np.allclose(y[:, 3:], later[:, 3:]))
    valid = jnp.array([[False, True, True, True, True]] * 2)
    masked = net(x, valid)
    np.testing.assert_allclose(
        masked[:, 1:], net(x.at[:, 0].set(-5.0), valid)[:, 1:], atol=1e-6
    )
    with self.assertRaisesRegex(ValueError, "max_len=5"):
      net(jnp.zeros((1, 6, 3)))


class DynamoTest(absltest.TestCase):

  def test_loss_metrics_and_missing_camera(self):
    cfg = dynamo.Config.tiny()
    model = dynamo.Model(cfg, rngs=nnx.Rngs(0))
    images = {v: jnp.asarray(_moving_squares(2, 3)) for v in cfg.views}
    batch = {"images": images, "mask": jnp.ones((2, 3), bool)}
    total, metrics = dynamo.loss(model, batch, None, 0)
    self.assertTrue(np.isfinite(float(total)))
    self.assertEqual(
        set(metrics), {"loss", "dynamics", "covariance", "embedding_std"}
    )
    self.assertEqual(dynamo.embed(model, images).shape, (2, 3, 2 * 32))
    with self.assertRaisesRegex(KeyError, "rgb_gripper"):
      model.embeddings({"rgb_static": images["rgb_static"]})
    with self.assertRaisesRegex(ValueError, "window must be >= 2"):
      dynamo.Config(window=1)
    with self.assertRaisesRegex(ValueError, "Unknown encoder 'vit'"):
      dynamo.Config(encoder="vit")

  def test_learns_to_predict_without_collapsing(self):
    cfg = dataclasses.replace(dynamo.Config.tiny(), window=4, views=("cam",))
    model = dynamo.Model(cfg, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)

    history = []
    for step in range(150):
      batch = {
          "images": {"cam": jnp.asarray(_moving_squares(16, 4, seed=step))},
          "mask": jnp.ones((16, 4), bool),
      }
      history.append(
          jax.device_get(
              pretrain.objective_step(dynamo, model, optimizer, batch)
          )
      )
    first, last = history[0], np.mean([h["dynamics"] for h in history[-20:]])
    self.assertLess(last, 0.5 * first["dynamics"])
    # A collapsed encoder also predicts perfectly; its spread would be 0.
    spread = np.mean([h["embedding_std"] for h in history[-20:]])
    self.assertGreater(spread, 0.5 * first["embedding_std"])


if __name__ == "__main__":
  absltest.main()
