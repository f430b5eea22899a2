"""The PyTorch twins compute what the JAX models compute, for the same weights.

The side-by-side benchmark (playlearn/bench/vs_torch.py) is only like for
like if they do; these checks run on tiny sizes.
"""

import dataclasses

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason="torch (the `bench` extra, torch==2.13.0) is not installed"
)

from playlearn.bench import torch_models  # pylint: disable=g-import-not-at-top
from playlearn.diffusion import edm
from playlearn.diffusion import samplers
from playlearn.models import beso
from playlearn.models import gcbc

OBS, ACT = 6, 3


def _batch(b=3, t=5, seed=0):
  rng = np.random.default_rng(seed)
  length = np.array([t, 2, 4][:b])
  mask = (np.arange(t)[None] < length[:, None]).astype(np.float32)
  return {
      "obs": rng.standard_normal((b, t, OBS), np.float32) * mask[..., None],
      "actions": rng.uniform(-1, 1, (b, t, ACT)).astype(np.float32)
      * mask[..., None],
      "goal": rng.standard_normal((b, OBS), np.float32),
      "mask": mask,
      "length": length.astype(np.int32),
  }


def _t(x):
  return torch.from_numpy(np.array(x))  # A writable copy.


def _torch(batch):
  return {k: _t(v) for k, v in batch.items()}


def test_gcbc_twin_has_the_same_loss_and_gradient_norm():
  config = dataclasses.replace(gcbc.Config.tiny(), head="mse", encoder=(8, 8))
  model = gcbc.Model(config, OBS, ACT, rngs=nnx.Rngs(1))
  batch = _batch()
  want, _ = gcbc.loss(model, jax.tree.map(jnp.asarray, batch), None, 0)
  twin = torch_models.copy_from_jax(
      torch_models.GCBCPolicy(OBS, ACT, config.encoder, config.rnn),
      model.policy,
  )
  got = torch_models.gcbc_loss(twin, _torch(batch))
  np.testing.assert_allclose(got.item(), float(want), rtol=1e-5)
  # Padding after a window's valid prefix changes neither.
  padded = dict(batch, obs=batch["obs"] + 5 * (1 - batch["mask"][..., None]))
  got_padded = torch_models.gcbc_loss(twin, _torch(padded))
  np.testing.assert_allclose(got_padded.item(), float(want), rtol=1e-5)
  grads = nnx.grad(
      lambda m: gcbc.loss(m, jax.tree.map(jnp.asarray, batch), None, 0)[0]
  )(model)
  got.backward()
  torch_norm = np.sqrt(
      sum(
          float((p.grad**2).sum()) for p in twin.parameters() if p.requires_grad
      )
  )
  np.testing.assert_allclose(
      torch_norm,
      float(jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads)))),
      rtol=1e-4,
  )


def _beso_pair(seed=2):
  config = dataclasses.replace(
      beso.Config.tiny(), width=8, heads=2, obs_window=3, layers=2
  )
  model = beso.Model(config, OBS, ACT, rngs=nnx.Rngs(seed))
  model.eval()
  twin = torch_models.BesoTransformer(
      OBS,
      ACT,
      config.width,
      config.layers,
      config.heads,
      config.goal_tokens,
      config.obs_window,
      attention_dropout=0.0,
  )
  twin.eval()
  return config, model, torch_models.copy_from_jax(twin, model.network)


def _context_to_torch(context):
  return {k: _t(getattr(context, k)) for k in ("obs", "valid", "goal", "drop")}


def test_beso_twin_has_the_same_denoising_loss():
  config, model, twin = _beso_pair()
  config = dataclasses.replace(config, cond_drop_prob=0.5)
  batch = jax.tree.map(jnp.asarray, _batch())
  # Sub-windows with invalid steps (before a window start) and dropped goals.
  x0, mask, context = beso.training_samples(config, batch, jax.random.key(0))
  assert not bool(context.valid.all()) and bool(context.drop.any())
  n = x0.shape[0]
  sigma = jnp.geomspace(0.01, 1.0, n)
  noise = jax.random.normal(jax.random.key(1), x0.shape)
  want = edm.loss(
      lambda x, c: model.score(x, c, context), x0, noise, sigma, mask
  )
  got = torch_models.beso_loss(
      twin, _t(x0), _t(mask), _context_to_torch(context), _t(sigma), _t(noise)
  )
  np.testing.assert_allclose(got.item(), float(want), rtol=1e-4)


def test_beso_twin_samples_the_same_actions():
  config, model, twin = _beso_pair()
  batch = jax.tree.map(jnp.asarray, _batch())
  _, _, context = beso.training_samples(config, batch, jax.random.key(3))
  sigmas = samplers.schedule("exponential", 3, 0.005, 1.0)
  x = sigmas[0] * jax.random.normal(
      jax.random.key(4), context.valid.shape + (ACT,)
  )
  want = samplers.ddim(model.denoiser(context), x, sigmas, None)
  with torch.no_grad():
    got = torch_models.ddim_sample(
        twin, _context_to_torch(context), _t(sigmas), _t(x)
    )
  np.testing.assert_allclose(got.numpy(), np.asarray(want), atol=1e-4)


def test_torch_training_samples_cut_the_steps_they_name():
  batch = _batch(b=3, t=6)
  # actions[b, t] = (b, t, 0) names where each row was cut from.
  b, t = batch["mask"].shape
  batch["actions"] = np.stack(
      np.broadcast_arrays(
          np.arange(b)[:, None], np.arange(t)[None], np.zeros((b, t))
      ),
      -1,
  ).astype(np.float32)
  x0, mask, context = torch_models.training_samples(
      _torch(batch),
      window=3,
      samples_per_window=4,
      cond_drop_prob=0.0,
      generator=torch.Generator().manual_seed(0),
  )
  assert x0.shape == (12, 3, 3) and not context["drop"].any()
  length = batch["mask"].sum(-1)
  for i in range(12):
    row, valid = i // 4, context["valid"][i].numpy()
    assert valid[-1]  # The newest step is always a real one.
    steps = x0[i, valid, 1].numpy()
    np.testing.assert_array_equal(x0[i, valid, 0].numpy(), row)
    np.testing.assert_array_equal(np.diff(steps), 1)  # Consecutive steps.
    assert steps[-1] < length[row]
    # Steps before the window are invalid exactly when they would be < 0.
    assert valid.sum() == min(3, steps[-1] + 1)
    np.testing.assert_array_equal(mask[i, ~valid].numpy(), 0)
