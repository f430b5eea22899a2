"""playlearn (JAX) against PyTorch on the same CPU or GPU, in one run (issue 10).

Two networks, each at the size users train here, each written twice: the
JAX/nnx model of `playlearn.models` and its PyTorch twin
(`torch_models.py`), with the same weights (copied), the same loss and the
same AdamW settings (lr schedule, betas, eps, weight decay; BESO's EMA of
the weights after every step in both):

* 'beso': BESO's causal transformer at the reference's size (`beso.Config()`:
  width 360, 6 layers, 6 heads, window 4, 2 goal tokens; 9.5 M parameters).
  Its batch is counted in diffusion samples, as the reference's: batch 1,024
  is 256 windows x 4 sub-windows. Acting: 3 DDIM steps.
* 'gcbc': Play-GCBC with the `cpu` variant's sizes (MLP 256-256, GRU 256, MSE
  head). Its batch is windows of 32 steps. Acting: one policy step (MLP, one
  GRU step, the head).

Figures (`measure`), every duration in wall time:

* `train/<net>/b<B>`: per framework, the train step (forward, backward, AdamW
  update, EMA) on one fixed synthetic batch: median, p10, p90 ms over
  `rounds` rounds that alternate JAX and PyTorch (interleaved, so a change in
  the machine's speed hits both), and JAX's compile time (its first call minus
  the median). JAX's step is the trainer's own (`trainer.make_train_step`,
  state donated), timed until its new state is ready.
* `act/<net>/b<B>`: the bare action computation, jitted in JAX (block until
  ready) and under `torch.inference_mode` in PyTorch; `policy_act` adds
  JAX's `Policy.act` end to end (host normalisation, the copy back).
* `ratio/train/<net>/b<B>` and `ratio/act/<net>/b<B>`: JAX median / PyTorch
  median (below 1: JAX is faster).
* `curve`: the BESO train step against the transformer's width, at one batch.
* `trainer` (given a dataset): the real trainer's examples/s (data pipeline,
  logging, checkpoints) against the bare step, and the `overhead` share.

Both frameworks run with the same number of threads (`threads`: torch's
intra-op threads are set to it; JAX's XLA CPU client uses every core this
process may run on, and `threads` defaults to that count).

On a GPU (`device='gpu'`) both run there: JAX on its default backend, which
must then be the GPU, and PyTorch with `cuda` as its default device; each
timed call waits for the GPU (`block_until_ready`, `torch.cuda.synchronize`).
float32 matrix products run in TF32 in both (JAX's default precision on
NVIDIA GPUs, PyTorch's once `allow_tf32` is set). Each train figure also
carries, given the device's peak `peak_tflops`, the step's FLOPs
(`flops_per_step`: XLA's count of the JAX step, BESO only, see
`train_bench.jax_step_runner`; the twin does the same arithmetic) and the
model FLOPs utilisation `mfu` of each framework.

Longer than 500 lines: the twins' train and act runners, the figures and
their table are one measurement, read top to bottom.
"""

from __future__ import annotations

import math
import os
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import torch

from playlearn import policy as policy_lib
from playlearn import timing
from playlearn.bench import beso_bench
from playlearn.bench import torch_models
from playlearn.bench import train_bench
from playlearn.diffusion import samplers
from playlearn.evaluation import report
from playlearn.models import beso
from playlearn.train import run_config
from playlearn.train import trainer

OBS_DIM, ACTION_DIM = train_bench.OBS_DIM, train_bench.ACTION_DIM
WINDOW = 32  # Steps per synthetic batch window.
NETWORKS = ("beso", "gcbc")
DEVICES = ("cpu", "gpu")


