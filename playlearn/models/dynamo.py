"""DynaMo: in-domain dynamics pretraining of an image encoder (Cui et al. 2024).

Self-supervised, from play frames alone (no actions, no augmentations, no
negatives). For each camera v and a window of T frames:

  e_t   = encoder_v(frame_t)                              embeddings [T, E]
  z_t   = inverse(e_1..e_t)            a causal transformer, a small latent
                                       transition [T, Z] (a bottleneck)
  ê_t+1 = forward([e_t, z_t+1] for steps up to t)         causal, [T-1, E]
  loss  = 1 - cos(ê_t+1, stop_gradient(e_t+1))  (mean over valid pairs and
          cameras)  +  covariance * mean of squared off-diagonal entries of
          the embeddings' covariance matrix

z_t+1 sees frame t+1, so only the bottleneck keeps the forward model from
copying the target: the encoder must make the next frame predictable from a
small transition. The target is the online encoder under stop-gradient (the
SimSiam form of the paper; its EMA-target variant is not implemented here).
The covariance term (0.04 in the paper) spreads the embedding's variance over
its dimensions; `loss` reports the embeddings' per-dimension spread
(`embedding_std`) so that a collapse shows in the training curves.

A method in the trainer's sense: `Model`, `loss(model, batch, rng, step)`.
`embed` gives the frozen features a policy trains on. Batches:
{'images': {camera: uint8 [B, T, H, W, 3]}, 'mask': [B, T]}.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from playlearn.models import encoders
from playlearn.models import layers


@dataclasses.dataclass(frozen=True)
class Config:
  encoder: str = "resnet18"  # One of encoders.ENCODERS.
  # ResNet-18's base width (embeddings of 8 x width: 512 at 64); the conv
  # net's channels are (width, 2 width, 2 width), its features 8 x width too.
  encoder_width: int = 64
  encoder_head: str = "keypoints"  # The conv net's (encoders.HEADS).
  encoder_cells: int = 6  # The grid's cells a side (grid head, pixels).
  views: tuple[str, ...] = ("rgb_static", "rgb_gripper")
  window: int = 6  # Frames per training sequence.
  transition: int = 16  # Size of the latent transition z.
  width: int = 128  # Of the inverse and forward dynamics transformers.
  layers: int = 4
  heads: int = 4
  covariance: float = 0.04  # Weight of the covariance regulariser.

  def __post_init__(self):
    encoders.check_config(
        self.encoder,
        self.views,
        "DynaMo",
        self.encoder_head,
        self.encoder_cells,
    )
    if self.window < 2:
      raise ValueError(
          f"window must be >= 2 (a frame and its successor), got "
          f"{self.window}"
      )

  @classmethod
  def tiny(cls):
    return cls(
        encoder="conv",
        encoder_width=4,
        window=3,
        transition=4,
        width=16,
        layers=1,
        heads=2,
    )


# What a training batch must hold (`experiments.pretrain` passes only these).
BATCH_KEYS = ("images", "mask")


def make_encoder(config, *, rngs: nnx.Rngs) -> nnx.Module:
  """The per-camera encoder of `config` (a DynaMo or ACT-JEPA Config):
  features of 8 x encoder_width (the pixels encoder: 3 x encoder_cells^2)."""
  width = config.encoder_width
  if config.encoder == "pixels":
    return encoders.PixelGrid(config.encoder_cells)
  if config.encoder == "resnet18":
    return encoders.ResNet18(width, rngs=rngs)
  return encoders.ConvEncoder(
      8 * width,
      (width, 2 * width, 2 * width),
      head=config.encoder_head,
      cells=config.encoder_cells,
      rngs=rngs,
  )


def make_encoders(config, *, rngs: nnx.Rngs) -> nnx.Dict:
  """One encoder (`make_encoder`) for each camera of `config.views`."""
  return nnx.Dict({v: make_encoder(config, rngs=rngs) for v in config.views})


class Model(nnx.Module):
  """Per-camera encoders and shared inverse and forward dynamics."""

  def __init__(self, config: Config, *, rngs: nnx.Rngs):
    self.config = config
    self.encoders = make_encoders(config, rngs=rngs)
    self.features = self.encoders[config.views[0]].features
    size = dict(
        width=config.width,
        layers=config.layers,
        heads=config.heads,
        max_len=config.window,
        rngs=rngs,
    )
    self.inverse = layers.CausalTransformer(
        self.features, config.transition, **size
    )
    self.forward = layers.CausalTransformer(
        self.features + config.transition, self.features, **size
    )

  def embeddings(self, images: dict[str, jax.Array]) -> jax.Array:
    """{camera: uint8 [..., H, W, 3]} -> [..., V, E] (cameras in config order)."""
    missing = [v for v in self.config.views if v not in images]
    if missing:
      raise KeyError(
          f"The encoder reads {list(self.config.views)}; no images for "
          f"{missing} (given {sorted(images)})."
      )
    return jnp.stack(
        [self.encoders[v](images[v]) for v in self.config.views], axis=-2
    )


def embed(model: Model, images: dict[str, jax.Array]) -> jax.Array:
  """Features for a policy: the cameras' embeddings concatenated, [..., V*E]."""
  e = model.embeddings(images)
  return e.reshape(e.shape[:-2] + (-1,))


