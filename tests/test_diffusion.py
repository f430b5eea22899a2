"""Unit tests of playlearn.diffusion: EDM preconditioning, sigma densities, schedules, samplers."""

import math
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from playlearn.diffusion import edm, samplers

SIGMA_MIN, SIGMA_MAX = 0.005, 1.0


# ---------------------------------------------------------------- preconditioning


def test_preconditioning_exact_values_at_sigma_data():
  # sigma = sigma_data = 0.5: sigma^2 + sigma_d^2 = 0.5, so c_skip = 0.25 / 0.5 = 0.5,
  # c_out = 0.25 / sqrt(0.5) = 0.3535534, c_in = 1 / sqrt(0.5) = 1.4142136, c_noise = ln(0.5) / 4.
  got = edm.preconditioning(jnp.float32(0.5))
  np.testing.assert_allclose(
      got, [0.5, 0.3535534, 1.4142136, math.log(0.5) / 4], rtol=1e-6
  )


def test_preconditioning_identities():
  sigma = jnp.geomspace(1e-3, 80.0, 50)
  c_skip, c_out, c_in, _ = edm.preconditioning(sigma)
  # c_skip + c_out^2 / sigma_d^2 = (sigma_d^2 + sigma^2) / (sigma^2 + sigma_d^2) = 1.
  np.testing.assert_allclose(c_skip + c_out**2 / 0.25, 1.0, rtol=1e-5)
  np.testing.assert_allclose(c_in**2 * (sigma**2 + 0.25), 1.0, rtol=1e-5)


def test_denoiser_is_the_identity_as_sigma_goes_to_zero():
  x = jax.random.normal(jax.random.key(0), (4, 3))
  wild = (
      lambda x_in, c_noise: 100 * jnp.sin(x_in) + c_noise[:, None]
  )  # Any bounded network.
  np.testing.assert_allclose(
      edm.denoise(wild, x, jnp.float32(1e-7)), x, atol=1e-4
  )
  assert not np.allclose(edm.denoise(wild, x, jnp.float32(0.5)), x, atol=1e-1)


def test_network_input_and_target_have_unit_variance():
  # Data with standard deviation sigma_data: c_in (x0 + sigma eps) and the target
  # both have variance 1 at every noise level, the point of the preconditioning.
  k = jax.random.split(jax.random.key(1), 2)
  x0 = 0.5 * jax.random.normal(k[0], (200_000,))
  noise = jax.random.normal(k[1], x0.shape)
  for sigma in (0.01, 0.5, 10.0):
    x_in, c_noise, target = edm.training_pair(
        x0, noise, jnp.full(x0.shape, sigma)
    )
    np.testing.assert_allclose(
        [x_in.var(), target.var()], [1.0, 1.0], rtol=0.02
    )
    np.testing.assert_allclose(c_noise, math.log(sigma) / 4, rtol=1e-5)


def test_a_network_that_outputs_the_target_denoises_exactly_with_zero_loss():
  k = jax.random.split(jax.random.key(2), 3)
  x0, noise = jax.random.normal(k[0], (5, 2, 3)), jax.random.normal(
      k[1], (5, 2, 3)
  )
  sigma = jax.random.uniform(k[2], (5,), minval=0.01, maxval=2.0)
  _, _, target = edm.training_pair(x0, noise, sigma)
  oracle = lambda x_in, c_noise: target
  noisy = x0 + sigma[:, None, None] * noise
  np.testing.assert_allclose(edm.denoise(oracle, noisy, sigma), x0, atol=1e-5)
  assert float(edm.loss(oracle, x0, noise, sigma, jnp.ones_like(x0))) < 1e-10
  # A wrong network's loss counts only the unmasked entries: (1 - 0)^2 per entry.
  off = lambda x_in, c_noise: target + 1.0
  mask = jnp.zeros_like(x0).at[:, 0].set(1.0)
  np.testing.assert_allclose(
      edm.loss(off, x0, noise, sigma, mask), 1.0, rtol=1e-5
  )