def use_device(device: str) -> None:
  """Puts PyTorch on `device` ('cpu' or 'gpu') and checks that JAX's
  default backend is the same kind."""
  if device not in DEVICES:
    raise ValueError(f"device {device!r}: valid: {', '.join(DEVICES)}")
  if jax.default_backend() != device:
    raise RuntimeError(
        f"device={device!r} but JAX's default backend is "
        f"{jax.default_backend()!r} (devices: {jax.devices()})"
    )
  if device == "gpu":
    if not torch.cuda.is_available():
      raise RuntimeError("device='gpu' but PyTorch sees no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
  torch.set_default_device("cuda" if device == "gpu" else "cpu")


def _sync() -> None:
  """Waits for PyTorch's queued GPU work (nothing to wait for on a CPU)."""
  if torch.get_default_device().type == "cuda":
    torch.cuda.synchronize()


def _beso_twin(mc) -> torch.nn.Module:
  """The PyTorch twin of BESO's transformer for model config `mc`."""
  return torch_models.BesoTransformer(
      OBS_DIM,
      ACTION_DIM,
      mc.width,
      mc.layers,
      mc.heads,
      mc.goal_tokens,
      mc.obs_window,
      mc.attention_dropout,
  )


def default_threads() -> int:
  return len(os.sched_getaffinity(0))


def _config(
    net: str, batch: int, width: int | None = None, microbatches: int = 1
):
  """The trainer config of `net` at `batch` (samples for BESO, windows for
  GCBC); `width`: BESO's transformer width (None: the reference's);
  `microbatches`: the batch's gradient in that many slices (both twins)."""
  config = _net_config(net, batch, width)
  config.microbatches = microbatches
  return config


def _net_config(net: str, batch: int, width: int | None):
  if net == "beso":
    config = train_bench.config_for("beso", False, None)
    model = beso.Config()
    if batch % model.samples_per_window:
      raise ValueError(
          f"BESO's batch ({batch} samples) must be a multiple of "
          f"samples_per_window={model.samples_per_window}"
      )
    config.data.batch_size = batch // model.samples_per_window
    if width is not None:
      config.model.width = width
    return config
  if net == "gcbc":
    return train_bench.config_for("gcbc", False, batch, variant="cpu")
  raise ValueError(f"unknown network {net!r}; valid: {NETWORKS}")


# ------------------------------------------------------------- the twins
def _lr_lambda(config):
  """optax.warmup_cosine_decay_schedule (trainer.make_optimizer) / lr."""
  opt, total = config.optimizer, config.total_steps
  warmup, decay = opt.warmup_steps, max(total, opt.warmup_steps + 1)

  def factor(step):
    if step < warmup:
      return step / warmup
    progress = min((step - warmup) / (decay - warmup), 1.0)
    return opt.final_lr_fraction + (1 - opt.final_lr_fraction) * 0.5 * (
        1 + math.cos(math.pi * progress)
    )

  return factor


def torch_step_runner(net: str, config, jax_model, seed: int = 0):
  """(run_one, twin): PyTorch's train step of `net`, starting from the
  weights of `jax_model` (an nnx model of the same config). With the
  config's `microbatches` = k > 1 it accumulates the gradients of k slices
  of the batch (rows i, i + k, ...), as the JAX step does."""
  device = torch.get_default_device()
  k = run_config.value_of(config, "microbatches")
  batch = {
      name: torch.from_numpy(v).to(device)
      for name, v in train_bench.synthetic_batch(
          config.data.batch_size, WINDOW
      ).items()
  }
  slices = [{name: v[i::k] for name, v in batch.items()} for i in range(k)]
  generator = torch.Generator(device).manual_seed(seed)
  mc = run_config.model_config(config)
  if net == "beso":
    twin = _beso_twin(mc)
    torch_models.copy_from_jax(twin, jax_model.network)

    def loss_fn(batch):
      x0, mask, context = torch_models.training_samples(
          batch,
          mc.obs_window,
          mc.samples_per_window,
          mc.cond_drop_prob,
          generator,
      )
      sigma = torch_models.sample_sigma(
          x0.shape[0],
          mc.sigma_min,
          mc.sigma_max,
          mc.sigma_data,
          generator=generator,
      )
      noise = torch.randn(x0.shape, generator=generator)
      return torch_models.beso_loss(
          twin, x0, mask, context, sigma, noise, mc.sigma_data
      )

  else:
    twin = torch_models.GCBCPolicy(OBS_DIM, ACTION_DIM, mc.encoder, mc.rnn)
    torch_models.copy_from_jax(twin, jax_model.policy)
    loss_fn = lambda batch: torch_models.gcbc_loss(twin, batch)
  twin.to(device).train()
  params = [p for p in twin.parameters() if p.requires_grad]
  opt = config.optimizer
  # foreach: the multi-tensor update, PyTorch's fastest on CPU.
  optimizer = torch.optim.AdamW(
      params,
      lr=opt.lr,
      betas=(0.9, 0.999),
      eps=1e-8,
      weight_decay=opt.weight_decay,
      foreach=True,
  )
  schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config))
  ema_decay = config.get("ema_decay") or 0.0
  ema = [p.detach().clone() for p in params] if ema_decay else None

  def run_one():
    tic = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    for part in slices:
      (loss_fn(part) / k).backward()
    optimizer.step()
    schedule.step()
    if ema is not None:
      with torch.no_grad():
        torch._foreach_lerp_(ema, params, 1.0 - ema_decay)
    _sync()
    return time.perf_counter() - tic

  return run_one, twin


