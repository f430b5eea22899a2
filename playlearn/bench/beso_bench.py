"""Speed of BESO's acting and training, against the PyTorch reference (issue 4).

The reference (Reuss et al.'s BESO, kitchen sizes: transformer width 360,
6 layers, 6 heads, observation window 4) takes about 21 ms per action for 3
DDIM steps at batch 1 on a 2-core CPU, about 12 ms of it in the sampling loop;
the goal is at least 2x faster per action on the same CPU. Figures, for
`beso.Config()` (those sizes; `tiny`: `Config.tiny()`) with obs_dim 42 and
action_dim 7, synthetic inputs, every duration in wall time:

* `act`: `Policy.act(obs, goal)` end to end (host normalisation, the jitted
  step, the action copied back to numpy), from `train_bench.act_latency`;
  keyed 'batch_<B>': `median_ms`, `p90_ms` per call over `calls` calls after
  warm-up, `first_call_s` (jit compile included), `actions_per_s`, and
  `per_action_ms` = median_ms / B.
* `sampling`: the bare jitted `beso.sample_actions` (the model only: no
  window update, no host work) at the config's sampler and steps, per batch
  size: the same timings, `compile_s` (first call minus the median), and the
  compute figures: `denoiser_calls` (network evaluations, NFE),
  `flops_per_denoiser_call` (XLA's cost analysis of one denoiser call),
  `flops` = their product (XLA counts a while loop's body once, so the cost
  analysis of the whole sampler would count one step), `gflops_per_s` =
  flops / median time, `share_of_peak` and `share_of_matmul_peak` (of the two
  peaks under `cpu_peak`).
* `sweep`: `sampling` timings at batch 1 for each sampler x steps, keyed
  '<sampler>_<steps>', with `denoiser_calls` (Heun takes 2 per step but the
  last).
* `train`: `train_bench.train_step` (the trainer's jitted step, EMA
  included): `steps_per_s`, `examples_per_s` (batch windows/s), and
  `samples_per_step` = batch windows x `samples_per_window`, the diffusion
  samples (sub-windows of `obs_window` steps) the loss is taken on; this
  matches the reference's batch, whose 1024 examples are each a window of 4
  steps: the default 256 windows x 4 = 1024. `samples_per_s` = steps/s x that.
* `cpu_peak`: the peak fp32 FLOP/s, estimated as cores x clock x
  FLOPs/cycle/core (`peak_gflops`, with the assumption spelt out) and
  measured as the best time of a jitted `matmul_size`^2 float32 matmul
  (`matmul_peak_gflops`).
* `reference`: the issue's figures, `speedup` = reference ms per action /
  this project's `act` median at batch 1, and `sampling_speedup` = the
  reference's sampling loop ms / the `sampling` median at batch 1.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Sequence

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np

from playlearn import hardware
from playlearn import timing
from playlearn.bench import train_bench
from playlearn.diffusion import samplers
from playlearn.models import beso
from playlearn.models import configure

OBS_DIM = train_bench.OBS_DIM
ACTION_DIM = train_bench.ACTION_DIM
REFERENCE = {
    "source": "issue 4: PyTorch BESO, kitchen sizes, 3 DDIM steps, batch 1, "
    "2-core CPU",
    "ms_per_action": 21.0,
    "sampling_loop_ms": 12.0,
    "goal_speedup": 2.0,
}
# fp32 FLOPs per cycle per core, for two FMA units: units x lanes x 2 (an FMA
# is a multiply and an add). Some CPUs have one 512-bit FMA unit (half).
SIMD_FLOPS_PER_CYCLE = (
    ("avx512f", 2 * 16 * 2),
    ("avx2", 2 * 8 * 2),
    ("avx", 2 * 8),
    ("sse2", 2 * 4 * 2),
)


def make_model(tiny: bool = False, seed: int = 0) -> beso.Model:
  """BESO at the reference's sizes (or `Config.tiny()`)."""
  config = beso.Config.tiny() if tiny else beso.Config()
  return beso.Model(config, OBS_DIM, ACTION_DIM, rngs=nnx.Rngs(seed))


