"""Play-GCBC (Lynch et al. 2019): a recurrent goal-conditioned policy pi(a_t | s_t, s_g).

The same policy, given a latent plan as extra conditioning, is Play-LMP's
(`lmp.py` builds on `PolicyNetwork` from here).
"""

import dataclasses
import jax
import jax.numpy as jnp
from flax import nnx

from playlearn.models import heads
from playlearn.models import layers


@dataclasses.dataclass(frozen=True)
class Config:
  encoder: tuple[int, ...] = (256, 256)  # MLP widths over [s_t, condition].
  rnn: int = 256  # GRU width.
  head: str = "logistic"  # One of heads.HEADS.
  mixtures: int = 10
  bins: int = 256
  reset_every: int = (
      32  # act() restarts the GRU this often: training windows start from zero.
  )
  # act() with `act_window` = k > 0 runs the GRU from zero over the last k
  # observations at every step instead (k windows' worth of compute), so
  # every action sees a full history, as the last step of a training window
  # does; the periodic restart leaves the steps after it with almost none.
  # 0: carry the GRU, restarting it every `reset_every` steps.
  act_window: int = 0
  # Action chunking (ACT, Zhao et al. 2023): each step predicts the next
  # `chunk` actions; acting averages every prediction made for the current
  # step (temporal ensembling), an older one weighing exp(ensemble_decay)
  # times more per step of age (ACT's exp(-m i), i = 0 the oldest). 1: off.
  chunk: int = 1
  ensemble_decay: float = 0.0

  def __post_init__(self):
    if self.chunk < 1:
      raise ValueError(f"chunk must be >= 1, got {self.chunk}")
    if self.act_window < 0:
      raise ValueError(f"act_window must be >= 0, got {self.act_window}")

  @classmethod
  def tiny(cls):
    return cls(encoder=(8,), rnn=8, mixtures=2)


class PolicyNetwork(nnx.Module):
  """pi(a_t | s_t, c): MLP of [s_t, c] -> GRU -> action head. c: goal (and plan).

  With `config.chunk` = k > 1 the GRU's output is projected to k features,
  one per future step, each read by the same head: distributions over
  [..., k, A] instead of [..., A].
  """

  def __init__(self, config, obs_dim, cond_dim, action_dim, *, rngs):
    self.encoder = layers.MLP(obs_dim + cond_dim, config.encoder, rngs=rngs)
    self.cell = nnx.GRUCell(config.encoder[-1], config.rnn, rngs=rngs)
    self.head = heads.make(
        config.head,
        config.rnn,
        action_dim,
        mixtures=config.mixtures,
        bins=config.bins,
        rngs=rngs,
    )
    self.rnn = config.rnn
    self.obs_dim = obs_dim
    self.chunk = config.chunk
    self.ensemble_decay = config.ensemble_decay
    self.action_dim = action_dim
    if config.chunk > 1:
      self.chunk_proj = nnx.Linear(
          config.rnn, config.chunk * config.rnn, rngs=rngs
      )

  def initial_carry(self, batch_size):
    return jnp.zeros((batch_size, self.rnn))

  def _head(self, y):
    """[..., H] -> distribution over [..., A], or [..., k, A] with chunks."""
    if self.chunk == 1:
      return self.head(y)
    per_step = self.chunk_proj(y).reshape(y.shape[:-1] + (self.chunk, self.rnn))
    return self.head(y[..., None, :] + jax.nn.relu(per_step))

  def __call__(self, obs, cond, mask):
    """obs: [B, T, D], cond: [B, C], mask: [B, T] -> distribution over [B, T, A]
    ([B, T, k, A] with chunks)."""
    _, ys = self._scan(obs, cond, mask)
    return self._head(ys)

  def last(self, obs, cond, mask):
    """The distribution at a window's newest step only: `__call__`'s [:, -1]
    where the newest step is valid, without the head on the older steps.
    obs: [B, T, D], cond: [B, C], mask: [B, T]."""
    # A GRU cell's output is its new carry: the final carry is the newest
    # step's output.
    carry, _ = self._scan(obs, cond, mask)
    return self._head(carry)

  def _scan(self, obs, cond, mask):
    """(final carry [B, H], outputs [B, T, H]) of the GRU from zero over the
    encoded [obs_t, cond]."""
    cond = jnp.broadcast_to(cond[:, None], obs.shape[:2] + cond.shape[-1:])
    x = self.encoder(jnp.concatenate([obs, cond], -1))
    return layers.scan_rnn(self.cell, self.initial_carry(obs.shape[0]), x, mask)

  def step(self, carry, obs, cond):
    """One control step. carry: [B, H], obs: [B, D], cond: [B, C] -> (carry, distribution)."""
    carry, y = self.cell(carry, self.encoder(jnp.concatenate([obs, cond], -1)))
    return carry, self._head(y)

  def nll(self, dist, actions, mask):
    """Mean action NLL of `__call__`'s distribution; with chunks, of every
    valid (step, future step) pair of the window."""
    if self.chunk == 1:
      return layers.masked_nll(dist, actions, mask)
    return layers.masked_nll(
        dist, *layers.chunk_targets(actions, mask, self.chunk)
    )

  def initial_ensemble(self, batch_size):
    k = self.chunk
    return {
        "sum": jnp.zeros((batch_size, k, self.action_dim)),
        "weight": jnp.zeros((batch_size, k)),
    }

  def choose(self, dist, rng, greedy, ensemble):
    """(action [B, A], ensemble) from one step's distribution: its action, or
    with chunks the temporal ensemble of every prediction for this step."""
    action = dist.mode() if greedy else dist.sample(rng)
    if self.chunk == 1:
      return action, ensemble
    w = jnp.exp(self.ensemble_decay * jnp.arange(self.chunk, dtype=jnp.float32))
    total = ensemble["sum"] + w[None, :, None] * action
    weight = ensemble["weight"] + w[None]
    now = total[:, 0] / weight[:, :1]
    shift = lambda x: jnp.concatenate([x[:, 1:], jnp.zeros_like(x[:, :1])], 1)
    return now, {"sum": shift(total), "weight": shift(weight)}


