"""BESO (Reuss et al. 2023): a goal-conditioned score-based diffusion policy.

A network F, wrapped in EDM's preconditioning (`diffusion/edm.py`), denoises the
actions of the last `obs_window` steps given their observations and the goal;
`act` samples them in a few steps (`diffusion/samplers.py`) and executes the
newest one. Training sub-windows (`training_samples`): from each padded batch
window, `samples_per_window` random valid times t, each with the observations
s_{t-W+1..t} and actions a_{t-W+1..t} (W = obs_window); steps before the batch
window are masked out exactly as the steps before an episode's start are in
`act`, so a short history looks the same to the network in both. Each action
token carries a chunk of `chunk` actions a_i..a_{i+chunk-1} (chunk entries past
the window's end are zero and carry no loss). The `gru` network instead
carries the history in a GRU, as GCBC's policy does, and is trained on every
step of the batch windows, each at its own noise level
(`score_networks.Recurrent`, `whole_windows`). The networks are in
`score_networks.py`.

Classifier-free guidance: in training the goal is replaced by a learned null
token with probability `cond_drop_prob` per sample (CFG-BESO; 0 gives C-BESO).
Acting uses D = D(null) + lambda (D(goal) - D(null)) with lambda = `guidance`
(BESO's convention): 1 is the plain goal-conditioned denoiser (one network
call), 0 the goal-independent policy of the same network (`goal_free(model)`),
above 1 extrapolates away from the goal-free prediction.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from playlearn.diffusion import edm, samplers
from playlearn.models import configure
from playlearn.models import layers
from playlearn.models import score_networks

GREEDY_SEED = 0  # act(greedy=True) draws its noise from this fixed key.
# A saved BESO policy samples unless asked otherwise (`Policy`'s greedy=None),
# as the reference acts. Greedy acting (one fixed noise) takes the same
# quantile of each action's distribution at every step: on play it kept the
# gripper in one mode whatever the task and solved 0% of the suite, where
# fresh noise solved 4-9% (docs/results.md, seventh session).
ACTS_GREEDY = False


@dataclasses.dataclass(frozen=True)
class Config:
  # One of NETWORKS: the reference's transformer or an MLP over the flat
  # window, or a GRU over the history (`score_networks`; obs_window is then its
  # acting window, e.g. 32, and the loss takes every step of the batch window).
  network: str = "transformer"
  width: int = (
      360  # The reference's kitchen sizes: width 360, 6 layers, 6 heads, window 4.
  )
  layers: int = 6
  heads: int = 6  # Transformer only.
  goal_tokens: int = 2  # Transformer only: the goal enters as this many tokens.
  attention_dropout: float = 0.3  # Transformer only, in training.
  obs_window: int = 4  # W: observations (and denoised actions) per sample.
  chunk: int = (
      1  # Actions per action token; act executes the first of the newest.
  )
  # Actions of the newest token's chunk executed open loop before the next
  # sampling (1..chunk; the reference's CALVIN agents: chunk = execute = 10).
  execute: int = 1
  # Acting only: the mean of this many samples is executed (1: one sample).
  # Above 1 it estimates the conditional mean, as a regression head acts.
  average: int = 1
  samples_per_window: int = (
      4  # Sub-windows per batch window: 256 windows give 1024 samples.
  )
  sigma_min: float = 0.005
  sigma_max: float = 1.0
  sigma_data: float = edm.SIGMA_DATA
  sigma_density: str = (
      "loglogistic"  # One of edm.DENSITIES (training noise levels).
  )
  sampler: str = "ddim"  # One of samplers.SAMPLERS.
  schedule: str = "exponential"  # One of samplers.SCHEDULES.
  rho: float = 5.0  # Karras schedule only (BESO's value).
  num_steps: int = 3
  cond_drop_prob: float = 0.1  # 0: C-BESO, no null goal is learned.
  guidance: float = (
      1.0  # lambda (module docstring); other than 1 needs cond_drop_prob > 0.
  )

  def __post_init__(self):
    if self.average < 1:
      raise ValueError(f"average must be >= 1, got {self.average}")
    if not 1 <= self.execute <= self.chunk:
      raise ValueError(
          f"execute must be in [1, chunk={self.chunk}], got {self.execute}"
      )
    for name, registry in (
        ("network", NETWORKS),
        ("sigma_density", edm.DENSITIES),
        ("sampler", samplers.SAMPLERS),
        ("schedule", samplers.SCHEDULES),
    ):
      if getattr(self, name) not in registry:
        raise ValueError(
            f"Unknown {name} {getattr(self, name)!r}; valid: {sorted(registry)}"
        )
    if self.guidance != 1.0 and not self.cond_drop_prob:
      raise ValueError(
          f"guidance={self.guidance} needs a null goal (the goal-free "
          "denoiser): set cond_drop_prob > 0, or guidance=1"
      )

  @classmethod
  def tiny(cls):
    return cls(
        width=8,
        layers=1,
        heads=2,
        obs_window=2,
        samples_per_window=2,
        attention_dropout=0.0,
    )


Context = score_networks.Context
NETWORKS = score_networks.NETWORKS


class Model(nnx.Module):
  """BESO. Build with `Model(config, obs_dim, action_dim, rngs=nnx.Rngs(0))`."""

  def __init__(self, config, obs_dim, action_dim, *, rngs):
    self.config = config
    self.obs_dim, self.action_dim = obs_dim, action_dim
    self.network = NETWORKS[config.network](
        config, obs_dim, config.chunk * action_dim, rngs=rngs
    )

  def score(self, x, c_noise, context, rngs=None):
    """F(x, c_noise | context). x: [N, W, chunk * A], c_noise: [N] -> [N, W, chunk * A].

    Invalid steps are zeroed first, so whatever they held cannot matter.
    rngs (an nnx.Rngs with a `dropout` stream) is needed in training mode
    when the network has dropout.
    """
    valid = context.valid[..., None]
    context = context._replace(obs=jnp.where(valid, context.obs, 0.0))
    return self.network(jnp.where(valid, x, 0.0), c_noise, context, rngs)

  def denoiser(self, context):
    """D(x [N, W, chunk * A], sigma []) given `context`, guided by config.guidance."""
    cfg = self.config

    def denoise(context, x, sigma):
      return edm.denoise(
          lambda x_in, c: self.score(x_in, c, context), x, sigma, cfg.sigma_data
      )

    if cfg.guidance in (
        0.0,
        1.0,
    ):  # One network call: goal-free or conditional.
      if not cfg.guidance:
        context = context._replace(drop=jnp.ones_like(context.drop))
      return lambda x, sigma: denoise(context, x, sigma)
    # Conditional and unconditional in one call of the network, on 2N samples.
    both = jax.tree.map(
        lambda a, b: jnp.concatenate([a, b]),
        context,
        context._replace(drop=jnp.ones_like(context.drop)),
    )

    def guided(x, sigma):
      cond, uncond = jnp.split(denoise(both, jnp.concatenate([x, x]), sigma), 2)
      return uncond + cfg.guidance * (cond - uncond)

    return guided


def goal_free(model):
  """The goal-independent policy of a CFG model: the same weights, the goal always dropped."""
  return configure.with_config(model, guidance=0.0)


# ---------------------------------------------------------------- training

_gather = jax.vmap(lambda seq, index: seq[jnp.clip(index, 0, seq.shape[0] - 1)])


def training_samples(config, batch, rng):
  """Cuts the sub-windows a loss is taken on (see the module docstring).

  batch: obs [B, T, D], actions [B, T, A], goal [B, D], mask [B, T] (valid
  steps are a prefix). Returns (x0 [N, W, chunk * A], loss mask of the same
  shape, Context) with N = B * samples_per_window. The random draws do not
  depend on T, so padding a batch changes nothing.
  """
  t_rng, drop_rng = jax.random.split(rng)
  b, k, window = (
      batch["mask"].shape[0],
      config.samples_per_window,
      config.obs_window,
  )
  length = batch["mask"].sum(-1).astype(jnp.int32)  # [B]
  t = jnp.floor(jax.random.uniform(t_rng, (b, k)) * length[:, None]).astype(
      jnp.int32
  )
  steps = t[..., None] - window + 1 + jnp.arange(window)  # [B, k, W]
  valid = (steps >= 0) & (length[:, None, None] > 0)
  chunk_steps = steps[..., None] + jnp.arange(config.chunk)  # [B, k, W, chunk]
  chunk_valid = valid[..., None] & (chunk_steps < length[:, None, None, None])
  actions = jnp.where(
      chunk_valid[..., None], _gather(batch["actions"], chunk_steps), 0.0
  )
  n = b * k
  action_mask = jnp.broadcast_to(chunk_valid[..., None], actions.shape)
  context = Context(
      obs=_gather(batch["obs"], steps).reshape(n, window, -1),
      valid=valid.reshape(n, window),
      goal=jnp.repeat(batch["goal"], k, axis=0),
      drop=jax.random.bernoulli(drop_rng, config.cond_drop_prob, (n,)),
  )
  return (
      actions.reshape(n, window, -1),
      action_mask.reshape(n, window, -1),
      context,
  )


def whole_windows(config, batch, rng):
  """`training_samples` for a `per_step` network: each batch window is one
  sample, every valid step's action token a target (its chunk as in
  `training_samples`). Returns (x0 [B, T, chunk * A], mask, Context)."""
  b, t = batch["mask"].shape
  actions, chunk_mask = layers.chunk_targets(
      batch["actions"], batch["mask"], config.chunk
  )
  # Zeros past the window, as `training_samples` has: what padding holds
  # must not reach the network through the noised chunk.
  actions = jnp.where(chunk_mask[..., None] > 0, actions, 0.0)
  valid = batch["mask"] > 0
  context = Context(
      obs=batch["obs"],
      valid=valid,
      goal=batch["goal"],
      drop=jax.random.bernoulli(rng, config.cond_drop_prob, (b,)),
  )
  mask = jnp.broadcast_to(chunk_mask[..., None], actions.shape)
  return actions.reshape(b, t, -1), mask.reshape(b, t, -1), context


def _each_step(rng, draw, steps):
  """draw(key) -> [N, ...] for each of `steps` steps from fold_in(rng, step),
  as [N, steps, ...]: a step's draw does not depend on how many follow it,
  so padding a window changes nothing."""
  keys = jax.vmap(lambda i: jax.random.fold_in(rng, i))(jnp.arange(steps))
  return jnp.moveaxis(jax.vmap(draw)(keys), 0, 1)


def loss(model, batch, rng, step):
  """EDM's denoising loss on the sub-windows of `batch` -> (loss, metrics);
  for a `per_step` network on every step of its windows, each step with its own
  noise level.

  `step` is unused: BESO has no schedule inside its loss.
  batch as in gcbc.loss; rng draws the sub-windows, goal drops, sigmas and noise.
  """
  del step
  cfg = model.config
  sample_rng, sigma_rng, noise_rng, dropout_rng = jax.random.split(rng, 4)
  rngs = nnx.Rngs(dropout=dropout_rng)
  draw_sigma = lambda key, shape: edm.sample_sigma(
      key,
      shape,
      cfg.sigma_density,
      cfg.sigma_min,
      cfg.sigma_max,
      cfg.sigma_data,
  )
  if NETWORKS[cfg.network].per_step:
    x0, mask, context = whole_windows(cfg, batch, sample_rng)
    n, steps, width = x0.shape
    sigma = _each_step(sigma_rng, lambda k: draw_sigma(k, (n,)), steps)
    noise = _each_step(
        noise_rng, lambda k: jax.random.normal(k, (n, width)), steps
    )
  else:
    x0, mask, context = training_samples(cfg, batch, sample_rng)
    sigma = draw_sigma(sigma_rng, x0.shape[:1])
    noise = jax.random.normal(noise_rng, x0.shape)
  mse = edm.loss(
      lambda x_in, c: model.score(x_in, c, context, rngs),
      x0,
      noise,
      sigma,
      mask,
      cfg.sigma_data,
  )
  return mse, {"mse": mse}


# ---------------------------------------------------------------- acting


def initial_state(model, batch_size):
  """The last obs_window observations (zeros before the episode), the step
  count and the chunk being executed ([B, chunk, A])."""
  cfg = model.config
  return {
      "obs": jnp.zeros((batch_size, cfg.obs_window, model.obs_dim)),
      "step": jnp.zeros((), jnp.int32),
      "chunk": jnp.zeros((batch_size, cfg.chunk, model.action_dim)),
  }


def sample_actions(model, context, rng):
  """Denoised actions [N, W, chunk * A] of the sampler in config, from noise drawn from rng."""
  cfg = model.config
  noise_rng, sampler_rng = jax.random.split(rng)
  sigmas = samplers.schedule(
      cfg.schedule, cfg.num_steps, cfg.sigma_min, cfg.sigma_max, cfg.rho
  )
  shape = context.valid.shape + (cfg.chunk * model.action_dim,)
  x = sigmas[0] * jax.random.normal(noise_rng, shape)
  return samplers.get(cfg.sampler)(
      model.denoiser(context), x, sigmas, sampler_rng
  )


def act(model, obs_history, goal, rng, state, greedy=False):
  """obs_history: [B, T, D] or [B, D] (only the newest step is read; the window
  is kept in `state`), goal: [B, D] -> (action [B, A], state).

  Every `execute` steps (from step 0) the window's actions are sampled and
  the newest token's chunk is kept; the steps between execute its next
  actions open loop (the window still moves on).
  greedy=True draws the noise from the fixed key GREEDY_SEED instead of rng, so
  the action is a deterministic function of the window and the goal.
  """
  cfg = model.config
  obs = obs_history[:, -1] if obs_history.ndim == 3 else obs_history
  window = jnp.concatenate([state["obs"][:, 1:], obs[:, None]], 1)
  # Right-aligned, as in training: the newest step is last; those before step 0 are invalid.
  valid = jnp.arange(cfg.obs_window) >= cfg.obs_window - 1 - state["step"]
  batch_size = obs.shape[0]
  context = Context(
      window,
      jnp.broadcast_to(valid, (batch_size, cfg.obs_window)),
      goal,
      jnp.zeros((batch_size,), bool),
  )
  rng = jax.random.key(GREEDY_SEED) if greedy else rng
  offset = state["step"] % cfg.execute

  def sample_chunk():
    k = cfg.average  # Samples of each row, averaged.
    repeated = jax.tree.map(lambda x: jnp.repeat(x, k, axis=0), context)
    newest = sample_actions(model, repeated, rng)[:, -1]
    newest = newest.reshape(batch_size, k, cfg.chunk, model.action_dim)
    return newest.mean(axis=1)

  chunk = jax.lax.cond(offset == 0, sample_chunk, lambda: state["chunk"])
  action = jnp.clip(chunk[:, offset], -1.0, 1.0)
  return action, {"obs": window, "step": state["step"] + 1, "chunk": chunk}