def make_context(
    model: beso.Model, batch_size: int, seed: int = 0
) -> beso.Context:
  """A full window for `batch_size` samples: obs [B, W, 42] and goal [B, 42]
  standard normal (normalised states), every step valid, no goal dropped."""
  window = model.config.obs_window
  obs_rng, goal_rng = jax.random.split(jax.random.key(seed))
  return beso.Context(
      obs=jax.random.normal(obs_rng, (batch_size, window, model.obs_dim)),
      valid=jnp.ones((batch_size, window), bool),
      goal=jax.random.normal(goal_rng, (batch_size, model.obs_dim)),
      drop=jnp.zeros((batch_size,), bool),
  )


def pure_jit(model: beso.Model, fn: Callable) -> tuple[Callable, nnx.State]:
  """jit(fn(model, *args)) as a pure function of (params, *args), and params."""
  graphdef, params = nnx.split(model)

  def pure(params, *args):
    model = nnx.merge(graphdef, params)
    model.eval()
    return fn(model, *args)

  return jax.jit(pure), params


def denoiser_calls(sampler: str, num_steps: int) -> int:
  """Network evaluations (NFE) of one sampling call, counted by running the
  sampler eagerly (`disable_jit` unrolls its loop) on a stand-in denoiser."""
  calls = 0

  def denoise(x, sigma):
    nonlocal calls
    calls += 1
    return x / (1.0 + sigma)

  sigmas = samplers.schedule("exponential", num_steps, 0.005, 1.0)
  with jax.disable_jit():
    samplers.get(sampler)(denoise, jnp.ones((1,)), sigmas, jax.random.key(0))
  return calls


def _flops(compiled) -> float:
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):  # Older jax: one dict per program.
    cost = cost[0]
  return float(cost["flops"])


def denoiser_flops(model: beso.Model, batch_size: int) -> float:
  """FLOPs of one denoiser call D(x; sigma) for `batch_size` samples, from
  XLA's cost analysis of the compiled call (guidance's 2B included)."""
  context = make_context(model, batch_size)
  x = jnp.zeros(context.valid.shape + (model.config.chunk * model.action_dim,))
  denoise, params = pure_jit(
      model, lambda m, context, x, sigma: m.denoiser(context)(x, sigma)
  )
  return _flops(denoise.lower(params, context, x, jnp.float32(1.0)).compile())


def sampling_latency(
    model: beso.Model, batch_size: int, *, calls: int, warmup: int = 3
) -> dict:
  """`timing.time_calls` of the bare jitted sampler at the model's config,
  with the NFE."""
  sample, params = pure_jit(model, beso.sample_actions)
  context, rng = make_context(model, batch_size), jax.random.key(0)
  figures = timing.time_calls(
      lambda: jax.block_until_ready(sample(params, context, rng)), calls, warmup
  )
  return {
      "batch_size": batch_size,
      "sampler": model.config.sampler,
      "num_steps": model.config.num_steps,
      "denoiser_calls": denoiser_calls(
          model.config.sampler, model.config.num_steps
      ),
      **figures,
      "per_action_ms": figures["median_ms"] / batch_size,
  }


def sampling_compute(
    model: beso.Model,
    batch_size: int,
    cpu: dict,
    *,
    calls: int,
    warmup: int = 3,
) -> dict:
  """`sampling_latency` with FLOPs, FLOP/s and the shares of the CPU's peaks."""
  figures = sampling_latency(model, batch_size, calls=calls, warmup=warmup)
  per_call = denoiser_flops(model, batch_size)
  flops = per_call * figures["denoiser_calls"]
  gflops_per_s = flops / figures["median_ms"] / 1e6
  return {
      **figures,
      "flops_per_denoiser_call": per_call,
      "flops": flops,
      "gflops_per_s": gflops_per_s,
      "share_of_peak": gflops_per_s / cpu["peak_gflops"],
      "share_of_matmul_peak": gflops_per_s / cpu["matmul_peak_gflops"],
  }