def test_one_noise_level_per_step_is_per_sample_on_each_step():
  # sigma [N, T] for x [N, T, A]: each step denoised at its own level, as the
  # same x_t alone would be with sigma[:, t]; c_noise reaches F as [N, T].
  k = jax.random.split(jax.random.key(3), 3)
  x0, noise = (jax.random.normal(key, (4, 3, 2)) for key in k[:2])
  sigma = jax.random.uniform(k[2], (4, 3), minval=0.01, maxval=2.0)
  network = lambda x_in, c_noise: jnp.sin(x_in) * c_noise[..., None]
  x_in, c_noise, target = edm.training_pair(x0, noise, sigma)
  assert c_noise.shape == (4, 3)
  whole = edm.denoise(network, x0, sigma)
  for t in range(3):
    step_in, _, step_target = edm.training_pair(
        x0[:, t], noise[:, t], sigma[:, t]
    )
    np.testing.assert_allclose(x_in[:, t], step_in, rtol=1e-6)
    np.testing.assert_allclose(target[:, t], step_target, rtol=1e-5)
    np.testing.assert_allclose(
        whole[:, t], edm.denoise(network, x0[:, t], sigma[:, t]), rtol=1e-5
    )
  with pytest.raises(ValueError, match=r"sigma of shape \(3, 4\)"):
    edm.training_pair(x0, noise, sigma.T)


# ---------------------------------------------------------------- sigma densities


def _truncated(cdf_value, lo, hi):
  return (cdf_value - lo) / (hi - lo)


def _loglogistic_cdf(s):
  # ln sigma ~ Logistic(ln 0.5, 0.5): P(Sigma <= s) = 1 / (1 + (s / 0.5)^(-1 / 0.5)).
  return 1 / (1 + (s / 0.5) ** -2)


def _lognormal_cdf(s):
  return 0.5 * (1 + math.erf((math.log(s) + 1.2) / (1.2 * math.sqrt(2))))


def _loguniform_cdf(s):
  return math.log(s)


REFERENCE_CDFS = {
    "loglogistic": _loglogistic_cdf,
    "lognormal": _lognormal_cdf,
    "loguniform": _loguniform_cdf,
}


@pytest.mark.parametrize("name", sorted(edm.DENSITIES))
def test_density_cdf_matches_closed_form(name):
  ref = REFERENCE_CDFS[name]
  lo, hi = ref(SIGMA_MIN), ref(SIGMA_MAX)
  for s in (0.01, 0.1, 0.5, 0.9):
    np.testing.assert_allclose(
        edm.sigma_cdf(s, name, SIGMA_MIN, SIGMA_MAX),
        _truncated(ref(s), lo, hi),
        rtol=1e-4,
    )


@pytest.mark.parametrize("name", sorted(edm.DENSITIES))
def test_density_samples_in_range_and_follow_the_cdf(name):
  n = 20_000
  sigma = jax.jit(edm.sample_sigma, static_argnums=(1, 2))(
      jax.random.key(3), (n,), name
  )
  assert float(sigma.min()) >= SIGMA_MIN and float(sigma.max()) <= SIGMA_MAX
  # Kolmogorov-Smirnov: the 0.1% critical value for n = 20000 is 1.95 / sqrt(n) = 0.0138.
  sigma = jnp.sort(sigma)
  cdf = edm.sigma_cdf(sigma, name, SIGMA_MIN, SIGMA_MAX)
  ranks = jnp.arange(1, n + 1) / n
  assert (
      float(jnp.max(jnp.maximum(ranks - cdf, cdf - (ranks - 1 / n)))) < 0.0138
  )


def test_unknown_density_lists_the_valid_ones():
  with pytest.raises(KeyError, match="'loglogistic'"):
    edm.sample_sigma(jax.random.key(0), (2,), "cosine")


# ---------------------------------------------------------------- schedules


@pytest.mark.parametrize("name", sorted(samplers.SCHEDULES))
@pytest.mark.parametrize("num_steps", [1, 3, 10])
def test_schedule_decreases_between_the_right_endpoints(name, num_steps):
  sigmas = samplers.schedule(name, num_steps, SIGMA_MIN, SIGMA_MAX)
  assert sigmas.shape == (num_steps + 1,)
  assert float(sigmas[-1]) == 0.0
  np.testing.assert_allclose(sigmas[0], SIGMA_MAX, rtol=1e-6)
  if num_steps > 1:
    np.testing.assert_allclose(sigmas[-2], SIGMA_MIN, rtol=1e-5)
  assert jnp.all(jnp.diff(sigmas) < 0)


def test_schedule_middle_values():
  # Three steps from 1 to 0.005, the middle one: exponential sqrt(0.005) = 0.0707107;
  # linear (1 + 0.005) / 2 = 0.5025; Karras (rho 7) ((1 + 0.005^(1/7)) / 2)^7
  # = ((1 + 0.4691173) / 2)^7 = 0.7345586^7 = exp(7 * -0.3084855) = 0.1153945.
  middle = {
      name: float(samplers.schedule(name, 3, SIGMA_MIN, SIGMA_MAX)[1])
      for name in samplers.SCHEDULES
  }
  np.testing.assert_allclose(
      [middle["exponential"], middle["linear"], middle["karras"]],
      [0.0707107, 0.5025, 0.1153945],
      rtol=1e-5,
  )