class Model(nnx.Module):
  """Play-GCBC. Build with `Model(config, obs_dim, action_dim, rngs=nnx.Rngs(0))`."""

  def __init__(self, config, obs_dim, action_dim, *, rngs):
    self.config = config
    self.policy = PolicyNetwork(config, obs_dim, obs_dim, action_dim, rngs=rngs)


def loss(model, batch, rng, step):
  """batch: obs [B, T, D], actions [B, T, A], goal [B, D], mask [B, T] -> (loss, metrics).

  Every method's loss takes (model, batch, rng, step); GCBC uses neither of
  the last two.
  """
  del rng, step
  dist = model.policy(batch["obs"], batch["goal"], batch["mask"])
  nll = model.policy.nll(dist, batch["actions"], batch["mask"])
  return nll, {"nll": nll}


def initial_state(model, batch_size):
  state = {
      "carry": model.policy.initial_carry(batch_size),
      "ensemble": model.policy.initial_ensemble(batch_size),
      "step": jnp.zeros((), jnp.int32),
  }
  return {**state, **window_state(model.policy, batch_size, model.config)}


def window_state(policy, batch_size, config):
  """The acting window of `config.act_window` = k observations (none if 0):
  the last k, newest last; `valid` marks those seen."""
  k = config.act_window
  if not k:
    return {}
  return {
      "window": jnp.zeros((batch_size, k, policy.obs_dim)),
      "valid": jnp.zeros((batch_size, k)),
  }


def push_window(state, obs):
  """`state` with obs [B, D] appended to its window (the oldest dropped)."""
  push = lambda x, new: jnp.concatenate([x[:, 1:], new[:, None]], 1)
  return {
      **state,
      "window": push(state["window"], obs),
      "valid": push(state["valid"], jnp.ones(obs.shape[:1])),
  }


def act(model, obs_history, goal, rng, state, greedy=False):
  """obs_history: [B, T, D] or [B, D] (only the newest step is read; the GRU carry
  or the window in `state` holds the past), goal: [B, D] -> (action [B, A], state).
  """
  obs = obs_history[:, -1] if obs_history.ndim == 3 else obs_history
  if model.config.act_window:
    state = push_window(state, obs)
    dist = model.policy.last(state["window"], goal, state["valid"])
    carry = state["carry"]
  else:
    reset = state["step"] % model.config.reset_every == 0
    carry = jnp.where(
        reset, model.policy.initial_carry(obs.shape[0]), state["carry"]
    )
    carry, dist = model.policy.step(carry, obs, goal)
  action, ensemble = model.policy.choose(dist, rng, greedy, state["ensemble"])
  return action, {
      **state,
      "carry": carry,
      "ensemble": ensemble,
      "step": state["step"] + 1,
  }
