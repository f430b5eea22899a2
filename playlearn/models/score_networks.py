"""BESO's score networks F(x, c_noise | context): the reference's transformer,
an MLP over the flat window, and a GRU over the history (`beso.py` wraps
them in EDM's preconditioning, trains and samples them).

Each takes noised action tokens x [N, W, X], the noise level c_noise ([N],
or [N, W] for `Recurrent`) and a `Context`, and returns F [N, W, X].
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from playlearn.models import layers


class Context(NamedTuple):
  """What the denoiser is conditioned on, for N samples.

  obs: [N, W, D]; valid: [N, W] bool, False where a step precedes the episode
  or the window; goal: [N, D]; drop: [N] bool, True where the goal is dropped.
  """

  obs: jax.Array
  valid: jax.Array
  goal: jax.Array
  drop: jax.Array


class SigmaEmbedding(nnx.Module):
  """c_noise [N] -> [N, width]."""

  def __init__(self, width, *, rngs):
    self.hidden = nnx.Linear(1, width, rngs=rngs)
    self.out = nnx.Linear(width, width, rngs=rngs)

  def __call__(self, c_noise):
    return self.out(jax.nn.silu(self.hidden(c_noise[:, None])))


class GoalEmbedding(nnx.Module):
  """goal [N, D], drop [N] -> [N, width]; a dropped goal becomes the learned null token.

  (The transformer asks for goal_tokens * width and splits it into tokens.)
  """

  def __init__(self, obs_dim, width, *, rngs):
    self.linear = nnx.Linear(obs_dim, width, rngs=rngs)
    self.null = nnx.Param(jnp.zeros((width,)))

  def __call__(self, goal, drop):
    return jnp.where(drop[:, None], self.null[...], self.linear(goal))


class Transformer(nnx.Module):
  """F as a causal transformer over [sigma, goal_1..goal_G, s_1, a_1, ..., s_W, a_W].

  Invalid steps are masked out as keys, so they cannot reach the valid tokens;
  sigma and goal are always valid, so no query is left without a key.
  """

  # Whether `beso.loss` trains on every step of the batch windows, each at
  # its own noise level (`beso.whole_windows`), rather than on sub-windows.
  per_step = False

  def __init__(self, config, obs_dim, x_dim, *, rngs):
    width, self.goal_tokens = config.width, config.goal_tokens
    self.sigma = SigmaEmbedding(width, rngs=rngs)
    self.goal = GoalEmbedding(obs_dim, self.goal_tokens * width, rngs=rngs)
    self.obs_in = nnx.Linear(obs_dim, width, rngs=rngs)
    self.action_in = nnx.Linear(x_dim, width, rngs=rngs)
    num_tokens = 1 + self.goal_tokens + 2 * config.obs_window
    self.position = nnx.Param(
        0.02 * jax.random.normal(rngs.params(), (num_tokens, width))
    )
    self.blocks = nnx.List(
        [
            layers.Block(
                width, config.heads, config.attention_dropout, rngs=rngs
            )
            for _ in range(config.layers)
        ]
    )
    self.norm = nnx.LayerNorm(width, rngs=rngs)
    self.out = nnx.Linear(width, x_dim, rngs=rngs)

  def __call__(self, x, c_noise, context, rngs=None):
    """x: [N, W, X], c_noise: [N] -> F [N, W, X]. rngs: attention dropout's (training)."""
    n, window = context.valid.shape
    prefix = 1 + self.goal_tokens
    steps = jnp.stack([self.obs_in(context.obs), self.action_in(x)], 2).reshape(
        n, 2 * window, -1
    )
    goal = self.goal(context.goal, context.drop).reshape(
        n, self.goal_tokens, -1
    )
    tokens = jnp.concatenate([self.sigma(c_noise)[:, None], goal, steps], 1)
    tokens = tokens + self.position[...]
    keys = jnp.concatenate(
        [jnp.ones((n, prefix), bool), jnp.repeat(context.valid, 2, axis=1)], 1
    )
    causal = jnp.tril(jnp.ones((tokens.shape[1],) * 2, bool))
    mask = causal[None, None] & keys[:, None, None, :]
    for block in self.blocks:
      tokens = block(tokens, mask, rngs)
    return self.out(self.norm(tokens[:, prefix + 1 :: 2]))  # The action tokens.


class MLP(nnx.Module):
  """F as an MLP over the flattened window: faster, not causal."""

  per_step = False  # As Transformer's.

  def __init__(self, config, obs_dim, x_dim, *, rngs):
    width, window = config.width, config.obs_window
    self.sigma = SigmaEmbedding(width, rngs=rngs)
    self.goal = GoalEmbedding(obs_dim, width, rngs=rngs)
    self.body = layers.MLP(
        2 * width + window * (obs_dim + x_dim + 1),
        (width,) * config.layers,
        rngs=rngs,
    )
    self.out = nnx.Linear(width, window * x_dim, rngs=rngs)

  def __call__(self, x, c_noise, context, rngs=None):
    """x: [N, W, X], c_noise: [N] -> F [N, W, X]. (No dropout: rngs unused.)"""
    del rngs
    n = x.shape[0]
    features = jnp.concatenate(
        [
            self.sigma(c_noise),
            self.goal(context.goal, context.drop),
            context.obs.reshape(n, -1),
            x.reshape(n, -1),
            context.valid.astype(x.dtype),
        ],
        -1,
    )
    return self.out(self.body(features)).reshape(x.shape)


class Recurrent(nnx.Module):
  """F as a GRU over the observation history and an MLP denoiser per step.

  The GRU reads the encoded [s_i, goal] of the window's valid steps from
  zero, as GCBC's policy does, and the MLP denoises step i's action token from
  [sigma_i, GRU output at i, x_i]: causal, and each step may have its own
  noise level. The loss takes every step of the batch window (`beso.loss`),
  and `beso.act` runs the GRU over the last `obs_window` observations (GCBC's
  `act_window`), so a window of 32 sees what a long training window's last
  steps see.
  """

  per_step = True  # As Transformer's.

  def __init__(self, config, obs_dim, x_dim, *, rngs):
    width = config.width
    self.sigma = SigmaEmbedding(width, rngs=rngs)
    self.goal = GoalEmbedding(obs_dim, width, rngs=rngs)
    self.encoder = layers.MLP(obs_dim + width, (width, width), rngs=rngs)
    self.cell = nnx.GRUCell(width, width, rngs=rngs)
    self.body = layers.MLP(
        2 * width + x_dim, (width,) * config.layers, rngs=rngs
    )
    self.out = nnx.Linear(width, x_dim, rngs=rngs)

  def __call__(self, x, c_noise, context, rngs=None):
    """x: [N, W, X], c_noise: [N] or [N, W] -> F [N, W, X]. (No dropout.)"""
    del rngs
    n, window = context.valid.shape
    goal = self.goal(context.goal, context.drop)[:, None]
    goal = jnp.broadcast_to(goal, (n, window, goal.shape[-1]))
    inputs = self.encoder(jnp.concatenate([context.obs, goal], -1))
    carry = jnp.zeros((n, self.cell.hidden_features), x.dtype)
    _, history = layers.scan_rnn(self.cell, carry, inputs, context.valid)
    c_noise = jnp.broadcast_to(c_noise.reshape(n, -1), (n, window))
    sigma = self.sigma(c_noise.reshape(-1)).reshape(n, window, -1)
    features = jnp.concatenate([sigma, history, x], -1)
    return self.out(self.body(features))


NETWORKS = {"transformer": Transformer, "mlp": MLP, "gru": Recurrent}