# ---------------------------------------------------------------- samplers

MU, STD = 0.3, 0.2  # Gaussian data: the exact denoiser is known in closed form.


def _gaussian_denoiser(x, sigma):
  """E[x0 | x0 + sigma eps = x] for x0 ~ N(MU, STD^2)."""
  return MU + STD**2 / (STD**2 + sigma**2) * (x - MU)


def _exact_flow(x, sigma_max):
  """The probability-flow ODE keeps (x - MU) / sqrt(STD^2 + sigma^2): where x ends at sigma 0."""
  return MU + (x - MU) * STD / math.sqrt(STD**2 + sigma_max**2)


def _run(name, denoise, x, sigmas, seed=0):
  return jax.jit(samplers.get(name), static_argnums=0)(
      denoise, x, sigmas, jax.random.key(seed)
  )


@pytest.mark.parametrize("name", sorted(samplers.SAMPLERS))
def test_every_sampler_returns_a_point_mass(name):
  point = jnp.array([0.7, -0.2, 1.0])
  x = jax.random.normal(jax.random.key(4), (6, 3))
  sigmas = samplers.schedule("exponential", 3, SIGMA_MIN, SIGMA_MAX)
  out = _run(name, lambda x, sigma: jnp.broadcast_to(point, x.shape), x, sigmas)
  np.testing.assert_allclose(out, jnp.broadcast_to(point, x.shape), atol=1e-6)


def test_second_order_samplers_beat_euler_with_few_steps():
  # With 3 steps from sigma 1 the steps are too long for any order to show (Heun
  # can be worse); at 10 the second-order samplers are about 4x closer.
  x = jax.random.normal(jax.random.key(5), (1000,))
  sigmas = samplers.schedule("karras", 10, SIGMA_MIN, SIGMA_MAX)
  exact = _exact_flow(x, SIGMA_MAX)
  error = {
      name: float(
          jnp.abs(_run(name, _gaussian_denoiser, x, sigmas) - exact).max()
      )
      for name in ("euler", "ddim", "heun", "dpmpp_2m")
  }
  np.testing.assert_allclose(
      error["ddim"], error["euler"], rtol=1e-4
  )  # The same step.
  assert error["heun"] < 0.5 * error["euler"], error
  assert error["dpmpp_2m"] < 0.5 * error["euler"], error
  fine = samplers.schedule("karras", 40, SIGMA_MIN, SIGMA_MAX)
  assert (
      float(jnp.abs(_run("heun", _gaussian_denoiser, x, fine) - exact).max())
      < 1e-3
  )


def test_euler_ancestral_samples_the_data_distribution():
  sigma_max = 80.0  # Far above STD, so N(0, sigma_max^2) is the noisy marginal.
  x = sigma_max * jax.random.normal(jax.random.key(6), (20_000,))
  # First order: the spread is 3% short at 200 steps (19% at 30).
  sigmas = samplers.schedule("karras", 200, SIGMA_MIN, sigma_max)
  out = _run("euler_ancestral", _gaussian_denoiser, x, sigmas)
  np.testing.assert_allclose(out.mean(), MU, atol=0.01)
  np.testing.assert_allclose(out.std(), STD, rtol=0.05)
  assert not np.allclose(
      out, _run("euler_ancestral", _gaussian_denoiser, x, sigmas, seed=1)
  )


@pytest.mark.parametrize("name", sorted(samplers.SAMPLERS))
def test_sampler_is_one_lax_loop_whatever_the_step_count(name):
  def traced_denoiser_calls(num_steps):
    sigmas = samplers.schedule("exponential", num_steps, SIGMA_MIN, SIGMA_MAX)
    jaxpr = jax.make_jaxpr(
        lambda x: samplers.get(name)(
            lambda x, sigma: jnp.sin(x) * sigma, x, sigmas, jax.random.key(0)
        )
    )(jnp.ones(3))
    text = str(jaxpr)
    assert "while" in text or "scan" in text
    return len(re.findall(r"\bsin\b", text))

  calls = traced_denoiser_calls(3)
  assert 1 <= calls <= 2  # Heun's corrector is the second.
  assert traced_denoiser_calls(12) == calls


def test_unknown_sampler_and_schedule_list_the_valid_ones():
  with pytest.raises(KeyError, match="'dpmpp_2m'"):
    samplers.get("plms")
  with pytest.raises(KeyError, match="'karras'"):
    samplers.schedule("cosine", 3, SIGMA_MIN, SIGMA_MAX)
