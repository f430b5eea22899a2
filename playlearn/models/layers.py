"""Layers and losses that several methods share (GCBC, LMP, BESO)."""

import itertools

import jax
import jax.numpy as jnp
from flax import nnx


class MLP(nnx.Module):
  """[..., in] -> [..., widths[-1]], ReLU after every layer (its output is a feature)."""

  def __init__(self, in_features, widths, *, rngs):
    sizes = (in_features,) + tuple(widths)
    self.layers = nnx.List(
        [nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(sizes)]
    )

  def __call__(self, x):
    for layer in self.layers:
      x = jax.nn.relu(layer(x))
    return x


def scan_rnn(cell, carry, xs, mask, reverse=False):
  """Runs `cell` over time. xs: [B, T, F], mask: [B, T], carry: [B, H].

  Returns (carry [B, H], outputs [B, T, H]). The carry only moves on valid
  steps, so padding never leaks into it: the final carry is the state at the
  last valid step (or, reversed, at the first), whatever the padding holds.
  """

  def step(carry, inputs):
    x, m = inputs
    new_carry, y = cell(carry, x)
    return jnp.where(m[:, None] > 0, new_carry, carry), y

  carry, ys = jax.lax.scan(
      step, carry, (xs.swapaxes(0, 1), mask.swapaxes(0, 1)), reverse=reverse
  )
  return carry, ys.swapaxes(0, 1)


def chunk_targets(actions, mask, k):
  """The next k actions of every step. actions: [B, T, A], mask: [B, T] ->
  (targets [B, T, k, A], mask [B, T, k]); past the window the mask is 0."""
  t = actions.shape[1]
  index = jnp.arange(t)[:, None] + jnp.arange(k)[None]  # [T, k]
  padded = jnp.pad(actions, ((0, 0), (0, k - 1), (0, 0)))
  padded_mask = jnp.pad(mask, ((0, 0), (0, k - 1)))
  return padded[:, index], padded_mask[:, index] * mask[..., None]


def masked_nll(dist, actions, mask):
  """Mean -log_prob over valid steps. actions: [B, T, (k,) A], mask: [B, T, (k)].

  `where`, not a product: 0 * inf from garbage padding would still be NaN.
  """
  log_p = jnp.where(mask > 0, dist.log_prob(actions), 0.0)
  return -log_p.sum() / jnp.maximum(mask.sum(), 1.0)
