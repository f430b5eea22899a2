"""The train loop shared by every method: play windows in, a policy out.

`train_and_evaluate` reads as the run goes: the workdir checks
(`prepare_workdir`) -> mesh -> data (`make_data`) -> model, optimizer and
the jitted step (`make_train_state`) -> restore -> the evaluators named in
`config.evals` (`playlearn.train.evaluators`) -> the loop -> the saved
policy. The method (GCBC, LMP, ...) is only seen through
`playlearn.models.get(name)`: its `Model`, `Config` and `loss`.
"""

from __future__ import annotations

import json
import os
from typing import NamedTuple

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from playlearn import manifest
from playlearn import models
from playlearn import policy as policy_lib
from playlearn.data import frames
from playlearn.data import pipeline
from playlearn.data import statistics as statistics_lib
from playlearn.data import windows
from playlearn.models import embeddings
from playlearn.models import pixels
from playlearn.models import pretrained
from playlearn.train import checkpoints
from playlearn.train import evaluators
from playlearn.train import mesh as mesh_lib
from playlearn.train import metrics as metrics_lib
from playlearn.train import prefetch
from playlearn.train import run_config


class NonFiniteLossError(FloatingPointError):
  pass


def make_optimizer(config) -> optax.GradientTransformation:
  opt = config.optimizer
  schedule = optax.warmup_cosine_decay_schedule(
      0.0,
      opt.lr,
      opt.warmup_steps,
      max(config.total_steps, opt.warmup_steps + 1),
      end_value=opt.lr * opt.final_lr_fraction,
  )
  adamw = optax.adamw(schedule, weight_decay=opt.weight_decay)
  if not opt.grad_clip:
    return adamw
  return optax.chain(optax.clip_by_global_norm(opt.grad_clip), adamw)


class TrainState(NamedTuple):
  """What a run trains and checkpoints: one shape for every config.

  train: `nnx.state((model, optimizer))`; ema: the exponential moving
  average of the model's `nnx.Param` state, or None when `config.ema_decay`
  is 0 (the last weights act).
  """

  train: nnx.State
  ema: nnx.State | None = None


def make_train_state(config, model: nnx.Module, mesh, method=None):
  """(graphdef, TrainState, train_step) of `model` trained under `config`.

  `method`: whose loss the step takes (default: `config.method`'s module).

  The optimizer, the state (the EMA starts as a copy of the weights: the
  state is donated at every step) replicated over `mesh`, and the jitted
  step (`make_train_step`). The trainer and the benchmarks
  (`playlearn.bench`) build their steps here.
  """
  optimizer = nnx.Optimizer(model, make_optimizer(config), wrt=nnx.Param)
  graphdef, train = nnx.split((model, optimizer))
  ema_decay = run_config.value_of(config, "ema_decay")
  ema = (
      jax.tree.map(jnp.copy, nnx.state(model, nnx.Param)) if ema_decay else None
  )
  state = jax.device_put(TrainState(train, ema), mesh_lib.replicated(mesh))
  train_step = make_train_step(
      method or models.get(config.method),
      graphdef,
      ema_decay,
      run_config.value_of(config, "data.obs_noise"),
      run_config.value_of(config, "microbatches"),
  )
  return graphdef, state, train_step


def legacy_layout(state: TrainState):
  """(abstract, convert) for checkpoints written before `TrainState`: the
  bare train state, or the pair (train, ema) with an EMA."""
  if state.ema is None:
    return state.train, lambda old: TrainState(old, None)
  return (state.train, state.ema), lambda old: TrainState(*old)


