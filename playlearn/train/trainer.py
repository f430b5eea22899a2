"""The train loop shared by every method: play windows in, a policy out.

Sections, in order: logging -> mesh -> data -> model/optimizer -> step
function -> restore -> evaluators -> loop. The method (GCBC, LMP, ...) is only
seen through `playlearn.models.get(name)`: its `Model`, `Config` and `loss`.
"""

from __future__ import annotations

import json
import os

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from playlearn import manifest
from playlearn import models
from playlearn import policy as policy_lib
from playlearn.data import pipeline
from playlearn.data import reading
from playlearn.data import statistics as statistics_lib
from playlearn.data import windows
from playlearn.train import checkpoints
from playlearn.train import mesh as mesh_lib
from playlearn.train import metrics as metrics_lib
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


def make_train_state(config, model: nnx.Module, mesh):
  """(graphdef, state, train_step) of `model` trained under `config`.

  The optimizer, the split state (with the weights' exponential moving
  average when `config.ema_decay`: a copy, since the state is donated),
  replicated over `mesh`, and the jitted step (`make_train_step`). The
  trainer and the benchmarks (`playlearn.bench`) build their steps here.
  """
  optimizer = nnx.Optimizer(model, make_optimizer(config), wrt=nnx.Param)
  graphdef, state = nnx.split((model, optimizer))
  ema_decay = run_config.value_of(config, "ema_decay")
  if ema_decay:
    state = (state, jax.tree.map(jnp.copy, nnx.state(model, nnx.Param)))
  state = jax.device_put(state, mesh_lib.replicated(mesh))
  train_step = make_train_step(
      models.get(config.method),
      graphdef,
      ema_decay,
      run_config.value_of(config, "data.obs_noise"),
  )
  return graphdef, state, train_step


