"""Play-GCBC (Lynch et al. 2019): a recurrent goal-conditioned policy pi(a_t | s_t, s_g).

The same policy, given a latent plan as extra conditioning, is Play-LMP's
(`lmp.py` builds on `Policy` and `scan_rnn` from here).
"""
import dataclasses
import itertools

import jax
import jax.numpy as jnp
from flax import nnx

from playlearn.models import heads


@dataclasses.dataclass(frozen=True)
class Config:
  encoder: tuple[int, ...] = (256, 256)  # MLP widths over [s_t, condition].
  rnn: int = 256  # GRU width.
  head: str = 'logistic'  # One of heads.HEADS.
  mixtures: int = 10
  bins: int = 256
  reset_every: int = 32  # act() restarts the GRU this often: training windows start from zero.

  def __post_init__(self):
    # Configs come from ml_collections as lists; nnx keeps the config in the
    # graph definition, which must be hashable.
    object.__setattr__(self, 'encoder', tuple(self.encoder))

  @classmethod
  def tiny(cls):
    return cls(encoder=(8,), rnn=8, mixtures=2)


class MLP(nnx.Module):
  """[..., in] -> [..., widths[-1]], ReLU after every layer (its output is a feature)."""

  def __init__(self, in_features, widths, *, rngs):
    sizes = (in_features,) + tuple(widths)
    self.layers = nnx.List(
        [nnx.Linear(a, b, rngs=rngs) for a, b in itertools.pairwise(sizes)])

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

  carry, ys = jax.lax.scan(step, carry, (xs.swapaxes(0, 1), mask.swapaxes(0, 1)),
                           reverse=reverse)
  return carry, ys.swapaxes(0, 1)


class Policy(nnx.Module):
  """pi(a_t | s_t, c): MLP of [s_t, c] -> GRU -> action head. c: goal (and plan)."""

  def __init__(self, config, obs_dim, cond_dim, action_dim, *, rngs):
    self.encoder = MLP(obs_dim + cond_dim, config.encoder, rngs=rngs)
    self.cell = nnx.GRUCell(config.encoder[-1], config.rnn, rngs=rngs)
    self.head = heads.make(config.head, config.rnn, action_dim,
                           mixtures=config.mixtures, bins=config.bins, rngs=rngs)
    self.rnn = config.rnn

  def initial_carry(self, batch_size):
    return jnp.zeros((batch_size, self.rnn))

  def __call__(self, obs, cond, mask):
    """obs: [B, T, D], cond: [B, C], mask: [B, T] -> distribution over [B, T, A]."""
    cond = jnp.broadcast_to(cond[:, None], obs.shape[:2] + cond.shape[-1:])
    x = self.encoder(jnp.concatenate([obs, cond], -1))
    _, ys = scan_rnn(self.cell, self.initial_carry(obs.shape[0]), x, mask)
    return self.head(ys)

  def step(self, carry, obs, cond):
    """One control step. carry: [B, H], obs: [B, D], cond: [B, C] -> (carry, distribution)."""
    carry, y = self.cell(carry, self.encoder(jnp.concatenate([obs, cond], -1)))
    return carry, self.head(y)


class Model(nnx.Module):
  """Play-GCBC. Build with `Model(config, obs_dim, action_dim, rngs=nnx.Rngs(0))`."""

  def __init__(self, config, obs_dim, action_dim, *, rngs):
    self.config = config
    self.policy = Policy(config, obs_dim, obs_dim, action_dim, rngs=rngs)


def masked_nll(dist, actions, mask):
  """Mean -log_prob over valid steps. actions: [B, T, A], mask: [B, T].

  `where`, not a product: 0 * inf from garbage padding would still be NaN.
  """
  log_p = jnp.where(mask > 0, dist.log_prob(actions), 0.0)
  return -log_p.sum() / jnp.maximum(mask.sum(), 1.0)


def loss(model, batch, rng):
  """batch: obs [B, T, D], actions [B, T, A], goal [B, D], mask [B, T] -> (loss, metrics)."""
  del rng  # GCBC draws nothing at training time.
  nll = masked_nll(model.policy(batch['obs'], batch['goal'], batch['mask']),
                   batch['actions'], batch['mask'])
  return nll, {'nll': nll}


def initial_state(model, batch_size):
  return {'carry': model.policy.initial_carry(batch_size),
          'step': jnp.zeros((), jnp.int32)}


def act(model, obs_history, goal, rng, state, greedy=False):
  """obs_history: [B, T, D] or [B, D] (only the newest step is read; the GRU carry
  in `state` holds the past), goal: [B, D] -> (action [B, A], state)."""
  obs = obs_history[:, -1] if obs_history.ndim == 3 else obs_history
  reset = state['step'] % model.config.reset_every == 0
  carry = jnp.where(reset, model.policy.initial_carry(obs.shape[0]), state['carry'])
  carry, dist = model.policy.step(carry, obs, goal)
  action = dist.mode() if greedy else dist.sample(rng)
  return action, {'carry': carry, 'step': state['step'] + 1}
