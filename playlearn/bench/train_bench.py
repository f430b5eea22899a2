"""Speed of the learning stack: train steps and policy actions, per method.

Figures per method (`playlearn.models.METHODS`), with synthetic inputs of the
real shapes (no dataset is read, so the data pipeline is not in them; it is
measured apart by `data_bench.py`):

* `train`: the train step of `playlearn.train.trainer` (same optimizer, same
  jitted function over the same mesh, state donated, each step timed until
  its new state is ready, and the EMA of the weights where the
  config keeps one, as BESO's does): `steps_per_s` and `examples_per_s`
  (windows/s) over `seconds` of steady state, `compile_s` (first call minus
  the median steady step), `step_ms_median`, `num_params`. The batch is put
  on the devices once, so host-to-device copies are not counted.
* `act`: `Policy.act(obs, goal)` wall time per call for each batch size
  (environments acting together): median and p90 over `calls` calls after
  warm-up, and the first call (jit compile included). A call includes the
  host-side normalisation and the copy of the action back to numpy.
"""

from __future__ import annotations

import time

from flax import nnx
import jax
import numpy as np

from playlearn import models
from playlearn import policy as policy_lib
from playlearn import timing
from playlearn.configs import beso as beso_config
from playlearn.configs import gcbc as gcbc_config
from playlearn.configs import lmp as lmp_config
from playlearn.data import windows
from playlearn.train import mesh as mesh_lib
from playlearn.train import run_config
from playlearn.train import trainer

OBS_DIM = 42
ACTION_DIM = 7
CONFIGS = {"beso": beso_config, "gcbc": gcbc_config, "lmp": lmp_config}
RECURRENT = ("gcbc", "lmp")  # Methods whose networks scan a GRU.


def config_for(
    method: str, tiny: bool, batch_size: int | None, variant: str | None = None
):
  """`method`'s config (its `variant`, e.g. 'cpu'), tiny model or not."""
  if method not in CONFIGS:
    raise KeyError(f"unknown method {method!r}; valid: {sorted(CONFIGS)}")
  config = CONFIGS[method].get_config(variant)
  config.tiny_model = tiny
  if batch_size is not None:
    config.data.batch_size = batch_size
  return config


def model_for(config, seed: int = 0) -> nnx.Module:
  method = models.get(config.method)
  return method.Model(
      run_config.model_config(config), OBS_DIM, ACTION_DIM, rngs=nnx.Rngs(seed)
  )


def synthetic_batch(batch_size: int, window: int, seed: int = 0) -> dict:
  """A batch of the trainer's contract (windows.py), every step valid.

  obs [B, T, 42] and goal [B, 42] standard normal (normalised states),
  actions [B, T, 7] uniform in [-1, 1], mask [B, T] ones, length [B] = T.
  """
  rng = np.random.default_rng(seed)
  return {
      "obs": rng.standard_normal((batch_size, window, OBS_DIM), np.float32),
      "actions": rng.uniform(-1, 1, (batch_size, window, ACTION_DIM)).astype(
          np.float32
      ),
      "goal": rng.standard_normal((batch_size, OBS_DIM), np.float32),
      "mask": np.ones((batch_size, window), np.float32),
      "length": np.full((batch_size,), window, np.int32),
  }


def num_params(model: nnx.Module) -> int:
  return int(sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param))))


def _first(cost):
  """A cost analysis as one dict (some JAX versions give a list of one)."""
  return cost[0] if isinstance(cost, (list, tuple)) and cost else cost


def _cpu_cost_analysis(lowered) -> dict | None:
  """XLA's cost analysis of a lowered step by the CPU backend, for a
  backend that has none (the CUDA plugin). Uses jaxlib's own function, which
  JAX keeps private: None where this JAX does not have it."""
  try:
    from jax._src import xla_bridge  # pylint: disable=g-import-not-at-top
    from jax._src.lib import _jax  # pylint: disable=g-import-not-at-top

    module = lowered.compiler_ir("hlo").as_hlo_module()
    return _first(
        _jax.hlo_module_cost_analysis(xla_bridge.get_backend("cpu"), module)
    )
  except (ImportError, AttributeError, NotImplementedError, RuntimeError):
    return None