def off_diagonal_covariance(x: jax.Array, mask: jax.Array) -> jax.Array:
  """Mean squared off-diagonal covariance of rows x [N, E] where mask [N]."""
  w = mask.astype(x.dtype)[:, None]
  count = jnp.maximum(w.sum(), 2.0)
  centred = (x - (w * x).sum(0) / count) * w
  cov = centred.T @ centred / (count - 1)
  e = x.shape[-1]
  off = cov * (1.0 - jnp.eye(e, dtype=x.dtype))
  return jnp.sum(off**2) / (e * (e - 1))


def loss(model: Model, batch: dict, rng: jax.Array, step: jax.Array):
  """The DynaMo objective on a batch of frame windows; (loss, metrics)."""
  del rng, step  # Deterministic: no dropout, no augmentation.
  mask = batch["mask"].astype(bool)  # [B, T]
  e = model.embeddings(batch["images"])  # [B, T, V, E]
  b, t, v, _ = e.shape
  pair = mask[:, 1:] & mask[:, :-1]  # [B, T-1]
  dynamics = []
  for i in range(v):
    seq = e[:, :, i]
    z = model.inverse(seq, mask)  # [B, T, Z]
    predicted = model.forward(
        jnp.concatenate([seq[:, :-1], z[:, 1:]], -1), mask[:, :-1]
    )
    target = jax.lax.stop_gradient(seq[:, 1:])
    cos = cosine(predicted, target)
    dynamics.append(
        jnp.sum(jnp.where(pair, 1.0 - cos, 0.0)) / jnp.maximum(pair.sum(), 1)
    )
  dynamics = jnp.mean(jnp.stack(dynamics))
  flat = e.reshape(b * t * v, -1)
  flat_mask = jnp.repeat(mask.reshape(-1), v)
  covariance = off_diagonal_covariance(flat, flat_mask)
  normed = flat / (jnp.linalg.norm(flat, axis=-1, keepdims=True) + 1e-6)
  w = flat_mask[:, None].astype(flat.dtype)
  mean = (w * normed).sum(0) / jnp.maximum(w.sum(), 1.0)
  spread = jnp.sqrt((w * (normed - mean) ** 2).sum(0) / jnp.maximum(w.sum(), 1))
  total = dynamics + model.config.covariance * covariance
  return total, {
      "loss": total,
      "dynamics": dynamics,
      "covariance": covariance,
      # Per-dimension std of the unit-normalised embeddings: about
      # 1/sqrt(E) when spread evenly, 0 when collapsed to one point.
      "embedding_std": spread.mean(),
  }


def cosine(a: jax.Array, b: jax.Array) -> jax.Array:
  """Cosine similarity along the last axis (0 where either is zero)."""
  dot = jnp.sum(a * b, -1)
  norms = jnp.linalg.norm(a, axis=-1) * jnp.linalg.norm(b, axis=-1)
  return dot / jnp.maximum(norms, 1e-8)
