"""Play-LMP (Lynch et al. 2019): goal-conditioned policy with a latent plan z.

Training encodes the whole window into q(z | tau) and teaches the proposal
p(z | s_0, s_g) to match it (KL); at test time only the proposal exists, so
`act` samples z from it and re-plans every `replan_every` steps.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from playlearn.models import gcbc
from playlearn.models import layers

MIN_STD = 1e-4  # Keeps the KL finite when a Gaussian sharpens.


@dataclasses.dataclass(frozen=True)
class Config:
  policy: gcbc.Config = dataclasses.field(default_factory=gcbc.Config)
  latent: int = 64  # As in several re-implementations; CALVIN uses 256.
  recognition: int = 256  # Width of each direction of the recognition GRU.
  proposal: tuple[int, ...] = (256, 256)
  beta: float = 0.01  # < 1 against posterior collapse; CALVIN uses 0.001.
  kl_warmup_steps: int = (
      0  # Linear warm-up of beta over the first training steps.
  )
  replan_every: int = 16  # kappa: steps between re-plans at test time.

  @classmethod
  def tiny(cls):
    return cls(
        policy=gcbc.Config.tiny(),
        latent=4,
        recognition=8,
        proposal=(8,),
        replan_every=4,
    )


def beta_at(step, beta, warmup_steps):
  """KL weight at a training step: rises linearly from 0 to `beta` over `warmup_steps`."""
  if warmup_steps <= 0:
    return jnp.asarray(beta, jnp.float32)
  return beta * jnp.minimum(jnp.asarray(step, jnp.float32) / warmup_steps, 1.0)


def kl_diag_gaussians(mean_q, std_q, mean_p, std_p):
  """KL(q || p) of diagonal Gaussians, summed over the last axis. All [..., Z] -> [...]."""
  return (
      jnp.log(std_p / std_q)
      + (std_q**2 + (mean_q - mean_p) ** 2) / (2 * std_p**2)
      - 0.5
  ).sum(-1)


def _gaussian(params):
  """[..., 2Z] -> (mean, std) with std = softplus + MIN_STD (smooth and bounded below)."""
  mean, raw = jnp.split(params, 2, axis=-1)
  return mean, jax.nn.softplus(raw) + MIN_STD


class Model(nnx.Module):
  """Play-LMP. Build with `Model(config, obs_dim, action_dim, rngs=nnx.Rngs(0))`."""

  def __init__(self, config, obs_dim, action_dim, *, rngs):
    self.config = config
    h, z = config.recognition, config.latent
    # Recognition reads states and actions: the actions say which plan was followed.
    self.forward_cell = nnx.GRUCell(obs_dim + action_dim, h, rngs=rngs)
    self.backward_cell = nnx.GRUCell(obs_dim + action_dim, h, rngs=rngs)
    self.recognition_out = nnx.Linear(2 * h, 2 * z, rngs=rngs)
    self.proposal = layers.MLP(2 * obs_dim, config.proposal, rngs=rngs)
    self.proposal_out = nnx.Linear(config.proposal[-1], 2 * z, rngs=rngs)
    self.policy = gcbc.PolicyNetwork(
        config.policy, obs_dim, obs_dim + z, action_dim, rngs=rngs
    )

  def recognize(self, obs, actions, mask):
    """q(z | tau). obs: [B, T, D], actions: [B, T, A], mask: [B, T] -> (mean, std) [B, Z].

    Uses the final states of both directions at the valid ends of the window
    (the forward GRU stops at the last valid step, the backward one starts there).
    """
    x = jnp.concatenate([obs, actions], -1)
    zero = jnp.zeros((obs.shape[0], self.config.recognition))
    fwd, _ = layers.scan_rnn(self.forward_cell, zero, x, mask)
    bwd, _ = layers.scan_rnn(self.backward_cell, zero, x, mask, reverse=True)
    return _gaussian(self.recognition_out(jnp.concatenate([fwd, bwd], -1)))

  def propose(self, obs0, goal):
    """p(z | s_0, s_g). obs0, goal: [B, D] -> (mean, std) [B, Z]."""
    return _gaussian(
        self.proposal_out(self.proposal(jnp.concatenate([obs0, goal], -1)))
    )


def loss(model, batch, rng, step):
  """Action NLL + beta * KL(q || p). batch as in gcbc.loss; rng draws z ~ q.

  `step`: the training step, for the KL warm-up (validation passes a step
  past it, to see the objective proper).
  """
  cfg = model.config
  obs, actions, goal, mask = (
      batch["obs"],
      batch["actions"],
      batch["goal"],
      batch["mask"],
  )
  mean_q, std_q = model.recognize(obs, actions, mask)
  mean_p, std_p = model.propose(obs[:, 0], goal)
  z = mean_q + std_q * jax.random.normal(rng, mean_q.shape)  # Reparameterised.
  dist = model.policy(obs, jnp.concatenate([goal, z], -1), mask)
  nll = model.policy.nll(dist, actions, mask)
  kl = kl_diag_gaussians(mean_q, std_q, mean_p, std_p).mean()
  beta = beta_at(step, cfg.beta, cfg.kl_warmup_steps)
  return nll + beta * kl, {"nll": nll, "kl": kl, "beta": beta}


def initial_state(model, batch_size):
  state = {
      "carry": model.policy.initial_carry(batch_size),
      "ensemble": model.policy.initial_ensemble(batch_size),
      "z": jnp.zeros((batch_size, model.config.latent)),
      "step": jnp.zeros((), jnp.int32),
  }
  return {
      **state,
      **gcbc.window_state(model.policy, batch_size, model.config.policy),
  }


def act(model, obs_history, goal, rng, state, greedy=False):
  """obs_history: [B, T, D] or [B, D] (only the newest step is read), goal: [B, D]
  -> (action [B, A], state). Every `replan_every` steps (from step 0) a new z is
  drawn from the proposal.

  With `policy.act_window` = 0 the plan's s_0 is the current state and the
  policy GRU restarts at each re-plan, as each training window did. With a
  window of k > 0 (as GCBC's: the GRU from zero over the last k observations
  at every step) s_0 is the window's oldest observation, so that with
  `replan_every` = 1 every action is the last step of a training window:
  the plan of the window that ends now, decoded over that window.
  """
  obs = obs_history[:, -1] if obs_history.ndim == 3 else obs_history
  z_rng, a_rng = jax.random.split(rng)
  windowed = model.config.policy.act_window > 0
  if windowed:
    state = gcbc.push_window(state, obs)
    oldest = jnp.argmax(state["valid"], axis=1)  # Valid steps are the newest.
    s0 = jnp.take_along_axis(state["window"], oldest[:, None, None], 1)[:, 0]
  else:
    s0 = obs
  replan = state["step"] % model.config.replan_every == 0
  mean_p, std_p = model.propose(s0, goal)
  z_new = (
      mean_p
      if greedy
      else mean_p + std_p * jax.random.normal(z_rng, mean_p.shape)
  )
  z = jnp.where(replan, z_new, state["z"])
  cond = jnp.concatenate([goal, z], -1)
  if windowed:
    carry = state["carry"]
    dist = model.policy.last(state["window"], cond, state["valid"])
  else:
    carry = jnp.where(
        replan, model.policy.initial_carry(obs.shape[0]), state["carry"]
    )
    carry, dist = model.policy.step(carry, obs, cond)
  action, ensemble = model.policy.choose(dist, a_rng, greedy, state["ensemble"])
  return action, {
      **state,
      "carry": carry,
      "ensemble": ensemble,
      "z": z,
      "step": state["step"] + 1,
  }