def sampler_sweep(
    model: beso.Model,
    sampler_names: Sequence[str],
    steps: Sequence[int],
    *,
    calls: int,
    warmup: int = 3,
) -> dict:
  """`sampling_latency` at batch 1 per sampler x steps, '<sampler>_<steps>'."""
  return {
      f"{name}_{n}": sampling_latency(
          configure.with_config(model, sampler=name, num_steps=n),
          1,
          calls=calls,
          warmup=warmup,
      )
      for name in sampler_names
      for n in steps
  }


def cpu_peak(matmul_size: int = 2048, calls: int = 10) -> dict:
  """The CPU's fp32 peak, estimated from /proc/cpuinfo and measured.

  peak_gflops = cores x clock (GHz) x FLOPs/cycle/core, where cores are the
  CPUs this process may run on and the clock is /proc/cpuinfo's 'cpu MHz'
  (the nominal clock on a VM; turbo and AVX-512 down-clocking are ignored).
  matmul_peak_gflops: 2 n^3 FLOPs of a jitted [n, n] x [n, n] float32 matmul
  over its best time of `calls`.
  """
  info = hardware.cpuinfo()
  flags = set(info.get("flags", "").split())
  simd, per_cycle = next(
      ((f, c) for f, c in SIMD_FLOPS_PER_CYCLE if f in flags), ("scalar", 2)
  )
  cores = len(os.sched_getaffinity(0))
  clock_ghz = float(info.get("cpu MHz", "nan")) / 1e3
  a = jax.random.normal(jax.random.key(0), (matmul_size, matmul_size))
  matmul = jax.jit(jnp.matmul)
  jax.block_until_ready(matmul(a, a))
  times = []
  for _ in range(calls):
    tic = time.perf_counter()
    jax.block_until_ready(matmul(a, a))
    times.append(time.perf_counter() - tic)
  matmul_flops = 2.0 * matmul_size**3
  return {
      "cores": cores,
      "clock_ghz": clock_ghz,
      "simd": simd,
      "flops_per_cycle_per_core": per_cycle,
      "peak_gflops": cores * clock_ghz * per_cycle,
      "assumption": f"fp32, {simd}, two FMA units per core: units x lanes x 2 "
      f"= {per_cycle} FLOPs/cycle/core; clock = /proc/cpuinfo "
      "'cpu MHz'; cores = CPUs this process may use (on a VM, "
      "vCPUs: hyperthreads of one core would halve the peak)",
      "matmul_size": matmul_size,
      "matmul_ms_best": 1e3 * min(times),
      "matmul_ms_median": 1e3 * float(np.median(times)),
      "matmul_peak_gflops": matmul_flops / min(times) / 1e9,
  }


