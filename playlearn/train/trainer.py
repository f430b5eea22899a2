"""The train loop shared by every method: play windows in, a policy out.

Sections, in order: logging -> mesh -> data -> model/optimizer -> step
function -> restore -> evaluators -> loop. The method (GCBC, LMP, ...) is only
seen through `playlearn.models.get(name)`: its `Model`, `Config` and `loss`.
"""
from __future__ import annotations

import dataclasses
import inspect
import json
import os

from flax import nnx
import jax
import ml_collections
import numpy as np
import optax

from playlearn import models
from playlearn import policy as policy_lib
from playlearn.data import pipeline
from playlearn.data import statistics as statistics_lib
from playlearn.data import windows
from playlearn.train import checkpoints
from playlearn.train import mesh as mesh_lib
from playlearn.train import metrics as metrics_lib


class NonFiniteLossError(FloatingPointError):
  pass


def model_config(config: ml_collections.ConfigDict):
  """The method's frozen `Config`, with the overrides in `config.model`."""
  method = models.get(config.method)
  base = method.Config.tiny() if config.get("tiny_model") else method.Config()
  fields = {f.name for f in dataclasses.fields(base)}
  overrides = dict(config.model)
  unknown = sorted(set(overrides) - fields)
  if unknown:
    raise ValueError(f"config.model has unknown fields {unknown} for method "
                     f"{config.method!r}; valid: {sorted(fields)}")
  return dataclasses.replace(base, **overrides)


def check_dataset(config, statistics: dict) -> tuple[int, int]:
  """(obs_dim, action_dim) of the dataset, checked against the config."""
  obs_dim = int(np.asarray(statistics["state"]["mean"]).shape[-1])
  action_dim = int(np.asarray(statistics["action"]["mean"]).shape[-1])
  for field, have in (("obs_dim", obs_dim), ("action_dim", action_dim)):
    want = config.get(field)
    if want is not None and want != have:
      raise ValueError(f"config.{field}={want} but the dataset at "
                       f"{config.dataset_dir} has {field}={have}")
  return obs_dim, action_dim


def make_optimizer(config) -> optax.GradientTransformation:
  opt = config.optimizer
  schedule = optax.warmup_cosine_decay_schedule(
      0.0, opt.lr, opt.warmup_steps, max(config.total_steps, opt.warmup_steps + 1),
      end_value=opt.lr * opt.final_lr_fraction)
  return optax.chain(optax.clip_by_global_norm(opt.grad_clip),
                     optax.adamw(schedule, weight_decay=opt.weight_decay))


