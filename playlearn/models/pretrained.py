"""Pretrained encoders on disk: self-describing, hashed, no pickle.

A saved encoder is a directory, as a saved policy is:

  encoder.json    {'format', 'objective' (e.g. 'dynamo'), 'config',
                   'image_sizes' ({camera: S} of the frames it was trained
                   on, when known)}
  params/         the weights (orbax)
  target/         ACT-JEPA only: its EMA target encoders (orbax), so that
                  pretraining can go on from a saved model
  MANIFEST.json   SHA-256 of every file (`playlearn.manifest`)

  pretrained.save(model, "out/dynamo/encoder")
  model = pretrained.load("out/dynamo/encoder")    # dynamo.Model
  features = dynamo.embed(model, images)
  actor = pretrained.load_actor("out/act_jepa/encoder")  # ACT-JEPA acts too

Objectives: 'dynamo', 'act_jepa', 'state_regression', and 'stacked'
(several of those read side by side, `stacked.py`).

`save` writes beside the destination and renames
(`manifest.replace_directory`), so a killed save leaves the previous encoder,
never half of one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

from flax import nnx
import orbax.checkpoint as ocp

from playlearn import manifest
from playlearn.models import act_jepa
from playlearn.models import configure
from playlearn.models import stacked

FORMAT = "playlearn-encoder-1"
OBJECTIVES = {**stacked.PARTS, "stacked": stacked}
_DESCRIPTION = "encoder.json"


def _objective_of(model: nnx.Module) -> str:
  if isinstance(model, stacked.Model):
    return "stacked"
  return stacked.objective_of(model)  # TypeError naming what can be saved.


def save(
    model: nnx.Module, path: str, image_sizes: dict[str, int] | None = None
) -> None:
  """Writes `model` (weights and config) to the directory `path`."""
  path = os.path.abspath(path)
  if os.path.isdir(path) and os.listdir(path):
    if not os.path.exists(os.path.join(path, _DESCRIPTION)):
      raise ValueError(
          f"{path} exists and is not a saved encoder: not replacing it."
      )
  description = {
      "format": FORMAT,
      "objective": _objective_of(model),
      "config": dataclasses.asdict(model.config),
  }
  if image_sizes:
    description["image_sizes"] = dict(image_sizes)
  parent, name = os.path.split(path)
  os.makedirs(parent, exist_ok=True)
  staging = os.path.join(parent, f".{name}.saving")
  if os.path.exists(staging):
    shutil.rmtree(staging)
  try:
    with ocp.StandardCheckpointer() as checkpointer:
      checkpointer.save(
          os.path.join(staging, "params"), nnx.state(model, nnx.Param)
      )
      if isinstance(model, act_jepa.Model):
        checkpointer.save(
            os.path.join(staging, "target"), nnx.state(model, act_jepa.Target)
        )
    with open(os.path.join(staging, _DESCRIPTION), "w") as f:
      json.dump(description, f, indent=1)
    manifest.write(staging)
    manifest.replace_directory(staging, path)
  except BaseException:
    shutil.rmtree(staging, ignore_errors=True)
    raise


def describe(path: str) -> dict:
  """The description (encoder.json) of the encoder saved at `path`."""
  description_file = os.path.join(os.path.abspath(path), _DESCRIPTION)
  if not os.path.exists(description_file):
    raise FileNotFoundError(
        f"{description_file} does not exist: {path} is not a saved encoder."
    )
  with open(description_file) as f:
    return json.load(f)


def views(path: str) -> tuple[str, ...]:
  """The cameras the encoder saved at `path` reads, from its description."""
  config = describe(path)["config"]
  if "parts" in config:  # Stacked: every part reads the same cameras.
    config = config["parts"][0][1]
  return tuple(config["views"])


def load(path: str) -> nnx.Module:
  """The encoder saved at `path`, its files checked against its manifest."""
  path = os.path.abspath(path)
  description_file = os.path.join(path, _DESCRIPTION)
  description = describe(path)
  manifest.verify(path)
  if description.get("format") != FORMAT:
    raise ValueError(
        f"{description_file}: format {description.get('format')!r}, "
        f"expected {FORMAT!r}."
    )
  objective = description.get("objective")
  if objective not in OBJECTIVES:
    raise ValueError(
        f"{description_file}: unknown objective {objective!r}; known: "
        f"{sorted(OBJECTIVES)}."
    )
  module = OBJECTIVES[objective]
  config = configure.replace_fields(
      module.Config(), description["config"], description_file
  )
  model = module.Model(config, rngs=nnx.Rngs(0))
  with ocp.StandardCheckpointer() as checkpointer:
    params = checkpointer.restore(
        os.path.join(path, "params"), nnx.state(model, nnx.Param)
    )
    nnx.update(model, params)
    if isinstance(model, act_jepa.Model):
      target = os.path.join(path, "target")
      if os.path.isdir(target):
        nnx.update(
            model,
            checkpointer.restore(target, nnx.state(model, act_jepa.Target)),
        )
      else:  # Saved without its target (older): start it at the weights.
        model.target.set_value(
            nnx.to_pure_dict(nnx.state(model.encoders, nnx.Param))
        )
  return model


def load_actor(path: str, ensemble: float = 0.01) -> act_jepa.Actor:
  """A saved ACT-JEPA model as a policy acting from the cameras."""
  description = describe(path)
  if description.get("objective") != "act_jepa":
    raise ValueError(
        f"{path} holds a {description.get('objective')} encoder, which does "
        "not act: train a policy on it (--config.encoder), or give an "
        "act_jepa model."
    )
  sizes = description.get("image_sizes")
  if not sizes:
    raise ValueError(
        f"{path}/{_DESCRIPTION} records no image_sizes (the frames it was "
        "trained on), which acting needs; pretrain it again."
    )
  return act_jepa.Actor(load(path), sizes, ensemble)