# --------------------------------------------------------------- training
def train_pair(
    net: str,
    batch: int,
    *,
    rounds: int = 5,
    steps_per_round: int = 2,
    width: int | None = None,
    peak_tflops: float | None = None,
    microbatches: int = 1,
) -> dict:
  """Train-step figures of both frameworks, interleaved (module docstring)."""
  config = _config(net, batch, width, microbatches)
  jax_run, num_params = train_bench.jax_step_runner(config, WINDOW)
  # Counted only where an MFU is asked for: it lowers the step once more.
  flops = jax_run.flops() if peak_tflops else None
  torch_run, twin = torch_step_runner(
      net, config, train_bench.model_for(config, config.seed)
  )
  torch_params = sum(p.numel() for p in twin.parameters() if p.requires_grad)
  if torch_params != num_params:
    raise AssertionError(
        f"{net}: {num_params} JAX parameters, "
        f"{torch_params} in the PyTorch twin"
    )
  jax_first, torch_first = jax_run(), torch_run()
  jax_run(), torch_run()  # Warm-up.
  jax_times, torch_times = [], []
  for _ in range(rounds):
    jax_times += [jax_run() for _ in range(steps_per_round)]
    torch_times += [torch_run() for _ in range(steps_per_round)]
  j, t = timing.spread_ms(jax_times), timing.spread_ms(torch_times)
  j["compile_s"] = max(jax_first - j["median_ms"] / 1e3, 0.0)
  t["first_call_s"] = torch_first
  for figures in (j, t):
    if flops:
      figures["mfu"] = (
          flops / (figures["median_ms"] / 1e3) / (peak_tflops * 1e12)
      )
  return {
      "flops_per_step": flops,
      "batch": batch,
      "batch_windows": config.data.batch_size,
      "microbatches": microbatches,
      "num_params": num_params,
      "width": run_config.model_config(config).width if net == "beso" else None,
      "jax": j,
      "torch": t,
      "ratio": j["median_ms"] / t["median_ms"],
  }


