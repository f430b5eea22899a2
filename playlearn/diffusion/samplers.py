"""Noise schedules and samplers for EDM's probability-flow ODE, x_sigma = x_0 + sigma eps.

A sampler is `sample(denoise, x, sigmas, rng) -> x_0 [N, ...]`:
  denoise(x [N, ...], sigma []) -> D(x; sigma) [N, ...], the denoiser;
  x [N, ...]: the start, noise at level sigmas[0] (sigmas[0] * a standard normal);
  sigmas [n + 1]: decreasing, from `schedule`, the last 0;
  rng: only Euler-ancestral draws from it.
Its n steps run in one `jax.lax.fori_loop`, so n is static (sigmas' shape), the
denoiser is traced once whatever n is, and the whole sampler jits as one call.
"""

import jax
import jax.numpy as jnp

# ---------------------------------------------------------------- schedules
# Each maps a ramp [n] from 0 to 1 onto noise levels from sigma_max to sigma_min.


def _exponential(ramp, sigma_min, sigma_max, rho):
  del rho  # Evenly spaced in ln sigma.
  return jnp.exp(
      jnp.log(sigma_max) + ramp * (jnp.log(sigma_min) - jnp.log(sigma_max))
  )


def _linear(ramp, sigma_min, sigma_max, rho):
  del rho  # Evenly spaced in sigma.
  return sigma_max + ramp * (sigma_min - sigma_max)


def _karras(ramp, sigma_min, sigma_max, rho):
  """Evenly spaced in sigma^(1/rho): denser near sigma_min as rho grows."""
  top, bottom = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
  return (top + ramp * (bottom - top)) ** rho


SCHEDULES = {"exponential": _exponential, "linear": _linear, "karras": _karras}


def schedule(name, num_steps, sigma_min, sigma_max, rho=7.0):
  """[num_steps + 1] noise levels: num_steps from sigma_max down to sigma_min, then 0."""
  if name not in SCHEDULES:
    raise KeyError(
        f"Unknown noise schedule {name!r}; valid: {sorted(SCHEDULES)}"
    )
  sigmas = SCHEDULES[name](
      jnp.linspace(0.0, 1.0, num_steps), sigma_min, sigma_max, rho
  )
  return jnp.append(sigmas, 0.0)


# ---------------------------------------------------------------- samplers


def _steps(body, init, sigmas):
  """Runs body(i, carry) -> carry for the len(sigmas) - 1 steps."""
  return jax.lax.fori_loop(0, sigmas.shape[0] - 1, body, init)


def _derivative(denoise, x, sigma):
  """dx/dsigma of the probability-flow ODE: (x - D(x; sigma)) / sigma."""
  return (x - denoise(x, sigma)) / sigma


def _ddim_step(x, denoised, sigma, sigma_next):
  """Exact step of the ODE if the denoised estimate stayed constant over [sigma_next, sigma]."""
  ratio = sigma_next / sigma
  return ratio * x + (1 - ratio) * denoised


def ddim(denoise, x, sigmas, rng):
  """DDIM, first order. For this (variance exploding) ODE it is Euler's step written
  in the denoised estimate, the form that stays exact when sigma_next is 0."""
  del rng  # Deterministic.
  return _steps(
      lambda i, x: _ddim_step(
          x, denoise(x, sigmas[i]), sigmas[i], sigmas[i + 1]
      ),
      x,
      sigmas,
  )


def euler(denoise, x, sigmas, rng):
  """Euler's method on dx/dsigma."""
  del rng  # Deterministic.

  def body(i, x):
    return x + (sigmas[i + 1] - sigmas[i]) * _derivative(denoise, x, sigmas[i])

  return _steps(body, x, sigmas)


def euler_ancestral(denoise, x, sigmas, rng):
  """Euler down to sigma_down, then fresh noise back up to sigma_next (eta = 1)."""

  def body(i, x):
    sigma, sigma_next = sigmas[i], sigmas[i + 1]
    sigma_up = jnp.minimum(
        sigma_next,
        jnp.sqrt(sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2),
    )
    sigma_down = jnp.sqrt(sigma_next**2 - sigma_up**2)
    x = x + (sigma_down - sigma) * _derivative(denoise, x, sigma)
    return x + sigma_up * jax.random.normal(
        jax.random.fold_in(rng, i), x.shape, x.dtype
    )

  return _steps(body, x, sigmas)


def heun(denoise, x, sigmas, rng):
  """Heun's second-order method (EDM's Algorithm 1); the step to sigma = 0 is Euler's."""
  del rng  # Deterministic.

  def body(i, x):
    sigma, sigma_next = sigmas[i], sigmas[i + 1]
    slope = _derivative(denoise, x, sigma)
    x_euler = x + (sigma_next - sigma) * slope

    def corrected():
      slope_next = _derivative(denoise, x_euler, sigma_next)
      return x + (sigma_next - sigma) * (slope + slope_next) / 2

    return jax.lax.cond(sigma_next > 0, corrected, lambda: x_euler)

  return _steps(body, x, sigmas)


def dpmpp_2m(denoise, x, sigmas, rng):
  """DPM-Solver++(2M) (Lu et al. 2022): a DDIM step whose denoised estimate is
  extrapolated, in t = -ln sigma, through the previous step's (multistep, so one
  denoiser call per step). The first and the last step are plain DDIM."""
  del rng  # Deterministic.

  def body(i, carry):
    x, previous = carry
    sigma, sigma_next = sigmas[i], sigmas[i + 1]
    denoised = denoise(x, sigma)
    second_order = (i > 0) & (sigma_next > 0)
    # h / (2 h_last), with h and h_last the steps in t; the guards keep the unused branch finite.
    h = jnp.log(sigma) - jnp.log(jnp.where(second_order, sigma_next, 1.0))
    h_last = jnp.where(
        second_order,
        jnp.log(sigmas[jnp.maximum(i - 1, 0)]) - jnp.log(sigma),
        1.0,
    )
    weight = jnp.where(second_order, h / (2 * h_last), 0.0)
    extrapolated = denoised + weight * (denoised - previous)
    return _ddim_step(x, extrapolated, sigma, sigma_next), denoised

  x, _ = _steps(body, (x, jnp.zeros_like(x)), sigmas)
  return x


SAMPLERS = {
    "ddim": ddim,
    "euler": euler,
    "euler_ancestral": euler_ancestral,
    "heun": heun,
    "dpmpp_2m": dpmpp_2m,
}


def get(name):
  """The sampler called `name` (one of SAMPLERS)."""
  if name not in SAMPLERS:
    raise KeyError(f"Unknown sampler {name!r}; valid: {sorted(SAMPLERS)}")
  return SAMPLERS[name]
