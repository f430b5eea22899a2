"""Saved, self-describing policies: `Policy.load(path).act(obs, goal)`.

A policy directory holds
  params/             the model's parameters (Orbax, `StandardSave`)
  policy.json         method, model config, observation/action sizes, version
  normalization.json  the state and action maps of the training data
  encoder/            a pixel policy's encoder (`models.pretrained`)
  MANIFEST.json       SHA-256 of every file above, checked by `load`
so a policy loads with no training code, no dataset and no pickle. `save`
writes a new directory beside the destination and renames it into place, so
a kill mid-save leaves the previous policy (or none), never half of one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

from absl import logging
from flax import nnx
import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from playlearn import manifest
from playlearn import models
from playlearn.data import features as features_lib
from playlearn.data import frames
from playlearn.data import windows
from playlearn.models import configure
from playlearn.models import embeddings
from playlearn.models import pretrained

FORMAT = "playlearn.policy/1"
# policy.json's `proprio` of a pixel policy that reads the robot's state:
# the row layout, [robot state (14), embeddings]. (A policy saved with
# `proprio: true` had the robot's state after the embeddings; refused.)
PROPRIO_LAYOUT = "robot_state_first"


def _normalization_to_json(norm: windows.Normalization) -> dict:
  return {
      f.name: np.asarray(getattr(norm, f.name)).tolist()
      for f in dataclasses.fields(norm)
  }


def _normalization_from_json(data: dict) -> windows.Normalization:
  # Policies saved before observation features (or goal modes) had none:
  # the dataclass defaults, 'raw' and 'full'.
  return windows.Normalization(
      **{
          k: v if k in ("features", "goals") else np.asarray(v, np.float32)
          for k, v in data.items()
      }
  )


class Policy:
  """A goal-conditioned policy: `reset()`, then `act(obs, goal)` each step.

  `obs` and `goal` are dicts with 'state': float32[D] (one environment) or
  [B, D] (B environments); `act` returns float32[7] or [B, 7] env actions.
  The step is jit-compiled once per batch size. `greedy`: take the action
  distribution's mode (True) or sample from it with keys drawn from `seed`
  (False); None (the default) is the method's own choice, its module's
  ACTS_GREEDY: GCBC and LMP take the mode, BESO samples.

  A pixel policy (trained with `config.encoder`) holds its `encoder` (as
  pretrained, or as trained with it: `config.train_encoder`) and acts from
  the cameras: `obs` and `goal` then carry uint8 images
  {camera: [S, S, 3] or [B, S, S, 3]} of `image_sizes` ({camera: S}; an
  env made with images=True of those sizes gives them), which it embeds as
  its training data was embedded (`playlearn.models.embeddings`). With
  `proprio` (`config.data.proprio`) it also reads the robot's own state
  from `obs['state']` and `goal['state']` (`features.proprio`), placed
  before the embeddings as in training.
  """

  def __init__(
      self,
      method: str,
      model: nnx.Module,
      normalization: windows.Normalization,
      *,
      seed: int = 0,
      greedy: bool | None = None,
      encoder: nnx.Module | None = None,
      image_sizes: dict[str, int] | None = None,
      proprio: bool = False,
  ):
    if (encoder is None) != (image_sizes is None):
      raise ValueError(
          "Policy: give both encoder and image_sizes (a pixel policy) or "
          "neither (a state policy)"
      )
    if proprio and encoder is None:
      raise ValueError("Policy: proprio is for pixel policies (an encoder)")
    self.encoder = encoder
    self.proprio = bool(proprio)
    # {what: (images, embeddings)} of the last frames embedded (`observed`).
    self._last_embedded = {}
    self.image_sizes = dict(image_sizes) if image_sizes else None
    self.method_name = method
    self._method = models.get(method)
    if greedy is None:
      greedy = getattr(self._method, "ACTS_GREEDY", True)
    self._model = model
    self.normalization = normalization
    self.greedy = greedy
    self.seed = seed
    self._rng = jax.random.key(seed)
    self._graphdef, self._params = nnx.split(model)
    self._state = None
    self._batch = None
    method_module, graphdef = self._method, self._graphdef

    def step(params, obs, goal, rng, state):
      # The key is split inside: one compiled call per action.
      rng, key = jax.random.split(rng)
      model = nnx.merge(graphdef, params)
      model.eval()
      action, state = method_module.act(
          model, obs, goal, key, state, greedy=greedy
      )
      return action, state, rng

    self._step = jax.jit(step)

  @property
  def model(self) -> nnx.Module:
    """The network (for analysis, e.g. LMP's plan recognition)."""
    return self._model

  def with_config(self, **changes) -> Policy:
    """The same weights acting with other model config fields.

    For settings that only change how a trained network acts, e.g. BESO's
    `sampler`, `num_steps` and `guidance` (0: the goal-free policy).
    """
    model = configure.with_config(self._model, **changes)
    return Policy(
        self.method_name,
        model,
        self.normalization,
        seed=self.seed,
        greedy=self.greedy,
        encoder=self.encoder,
        image_sizes=self.image_sizes,
        proprio=self.proprio,
    )

  def observed(self, d: dict, what: str = "obs") -> dict:
    """What the policy reads of an env observation `d` before normalising:
    `d` itself for a state policy; for a pixel policy {'state': the
    embeddings of its cameras}, and with `proprio` the robot's own state
    before them. `what`: 'obs' or 'goal' (for messages).

    The last embeddings of each `what` are kept while the same images come
    back: an episode's goal is embedded once, not at every step, and a
    frame read twice (`observed`, then `act`) once.
    """
    if self.encoder is None:
      return d
    features = self._embeddings(what, d)
    if self.proprio:
      if "state" not in d:
        raise ValueError(
            f"Policy.act: {what} has no 'state', whose robot part this "
            "policy reads beside its cameras (trained with data.proprio)"
        )
      robot = features_lib.proprio(d["state"])
      features = np.concatenate([robot, features], axis=-1)
    return {"state": features}

  def embed_with(self, other: Policy) -> None:
    """Embeds frames with `other`'s encoder, sharing its cache of the last
    frames embedded, so that two policies on one frozen encoder (an
    ensemble's members) embed each frame once. Their encoders must hold the
    same weights: the caller checks."""
    if self.encoder is None or other.encoder is None:
      raise ValueError("Policy.embed_with: both policies must read pixels")
    self.encoder = other.encoder
    self._last_embedded = other._last_embedded

  def _embeddings(self, what: str, d: dict) -> np.ndarray:
    """The encoder's embeddings of `d`'s camera images."""
    views = self.encoder.config.views
    frames.check_views(views, d, f"Policy.act: {what}")
    images = {v: np.asarray(d[v]) for v in views}
    if what in self._last_embedded:
      seen, features = self._last_embedded[what]
      if all(np.array_equal(seen[v], images[v]) for v in views):
        return features
    single = images[views[0]].ndim == 3
    for v, size in self.image_sizes.items():
      if images[v].shape[-3:] != (size, size, 3):
        raise ValueError(
            f"Policy.act: {what}[{v!r}] has shape {images[v].shape}; this "
            f"policy was trained on {size}x{size} RGB frames"
        )
    batch = {v: x[None] for v, x in images.items()} if single else images
    features = np.asarray(embeddings.embed(self.encoder, batch))
    features = features[0] if single else features
    self._last_embedded[what] = (
        {v: x.copy() for v, x in images.items()},
        features,
    )
    return features

  # ------------------------------------------------------------- acting
  def reset(self, batch_size: int | None = None) -> None:
    """Forgets the past (recurrent state, current plan) of every env."""
    self._batch = batch_size
    self._state = None

  def act(self, obs: dict, goal: dict) -> np.ndarray:
    obs, goal = self.observed(obs, "obs"), self.observed(goal, "goal")
    for what, d in (("obs", obs), ("goal", goal)):
      for key in ("state", "target"):
        if key in d and not np.all(np.isfinite(d[key])):
          raise ValueError(
              f"Policy.act: {what}[{key!r}] has non-finite "
              f"values: {np.asarray(d[key]).tolist()}"
          )
    single = np.ndim(obs["state"]) == 1
    o = np.atleast_2d(self.normalization.normalize_observation(obs))
    g = self.normalization.normalize_goal(
        np.atleast_2d(np.asarray(goal["state"], np.float32))
    )
    if self._state is None or self._batch != o.shape[0]:
      self._batch = o.shape[0]
      self._state = self._method.initial_state(self._model, o.shape[0])
    action, self._state, self._rng = self._step(
        self._params, jnp.asarray(o), jnp.asarray(g), self._rng, self._state
    )
    action = self.normalization.unnormalize_action(np.asarray(action))
    action = np.clip(action, -1.0, 1.0)
    return action[0] if single else action

  # --------------------------------------------------------- save / load
  def save(self, path: str) -> None:
    """Writes the policy to `path` (replacing one there) all or nothing."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    config = self._model.config
    description = {
        "format": FORMAT,
        "method": self.method_name,
        "model_config": dataclasses.asdict(config),
        "obs_dim": int(self.normalization.state_mean.shape[-1]),
        "action_dim": int(self.normalization.action_center.shape[-1]),
    }
    if self.encoder is not None:
      description["image_sizes"] = self.image_sizes
      description["proprio"] = PROPRIO_LAYOUT if self.proprio else False
    if (
        os.path.isdir(path)
        and os.listdir(path)
        and not os.path.exists(os.path.join(path, "policy.json"))
    ):
      raise ValueError(
          f"{path} exists and is not a saved policy: not replacing it"
      )
    name = os.path.basename(path)
    staging = os.path.join(parent, f".{name}.saving")
    lead = jax.process_index() == 0  # Several hosts share one directory.
    if lead and os.path.exists(staging):  # What a killed save left behind.
      shutil.rmtree(staging)
    _sync("policy_save_start")
    try:
      with ocp.StandardCheckpointer() as checkpointer:  # Every host writes.
        checkpointer.save(
            os.path.join(staging, "params"), nnx.state(self._model, nnx.Param)
        )
      if lead:
        if self.encoder is not None:
          pretrained.save(self.encoder, os.path.join(staging, "encoder"))
        with open(os.path.join(staging, "policy.json"), "w") as f:
          json.dump(description, f, indent=1)
        with open(os.path.join(staging, "normalization.json"), "w") as f:
          json.dump(_normalization_to_json(self.normalization), f)
        manifest.write(staging)
        manifest.replace_directory(staging, path)
    except BaseException:
      if lead and os.path.exists(staging):
        shutil.rmtree(staging, ignore_errors=True)
      raise
    _sync("policy_save_end")

  @classmethod
  def load(
      cls, path: str, *, seed: int = 0, greedy: bool | None = None
  ) -> Policy:
    path = os.path.abspath(path)
    description_file = os.path.join(path, "policy.json")
    if not os.path.exists(description_file):
      raise FileNotFoundError(
          f"{description_file} does not exist: {path} is "
          "not a saved playlearn policy"
      )
    if manifest.exists(path):
      manifest.verify(path)  # Raises CorruptArtifactError naming the file.
    else:  # Saved before manifests existed.
      logging.warning(
          "%s has no %s: its files cannot be checked", path, manifest.MANIFEST
      )
    description = _read_json(description_file)
    if description.get("format") != FORMAT:
      raise ValueError(
          f"{description_file}: format "
          f"{description.get('format')!r}, expected {FORMAT!r}"
      )
    method = models.get(description["method"])
    config = configure.replace_fields(
        method.Config(), description["model_config"], description_file
    )
    model = method.Model(
        config,
        description["obs_dim"],
        description["action_dim"],
        rngs=nnx.Rngs(0),
    )
    abstract = nnx.state(model, nnx.Param)
    with ocp.StandardCheckpointer() as checkpointer:
      params = checkpointer.restore(os.path.join(path, "params"), abstract)
    nnx.update(model, params)
    normalization = _normalization_from_json(
        _read_json(os.path.join(path, "normalization.json"))
    )
    image_sizes = description.get("image_sizes")
    encoder = (
        pretrained.load(os.path.join(path, "encoder")) if image_sizes else None
    )
    return cls(
        description["method"],
        model,
        normalization,
        seed=seed,
        greedy=greedy,
        encoder=encoder,
        image_sizes=image_sizes,
        proprio=_proprio(description, description_file),
    )


def _proprio(description: dict, description_file: str) -> bool:
  """Whether a saved pixel policy reads the robot's state (its layout checked)."""
  proprio = description.get("proprio", False)
  if proprio not in (False, PROPRIO_LAYOUT):
    raise ValueError(
        f"{description_file}: proprio={proprio!r}, a row layout this code "
        f"does not read (it reads {PROPRIO_LAYOUT!r}: the robot's state "
        "before the embeddings); retrain the policy"
    )
  return proprio == PROPRIO_LAYOUT


def _sync(name: str) -> None:
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


def _read_json(path: str) -> dict:
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise ValueError(
        f"{path} is not valid JSON ({e}): the policy is truncated or corrupt"
    ) from None
