"""Smoke test of the side-by-side benchmark (playlearn/bench/vs_torch.py)."""

import json
import math
import subprocess
import sys

import pytest

pytest.importorskip(
    "torch", reason="torch (the `bench` extra, torch==2.13.0) is not installed"
)


def test_bench_vs_torch_script_writes_every_ratio(tmp_path):
  out = tmp_path / "vs_torch.json"
  subprocess.run(
      [
          sys.executable,
          "scripts/bench_vs_torch.py",
          "--train_batches=8",
          "--act_batches=1,2",
          "--widths=12",
          "--curve_batch=8",
          "--beso_width=12",
          "--rounds=1",
          "--calls=2",
          "--microbatches=2",
          f"--out={out}",
      ],
      check=True,
      timeout=600,
  )
  results = json.loads(out.read_text())
  for key in (
      "ratio/train/beso/b8",
      "ratio/train/gcbc/b8",
      "ratio/act/beso/b1",
      "ratio/act/beso/b2",
      "ratio/act/gcbc/b1",
      "ratio/train/beso/b8/mb2",
  ):
    assert math.isfinite(results[key]) and results[key] > 0, key
  train = results["train"]["beso/b8"]
  # 8 samples are 2 windows of 4 sub-windows; both frameworks hold the
  # same parameters (the benchmark checks the counts agree).
  assert train["batch_windows"] == 2 and train["num_params"] > 0
  for framework in ("jax", "torch"):
    f = train[framework]
    assert f["p10_ms"] <= f["median_ms"] <= f["p90_ms"]
  assert results["train"]["beso/b8/mb2"]["microbatches"] == 2
  assert results["threads"] >= 1 and "w12" in next(iter(results["curve"]))
  assert (tmp_path / "vs_torch.png").stat().st_size > 0


def test_trainer_overhead_reads_the_trainers_logged_rates(
    tiny_play_dataset, tmp_path
):
  from playlearn.bench import vs_torch  # pylint: disable=g-import-not-at-top

  r = vs_torch.trainer_overhead(
      tiny_play_dataset, str(tmp_path), steps=6, periods=3
  )
  assert r["batch"] == 64 and r["trainer_examples_per_s"] > 0
  assert r["bare_examples_per_s"] > 0 and r["overhead"] < 1
  # The trainer now logs its rate beside the losses.
  rows = (tmp_path / "metrics.jsonl").read_text().splitlines()
  assert sum('"steps_per_s"' in row for row in rows) == 3


def test_widths_that_do_not_split_into_heads_fail_before_measuring():
  from playlearn.bench import vs_torch  # pylint: disable=g-import-not-at-top

  with pytest.raises(ValueError, match=r"\[128\].*6 attention heads"):
    vs_torch.check_widths((120, 128))
  with pytest.raises(ValueError, match=r"\[100\]"):
    vs_torch.check_widths((120,), beso_width=100)
  vs_torch.check_widths((120, 240, 360, 480), beso_width=360)


def test_microbatches_that_do_not_split_the_batch_fail_before_measuring():
  from playlearn.bench import vs_torch  # pylint: disable=g-import-not-at-top

  with pytest.raises(ValueError, match=r"microbatches=3.*2 windows"):
    vs_torch.measure(train_batches=(8,), microbatches=3, networks=("beso",))


def test_gpu_is_refused_where_jax_has_none():
  from playlearn.bench import vs_torch  # pylint: disable=g-import-not-at-top

  with pytest.raises(RuntimeError, match="default backend is 'cpu'"):
    vs_torch.use_device("gpu")
  with pytest.raises(ValueError, match="valid: cpu, gpu"):
    vs_torch.use_device("tpu")


def test_train_step_flops_counted_for_beso_and_not_for_the_gru():
  from playlearn.bench import train_bench  # pylint: disable=g-import-not-at-top

  beso = train_bench.config_for("beso", True, 4)
  run_one, num_params = train_bench.jax_step_runner(beso, 8)
  # At least forward plus backward through every parameter once per sample.
  assert run_one.flops() > 4 * num_params
  gcbc = train_bench.config_for("gcbc", True, 4)
  assert train_bench.jax_step_runner(gcbc, 8)[0].flops() is None


def test_flops_counted_by_the_cpu_backend_match_the_lowered_count():
  """The fallback for backends without a count (the CUDA plugin) counts the
  same HLO as the step's own backend does on a CPU: 2 n^3 for a product."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from playlearn.bench import train_bench  # pylint: disable=g-import-not-at-top

  x = jnp.ones((32, 32))
  lowered = jax.jit(lambda a, b: a @ b).lower(x, x)
  cost = train_bench._cpu_cost_analysis(lowered)  # pylint: disable=protected-access
  assert cost["flops"] == train_bench._first(lowered.cost_analysis())["flops"]  # pylint: disable=protected-access
  assert cost["flops"] >= 2 * 32**3