def measure(
    *,
    tiny: bool = False,
    batch_sizes: Sequence[int] = (1, 64),
    calls: int = 200,
    warmup: int = 10,
    sweep_samplers: Sequence[str] = tuple(samplers.SAMPLERS),
    sweep_steps: Sequence[int] = (1, 3, 5, 10),
    seconds: float = 10.0,
    train_batch_size: int | None = None,
    window: int = 32,
    matmul_size: int = 2048,
) -> dict:
  """Every figure of the module docstring.

  train_batch_size: batch windows of the train step (None: the config's 256,
  i.e. 1024 samples); window: their length in steps.
  """
  cpu = cpu_peak(matmul_size)
  model = make_model(tiny)
  act = train_bench.act_latency(
      "beso",
      batch_sizes=tuple(batch_sizes),
      calls=calls,
      warmup=warmup,
      tiny=tiny,
  )
  for figures in act.values():
    figures["per_action_ms"] = figures["median_ms"] / figures["batch_size"]
  sampling = {
      f"batch_{b}": sampling_compute(model, b, cpu, calls=calls, warmup=warmup)
      for b in batch_sizes
  }
  # A quarter of the calls: 20 compiles at the reference's sizes add up.
  sweep = sampler_sweep(
      model,
      sweep_samplers,
      sweep_steps,
      calls=max(calls // 4, 1),
      warmup=warmup,
  )
  train = train_bench.train_step(
      "beso",
      batch_size=train_batch_size,
      window=window,
      seconds=seconds,
      tiny=tiny,
  )
  train["samples_per_step"] = (
      train["batch_size"] * model.config.samples_per_window
  )
  train["samples_per_s"] = train["steps_per_s"] * train["samples_per_step"]
  reference = dict(REFERENCE)
  if "batch_1" in act:
    reference["speedup"] = (
        REFERENCE["ms_per_action"] / act["batch_1"]["median_ms"]
    )
    reference["sampling_speedup"] = (
        REFERENCE["sampling_loop_ms"] / sampling["batch_1"]["median_ms"]
    )
  return {
      "config": dataclasses.asdict(model.config),
      "obs_dim": OBS_DIM,
      "action_dim": ACTION_DIM,
      "num_params": train_bench.num_params(model),
      "cpu_peak": cpu,
      "act": act,
      "sampling": sampling,
      "sweep": sweep,
      "train": train,
      "reference": reference,
  }


def table(results: dict) -> str:
  """`measure`'s figures as markdown: latency, the sweep, training, the CPU."""
  config, cpu = results["config"], results["cpu_peak"]
  lines = [
      f"BESO {config['network']} width {config['width']}, "
      f"{config['layers']} layers, {config['heads']} heads, window "
      f"{config['obs_window']}, {results['num_params']:,} parameters; "
      f"{config['sampler']}, {config['num_steps']} steps",
      "",
      "| batch | Policy.act median / p90 ms | per action ms "
      "| sampling median / p90 ms | compile s | GFLOP/call | GFLOP/s "
      "| % of peak | % of matmul peak |",
      "|---|---|---|---|---|---|---|---|---|",
  ]
  for key, act in results["act"].items():
    s = results["sampling"][key]
    lines.append(
        f"| {act['batch_size']} | {act['median_ms']:.2f} / {act['p90_ms']:.2f}"
        f" | {act['per_action_ms']:.3f} | {s['median_ms']:.2f} / "
        f"{s['p90_ms']:.2f} | {s['compile_s']:.1f} | {s['flops'] / 1e9:.3f} "
        f"| {s['gflops_per_s']:.1f} | {100 * s['share_of_peak']:.1f}% "
        f"| {100 * s['share_of_matmul_peak']:.1f}% |"
    )
  reference = results["reference"]
  if "speedup" in reference:
    lines += [
        "",
        f"reference: {reference['ms_per_action']:.0f} ms per action"
        f" at batch 1 ({reference['sampling_loop_ms']:.0f} ms sampling); "
        f"this: {reference['speedup']:.2f}x faster per action "
        f"({reference['sampling_speedup']:.2f}x sampling; goal "
        f"{reference['goal_speedup']:.0f}x)",
    ]
  lines += [
      "",
      "| sampler | steps | denoiser calls | batch 1 median / p90 ms "
      "| compile s |",
      "|---|---|---|---|---|",
  ]
  for s in results["sweep"].values():
    lines.append(
        f"| {s['sampler']} | {s['num_steps']} | {s['denoiser_calls']}"
        f" | {s['median_ms']:.2f} / {s['p90_ms']:.2f} "
        f"| {s['compile_s']:.1f} |"
    )
  train = results["train"]
  lines += [
      "",
      "| train batch (windows x samples each = samples) | steps/s "
      "| windows/s | samples/s | step ms | compile s |",
      "|---|---|---|---|---|---|",
      f"| {train['batch_size']} x {config['samples_per_window']} = "
      f"{train['samples_per_step']} | {train['steps_per_s']:.2f} "
      f"| {train['examples_per_s']:.0f} | {train['samples_per_s']:.0f} "
      f"| {train['step_ms_median']:.1f} | {train['compile_s']:.1f} |",
      "",
      f"cpu peak: {cpu['peak_gflops']:.0f} GFLOP/s estimated "
      f"({cpu['cores']} cores x {cpu['clock_ghz']:.2f} GHz x "
      f"{cpu['flops_per_cycle_per_core']} FLOP/cycle, {cpu['simd']}), "
      f"{cpu['matmul_peak_gflops']:.0f} GFLOP/s measured "
      f"({cpu['matmul_size']}^2 matmul)",
  ]
  return "\n".join(lines)
