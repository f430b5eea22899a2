"""Evaluators chosen by name in the config (`config.evals`), as big_vision's.

Each entry of `config.evals` is one evaluator: its `type` (a key of
`EVALUATORS`), `every` (run every that many steps and at the end of the run;
0: never) and the fields of its type. The trainer writes what an evaluator
returns as `<entry name>/<metric>`, so two entries of one type (say, the
suite's easy tasks often, all tasks rarely) do not collide:

  config.evals.val = dict(type="validation", every=1000, batches=4)
  config.evals.suite = dict(type="suite", every=10_000, tasks="all",
                            episodes_per_task=2, videos_per_task=1, seed=0)

An evaluator is built once, before training, from its entry and a `Context`
(what the trainer knows), and called with the acting model and the step.
Adding one: a class with `FIELDS` (its fields and their checks), an
`__init__(entry, context)` and `__call__(model, step) -> {metric: float}`.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from flax import nnx
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from playlearn import policy as policy_lib
from playlearn.data import frames
from playlearn.data import reading
from playlearn.data import windows
from playlearn.evaluation import task_names
from playlearn.models import embeddings
from playlearn.models import pixels
from playlearn.models import pretrained
from playlearn.train import mesh as mesh_lib


@dataclasses.dataclass(frozen=True)
class Context:
  """What every evaluator may use: the run's config, its method (module),
  the training data's window config and normalisation, the mesh, the
  workdir and the model's graphdef."""

  config: ml_collections.ConfigDict
  method: Any
  window_config: windows.WindowConfig
  normalization: windows.Normalization
  mesh: jax.sharding.Mesh
  workdir: str
  model_graphdef: nnx.GraphDef
  # A policy over a frozen encoder (config.encoder): the loaded encoder and
  # the square frame sizes it embeds, {camera: S}; None for state policies.
  # A trained encoder (config.train_encoder) is part of the model instead.
  encoder: Any = None
  image_sizes: dict[str, int] | None = None
  proprio: bool = False  # config.data.proprio: the robot's state beside.


