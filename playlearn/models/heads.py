"""Action heads: features -> an action distribution.

Every head is an `nnx.Module` whose call maps features `[..., F]` to a
distribution over actions `[..., A]` with the same three methods:
`log_prob(actions) -> [...]` (summed over the A action dimensions),
`sample(rng) -> [..., A]` and `mode() -> [..., A]`, both inside [-1, 1].
Methods pick a head by name with `make`, so the choice is a config field.
"""

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

LOG_SCALE_MIN = (
    -7.0
)  # CALVIN's floor: keeps a component from collapsing onto one bin.
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
INIT_LOG_SCALE = -4.0  # A logistic of scale e^-4 = 0.018 spans a few bins.


def _log_sigmoid_difference(a, b):
  """log(sigmoid(a) - sigmoid(b)) for a > b, without cancellation.

  sigmoid(a) - sigmoid(b) = sigmoid(a) * sigmoid(-b) * (1 - exp(b - a)), so no
  two nearly equal numbers are ever subtracted, even for very sharp scales.
  """
  return (
      jax.nn.log_sigmoid(a)
      + jax.nn.log_sigmoid(-b)
      + jnp.log(-jnp.expm1(b - a))
  )


def _pytree(*meta_fields):
  """Registers a distribution as a pytree, so jitted code can take and return it."""

  def register(cls):
    data = [
        f.name for f in dataclasses.fields(cls) if f.name not in meta_fields
    ]
    return jax.tree_util.register_dataclass(
        cls, data_fields=data, meta_fields=list(meta_fields)
    )

  return register


@_pytree("bins")
@dataclasses.dataclass(frozen=True)
class DiscretizedLogisticMixture:
  """Per action dimension, a mixture of logistics discretised into `bins` bins.

  logits, means, log_scales: [..., A, K]. Bin centres are evenly spaced over
  [-1, 1] (spacing 2 / (bins - 1)); the two edge bins take all the mass beyond
  the range (their CDF runs to -inf or +inf), so the bins sum to one.
  """

  logits: jax.Array
  means: jax.Array
  log_scales: jax.Array
  bins: int = 256

  def log_prob(self, actions):
    """actions: [..., A] in [-1, 1] -> [...]."""
    return self._log_prob_per_dim(actions).sum(-1)

  def _log_prob_per_dim(self, actions):
    """actions: [..., A] -> [..., A], the log-mass of each action's bin."""
    half = 1.0 / (self.bins - 1)
    x = actions[..., None]
    inv_s = jnp.exp(-jnp.maximum(self.log_scales, LOG_SCALE_MIN))
    upper = (x - self.means + half) * inv_s
    lower = (x - self.means - half) * inv_s
    inner = _log_sigmoid_difference(upper, lower)
    log_p = jnp.where(
        x < -1 + half,
        jax.nn.log_sigmoid(upper),
        jnp.where(x > 1 - half, jax.nn.log_sigmoid(-lower), inner),
    )
    return jax.nn.logsumexp(jax.nn.log_softmax(self.logits) + log_p, axis=-1)

  def _to_bin(self, x):
    step = 2.0 / (self.bins - 1)
    return jnp.clip(
        jnp.round((jnp.clip(x, -1, 1) + 1) / step) * step - 1, -1, 1
    )

  def sample(self, rng):
    """Gumbel-max picks a component, inverse CDF draws from it; snapped to a bin."""
    k_rng, u_rng = jax.random.split(rng)
    k = jax.random.categorical(k_rng, self.logits)[..., None]
    mean = jnp.take_along_axis(self.means, k, -1)[..., 0]
    log_s = jnp.take_along_axis(
        jnp.maximum(self.log_scales, LOG_SCALE_MIN), k, -1
    )[..., 0]
    u = jax.random.uniform(u_rng, mean.shape, minval=1e-5, maxval=1 - 1e-5)
    return self._to_bin(mean + jnp.exp(log_s) * (jnp.log(u) - jnp.log1p(-u)))

  def mode(self):
    """The most probable bin of each action dimension.

    Not the mean of the heaviest component (the usual greedy choice): when a
    mode's mass is split over several components, that mean can sit on a
    lighter mode (tests/test_models.py shows a case).
    """
    centres = jnp.linspace(-1.0, 1.0, self.bins)
    shape = (self.bins,) + self.means.shape[:-1]
    grid = jnp.broadcast_to(
        centres.reshape((-1,) + (1,) * (len(shape) - 1)), shape
    )
    best = jnp.argmax(self._log_prob_per_dim(grid), axis=0)
    return centres[best]


