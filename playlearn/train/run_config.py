"""What a run's config means, and whether it may run in a workdir.

The model's frozen `Config` from `config.model`, the dataset's dimensions,
every field checked before any work (`validate_config`), the defaults of
fields added after runs were saved (`ADDED_FIELDS`, read through `value_of`),
and the workdir checks: a config that differs from the saved run's is
refused, a finished run is not redone.
"""

from __future__ import annotations

import json
import os

import ml_collections
import numpy as np

from playlearn import models
from playlearn.data import features as features_lib
from playlearn.data import rlds
from playlearn.data import windows
from playlearn.models import configure
from playlearn.train import evaluators


def model_config(config: ml_collections.ConfigDict):
  """The method's frozen `Config`: its defaults (or `Config.tiny()` with
  `tiny_model`) with the fields of `config.model` that are set."""
  method = models.get(config.method)
  base = method.Config.tiny() if config.get("tiny_model") else method.Config()
  return configure.replace_fields(
      base,
      config.model.to_dict(),
      f"config.model (method {config.method!r})",
      skip_none=True,
  )


def check_dataset(config, statistics: dict) -> tuple[int, int]:
  """(obs_dim, action_dim) of the dataset, checked against the config."""
  obs_dim = int(np.asarray(statistics["state"]["mean"]).shape[-1])
  action_dim = int(np.asarray(statistics["action"]["mean"]).shape[-1])
  for field, have in (("obs_dim", obs_dim), ("action_dim", action_dim)):
    want = config.get(field)
    if want is not None and want != have:
      raise ValueError(
          f"config.{field}={want} but the dataset at "
          f"{config.dataset_dir} has {field}={have}"
      )
  return obs_dim, action_dim


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the first invalid field, before any work."""

  def need(ok, field, rule):
    if not ok:
      raise ValueError(f"config.{field}={value_of(config, field)!r}: {rule}")

  def integer(field, low):
    value = value_of(config, field)
    need(
        isinstance(value, int) and not isinstance(value, bool) and value >= low,
        field,
        f"must be an integer >= {low}",
    )

  models.get(config.method)  # Raises, listing the registered methods.
  integer("total_steps", 1)
  integer("log_every", 1)
  integer("checkpoint_every", 1)
  integer("keep_checkpoints", 1)
  integer("seed", 0)
  integer("data.batch_size", 1)
  integer("microbatches", 1)
  need(
      config.data.batch_size % value_of(config, "microbatches") == 0,
      "microbatches",
      f"must divide data.batch_size={config.data.batch_size}",
  )
  integer("data.kappa_min", 1)
  integer("data.kappa_max", 1)
  integer("data.goal_horizon", 0)
  integer("optimizer.warmup_steps", 0)
  for field in ("obs_dim", "action_dim"):
    if value_of(config, field) is not None:
      integer(field, 1)
  opt = config.optimizer
  need(opt.lr > 0, "optimizer.lr", "must be > 0")
  need(
      0 <= opt.final_lr_fraction <= 1,
      "optimizer.final_lr_fraction",
      "must be in [0, 1]",
  )
  need(opt.weight_decay >= 0, "optimizer.weight_decay", "must be >= 0")
  need(opt.grad_clip >= 0, "optimizer.grad_clip", "must be >= 0 (0: off)")
  need(
      0 <= value_of(config, "ema_decay") < 1,
      "ema_decay",
      "must be in [0, 1) (0: off)",
  )
  need(
      value_of(config, "data.obs_noise") >= 0,
      "data.obs_noise",
      "must be >= 0 (0: off)",
  )
  need(value_of(config, "data.std_floor") > 0, "data.std_floor", "must be > 0")
  need(
      0 <= value_of(config, "data.goal_dropout") <= 1,
      "data.goal_dropout",
      "must be in [0, 1] (0: off)",
  )
  need(
      not value_of(config, "data.goal_dropout")
      or value_of(config, "data.goals") == "full",
      "data.goal_dropout",
      "hides the robot in some goals: it needs data.goals='full' (goals "
      "'scene' hide it in all)",
  )
  need(
      config.data.kappa_min <= config.data.kappa_max,
      "data.kappa_min",
      f"must not exceed data.kappa_max={config.data.kappa_max}",
  )
  for field, valid in (
      ("data.actions", tuple(rlds.ACTION_FIELDS)),
      ("data.action_norm", windows.ACTION_NORMS),
      ("data.features", features_lib.FEATURES),
      ("data.goals", features_lib.GOALS),
  ):
    need(
        value_of(config, field) in valid,
        field,
        f"valid: {', '.join(map(str, valid))}",
    )
  encoder = value_of(config, "encoder")
  if encoder:
    need(
        os.path.isdir(encoder),
        "encoder",
        "is not a directory (a saved encoder, e.g. out/dynamo/encoder)",
    )
    need(
        value_of(config, "data.features") == "raw",
        "data.features",
        "must be 'raw' with an encoder: the others read the state's "
        "layout, and an encoder's embeddings have none",
    )
    need(
        value_of(config, "data.goals") == "full"
        or value_of(config, "data.proprio"),
        "data.goals",
        "must be 'full' with an encoder and no data.proprio: 'scene' hides "
        "the goal's robot state, which only data.proprio shows",
    )
    need(
        not value_of(config, "data.goal_dropout")
        or value_of(config, "data.proprio"),
        "data.goal_dropout",
        "must be 0 with an encoder and no data.proprio: it hides the "
        "goal's robot state, which only data.proprio shows",
    )
  init_policy = value_of(config, "init_policy")
  need(
      not init_policy or os.path.isdir(init_policy),
      "init_policy",
      "is not a directory (a saved policy, e.g. out/gcbc/policy)",
  )
  train_encoder = value_of(config, "train_encoder")
  need(
      not train_encoder or encoder,
      "train_encoder",
      "needs config.encoder, the encoder it trains (one saved untrained, "
      "`pretrain_encoder.py --steps=0`, trains from scratch)",
  )
  need(
      train_encoder or not value_of(config, "data.image_shift"),
      "data.image_shift",
      "shifts the images of a trained encoder (config.train_encoder); a "
      "frozen encoder embeds each frame once, unshifted",
  )
  need(
      value_of(config, "data.image_shift") >= 0,
      "data.image_shift",
      "must be >= 0 (0: off)",
  )
  need(
      encoder or not value_of(config, "data.proprio"),
      "data.proprio",
      "adds the robot's own state to a pixel policy's embeddings: it needs "
      "config.encoder (a state policy sees the whole state already)",
  )
  need(
      not (train_encoder and value_of(config, "data.obs_noise")),
      "data.obs_noise",
      "must be 0 with config.train_encoder (the batches hold images)",
  )
  evaluators.check(config)
  model_config(config)  # Raises on model fields the method does not have.


def value_of(config, dotted: str):
  """config's field `dotted` ('data.goals'); ADDED_FIELDS' value if absent."""
  value = config
  for key in dotted.split("."):
    if key not in value:
      if dotted not in ADDED_FIELDS:
        raise ValueError(f"config has no field {dotted!r}")
      return ADDED_FIELDS[dotted]
    value = value[key]
  return value


# Optional config fields, with the value that behaves as the code did
# before each was added: the one place their defaults live for configs and
# saved runs that lack them (`value_of`, `check_resumable`).
ADDED_FIELDS = {
    "ema_decay": 0.0,
    "data.actions": "label",
    "data.features": "raw",
    "data.goals": "full",
    "data.obs_noise": 0.0,
    "data.std_floor": windows.STD_FLOOR,
    "microbatches": 1,
    "encoder": "",
    "train_encoder": False,
    "data.image_shift": 0,
    "init_policy": "",
    "data.proprio": False,
    "data.goal_dropout": 0.0,
}


# Fields that may differ when a run resumes: they change what is logged or
# kept, not what is learned.
RESUMABLE_CHANGES = (
    "log_every",
    "evals",
    "checkpoint_every",
    "keep_checkpoints",
    # Replaced by `evals`; still in the config.json of older runs.
    *evaluators.REPLACED_FIELDS,
)


def _flatten(d: dict, prefix: str = "") -> dict:
  out = {}
  for key, value in d.items():
    if isinstance(value, dict):
      out.update(_flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def check_resumable(config: ml_collections.ConfigDict, workdir: str) -> None:
  """Refuses to resume a workdir's checkpoints under a different config.

  Rerunning the same command resumes; a changed batch size, learning rate,
  model or dataset would silently continue someone else's run instead.
  """
  saved_path = os.path.join(workdir, "config.json")
  if not (
      os.path.exists(saved_path)
      and os.path.isdir(os.path.join(workdir, "checkpoints"))
      and os.listdir(os.path.join(workdir, "checkpoints"))
  ):
    return
  with open(saved_path) as f:
    saved = _flatten(json.load(f))
  now = _flatten(json.loads(config.to_json_best_effort()))
  # A field added since the run was saved, at the value that reproduces the
  # old behaviour, is no change.
  saved = {**{k: v for k, v in ADDED_FIELDS.items() if k in now}, **saved}
  changed = sorted(
      k
      for k in set(saved) | set(now)
      if saved.get(k) != now.get(k) and k.split(".")[0] not in RESUMABLE_CHANGES
  )
  if changed:
    diffs = "; ".join(
        f"{k}: {saved.get(k)!r} in the saved run, {now.get(k)!r} now"
        for k in changed
    )
    raise ValueError(
        f"{workdir} holds checkpoints of a run with another config ({diffs}). "
        "Use a new --workdir, or the saved config (config.json) to resume."
    )


def finished_run(config: ml_collections.ConfigDict, workdir: str):
  """The final metrics of a finished run of `config` in `workdir`, or None.

  Finished: `final_metrics.json` says `config.total_steps` were done and the
  policy is saved (check_resumable has already refused another config).
  """
  path = os.path.join(workdir, "final_metrics.json")
  if not (
      os.path.exists(path)
      and os.path.exists(os.path.join(workdir, "policy", "policy.json"))
  ):
    return None
  try:
    with open(path) as f:
      metrics = json.load(f)
  except json.JSONDecodeError:
    return None  # Written before saves were atomic: finish the run again.
  return metrics if metrics.get("step") == config.total_steps else None