def jax_step_runner(config, window: int = 32):
  """(run_one, num_params): one train step of the trainer per call.

  The trainer's own state and jitted step (`trainer.make_train_state`: the
  state donated, the weights' EMA where the config keeps one). run_one()
  returns its wall time in seconds, until the new state is ready;
  run_one.flops() is the step's FLOPs by XLA's cost analysis (None if XLA
  gives none, or the method is in RECURRENT).
  """
  method = config.method
  model = model_for(config, config.seed)
  params = num_params(model)
  mesh = mesh_lib.make_mesh()
  _, state, step_fn = trainer.make_train_state(config, model, mesh)
  batch = mesh_lib.shard_batch(
      synthetic_batch(config.data.batch_size, window), mesh
  )
  rng = jax.random.key(config.seed)
  step = 0

  def flops() -> float | None:
    """The step's FLOPs by XLA's analysis of its HLO as lowered (never the
    compiled step's count: on a GPU that leaves out the matrix products,
    which run as cuBLAS calls). Where the step's own backend gives no count
    (JAX 0.11 on a GPU), the CPU backend counts the same HLO. XLA counts a
    loop's body once, so the recurrent methods (a GRU scanned over the
    window) get None; BESO's count is within 10% of 6 x parameters x
    tokens. Computed when asked: it lowers the step again."""
    if method in RECURRENT:
      return None
    lowered = step_fn.lower(state, batch, rng, 0)
    cost = _first(lowered.cost_analysis()) or _cpu_cost_analysis(lowered)
    return float((cost or {}).get("flops", 0.0)) or None

  def run_one():
    nonlocal state, step
    tic = time.perf_counter()
    state, metrics = step_fn(state, batch, jax.random.fold_in(rng, step), step)
    step += 1
    jax.block_until_ready(state)
    if not np.isfinite(float(metrics["loss"])):
      raise FloatingPointError(
          f"{method}: loss {metrics['loss']} at step {step}"
      )
    return time.perf_counter() - tic

  run_one.flops = flops
  return run_one, params


def train_step(
    method: str,
    *,
    batch_size: int | None = None,
    window: int = 32,
    seconds: float = 10.0,
    tiny: bool = False,
) -> dict:
  """Train-step figures (module docstring) of `method`'s default config.

  batch_size None: the config's (256); tiny: `Config.tiny()` models.
  """
  config = config_for(method, tiny, batch_size)
  run_one, params = jax_step_runner(config, window)
  first = run_one()
  warmup = [run_one() for _ in range(3)]
  times = []
  tic = time.perf_counter()
  while time.perf_counter() - tic < seconds or len(times) < 3:
    times.append(run_one())
  elapsed = time.perf_counter() - tic
  steady = float(np.median(warmup + times))
  steps_per_s = len(times) / elapsed
  batch_size = config.data.batch_size
  return {
      "batch_size": batch_size,
      "window": window,
      "num_params": params,
      "steps": len(times),
      "seconds": elapsed,
      "steps_per_s": steps_per_s,
      "examples_per_s": steps_per_s * batch_size,
      "step_ms_median": 1e3 * float(np.median(times)),
      "first_call_s": first,
      "compile_s": max(first - steady, 0.0),
  }


def unit_normalization(
    obs_dim: int = OBS_DIM, action_dim: int = ACTION_DIM
) -> windows.Normalization:
  """The identity maps: mean 0, std 1, action centre 0, scale 1."""
  return windows.Normalization(
      np.zeros(obs_dim, np.float32),
      np.ones(obs_dim, np.float32),
      np.zeros(action_dim, np.float32),
      np.ones(action_dim, np.float32),
  )


def act_latency(
    method: str,
    *,
    batch_sizes: tuple[int, ...] = (1, 64),
    calls: int = 200,
    warmup: int = 10,
    tiny: bool = False,
) -> dict:
  """`Policy.act` per-call figures (module docstring), keyed 'batch_<B>'."""
  config = config_for(method, tiny, None)
  policy = policy_lib.Policy(
      method, model_for(config, config.seed), unit_normalization()
  )
  rng = np.random.default_rng(0)
  results = {}
  for b in batch_sizes:
    obs = {"state": rng.standard_normal((b, OBS_DIM), np.float32)}
    goal = {"state": rng.standard_normal((b, OBS_DIM), np.float32)}
    policy.reset(b)
    figures = timing.time_calls(lambda: policy.act(obs, goal), calls, warmup)
    results[f"batch_{b}"] = {
        "batch_size": b,
        **figures,
        "actions_per_s": 1e3 * b / figures["median_ms"],
    }
  return results


def measure(
    methods=("gcbc", "lmp"),
    *,
    seconds: float = 10.0,
    batch_size: int | None = None,
    window: int = 32,
    calls: int = 200,
    tiny: bool = False,
) -> dict:
  """{method: {'train': train_step(...), 'act': act_latency(...)}}."""
  return {
      m: {
          "train": train_step(
              m,
              batch_size=batch_size,
              window=window,
              seconds=seconds,
              tiny=tiny,
          ),
          "act": act_latency(m, calls=calls, tiny=tiny),
      }
      for m in methods
  }


def table(results: dict) -> str:
  """The figures of `measure` as a markdown table, one row per method."""
  lines = [
      "| method | params | batch x window | train steps/s | examples/s "
      "| compile s | act B=1 median / p90 ms | act B=64 median / p90 ms |",
      "|---|---|---|---|---|---|---|---|",
  ]
  for method, figures in results.items():
    train, act = figures["train"], figures["act"]
    cells = [
        method,
        f"{train['num_params']:,}",
        f"{train['batch_size']} x {train['window']}",
        f"{train['steps_per_s']:.1f}",
        f"{train['examples_per_s']:.0f}",
        f"{train['compile_s']:.1f}",
    ]
    cells += [f"{a['median_ms']:.2f} / {a['p90_ms']:.2f}" for a in act.values()]
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)