@_pytree()
@dataclasses.dataclass(frozen=True)
class ClippedGaussian:
  """Diagonal Gaussian in unbounded action space; samples are clipped to [-1, 1].

  Clipped rather than tanh-squashed: demonstrated actions sit exactly on +-1
  (saturated gripper), where atanh is infinite. mean, log_std: [..., A].
  """

  mean: jax.Array
  log_std: jax.Array

  def log_prob(self, actions):
    z = (actions - self.mean) * jnp.exp(-self.log_std)
    return (-0.5 * z**2 - self.log_std - 0.5 * jnp.log(2 * jnp.pi)).sum(-1)

  def sample(self, rng):
    eps = jax.random.normal(rng, self.mean.shape)
    return jnp.clip(self.mean + jnp.exp(self.log_std) * eps, -1, 1)

  def mode(self):
    return jnp.clip(self.mean, -1, 1)


@_pytree()
@dataclasses.dataclass(frozen=True)
class Deterministic:
  """A point prediction; log_prob is minus the squared error, so -log_prob is the MSE loss."""

  mean: jax.Array

  def log_prob(self, actions):
    return -((actions - self.mean) ** 2).sum(-1)

  def sample(self, rng):
    del rng  # Deterministic.
    return self.mode()

  def mode(self):
    return jnp.clip(self.mean, -1, 1)


class LogisticMixtureHead(nnx.Module):
  """features [..., F] -> DiscretizedLogisticMixture over [..., A].

  Initialised so that the components start spread evenly over [-1, 1] and
  a few bins wide (log-scale INIT_LOG_SCALE), not all at 0 with scale 1:
  Adam moves a log-scale by about the learning rate per step, so from scale
  1 the sharp peaks of scripted actions are thousands of steps away
  (tests/test_models.py::test_logistic_head_fits_known_nll; docs/results.md).
  """

  def __init__(self, in_features, action_dim, *, mixtures=10, bins=256, rngs):
    self.action_dim, self.mixtures, self.bins = action_dim, mixtures, bins
    bias = jnp.zeros((action_dim, 3, mixtures))  # logits, means, log-scales
    bias = bias.at[:, 1].set(jnp.linspace(-1, 1, mixtures + 2)[1:-1])
    bias = bias.at[:, 2].set(INIT_LOG_SCALE).reshape(-1)
    self.linear = nnx.Linear(
        in_features,
        3 * action_dim * mixtures,
        rngs=rngs,
        bias_init=jax.nn.initializers.constant(bias),
    )

  def __call__(self, features):
    p = self.linear(features).reshape(
        features.shape[:-1] + (self.action_dim, 3, self.mixtures)
    )
    return DiscretizedLogisticMixture(
        p[..., 0, :], p[..., 1, :], p[..., 2, :], self.bins
    )


class GaussianHead(nnx.Module):
  """features [..., F] -> ClippedGaussian over [..., A]."""

  def __init__(self, in_features, action_dim, *, rngs, **unused):
    del unused  # Mixture settings do not apply.
    self.linear = nnx.Linear(in_features, 2 * action_dim, rngs=rngs)

  def __call__(self, features):
    mean, log_std = jnp.split(self.linear(features), 2, axis=-1)
    return ClippedGaussian(mean, jnp.clip(log_std, LOG_STD_MIN, LOG_STD_MAX))


class MSEHead(nnx.Module):
  """features [..., F] -> Deterministic over [..., A]."""

  def __init__(self, in_features, action_dim, *, rngs, **unused):
    del unused  # Mixture settings do not apply.
    self.linear = nnx.Linear(in_features, action_dim, rngs=rngs)

  def __call__(self, features):
    return Deterministic(self.linear(features))


HEADS = {
    "logistic": LogisticMixtureHead,
    "gaussian": GaussianHead,
    "mse": MSEHead,
}


def make(name, in_features, action_dim, *, mixtures=10, bins=256, rngs):
  """Builds the head called `name` (one of HEADS)."""
  if name not in HEADS:
    raise KeyError(f"Unknown action head {name!r}; valid: {sorted(HEADS)}")
  return HEADS[name](
      in_features, action_dim, mixtures=mixtures, bins=bins, rngs=rngs
  )