def trainer_overhead(
    dataset_dir: str, workdir: str, *, steps: int = 500, periods: int = 5
) -> dict:
  """GCBC (`cpu` variant) through the real trainer against its bare step.

  `trainer.train_and_evaluate` on `dataset_dir` for `steps` steps, logging
  and saving a checkpoint every steps / periods steps (far more often than
  the README's runs, so the overhead is an upper bound; no validation). Its
  rate is the median of the logged periods after the first (which holds the
  compile); the bare step is `jax_step_runner` at the same batch, timed as
  many steps before the trainer's run as after it (`bare_*_examples_per_s`;
  on this VM the same step ran 7% faster after than before), its rate the
  median of both.
  """
  config = train_bench.config_for("gcbc", False, None, variant="cpu")
  config.dataset_dir = dataset_dir
  config.total_steps = steps
  config.log_every = config.checkpoint_every = steps // periods
  config.evals.val.every = 0
  run_one, _ = train_bench.jax_step_runner(config, config.data.kappa_max)
  run_one()
  count = max(20, steps // 10)
  before = [run_one() for _ in range(count)]
  trainer.train_and_evaluate(config, workdir)
  after = [run_one() for _ in range(count)]
  rows = report.read_jsonl(os.path.join(workdir, "metrics.jsonl"))
  rates = [row["steps_per_s"] for row in rows if "steps_per_s" in row][1:]
  batch = config.data.batch_size
  trainer_rate = float(np.median(rates))
  bare_rate = 1 / float(np.median(before + after))
  return {
      "batch": batch,
      "steps": steps,
      "periods": periods,
      "trainer_examples_per_s": trainer_rate * batch,
      "bare_examples_per_s": bare_rate * batch,
      "bare_before_examples_per_s": batch / float(np.median(before)),
      "bare_after_examples_per_s": batch / float(np.median(after)),
      "overhead": 1 - trainer_rate / bare_rate,
  }


# ----------------------------------------------------------------- acting
def act_pair(
    net: str, batch: int, *, calls: int = 100, width: int | None = None
) -> dict:
  """Acting figures of both frameworks at `batch` environments."""
  config = _config(net, 4 if net == "beso" else 1, width)
  model = train_bench.model_for(config, config.seed)
  model.eval()
  rng = np.random.default_rng(0)
  obs = rng.standard_normal((batch, OBS_DIM), np.float32)
  goal = rng.standard_normal((batch, OBS_DIM), np.float32)
  device = torch.get_default_device()
  if net == "beso":
    mc = model.config
    sample, params = beso_bench.pure_jit(model, beso.sample_actions)
    context = beso_bench.make_context(model, batch)
    key = jax.random.key(0)
    jax_call = lambda: jax.block_until_ready(sample(params, context, key))
    twin = _beso_twin(mc)
    torch_models.copy_from_jax(twin, model.network).to(device).eval()
    t_context = {
        k: torch.from_numpy(np.array(getattr(context, k))).to(device)
        for k in ("obs", "valid", "goal", "drop")
    }
    sigmas = torch.from_numpy(
        np.array(
            samplers.schedule(
                mc.schedule, mc.num_steps, mc.sigma_min, mc.sigma_max, mc.rho
            )
        )
    ).to(device)

    def torch_call():
      with torch.inference_mode():
        x = sigmas[0] * torch.randn(batch, mc.obs_window, ACTION_DIM)
        return torch_models.ddim_sample(
            twin, t_context, sigmas, x, mc.sigma_data
        )

  else:
    mc = model.config
    step, params = beso_bench.pure_jit(
        model, lambda m, carry, o, g: m.policy.step(carry, o, g)[1].mode()
    )
    carry = jnp.zeros((batch, mc.rnn))
    o, g = jnp.asarray(obs), jnp.asarray(goal)
    jax_call = lambda: jax.block_until_ready(step(params, carry, o, g))
    twin = (
        torch_models.copy_from_jax(
            torch_models.GCBCPolicy(OBS_DIM, ACTION_DIM, mc.encoder, mc.rnn),
            model.policy,
        )
        .to(device)
        .eval()
    )
    cell = torch.nn.GRUCell(mc.encoder[-1], mc.rnn)
    with torch.no_grad():  # The GRU's weights as one cell, for one step.
      for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        getattr(cell, name).copy_(getattr(twin.gru, name + "_l0"))
    t_obs, t_goal = (torch.from_numpy(x).to(device) for x in (obs, goal))
    h = torch.zeros(batch, mc.rnn)

    def torch_call():
      with torch.inference_mode():
        x = torch.cat([t_obs, t_goal], -1)
        for layer in twin.encoder:
          x = torch.relu(layer(x))
        return twin.head(cell(x, h)).clamp(-1, 1)

  j = timing.time_calls(jax_call, calls)
  t = timing.time_calls(lambda: (torch_call(), _sync()), calls)
  policy = policy_lib.Policy(net, model, train_bench.unit_normalization())
  policy.reset(batch)
  act = timing.time_calls(
      lambda: policy.act({"state": obs}, {"state": goal}), calls
  )
  return {
      "batch": batch,
      "jax": j,
      "torch": t,
      "policy_act": act,
      "ratio": j["median_ms"] / t["median_ms"],
  }


# ------------------------------------------------------------------ all
def check_widths(widths, beso_width: int | None = None) -> None:
  """Raises before any measurement if a BESO width does not split into the
  transformer's heads (a 12-minute run used to die at its curve)."""
  heads = beso.Config().heads
  bad = [w for w in (*widths, beso_width) if w is not None and w % heads]
  if bad:
    raise ValueError(
        f"BESO widths {bad} are not multiples of its {heads} "
        f"attention heads; e.g. --widths=120,240,360,480"
    )


def measure(
    *,
    train_batches=(64, 256, 1024),
    act_batches=(1, 64),
    widths=(120, 240, 360, 480),
    curve_batch: int = 256,
    rounds: int = 5,
    calls: int = 100,
    threads: int | None = None,
    networks=NETWORKS,
    beso_width: int | None = None,
    dataset_dir: str | None = None,
    trainer_steps: int = 500,
    device: str = "cpu",
    peak_tflops: float | None = None,
    microbatches: int = 1,
    progress=print,
) -> dict:
  """Every figure of the module docstring; `ratio/...` keys at the top level.

  With `dataset_dir` also `trainer` (`trainer_overhead` on that dataset).
  With `microbatches` = k > 1 also BESO's largest train batch with its
  gradient taken in k slices by both frameworks (`train/beso/b<B>/mb<k>`).
  """
  check_widths(widths, beso_width)
  if "beso" in networks and microbatches > 1 and train_batches:
    windows = _config("beso", max(train_batches)).data.batch_size
    if windows % microbatches:
      raise ValueError(
          f"microbatches={microbatches} does not split BESO's batch of "
          f"{max(train_batches)} samples ({windows} windows)"
      )
  use_device(device)
  threads = threads or default_threads()
  torch.set_num_threads(threads)
  results = {
      "device": device,
      "accelerator": jax.devices()[0].device_kind if device == "gpu" else None,
      "peak_tflops": peak_tflops,
      "threads": threads,
      "torch_version": torch.__version__,
      "jax_version": jax.__version__,
      "train": {},
      "act": {},
      "curve": {},
  }
  for net in networks:
    width = beso_width if net == "beso" else None
    for kind, batches, pair in (
        (
            "train",
            train_batches,
            lambda b: train_pair(
                net, b, rounds=rounds, width=width, peak_tflops=peak_tflops
            ),
        ),
        (
            "act",
            act_batches,
            lambda b: act_pair(net, b, calls=calls, width=width),
        ),
    ):
      for b in batches:
        progress(f"{kind} {net} batch {b} ...")
        results[kind][f"{net}/b{b}"] = r = pair(b)
        results[f"ratio/{kind}/{net}/b{b}"] = r["ratio"]
  if "beso" in networks and microbatches > 1 and train_batches:
    b, key = max(train_batches), f"beso/b{max(train_batches)}/mb{microbatches}"
    progress(f"train beso batch {b} in {microbatches} microbatches ...")
    results["train"][key] = r = train_pair(
        "beso",
        b,
        rounds=rounds,
        width=beso_width,
        peak_tflops=peak_tflops,
        microbatches=microbatches,
    )
    results[f"ratio/train/{key}"] = r["ratio"]
  if "beso" in networks:
    for w in widths:
      progress(f"curve beso width {w} ...")
      r = train_pair(
          "beso",
          curve_batch,
          rounds=max(rounds // 2, 1),
          width=w,
          peak_tflops=peak_tflops,
      )
      results["curve"][f"beso/w{w}/b{curve_batch}"] = r
  if dataset_dir:
    progress(f"the trainer on {dataset_dir} ...")
    with tempfile.TemporaryDirectory() as workdir:
      results["trainer"] = trainer_overhead(
          dataset_dir, workdir, steps=trainer_steps
      )
  return results


def table(results: dict) -> str:
  """The figures of `measure` as markdown: one row per figure, then notes."""
  lines = [
      "| figure | JAX median (p10-p90) ms | PyTorch median (p10-p90) ms "
      "| JAX / PyTorch | JAX compile s | MFU JAX / PyTorch |",
      "|---|---|---|---|---|---|",
  ]
  cell = lambda f: f"{f['median_ms']:.2f} ({f['p10_ms']:.2f}-{f['p90_ms']:.2f})"
  mfu = lambda r: (
      f"{100 * r['jax']['mfu']:.2f}% / {100 * r['torch']['mfu']:.2f}%"
      if "mfu" in r["jax"]
      else "-"
  )
  for kind in ("train", "act", "curve"):
    for key, r in results[kind].items():
      lines.append(
          f"| {kind} {key} | {cell(r['jax'])} | {cell(r['torch'])} "
          f"| {r['ratio']:.2f} | {r['jax']['compile_s']:.1f} | {mfu(r)} |"
      )
  if "trainer" in results:
    t = results["trainer"]
    lines.append(
        f"\nThe trainer (GCBC, batch {t['batch']}, data pipeline, logs "
        f"and a checkpoint every {t['steps'] // t['periods']} steps):"
        f" {t['trainer_examples_per_s']:.0f} examples/s against the "
        f"bare step's {t['bare_examples_per_s']:.0f} (before the run "
        f"{t['bare_before_examples_per_s']:.0f}, after it "
        f"{t['bare_after_examples_per_s']:.0f}), overhead "
        f"{100 * t['overhead']:.1f}%."
    )
  return "\n".join(lines)