def _integer(low):
  def check(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
      return f"must be an integer >= {low}"
    return None

  return check


class Validation:
  """Mean loss metrics over fixed windows of the validation split.

  Up to `batches` batches of `config.data.batch_size` windows spread evenly
  over the split, cut with seed 0: the same windows at every step and in
  every run. No metrics when `batches` is 0 or the dataset has no
  validation split.
  """

  FIELDS = {"batches": _integer(0)}

  def __init__(self, entry, context: Context):
    self.context = context
    self.batches = validation_batches(
        context.config,
        entry.batches,
        context.window_config,
        context.normalization,
        cache_dir=context.workdir,
        encoder=context.encoder,
        proprio=context.proprio,
    )
    self.step_fn = make_eval_step(context.method, context.model_graphdef)

  def __call__(self, model, step: int) -> dict:
    del step
    if not self.batches:
      return {}
    params = nnx.state(model)
    rows = [
        self.step_fn(
            params,
            mesh_lib.shard_batch(b, self.context.mesh),
            jax.random.key(i),
        )
        for i, b in enumerate(self.batches)
    ]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def _task_names(value: str) -> list[str]:
  """'all', 'easy' or comma-separated task names -> the names."""
  from playlearn import evaluation  # pylint: disable=g-import-not-at-top

  if value == "all":
    return list(evaluation.EVAL_TASKS)
  if value == "easy":
    return list(evaluation.EASY_TASKS)
  return [name.strip() for name in value.split(",")]


def _tasks(value):
  if not isinstance(value, str):
    return "must be a string: 'all', 'easy' or comma-separated task names"
  if value in ("all", "easy"):
    return None
  unknown = sorted(set(_task_names(value)) - set(task_names.EVAL_TASKS))
  if unknown:
    return (
        f"unknown tasks {unknown}; valid: 'all', 'easy', or names of "
        f"{', '.join(task_names.EVAL_TASKS)}"
    )
  return None


class Suite:
  """Task-suite rollouts of the acting model: success per task and the mean.

  `tasks`: 'all' (the whole suite), 'easy' or comma-separated task names
  (a string, so that `--config.evals.suite.tasks=easy` sets it). Videos and results.json go to
  workdir/eval/<step>/.
  """

  FIELDS = {
      "tasks": _tasks,
      "episodes_per_task": _integer(1),
      "videos_per_task": _integer(0),
      "seed": _integer(0),
  }

  def __init__(self, entry, context: Context):
    from playlearn import evaluation  # pylint: disable=g-import-not-at-top

    self.evaluation, self.entry, self.context = evaluation, entry, context
    self.tasks = _task_names(entry.tasks)

  def __call__(self, model, step: int) -> dict:
    out_dir = os.path.join(self.context.workdir, "eval", str(step))
    model, encoder = pixels.parts(model, self.context.encoder)
    policy = policy_lib.Policy(
        self.context.config.method,
        model,
        self.context.normalization,
        encoder=encoder,
        image_sizes=self.context.image_sizes,
        proprio=self.context.proprio,
    )
    results = self.evaluation.evaluate_tasks(
        policy,
        tasks=self.tasks,
        episodes_per_task=self.entry.episodes_per_task,
        seed=self.entry.seed,
        video_dir=out_dir,
        videos_per_task=self.entry.videos_per_task,
    )
    with open(os.path.join(out_dir, "results.json"), "w") as f:
      json.dump(results, f, indent=1)
    print(
        f"[{step}] suite: mean success {100 * results['mean']:.1f}% over "
        f"{len(results['tasks'])} tasks",
        flush=True,
    )
    scalars = {task: r["rate"] for task, r in results["tasks"].items()}
    return dict(scalars, mean=results["mean"])


EVALUATORS = {"validation": Validation, "suite": Suite}
# Fields of the config before `config.evals`, and where each went.
REPLACED_FIELDS = {
    "val_every": "config.evals.val.every",
    "val_batches": "config.evals.val.batches",
    "eval_every": "config.evals.suite.every",
    "eval": "config.evals.suite",
}


def check(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the first bad field of `config.evals`."""
  for old, new in REPLACED_FIELDS.items():
    if old in config:
      raise ValueError(f"config.{old} is now {new} (see config.evals)")
  for name, entry in config.get("evals", {}).items():
    where = f"config.evals.{name}"
    kind = entry.get("type")
    if kind not in EVALUATORS:
      raise ValueError(
          f"{where}.type={kind!r}: valid: {', '.join(sorted(EVALUATORS))}"
      )
    fields = {"every": _integer(0), **EVALUATORS[kind].FIELDS}
    unknown = sorted(set(entry) - set(fields) - {"type"})
    if unknown:
      raise ValueError(
          f"{where} has no field(s) {unknown} for type {kind!r}; valid: "
          f"{', '.join(sorted(fields))}"
      )
    for field, rule in fields.items():
      if field not in entry:
        raise ValueError(f"{where}.{field} is missing (type {kind!r})")
      problem = rule(entry[field])
      if problem:
        raise ValueError(f"{where}.{field}={entry[field]!r}: {problem}")


def make(config: ml_collections.ConfigDict, context: Context) -> dict:
  """{name: (every, evaluator)} of `config.evals` (checked by `check`)."""
  return {
      name: (entry.every, EVALUATORS[entry.type](entry, context))
      for name, entry in config.get("evals", {}).items()
      if entry.every
  }


def due(every: int, step: int, total_steps: int) -> bool:
  """Whether an evaluator that runs every `every` steps runs at `step`."""
  return bool(every) and (step % every == 0 or step == total_steps)


def make_eval_step(method, model_graphdef: nnx.GraphDef):
  """The jitted (params, batch, rng) -> metrics of the loss in eval mode.

  `params` is `nnx.state(model)` of the acting model.
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
    num_batches: int,
    window_config: windows.WindowConfig,
    normalization: windows.Normalization,
    cache_dir: str | None = None,
    encoder=None,
    proprio: bool = False,
) -> list[dict]:
  """Fixed windows of the validation split (see `Validation`); window k of
  batch i is id (i + k * n) of n batches' worth."""
  if not num_batches:
    return []
  try:
    source = reading.EpisodeSource(config.dataset_dir, "validation")
  except ValueError:  # tfds: unknown split
    print(
        f"no validation split in {config.dataset_dir}: no validation metrics",
        flush=True,
    )
    return []
  train_encoder = bool(config.get("train_encoder"))
  split = None
  if config.get("encoder"):  # The split's frames as the encoder embeds them.
    split = embeddings.embed_split(
        config.encoder,
        config.dataset_dir,
        "validation",
        cache_dir=cache_dir,
        encoder=encoder,
        proprio=proprio,
        keep_images=train_encoder,  # Decoded once, as for training.
    )
    episodes = split.episodes
  else:
    episodes = (source[i] for i in range(len(source)))
  # Whole goals, as the suite gives them: goal_dropout is for training only.
  window_config = dataclasses.replace(window_config, goal_dropout=0.0)
  store = windows.WindowStore(episodes, normalization, window_config)
  if train_encoder:  # The model embeds the frames itself.
    views = pretrained.views(config.encoder)
    images = embeddings.frames_of(
        split, config.dataset_dir, "validation", views
    )
    store = frames.ImageWindows(store, images, proprio=proprio)
  size = min(config.data.batch_size, store.num_windows)
  size -= size % jax.device_count()
  num_batches = min(num_batches, store.num_windows // size) if size else 0
  ids = np.linspace(0, store.num_windows - 1, num_batches * size).astype(int)
  return [
      store.batch(ids[i::num_batches], seed=0, epoch=0)
      for i in range(num_batches)
  ]