def make_train_step(
    method,
    graphdef: nnx.GraphDef,
    ema_decay: float = 0.0,
    obs_noise: float = 0.0,
):
  """The jitted step (state, batch, rng, step) -> (state, metrics).

  `state` is `nnx.state((model, optimizer))` of `graphdef`; it is donated. With
  `ema_decay`, it is the pair (that, EMA of the model's nnx.Param state), and
  the EMA moves after every update. With `obs_noise`, Gaussian noise of that
  standard deviation (in normalised feature units) is added to the window's
  observations, not to its goal or actions (see `add_obs_noise`).
  """

  def train_step(state, batch, rng, step):
    model, optimizer = nnx.merge(graphdef, state[0] if ema_decay else state)
    model.train()
    if obs_noise:
      rng, noise_rng = jax.random.split(rng)
      batch = add_obs_noise(batch, noise_rng, obs_noise)

    def loss_fn(model):
      return method.loss(model, batch, rng, step)

    (loss, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    optimizer.update(model, grads)
    metrics = dict(metrics, loss=loss, grad_norm=optax.tree.norm(grads))
    new_state = nnx.state((model, optimizer))
    if ema_decay:
      new_state = (
          new_state,
          optax.incremental_update(
              nnx.state(model, nnx.Param), state[1], 1.0 - ema_decay
          ),
      )
    return new_state, metrics

  return jax.jit(train_step, donate_argnums=0)


def add_obs_noise(batch: dict, rng, scale: float) -> dict:
  """The batch with N(0, scale^2) added to its valid observations.

  Meant as a regulariser for small play datasets (nearby states get the
  same label); on 3 hours of play 0.1 changed neither success nor the
  validation error (docs/results.md).
  """
  noise = scale * jax.random.normal(rng, batch["obs"].shape, batch["obs"].dtype)
  return dict(batch, obs=batch["obs"] + noise * batch["mask"][..., None])


def make_eval_step(method, model_graphdef: nnx.GraphDef):
  """The jitted (params, batch, rng) -> metrics of the loss in eval mode.

  `params` is `nnx.state(model)` of the acting model (see `acting_model`).
  """

  def eval_step(params, batch, rng):
    model = nnx.merge(model_graphdef, params)
    model.eval()
    # A schedule (LMP's KL warm-up) is taken at its end: the objective proper.
    step = jnp.iinfo(jnp.int32).max
    loss, metrics = method.loss(model, batch, rng, step)
    return dict(metrics, loss=loss)

  return jax.jit(eval_step)


def validation_batches(
    config,
    window_config: windows.WindowConfig,
    normalization: windows.Normalization,
) -> list[dict]:
  """Fixed windows of the validation split for the `val/` metrics.

  Up to `config.val_batches` batches of `config.data.batch_size` windows
  spread evenly over the split (window k of batch i is id (i + k * n) of n
  batches' worth), cut with seed 0: the same windows at every step and in
  every run. [] when val_batches is 0 or the dataset has no validation split.
  """
  num_batches = run_config.value_of(config, "val_batches")
  if not num_batches:
    return []
  try:
    source = reading.EpisodeSource(config.dataset_dir, "validation")
  except ValueError:  # tfds: unknown split
    print(
        f"no validation split in {config.dataset_dir}: no val/ metrics",
        flush=True,
    )
    return []
  store = windows.WindowStore(
      (source[i] for i in range(len(source))), normalization, window_config
  )
  size = min(config.data.batch_size, store.num_windows)
  size -= size % jax.device_count()
  num_batches = min(num_batches, store.num_windows // size) if size else 0
  ids = np.linspace(0, store.num_windows - 1, num_batches * size).astype(int)
  return [
      store.batch(ids[i::num_batches], seed=0, epoch=0)
      for i in range(num_batches)
  ]


def acting_model(graphdef: nnx.GraphDef, state, ema_decay: float = 0.0):
  """The model that evaluation and the saved policy act with.

  It holds the EMA of the weights when the run keeps one (see make_train_step).
  A copy: putting the EMA into it must not touch the training state's weights
  (they would alias the EMA's arrays, and the next donated step would fail).
  """
  model, _ = nnx.merge(graphdef, state[0] if ema_decay else state, copy=True)
  if ema_decay:
    nnx.update(model, state[1])
  return model


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains `config.method` on `config.dataset_dir`; resumes from `workdir`.

  Returns the last logged metrics.
  """
  # --- logging --------------------------------------------------------------
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

  # --- mesh -----------------------------------------------------------------
  mesh = mesh_lib.make_mesh()
  if config.data.batch_size % jax.device_count():
    raise ValueError(
        f"config.data.batch_size={config.data.batch_size} must "
        f"divide over {jax.device_count()} devices"
    )

  # --- data -----------------------------------------------------------------
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
  )
  # The store normalises the training windows; the saved policy reuses its
  # normalisation, so training and acting cannot disagree.
  store = windows.WindowStore.from_dataset(
      config.dataset_dir, "train", window_config
  )
  normalization = store.normalization
  # Each host cuts its own rows of every global batch.
  data_iter = pipeline.make_iterator(
      store,
      batch_size=config.data.batch_size // jax.process_count(),
      seed=config.seed,
      shard_index=jax.process_index(),
      shard_count=jax.process_count(),
  )
  validation = validation_batches(config, window_config, normalization)

  # --- model / optimizer ----------------------------------------------------
  method = models.get(config.method)
  # The model sees the observation features (store.state_dim of them).
  model = method.Model(
      run_config.model_config(config),
      store.state_dim,
      action_dim,
      rngs=nnx.Rngs(config.seed),
  )
  graphdef, state, train_step = make_train_state(config, model, mesh)
  ema_decay = run_config.value_of(config, "ema_decay")

  # --- restore --------------------------------------------------------------
  mgr = checkpoints.manager(
      workdir, config.keep_checkpoints, config.checkpoint_every
  )
  start_step = 0
  restored = checkpoints.restore_latest(mgr, state)
  if restored is not None:
    start_step, state, data_state = restored
    pipeline.set_state(data_iter, data_state)
    print(f"resumed from checkpoint at step {start_step}", flush=True)

  # --- evaluators -----------------------------------------------------------
  def evaluate(step: int) -> dict:
    """Task-suite rollouts of the current weights; success rates."""
    from playlearn import evaluation  # pylint: disable=g-import-not-at-top

    policy = policy_lib.Policy(
        config.method, acting_model(graphdef, state, ema_decay), normalization
    )
    results = evaluation.evaluate_tasks(
        policy,
        tasks=config.eval.tasks or evaluation.EVAL_TASKS,
        episodes_per_task=config.eval.episodes_per_task,
        seed=config.eval.seed,
        video_dir=os.path.join(workdir, "eval", str(step)),
        videos_per_task=config.eval.videos_per_task,
    )
    with open(
        os.path.join(workdir, "eval", str(step), "results.json"), "w"
    ) as f:
      json.dump(results, f, indent=1)
    scalars = {
        f"eval/{task}": r["rate"] for task, r in results["tasks"].items()
    }
    scalars["eval/mean"] = results["mean"]
    writer.scalars(step, scalars)
    print(
        f"[{step}] evaluation: mean success {100 * results['mean']:.1f}% "
        f"over {len(results['tasks'])} tasks",
        flush=True,
    )
    return scalars

  eval_step = make_eval_step(method, nnx.split(model)[0])

  def validate(step: int) -> dict:
    """Mean loss metrics over the fixed validation windows, as val/<name>."""
    params = nnx.state(acting_model(graphdef, state, ema_decay))
    rows = [
        eval_step(params, mesh_lib.shard_batch(b, mesh), jax.random.key(i))
        for i, b in enumerate(validation)
    ]
    scalars = {
        f"val/{k}": float(np.mean([r[k] for r in rows])) for k in rows[0]
    }
    writer.scalars(step, scalars)
    return scalars

  writer = metrics_lib.Writer(
      workdir, config.total_steps, start_step, active=jax.process_index() == 0
  )

  # --- loop -----------------------------------------------------------------
  rng = jax.random.key(config.seed)
  last, interval = {}, []  # interval: this log period's step metrics
  val_every = run_config.value_of(config, "val_every")
  step = start_step

  def check_finite(step: int) -> None:
    """Raises on the first non-finite loss of this log period."""
    losses = np.asarray([m["loss"] for m in interval])  # The host sync.
    bad = np.flatnonzero(~np.isfinite(losses))
    if bad.size:
      mgr.wait_until_finished()
      raise NonFiniteLossError(
          f"loss is {losses[bad[0]]} at step {step - len(losses) + bad[0] + 1}"
          f"; stopped, the last good checkpoint (step {mgr.latest_step()}) "
          f"is kept in {workdir}"
      )

  with checkpoints.StopRequest() as stop:
    while step < config.total_steps:
      batch = mesh_lib.shard_batch(next(data_iter), mesh)
      # No host sync here: the next batch is cut while this step computes.
      # Losses are checked (and read) only where something is written.
      state, metrics = train_step(
          state, batch, jax.random.fold_in(rng, step), step
      )
      step += 1
      interval.append(metrics)
      final = stop.requested or step == config.total_steps
      validating = bool(
          validation and val_every and (step % val_every == 0 or final)
      )
      evaluating = config.eval_every > 0 and (
          step % config.eval_every == 0 or step == config.total_steps
      )
      saving = final or mgr.should_save(step)
      logging = step % config.log_every == 0 or final
      if logging or validating or evaluating or saving:
        check_finite(step)
      if logging:
        # Means over the period: one batch's loss is too noisy to read.
        last = {
            k: float(np.mean([m[k] for m in interval])) for k in interval[0]
        }
        interval = []
        last["steps_per_s"] = writer.progress(step, last)
        writer.scalars(step, last)
      if validating:
        last.update(validate(step))
      if evaluating:
        last.update(evaluate(step))
      if saving:
        checkpoints.save(
            mgr, step, state, pipeline.get_state(data_iter), force=final
        )
      if final:
        break
  checkpoints.seal(mgr)
  writer.close()
  policy_lib.Policy(
      config.method, acting_model(graphdef, state, ema_decay), normalization
  ).save(os.path.join(workdir, "policy"))
  if jax.process_index() == 0:
    manifest.atomic_write_text(
        os.path.join(workdir, "final_metrics.json"),
        json.dumps({"step": step, **last}, indent=1),
    )
  return {"step": step, **last}
