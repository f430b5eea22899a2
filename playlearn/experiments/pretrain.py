"""Pretraining an image encoder on play frames, probed before and after.

  result = pretrain.run(train_frames, val_frames, pretrain.PretrainConfig(),
                        workdir="out/dynamo")

Trains the model of a pretraining objective (`models.pretrained.OBJECTIVES`:
DynaMo's `dynamo.Config`, ACT-JEPA's `act_jepa.Config` or the state
regression's `state_regression.Config` as `PretrainConfig.model`) on windows
of play frames (`data.frames.FrameWindows`; ACT-JEPA's with actions and goal
frames; an objective's `fit_config`, where it has one, first fits its config
to the training frames) with AdamW, logs the loss terms and
the embeddings' spread (a collapse shows as a spread falling to 0) to
`metrics.jsonl` with a progress line, saves the encoder (`models.pretrained`,
with the frame sizes it saw) and writes `probe.json`: held-out linear-probe
R^2 of the true state from the frozen embeddings, for the encoder as
initialised and as pretrained, per field (`evaluation.probe`), beside the
same probe of the cameras' coarse pixels (`pixel_means`: what the images
hold that a linear read finds, no encoder), and `curves.png`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from playlearn import hardware
from playlearn.evaluation import probe
from playlearn.models import dynamo
from playlearn.models import embeddings
from playlearn.models import pretrained
from playlearn.train import metrics as metrics_lib


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
  model: Any = dynamo.Config()  # A Config of a pretrained.OBJECTIVES module.
  steps: int = 2000
  batch_size: int = 32  # Windows of model.window frames, every camera.
  lr: float = 1e-4  # DynaMo's.
  weight_decay: float = 0.0
  seed: int = 0
  log_every: int = 50
  probe_frames: int = 2000  # Frames per split embedded for the probes.


def _probe_features(featurise, frames, count: int, seed: int):
  """(features [N, F], states [N, D]) of `count` frames of `frames`;
  `featurise`: {camera: uint8 [n, H, W, 3]} -> [n, F]."""
  rng = np.random.default_rng(seed)
  index = rng.choice(
      len(frames.state), min(count, len(frames.state)), replace=False
  )
  features = []
  for chunk in np.array_split(index, max(1, len(index) // 256)):
    images = {v: frames.images[v][chunk] for v in frames.views}
    features.append(np.asarray(featurise(images)))
  return np.concatenate(features), frames.state[index]


def pixel_means(images: dict[str, np.ndarray], block: int = 8) -> np.ndarray:
  """{camera: uint8 [N, H, W, 3]} -> [N, F]: each camera's pixels averaged
  over block x block squares (the probe's reference: what a linear read of
  the coarse image gives, no encoder; 624 numbers for 96 + 64 px)."""
  parts = []
  for v in sorted(images):
    x = np.asarray(images[v], np.float32) / 255.0
    n, h, w, c = x.shape
    x = x[:, : h - h % block, : w - w % block]
    x = x.reshape(n, h // block, block, w // block, block, c).mean((2, 4))
    parts.append(x.reshape(n, -1))
  return np.concatenate(parts, axis=-1)


def objective_of(model_config) -> Any:
  """The module (`dynamo`, `act_jepa`) whose Config `model_config` is."""
  for module in pretrained.OBJECTIVES.values():
    if isinstance(model_config, module.Config):
      return module
  raise TypeError(
      f"{type(model_config).__name__} is not the Config of a pretraining "
      f"objective ({sorted(pretrained.OBJECTIVES)})"
  )


@functools.partial(nnx.jit, static_argnums=0)
def objective_step(objective, model, optimizer, batch) -> dict:
  """One AdamW step of `objective`'s loss (then its `after_step`, e.g. an
  EMA target); returns the loss metrics."""
  grad_fn = nnx.value_and_grad(
      lambda m: objective.loss(m, batch, None, 0), has_aux=True
  )
  (_, step_metrics), grads = grad_fn(model)
  optimizer.update(model, grads)
  if hasattr(objective, "after_step"):
    objective.after_step(model)
  return step_metrics


def probe_model(model, train_frames, val_frames, count: int) -> dict:
  """Held-out linear-probe R^2 per state field from `model`'s embeddings
  (None: of the cameras' `pixel_means`)."""
  if model is None:
    featurise = pixel_means
  else:
    featurise = lambda images: embeddings.embed(
        model, {v: jnp.asarray(x) for v, x in images.items()}
    )
  train_x, train_s = _probe_features(featurise, train_frames, count, 0)
  val_x, val_s = _probe_features(featurise, val_frames, count, 1)
  return probe.linear_probe(train_x, train_s, val_x, val_s)


def run(train_frames, val_frames, config: PretrainConfig, workdir: str):
  """Pretrains, saves `workdir/encoder`, returns and writes the probe table."""
  os.makedirs(workdir, exist_ok=True)
  if train_frames.window != config.model.window:
    raise ValueError(
        f"The frames are cut in windows of {train_frames.window}, the model "
        f"expects {config.model.window}."
    )
  objective = objective_of(config.model)
  if config.model.encoder == "pixels" and config.steps and objective is dynamo:
    raise ValueError(
        "The pixels encoder has no weights for DynaMo to pretrain: save it "
        "with steps=0 (--steps=0)."
    )
  missing = set(objective.BATCH_KEYS) - set(train_frames.batch([0]))
  if missing:
    raise ValueError(
        f"{objective.__name__} trains on {list(objective.BATCH_KEYS)}; these "
        f"frames give no {sorted(missing)} (goal frames: "
        "FrameWindows.from_dataset(..., goal_horizon=H); actions: a dataset "
        "with actions)"
    )
  if hasattr(objective, "fit_config"):  # E.g. the state's scales.
    config = dataclasses.replace(
        config, model=objective.fit_config(config.model, train_frames)
    )
  model = objective.Model(config.model, rngs=nnx.Rngs(config.seed))
  before = probe_model(model, train_frames, val_frames, config.probe_frames)
  optimizer = nnx.Optimizer(
      model,
      optax.adamw(config.lr, weight_decay=config.weight_decay),
      wrt=nnx.Param,
  )

  writer = metrics_lib.Writer(workdir, config.steps, 0)
  batches = train_frames.batches(config.batch_size, config.seed)
  tic, history = time.perf_counter(), []
  for step in range(1, config.steps + 1):
    batch = next(batches)
    batch = {k: batch[k] for k in objective.BATCH_KEYS}
    step_metrics = objective_step(
        objective, model, optimizer, jax.device_put(batch)
    )
    if step % config.log_every == 0 or step == config.steps:
      row = {k: float(v) for k, v in jax.device_get(step_metrics).items()}
      writer.scalars(step, row)
      writer.progress(step, row)
      history.append({"step": step, **row})
  seconds = time.perf_counter() - tic
  writer.close()
  sizes = {v: int(x.shape[1]) for v, x in train_frames.images.items()}
  pretrained.save(model, os.path.join(workdir, "encoder"), sizes)
  after = probe_model(model, train_frames, val_frames, config.probe_frames)
  pixels = probe_model(None, train_frames, val_frames, config.probe_frames)
  result = {
      "objective": objective.__name__.rsplit(".", 1)[-1],
      "config": dataclasses.asdict(config),
      "frame_stride": train_frames.stride,
      "train_seconds": seconds,
      "steps_per_second": config.steps / seconds,
      "probe_r2": {
          "initialised": before,
          "pretrained": after,
          "pixels": pixels,
      },
      "hardware": hardware.describe(),
  }
  with open(os.path.join(workdir, "probe.json"), "w") as f:
    json.dump(result, f, indent=1)
  _plot(history, os.path.join(workdir, "curves.png"))
  return result


def embedding_tsne(
    model,
    dataset_dir: str,
    path: str,
    split: str = "validation",
    points: int = 1500,
    seed: int = 0,
) -> int:
  """A t-SNE of frozen embeddings of `split`'s frames, coloured by the task
  segment each frame lies in (`episode_metadata`; frames between segments
  are left out), written to `path`; returns the number of points."""
  from playlearn.data import reading  # pylint: disable=g-import-not-at-top
  from playlearn.evaluation import latent  # pylint: disable=g-import-not-at-top

  source = reading.EpisodeSource(dataset_dir, split)
  per_episode = max(1, points // max(len(source), 1))
  rng = np.random.default_rng(seed)
  features, labels = [], []
  for i in range(len(source)):
    episode = source[i]
    rows, tasks = latent.segment_windows(episode, window=1)
    if not len(rows):
      continue
    keep = np.sort(rng.choice(len(rows), min(per_episode, len(rows)), False))
    obs = episode["steps"]["observation"]
    images = {v: obs[v][rows[keep]] for v in model.config.views}
    features.append(embeddings.embed_frames(model, images))
    labels += [tasks[k] for k in keep]
  if not labels:
    raise ValueError(f"{dataset_dir} ({split}) has no task segments to colour")
  latent.tsne_plot(
      np.concatenate(features),
      labels,
      path,
      seed=seed,
      title=f"Frozen embeddings of {len(labels)} {split} frames, by task segment",
  )
  return len(labels)


def probe_table(columns: dict[str, dict]) -> str:
  """A Markdown table of probe R^2: one row per field, one column per
  {heading: `probe_model`'s result} (None shown as 'does not vary')."""
  shown = lambda v: "does not vary" if v is None else f"{v:.3f}"
  first = next(iter(columns.values()))
  lines = [
      "| field | " + " | ".join(columns) + " |",
      "|---" * (len(columns) + 1) + "|",
  ]
  for name in first:
    cells = " | ".join(shown(r2[name]) for r2 in columns.values())
    lines.append(f"| {name} | {cells} |")
  return "\n".join(lines)


def markdown(result: dict) -> str:
  """The probe table: R^2 per field, initialised against pretrained, and
  of the pixels' 8 x 8 means (no encoder) where measured."""
  r2 = result["probe_r2"]
  return probe_table(
      {
          "R^2 of the pixels (8 x 8 means)"
          if k == "pixels"
          else f"R^2 {k}": r2[k]
          for k in ("initialised", "pretrained", "pixels")
          if k in r2
      }
  )


def _plot(history: list[dict], path: str) -> None:
  """The loss terms and the embeddings' spread against the step."""
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  keys = [
      k for k in (history[0] if history else {}) if k not in ("step", "loss")
  ]
  steps = [h["step"] for h in history]
  fig, axes = plt.subplots(
      1, max(len(keys), 1), figsize=(4 * max(len(keys), 1), 3.2)
  )
  for ax, key in zip(np.atleast_1d(axes), keys):
    ax.plot(steps, [h[key] for h in history])
    ax.set_title(key)
    ax.set_xlabel("step")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
