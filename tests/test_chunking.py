"""Action chunking with temporal ensembling (GCBC and LMP policies)."""

import dataclasses

from absl.testing import absltest
from absl.testing import parameterized
from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from playlearn.models import gcbc
from playlearn.models import heads
from playlearn.models import layers
from playlearn.models import lmp


class ChunkTargetsTest(absltest.TestCase):

  def test_next_k_actions_masked_past_the_window(self):
    actions = jnp.arange(5, dtype=jnp.float32).reshape(1, 5, 1)  # a_t = t
    mask = jnp.array([[1, 1, 1, 1, 0]], jnp.float32)  # 4 valid steps
    targets, m = layers.chunk_targets(actions, mask, 3)
    np.testing.assert_array_equal(targets[0, 1, :, 0], [1, 2, 3])
    # Step 2's chunk: a_2, a_3 valid; a_4 is padding; a_5 past the end.
    np.testing.assert_array_equal(m[0, 2], [1, 1, 0])
    np.testing.assert_array_equal(m[0, 4], [0, 0, 0])  # Padding step.


class EnsembleTest(absltest.TestCase):

  def _policy(self, decay):
    config = gcbc.Config(
        encoder=(4,), rnn=4, head="mse", chunk=3, ensemble_decay=decay
    )
    return gcbc.PolicyNetwork(config, 2, 2, 1, rngs=nnx.Rngs(0))

  def test_average_of_every_prediction_for_the_step(self):
    policy = self._policy(0.0)
    ensemble = policy.initial_ensemble(1)
    outputs = []
    for chunk in ([0.1, 0.2, 0.3], [0.4, 0.5, 0.6], [0.7, 0.8, 0.9]):
      dist = heads.Deterministic(jnp.array([[[c] for c in chunk]]))
      action, ensemble = policy.choose(dist, None, True, ensemble)
      outputs.append(float(action[0, 0]))
    # t=0: 0.1; t=1: (0.2 + 0.4) / 2; t=2: (0.3 + 0.5 + 0.7) / 3.
    np.testing.assert_allclose(outputs, [0.1, 0.3, 0.5], atol=1e-6)

  def test_older_predictions_weigh_more_with_decay(self):
    policy = self._policy(np.log(2.0))  # Each step of age doubles a weight.
    ensemble = policy.initial_ensemble(1)
    first = heads.Deterministic(jnp.array([[[0.0], [0.8], [0.0]]]))
    _, ensemble = policy.choose(first, None, True, ensemble)
    second = heads.Deterministic(jnp.array([[[-0.4], [0.0], [0.0]]]))
    action, _ = policy.choose(second, None, True, ensemble)
    # Step 1 holds 0.8 (age 1, weight 2) and -0.4 (age 0, weight 1):
    # (2 * 0.8 + 1 * -0.4) / 3 = 0.4.
    np.testing.assert_allclose(action[0, 0], 0.4, atol=1e-6)


class ChunkedMethodsTest(parameterized.TestCase):

  @parameterized.parameters("gcbc", "lmp")
  def test_loss_and_act_shapes(self, name):
    module = {"gcbc": gcbc, "lmp": lmp}[name]
    config = module.Config.tiny()
    chunked = dict(chunk=4, head="mse")
    if name == "lmp":
      config = dataclasses.replace(
          config, policy=dataclasses.replace(config.policy, **chunked)
      )
    else:
      config = dataclasses.replace(config, **chunked)
    model = module.Model(config, 5, 3, rngs=nnx.Rngs(0))
    batch = {
        "obs": jnp.ones((2, 6, 5)),
        "actions": jnp.full((2, 6, 3), 0.5),
        "goal": jnp.ones((2, 5)),
        "mask": jnp.ones((2, 6)),
    }
    loss, _ = module.loss(model, batch, jax.random.key(0), 0)
    self.assertTrue(np.isfinite(float(loss)))
    state = module.initial_state(model, 2)
    action, state = module.act(
        model,
        jnp.ones((2, 5)),
        jnp.ones((2, 5)),
        jax.random.key(1),
        state,
        greedy=True,
    )
    self.assertEqual(action.shape, (2, 3))
    # After one step, three of four future slots hold a prediction.
    np.testing.assert_array_equal(state["ensemble"]["weight"][0], [1, 1, 1, 0])

  def test_bad_chunk_is_named(self):
    with self.assertRaisesRegex(ValueError, "chunk"):
      gcbc.Config(chunk=0)


if __name__ == "__main__":
  absltest.main()
