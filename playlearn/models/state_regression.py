"""An image encoder trained to read the simulator's state (privileged labels).

Supervised, not self-supervised: for each frame the cameras' embeddings,
concatenated, go through one linear layer that predicts the true state of
the scene (`targets`), with the mean squared error of each target scaled to
unit spread over the training frames:

  e     = [encoder_v(frame) for each camera v]            [V * E]
  loss  = mean over targets of (W e + b - (s - mean) / std)^2

The state is a simulator's label, which a real robot does not have: an
encoder trained so is a reference (how far a frozen encoder that reads the
state well takes a pixel policy), not a method for a real arm. The policy
on it still acts from the cameras alone (and the robot's own state, with
`data.proprio`).

The targets: the tool's pose and gripper, the fixtures, the blocks'
positions, and the sine and cosine of the blocks' Euler angles (the angles
themselves wrap at +-pi). The arm's joint angles are left out (the tool's
pose determines them). `fit_config` fills the targets' mean and spread from
training frames, into the config, so a saved encoder keeps them.

A pretraining objective in `experiments.pretrain`'s sense (`Config`,
`Model`, `loss`, `BATCH_KEYS`), saved and loaded by `models.pretrained` like
DynaMo's; `dynamo.embed` gives the frozen features a policy trains on.
Batches: {'images': {camera: uint8 [B, T, H, W, 3]}, 'state': [B, T, D],
'mask': [B, T]}.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx
import numpy as np

from playlearn.models import dynamo
from playlearn.models import encoders

# Indices into the state (`envs.playtable.STATE_LAYOUT`, not imported: a model
# loads no simulator; `tests/test_state_regression.py` checks they agree).
_ARM = (7, 14)  # The arm's joint angles, left out.
_BLOCKS = 24  # Three blocks from here: position (3), Euler angles (3) each.
_KEPT = np.concatenate(
    [
        np.arange(0, _ARM[0]),
        np.arange(_ARM[1], _BLOCKS),
        _BLOCKS
        + np.concatenate([np.arange(6 * k, 6 * k + 3) for k in range(3)]),
    ]
)
_ANGLES = _BLOCKS + np.concatenate(
    [np.arange(6 * k + 3, 6 * k + 6) for k in range(3)]
)
STATE_DIM = 42
# The targets in order, by group: the tool (position, angles, gripper), the
# fixtures, the blocks' positions, the sines and cosines of their angles.
_GROUPS = (
    ("tool", 7),
    ("fixtures", 10),
    ("block_positions", 9),
    ("block_angles", 18),
)
NUM_TARGETS = len(_KEPT) + 2 * len(_ANGLES)


def targets(state):
  """state [..., STATE_DIM] -> the regressed targets [..., NUM_TARGETS]."""
  xp = jnp if isinstance(state, jax.Array) else np
  angles = state[..., _ANGLES]
  return xp.concatenate(
      [state[..., _KEPT], xp.sin(angles), xp.cos(angles)], axis=-1
  )


@dataclasses.dataclass(frozen=True)
class Config:
  encoder: str = "conv"  # One of encoders.ENCODERS.
  encoder_width: int = 16  # Embeddings of 8 x width per camera.
  encoder_head: str = "keypoints"  # The conv net's (encoders.HEADS).
  encoder_cells: int = 6  # The grid's cells a side (grid head).
  views: tuple[str, ...] = ("rgb_static", "rgb_gripper")
  # The targets' mean and spread over training frames (`fit_config`); empty
  # until fitted, when the loss scales nothing.
  target_mean: tuple[float, ...] = ()
  target_std: tuple[float, ...] = ()
  std_floor: float = 1e-3  # The smallest spread a target is divided by.

  def __post_init__(self):
    encoders.check_config(
        self.encoder,
        self.views,
        "state regression",
        self.encoder_head,
        self.encoder_cells,
    )
    if self.encoder == "pixels":
      raise ValueError(
          "The pixels encoder has no weights to train on the state: use "
          "encoder 'conv' or 'resnet18'."
      )
    for name in ("target_mean", "target_std"):
      size = len(getattr(self, name))
      if size not in (0, NUM_TARGETS):
        raise ValueError(
            f"{name} holds {size} numbers; the state regression has "
            f"{NUM_TARGETS} targets (or none before fit_config)."
        )
    if self.std_floor <= 0:
      raise ValueError(f"std_floor must be > 0, got {self.std_floor}")

  @property
  def window(self) -> int:
    """Frames per training example: one."""
    return 1

  @classmethod
  def tiny(cls):
    return cls(encoder_width=4, encoder_head="grid", encoder_cells=2)


# What a training batch must hold (`experiments.pretrain` passes only these).
BATCH_KEYS = ("images", "state", "mask")


def fit_config(config: Config, frames) -> Config:
  """`config` with the targets' mean and spread over `frames`' states
  (`data.frames.FrameWindows`), each spread at least `std_floor`."""
  values = targets(np.asarray(frames.state, np.float64))
  return dataclasses.replace(
      config,
      target_mean=tuple(float(v) for v in values.mean(0)),
      target_std=tuple(
          float(v) for v in np.maximum(values.std(0), config.std_floor)
      ),
  )


class Model(nnx.Module):
  """Per-camera encoders and a linear read of the state from all of them."""

  # {camera: uint8 [..., H, W, 3]} -> [..., V, E], as DynaMo's.
  embeddings = dynamo.Model.embeddings

  def __init__(self, config: Config, *, rngs: nnx.Rngs):
    self.config = config
    self.encoders = dynamo.make_encoders(config, rngs=rngs)
    self.features = self.encoders[config.views[0]].features
    self.read = nnx.Linear(
        len(config.views) * self.features, NUM_TARGETS, rngs=rngs
    )

  def __call__(self, images: dict[str, jax.Array]) -> jax.Array:
    """{camera: uint8 [..., H, W, 3]} -> scaled targets [..., NUM_TARGETS]."""
    return self.read(dynamo.embed(self, images))


def loss(model: Model, batch: dict, rng: jax.Array, step: jax.Array):
  """Mean squared error of the scaled targets; (loss, metrics)."""
  del rng, step  # Deterministic: no dropout, no augmentation.
  config = model.config
  mask = batch["mask"].astype(jnp.float32)  # [B, T]
  target = targets(jnp.asarray(batch["state"], jnp.float32))
  if config.target_mean:
    target = (target - jnp.asarray(config.target_mean)) / jnp.asarray(
        config.target_std
    )
  error = (model(batch["images"]) - target) ** 2  # [B, T, NUM_TARGETS]
  count = jnp.maximum(mask.sum(), 1.0)
  mean_over = lambda part: (part.mean(-1) * mask).sum() / count
  total = mean_over(error)
  metrics = {"loss": total}
  start = 0
  for name, size in _GROUPS:  # Each group's scaled error, for the curves.
    metrics[name] = mean_over(error[..., start : start + size])
    start += size
  return total, metrics