def make_train_step(
    method,
    graphdef: nnx.GraphDef,
    ema_decay: float = 0.0,
    obs_noise: float = 0.0,
    microbatches: int = 1,
):
  """The jitted step (state, batch, rng, step) -> (state, metrics).

  `state` is a `TrainState` of `graphdef`; it is donated. Its EMA, when it
  has one, moves by `ema_decay` after every update. With `obs_noise`,
  Gaussian noise of that standard deviation (in normalised feature units) is
  added to the window's observations, not to its goal or actions (see
  `add_obs_noise`). With `microbatches` = k > 1 the gradient is the mean of
  the gradients of k slices of the batch (`microbatch_grads`), taken one
  after the other: the same update from activations k times smaller.
  """

  def train_step(state: TrainState, batch, rng, step):
    model, optimizer = nnx.merge(graphdef, state.train)
    model.train()
    if obs_noise:
      rng, noise_rng = jax.random.split(rng)
      batch = add_obs_noise(batch, noise_rng, obs_noise)

    if microbatches == 1:

      def loss_fn(model):
        return method.loss(model, batch, rng, step)

      (loss, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
      metrics = dict(metrics, loss=loss)
    else:
      grads, metrics = microbatch_grads(
          method, model, batch, rng, step, microbatches
      )
    optimizer.update(model, grads)
    metrics = dict(metrics, grad_norm=optax.tree.norm(grads))
    ema = state.ema
    if ema is not None:
      ema = optax.incremental_update(
          nnx.state(model, nnx.Param), ema, 1.0 - ema_decay
      )
    return TrainState(nnx.state((model, optimizer)), ema), metrics

  return jax.jit(train_step, donate_argnums=0)


def microbatch_grads(method, model, batch, rng, step, microbatches: int):
  """(grads, metrics): means over `microbatches` slices of `batch`.

  Slice i holds rows i, i + k, i + 2k, ... (k = microbatches), so each
  device's rows of a data-parallel batch stay on it; its loss draws from
  fold_in(rng, i). A `lax.scan` takes one slice after another, so only one
  slice's activations are alive at a time. For a loss that is a mean over
  windows this is the batch's gradient; a loss that is a mean over valid
  steps (GCBC's, windows of 16-32 steps) weighs each slice alike instead
  of each step, as gradient accumulation does.
  """
  size = jax.tree.leaves(batch)[0].shape[0]
  if size % microbatches:
    raise ValueError(
        f"batch of {size} windows does not split into "
        f"microbatches={microbatches}"
    )
  graph, params, rest = nnx.split(model, nnx.Param, ...)
  slices = jax.tree.map(
      lambda x: x.reshape(-1, microbatches, *x.shape[1:]).swapaxes(0, 1),
      batch,
  )

  def loss_fn(params, part, i):
    loss, metrics = method.loss(
        nnx.merge(graph, params, rest), part, jax.random.fold_in(rng, i), step
    )
    return loss, dict(metrics, loss=loss)

  grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

  def slice_grads(i):
    (_, metrics), grads = grad_fn(
        params, jax.tree.map(lambda x: x[i], slices), i
    )
    return grads, metrics

  def accumulate(total, i):
    return jax.tree.map(jnp.add, total, slice_grads(i)), None

  total, _ = jax.lax.scan(
      accumulate, slice_grads(0), jnp.arange(1, microbatches)
  )
  return jax.tree.map(lambda x: x / microbatches, total)


def add_obs_noise(batch: dict, rng, scale: float) -> dict:
  """The batch with N(0, scale^2) added to its valid observations.

  Meant as a regulariser for small play datasets (nearby states get the
  same label); on 3 hours of play 0.1 changed neither success nor the
  validation error (docs/results.md).
  """
  noise = scale * jax.random.normal(rng, batch["obs"].shape, batch["obs"].dtype)
  return dict(batch, obs=batch["obs"] + noise * batch["mask"][..., None])


def acting_model(graphdef: nnx.GraphDef, state: TrainState) -> nnx.Module:
  """The model that evaluation and the saved policy act with.

  It holds the EMA of the weights when the run keeps one (see make_train_step).
  A copy: putting the EMA into it must not touch the training state's weights
  (they would alias the EMA's arrays, and the next donated step would fail).
  """
  model, _ = nnx.merge(graphdef, state.train, copy=True)
  if state.ema is not None:
    nnx.update(model, state.ema)
  return model


def prepare_workdir(config: ml_collections.ConfigDict, workdir: str):
  """Checks `config` and `workdir` before any work; writes config.json.

  Returns the final metrics of a finished run of this config (nothing to
  do), else None. Raises on an invalid config or a workdir that holds
  another config's checkpoints.
  """
  run_config.validate_config(config)
  os.makedirs(workdir, exist_ok=True)
  run_config.check_resumable(config, workdir)
  finished = run_config.finished_run(config, workdir)
  if finished is not None:
    print(
        f"{workdir} holds a finished run of this config (step "
        f"{finished['step']}, its policy and final_metrics.json): nothing "
        "to do. Use a new --workdir to train again.",
        flush=True,
    )
    return finished
  if jax.process_index() == 0:
    manifest.atomic_write_text(
        os.path.join(workdir, "config.json"),
        config.to_json_best_effort(indent=1),
    )
  return None


def make_data(
    config: ml_collections.ConfigDict,
    workdir: str | None = None,
    encoder=None,
):
  """(store, iterator, window_config, action_dim, image_sizes) of the
  training split.

  The store normalises the training windows; the saved policy reuses its
  normalisation, so training and acting cannot disagree. Each host cuts its
  own rows of every global batch. With `config.encoder` the store holds the
  encoder's embeddings of the camera images (cached in `workdir`; `encoder`:
  the one saved there, loaded) and
  image_sizes ({camera: S}) says what frames it embedded; else it is None.
  With `config.train_encoder` the store is a `frames.ImageWindows`: its
  batches carry the camera images, which the model embeds.
  """
  if config.data.batch_size % jax.device_count():
    raise ValueError(
        f"config.data.batch_size={config.data.batch_size} must "
        f"divide over {jax.device_count()} devices"
    )
  statistics = statistics_lib.load_statistics(config.dataset_dir)
  # Raises on a mismatch of the config's and the dataset's dimensions.
  _, action_dim = run_config.check_dataset(config, statistics)
  window_config = windows.WindowConfig(
      kappa_min=config.data.kappa_min,
      kappa_max=config.data.kappa_max,
      goal_horizon=config.data.goal_horizon,
      action_norm=config.data.action_norm,
      actions=run_config.value_of(config, "data.actions"),
      features=run_config.value_of(config, "data.features"),
      goals=run_config.value_of(config, "data.goals"),
      std_floor=run_config.value_of(config, "data.std_floor"),
      goal_dropout=run_config.value_of(config, "data.goal_dropout"),
  )
  image_sizes = None
  train_encoder = bool(run_config.value_of(config, "train_encoder"))
  if run_config.value_of(config, "encoder"):
    encoder = encoder or pretrained.load(config.encoder)
    split = embeddings.embed_split(
        config.encoder,
        config.dataset_dir,
        "train",
        cache_dir=workdir,
        encoder=encoder,
        proprio=run_config.value_of(config, "data.proprio"),
        # A policy training its encoder reads the frames next: a split
        # embedded now keeps them rather than decoding them twice.
        keep_images=train_encoder,
    )
    base = windows.load_normalization(
        config.dataset_dir,
        window_config.action_norm,
        actions=window_config.actions,
    )
    normalization = embeddings.normalization(
        split.episodes, base, window_config.std_floor
    )
    store = windows.WindowStore(split.episodes, normalization, window_config)
    image_sizes = split.image_sizes
    if train_encoder:
      store = frames.ImageWindows(
          store,
          embeddings.frames_of(
              split, config.dataset_dir, "train", encoder.config.views
          ),
          run_config.value_of(config, "data.image_shift"),
          proprio=run_config.value_of(config, "data.proprio"),
      )
  else:
    store = windows.WindowStore.from_dataset(
        config.dataset_dir, "train", window_config
    )
  data_iter = pipeline.make_iterator(
      store,
      batch_size=config.data.batch_size // jax.process_count(),
      seed=config.seed,
      shard_index=jax.process_index(),
      shard_count=jax.process_count(),
  )
  return store, data_iter, window_config, action_dim, image_sizes


def check_finite(interval: list[dict], step: int, mgr, workdir: str) -> None:
  """Raises on the first non-finite loss of the step metrics `interval`
  (the steps up to `step`)."""
  losses = np.asarray([m["loss"] for m in interval])  # The host sync.
  bad = np.flatnonzero(~np.isfinite(losses))
  if bad.size:
    mgr.wait_until_finished()
    raise NonFiniteLossError(
        f"loss is {losses[bad[0]]} at step {step - len(losses) + bad[0] + 1}"
        f"; stopped, the last good checkpoint (step {mgr.latest_step()}) "
        f"is kept in {workdir}"
    )


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains `config.method` on `config.dataset_dir`; resumes from `workdir`.

  Returns the last logged metrics.
  """
  finished = prepare_workdir(config, workdir)
  if finished is not None:
    return finished
  mesh = mesh_lib.make_mesh()
  # The encoder (config.encoder), frozen or trained, is loaded once, here.
  encoder = pretrained.load(config.encoder) if config.encoder else None
  store, data_iter, window_config, action_dim, image_sizes = make_data(
      config, workdir, encoder
  )
  method = models.get(config.method)
  # The model sees the observation features (store.state_dim of them).
  model = method.Model(
      run_config.model_config(config),
      store.state_dim,
      action_dim,
      rngs=nnx.Rngs(config.seed),
  )
  if run_config.value_of(config, "init_policy"):
    checkpoints.initialise_from(config, model, store.normalization, encoder)
  if run_config.value_of(config, "train_encoder"):
    # The encoder trains with the policy: the model embeds image batches.
    model = pixels.EncodedPolicy(encoder, model, store.normalization)
    method, encoder = pixels.Method(method), None
  graphdef, state, train_step = make_train_state(config, model, mesh, method)

  mgr = checkpoints.manager(
      workdir, config.keep_checkpoints, config.checkpoint_every
  )
  start_step = 0
  restored = checkpoints.restore_latest(mgr, state, legacy_layout(state))
  if restored is not None:
    start_step, state, data_state = restored
    pipeline.set_state(data_iter, data_state)
    print(f"resumed from checkpoint at step {start_step}", flush=True)

  context = evaluators.Context(
      config,
      method,
      window_config,
      store.normalization,
      mesh,
      workdir,
      nnx.split(model)[0],
      encoder,
      image_sizes,
      run_config.value_of(config, "data.proprio"),
  )
  evals = evaluators.make(config, context)
  writer = metrics_lib.Writer(
      workdir, config.total_steps, start_step, active=jax.process_index() == 0
  )
  rng = jax.random.key(config.seed)
  last, interval = {}, []  # interval: this log period's step metrics
  step = start_step
  # The next batches are cut and put on the devices on a thread while the
  # step computes; `batches.state` is the data position to checkpoint.
  batches = prefetch.Prefetcher(
      data_iter, lambda batch: mesh_lib.shard_batch(batch, mesh)
  )
  with checkpoints.StopRequest() as stop, batches:
    while step < config.total_steps:
      # No host sync here: losses are checked (and read) only where
      # something is written.
      state, metrics = train_step(
          state, next(batches), jax.random.fold_in(rng, step), step
      )
      step += 1
      interval.append(metrics)
      final = stop.requested or step == config.total_steps
      running = [
          name
          for name, (every, _) in evals.items()
          if evaluators.due(every, step, config.total_steps)
      ]
      saving = final or mgr.should_save(step)
      logging = step % config.log_every == 0 or final
      if logging or running or saving:
        check_finite(interval, step, mgr, workdir)
      if logging:
        # Means over the period: one batch's loss is too noisy to read.
        last = {
            k: float(np.mean([m[k] for m in interval])) for k in interval[0]
        }
        interval = []
        last["steps_per_s"] = writer.progress(step, last)
        writer.scalars(step, last)
      if running:
        acting = acting_model(graphdef, state)
        for name in running:
          scalars = {
              f"{name}/{k}": v for k, v in evals[name][1](acting, step).items()
          }
          writer.scalars(step, scalars)
          last.update(scalars)
      if saving:
        checkpoints.save(mgr, step, state, batches.state, force=final)
      if final:
        break
  checkpoints.seal(mgr)
  writer.close()
  acting, acting_encoder = pixels.parts(acting_model(graphdef, state), encoder)
  policy_lib.Policy(
      config.method,
      acting,
      store.normalization,
      encoder=acting_encoder,
      image_sizes=image_sizes,
      proprio=run_config.value_of(config, "data.proprio"),
  ).save(os.path.join(workdir, "policy"))
  if jax.process_index() == 0:
    manifest.atomic_write_text(
        os.path.join(workdir, "final_metrics.json"),
        json.dumps({"step": step, **last}, indent=1),
    )
  return {"step": step, **last}
