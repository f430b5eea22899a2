"""EDM preconditioning (Karras et al. 2022) and the training sigma densities.

The denoiser D(x; sigma) = c_skip x + c_out F(c_in x, c_noise) wraps a network F
so that F's input and its training target both have unit variance at every
noise level when the data has standard deviation sigma_data. Shapes: x is
[N, ...] (N samples); sigma is [] or [N], one noise level per sample, or any
longer prefix of x's shape ([N, T] for x [N, T, A]: one per step), and F's
c_noise has sigma's shape ([N] for a scalar sigma).
"""

import jax
import jax.numpy as jnp

SIGMA_DATA = 0.5
# The log-logistic density's scale (in ln sigma) and EDM's log-normal (P_mean, P_std).
LOGLOGISTIC_SCALE = 0.5
LOGNORMAL_LOC, LOGNORMAL_SCALE = -1.2, 1.2


def preconditioning(sigma, sigma_data=SIGMA_DATA):
  """(c_skip, c_out, c_in, c_noise) at noise levels sigma (any shape, each that shape)."""
  total = sigma**2 + sigma_data**2
  return (
      sigma_data**2 / total,
      sigma * sigma_data / jnp.sqrt(total),
      1 / jnp.sqrt(total),
      jnp.log(sigma) / 4,
  )


def _per_sample(sigma, x):
  """(sigma as [N, 1, ..., 1], its shape [N]) for sigma [] or [N]; for a
  longer prefix [N, T] of x's shape, ([N, T, 1, ..., 1], [N, T]). The first
  broadcasts against x [N, ...]; the second is c_noise's shape."""
  sigma = jnp.asarray(sigma)
  if sigma.ndim <= 1:
    sigma = jnp.broadcast_to(sigma, x.shape[:1])
  elif x.shape[: sigma.ndim] != sigma.shape:
    raise ValueError(
        f"sigma of shape {sigma.shape} is not a prefix of x's {x.shape}"
    )
  return sigma.reshape(sigma.shape + (1,) * (x.ndim - sigma.ndim)), sigma.shape


def denoise(network, x, sigma, sigma_data=SIGMA_DATA):
  """D(x; sigma). network(x_in [N, ...], c_noise [N] or sigma's [N, T]) ->
  F [N, ...]; x: [N, ...]."""
  sigma, levels = _per_sample(sigma, x)
  c_skip, c_out, c_in, c_noise = preconditioning(sigma, sigma_data)
  return c_skip * x + c_out * network(c_in * x, c_noise.reshape(levels))


def training_pair(x0, noise, sigma, sigma_data=SIGMA_DATA):
  """The network's input and target for clean x0 noised to x0 + sigma * noise.

  x0, noise: [N, ...], sigma: [N] (or [N, T], one per step) -> (x_in,
  c_noise of sigma's shape, target), x_in and target [N, ...]. Regressing F
  onto target is regressing D onto x0 with EDM's weight 1 / c_out^2:
  target = (x0 - c_skip (x0 + sigma noise)) / c_out.
  """
  sigma, levels = _per_sample(sigma, x0)
  c_skip, c_out, c_in, c_noise = preconditioning(sigma, sigma_data)
  noisy = x0 + sigma * noise
  return (
      c_in * noisy,
      c_noise.reshape(levels),
      (x0 - c_skip * noisy) / c_out,
  )


def loss(network, x0, noise, sigma, mask, sigma_data=SIGMA_DATA):
  """Mean squared error of F over the entries where mask > 0. x0, noise, mask: [N, ...]."""
  x_in, c_noise, target = training_pair(x0, noise, sigma, sigma_data)
  error = jnp.where(mask > 0, (network(x_in, c_noise) - target) ** 2, 0.0)
  return error.sum() / jnp.maximum(mask.sum(), 1.0)


# ---------------------------------------------------------------- training sigma densities
# Each density is a distribution of ln sigma, truncated to [ln sigma_min, ln sigma_max]
# and sampled by its inverse CDF: (cdf, inverse cdf) of the untruncated ln sigma.


def _logistic(sigma_data):
  loc = jnp.log(sigma_data)
  return (
      lambda x: jax.nn.sigmoid((x - loc) / LOGLOGISTIC_SCALE),
      lambda u: loc + LOGLOGISTIC_SCALE * jax.scipy.special.logit(u),
  )


def _normal(sigma_data):
  del sigma_data  # EDM's fixed location.
  return (
      lambda x: jax.scipy.stats.norm.cdf(x, LOGNORMAL_LOC, LOGNORMAL_SCALE),
      lambda u: jax.scipy.stats.norm.ppf(u, LOGNORMAL_LOC, LOGNORMAL_SCALE),
  )


def _uniform(sigma_data):
  del sigma_data  # Uniform over the truncation range: any increasing linear map will do.
  return (lambda x: x, lambda u: u)


DENSITIES = {
    "loglogistic": _logistic,
    "lognormal": _normal,
    "loguniform": _uniform,
}


def _density(name, sigma_data):
  if name not in DENSITIES:
    raise KeyError(
        f"Unknown sigma density {name!r}; valid: {sorted(DENSITIES)}"
    )
  return DENSITIES[name](sigma_data)


def sigma_cdf(sigma, name, sigma_min, sigma_max, sigma_data=SIGMA_DATA):
  """P(Sigma <= sigma) of the truncated density `name` (for tests and plots)."""
  cdf, _ = _density(name, sigma_data)
  lo, hi = cdf(jnp.log(sigma_min)), cdf(jnp.log(sigma_max))
  return jnp.clip((cdf(jnp.log(sigma)) - lo) / (hi - lo), 0.0, 1.0)


def sample_sigma(
    rng,
    shape,
    name="loglogistic",
    sigma_min=0.005,
    sigma_max=1.0,
    sigma_data=SIGMA_DATA,
):
  """Training noise levels [shape] from the density `name`, within [sigma_min, sigma_max]."""
  cdf, inverse_cdf = _density(name, sigma_data)
  u = jax.random.uniform(
      rng, shape, minval=cdf(jnp.log(sigma_min)), maxval=cdf(jnp.log(sigma_max))
  )
  return jnp.clip(jnp.exp(inverse_cdf(u)), sigma_min, sigma_max)