def make_train_step(method, graphdef: nnx.GraphDef):
  """The jitted step (state, batch, rng, step) -> (state, metrics).

  `state` is `nnx.state((model, optimizer))` of `graphdef`; it is donated.
  """
  # Methods with schedules inside their loss (LMP's KL warm-up) get the step.
  takes_step = "step" in inspect.signature(method.loss).parameters

  def train_step(state, batch, rng, step):
    model, optimizer = nnx.merge(graphdef, state)
    model.train()

    def loss_fn(model):
      kwargs = {"step": step} if takes_step else {}
      return method.loss(model, batch, rng, **kwargs)

    (loss, metrics), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    optimizer.update(model, grads)
    metrics = dict(metrics, loss=loss, grad_norm=optax.tree.norm(grads))
    return nnx.state((model, optimizer)), metrics

  return jax.jit(train_step, donate_argnums=0)


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict:
  """Trains `config.method` on `config.dataset_dir`; resumes from `workdir`.

  Returns the last logged metrics.
  """
  # --- logging --------------------------------------------------------------
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json_best_effort(indent=1))

  # --- mesh -----------------------------------------------------------------
  mesh = mesh_lib.make_mesh()
  if config.data.batch_size % jax.device_count():
    raise ValueError(f"config.data.batch_size={config.data.batch_size} must "
                     f"divide over {jax.device_count()} devices")

  # --- data -----------------------------------------------------------------
  statistics = statistics_lib.load_statistics(config.dataset_dir)
  obs_dim, action_dim = check_dataset(config, statistics)
  window_config = windows.WindowConfig(
      kappa_min=config.data.kappa_min, kappa_max=config.data.kappa_max,
      goal_horizon=config.data.goal_horizon,
      action_norm=config.data.action_norm)
  # The store normalises the training windows; the saved policy reuses its
  # normalisation, so training and acting cannot disagree.
  store = windows.WindowStore.from_dataset(config.dataset_dir, "train",
                                           window_config)
  normalization = store.normalization
  data_iter = pipeline.make_iterator(
      store, batch_size=config.data.batch_size // jax.process_count(),
      seed=config.seed)

  # --- model / optimizer ----------------------------------------------------
  method = models.get(config.method)
  model = method.Model(model_config(config), obs_dim, action_dim,
                       rngs=nnx.Rngs(config.seed))
  optimizer = nnx.Optimizer(model, make_optimizer(config), wrt=nnx.Param)
  graphdef, state = nnx.split((model, optimizer))
  state = jax.device_put(state, mesh_lib.replicated(mesh))

  # --- step function --------------------------------------------------------
  train_step = make_train_step(method, graphdef)

  # --- restore --------------------------------------------------------------
  mgr = checkpoints.manager(workdir, config.keep_checkpoints,
                            config.checkpoint_every)
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
    model, _ = nnx.merge(graphdef, state)
    policy = policy_lib.Policy(config.method, model, normalization)
    results = evaluation.evaluate_tasks(
        policy, tasks=config.eval.tasks or evaluation.EVAL_TASKS,
        episodes_per_task=config.eval.episodes_per_task, seed=config.eval.seed,
        video_dir=os.path.join(workdir, "eval", str(step)),
        videos_per_task=config.eval.videos_per_task)
    with open(os.path.join(workdir, "eval", str(step), "results.json"),
              "w") as f:
      json.dump(results, f, indent=1)
    scalars = {f"eval/{task}": r["rate"] for task, r in results["tasks"].items()}
    scalars["eval/mean"] = results["mean"]
    writer.scalars(step, scalars)
    print(f"[{step}] evaluation: mean success {100 * results['mean']:.1f}% "
          f"over {len(results['tasks'])} tasks", flush=True)
    return scalars

  writer = metrics_lib.Writer(workdir, config.total_steps, start_step)

  # --- loop -----------------------------------------------------------------
  rng = jax.random.key(config.seed)
  last = {}
  step = start_step
  with checkpoints.StopRequest() as stop:
    while step < config.total_steps:
      batch = mesh_lib.shard_batch(next(data_iter), mesh)
      new_state, metrics = train_step(state, batch,
                                      jax.random.fold_in(rng, step), step)
      loss = float(metrics["loss"])
      if not np.isfinite(loss):
        mgr.wait_until_finished()
        raise NonFiniteLossError(
            f"loss is {loss} at step {step + 1}; stopped, the last good "
            f"checkpoint (step {mgr.latest_step()}) is kept in {workdir}")
      state, step = new_state, step + 1
      if step % config.log_every == 0 or step == config.total_steps:
        last = {k: float(v) for k, v in metrics.items()}
        writer.scalars(step, last)
        last["steps_per_s"] = writer.progress(step, last)
      final = stop.requested or step == config.total_steps
      if config.eval_every > 0 and (step % config.eval_every == 0
                                    or step == config.total_steps):
        last.update(evaluate(step))
      if final or mgr.should_save(step):
        checkpoints.save(mgr, step, state, pipeline.get_state(data_iter),
                         force=final)
      if final:
        break
  mgr.wait_until_finished()
  writer.close()
  model, _ = nnx.merge(graphdef, state)
  policy_lib.Policy(config.method, model, normalization).save(
      os.path.join(workdir, "policy"))
  with open(os.path.join(workdir, "final_metrics.json"), "w") as f:
    json.dump({"step": step, **last}, f, indent=1)
  return {"step": step, **last}
