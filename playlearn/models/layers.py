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


class Block(nnx.Module):
  """Pre-norm transformer block: masked self-attention, then a 4x GELU MLP.

  Attention dropout (training only) draws from the `dropout` stream of the
  `rngs` passed to the call; `model.eval()` switches it off.
  """

  def __init__(self, width, heads, attention_dropout, *, rngs):
    self.attention_norm = nnx.LayerNorm(width, rngs=rngs)
    self.attention = nnx.MultiHeadAttention(
        heads,
        width,
        decode=False,
        keep_rngs=False,
        dropout_rate=attention_dropout,
        rngs=rngs,
    )
    self.mlp_norm = nnx.LayerNorm(width, rngs=rngs)
    self.mlp_in = nnx.Linear(width, 4 * width, rngs=rngs)
    self.mlp_out = nnx.Linear(4 * width, width, rngs=rngs)

  def __call__(self, x, mask, rngs=None):
    """x: [N, L, width], mask: [N, 1, L, L] (True: may attend)."""
    x = x + self.attention(self.attention_norm(x), mask=mask, rngs=rngs)
    return x + self.mlp_out(jax.nn.gelu(self.mlp_in(self.mlp_norm(x))))


class CausalTransformer(nnx.Module):
  """[N, L, in] -> [N, L, out]: step i attends to valid steps <= i.

  Learned positions for up to `max_len` steps; pre-norm `Block`s.
  """

  def __init__(
      self, in_features, out_features, *, width, layers, heads, max_len, rngs
  ):
    self.inp = nnx.Linear(in_features, width, rngs=rngs)
    self.position = nnx.Param(
        0.02 * jax.random.normal(rngs.params(), (max_len, width))
    )
    self.blocks = nnx.List(
        [Block(width, heads, 0.0, rngs=rngs) for _ in range(layers)]
    )
    self.norm = nnx.LayerNorm(width, rngs=rngs)
    self.out = nnx.Linear(width, out_features, rngs=rngs)

  def __call__(self, x, valid=None):
    """x: [N, L, in]; valid: [N, L] bool (None: all valid)."""
    n, length = x.shape[:2]
    if length > self.position.shape[0]:
      raise ValueError(
          f"Sequence of {length} steps is longer than the transformer's "
          f"max_len={self.position.shape[0]}."
      )
    h = self.inp(x) + self.position[:length]
    mask = jnp.tril(jnp.ones((length, length), bool))[None, None]
    if valid is not None:
      # Every query keeps itself as a key, so no row of the mask is empty.
      keys = valid[:, None, None, :] | jnp.eye(length, dtype=bool)[None, None]
      mask = mask & keys
    for block in self.blocks:
      h = block(h, mask)
    return self.out(self.norm(h))


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
