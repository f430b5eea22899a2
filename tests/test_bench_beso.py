"""Smoke test of BESO's benchmark (playlearn/bench/beso_bench.py).

Tiny models, a few calls: this checks that the figures exist and agree with
each other, not how fast anything is.
"""

from flax import nnx
import jax
import numpy as np
import pytest

from playlearn.bench import beso_bench
from playlearn.configs import beso as beso_config
from playlearn.models import configure
from playlearn.train import run_config


def _assert_positive(figures, keys):
  for key in keys:
    assert key in figures, (key, sorted(figures))
    assert np.isfinite(figures[key]) and figures[key] > 0, (key, figures[key])


@pytest.fixture(scope="module")
def results():
  return beso_bench.measure(
      tiny=True,
      batch_sizes=(1, 4),
      calls=3,
      warmup=1,
      sweep_samplers=("ddim", "heun"),
      sweep_steps=(1, 3),
      seconds=0.2,
      train_batch_size=4,
      window=8,
      matmul_size=128,
  )


def test_latency_figures(results):
  assert (
      set(results["act"]) == set(results["sampling"]) == {"batch_1", "batch_4"}
  )
  for group in ("act", "sampling"):
    for figures in results[group].values():
      _assert_positive(
          figures, ["median_ms", "p90_ms", "first_call_s", "per_action_ms"]
      )
      assert figures["p90_ms"] >= figures["median_ms"]
      assert figures["per_action_ms"] == pytest.approx(
          figures["median_ms"] / figures["batch_size"]
      )
  assert results["reference"]["speedup"] == pytest.approx(
      21.0 / results["act"]["batch_1"]["median_ms"]
  )


def test_compute_figures(results):
  one, four = results["sampling"]["batch_1"], results["sampling"]["batch_4"]
  for figures in (one, four):
    _assert_positive(
        figures,
        [
            "flops_per_denoiser_call",
            "flops",
            "gflops_per_s",
            "share_of_peak",
            "share_of_matmul_peak",
        ],
    )
    assert (figures["sampler"], figures["num_steps"]) == ("ddim", 3)
    assert figures["denoiser_calls"] == 3  # DDIM: one network call a step.
    assert figures["flops"] == 3 * figures["flops_per_denoiser_call"]
    assert figures["gflops_per_s"] == pytest.approx(
        figures["flops"] / figures["median_ms"] / 1e6
    )
  # Nearly every FLOP is per sample: four samples cost about four times one.
  assert 3.5 * one["flops"] < four["flops"] < 4.5 * one["flops"]
  cpu = results["cpu_peak"]
  _assert_positive(
      cpu,
      [
          "cores",
          "clock_ghz",
          "flops_per_cycle_per_core",
          "peak_gflops",
          "matmul_peak_gflops",
      ],
  )
  assert cpu["peak_gflops"] == pytest.approx(
      cpu["cores"] * cpu["clock_ghz"] * cpu["flops_per_cycle_per_core"]
  )
  assert one["share_of_peak"] == pytest.approx(
      one["gflops_per_s"] / cpu["peak_gflops"]
  )


def test_sweep_and_train(results):
  assert list(results["sweep"]) == ["ddim_1", "ddim_3", "heun_1", "heun_3"]
  for figures in results["sweep"].values():
    _assert_positive(figures, ["median_ms", "first_call_s"])
    assert figures["batch_size"] == 1
  # Heun corrects every step but the last (to sigma = 0): 2 * 3 - 1 calls.
  assert results["sweep"]["heun_3"]["denoiser_calls"] == 5
  train = results["train"]
  _assert_positive(train, ["steps_per_s", "examples_per_s", "samples_per_s"])
  # Config.tiny() cuts samples_per_window = 2 sub-windows from each window.
  assert train["samples_per_step"] == 4 * 2
  assert train["samples_per_s"] == pytest.approx(8 * train["steps_per_s"])
  # The tiny model, in the train step as in the sampler.
  assert train["num_params"] == results["num_params"]
  table = beso_bench.table(results)
  assert "| ddim | 3 | 3 |" in table and "| heun | 3 | 5 |" in table
  assert "| 4 x 2 = 8 |" in table


def test_with_config_keeps_the_weights():
  model = beso_bench.make_model(tiny=True)
  variant = configure.with_config(model, sampler="heun", num_steps=7)
  assert (variant.config.sampler, variant.config.num_steps) == ("heun", 7)
  assert model.config.sampler == "ddim"
  for a, b in zip(
      jax.tree.leaves(nnx.state(model, nnx.Param)),
      jax.tree.leaves(nnx.state(variant, nnx.Param)),
  ):
    np.testing.assert_array_equal(a, b)


def test_train_batch_is_the_references_1024_samples():
  config = beso_config.get_config()
  # 256 windows x 4 sub-windows, each of obs_window 4 steps.
  model = run_config.model_config(config)
  assert config.data.batch_size * model.samples_per_window == 1024
  assert (model.width, model.layers, model.heads, model.obs_window) == (
      360,
      6,
      6,
      4,
  )
