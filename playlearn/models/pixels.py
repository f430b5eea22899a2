"""Pixel policies that train their encoder: end to end or fine-tuned.

With `config.train_encoder` the trainer does not embed the play once with a
frozen encoder (`embeddings.py`); it wraps the method's model and the
encoder in one `EncodedPolicy`, and every step embeds the batch's camera
images (`frames.ImageWindows`) and takes the method's loss on the
embeddings, so the gradient reaches the encoder. Starting from a pretrained
encoder (DynaMo, ACT-JEPA) this fine-tunes it; starting from an encoder
saved untrained (`scripts/pretrain_encoder.py --steps=0`) it trains the
encoder from scratch, end to end.

  model = pixels.EncodedPolicy(encoder, gcbc.Model(...), normalization)
  method = pixels.Method(gcbc)      # method.loss(model, image_batch, rng, step)
  policy_model, encoder = pixels.parts(model)  # what a saved Policy holds

The embeddings are normalised with the mean and std of the encoder's
embeddings before training (the store's normalisation), kept fixed: the
saved policy embeds the env's images with the trained encoder and
normalises them the same way, so training and acting agree.
"""

from __future__ import annotations

from flax import nnx
import jax
import jax.numpy as jnp

from playlearn.models import dynamo


class Statistic(nnx.Variable):
  """A fixed normalisation statistic: neither trained nor averaged."""


class EncodedPolicy(nnx.Module):
  """A method's model over a trainable encoder (a `pretrained` model)."""

  def __init__(self, encoder: nnx.Module, policy: nnx.Module, normalization):
    self.encoder = encoder
    self.policy = policy
    self.mean = Statistic(jnp.asarray(normalization.state_mean))
    self.std = Statistic(jnp.asarray(normalization.state_std))

  def features(
      self, images: dict[str, jax.Array], proprio: jax.Array | None = None
  ) -> jax.Array:
    """{camera: uint8 [..., H, W, 3]} -> normalised embeddings [..., V*E],
    after the normalised `proprio` [..., P] where given."""
    x = dynamo.embed(self.encoder, images)
    width = x.shape[-1]  # The embeddings are the statistics' last columns.
    x = (x - self.mean[..., -width:]) / self.std[..., -width:]
    if proprio is None:
      return x
    return jnp.concatenate([proprio, x], axis=-1)


class Method:
  """`method` (a module of `playlearn.models`) with its loss taken on image
  batches: the images are embedded by the model's encoder first."""

  def __init__(self, method):
    self.method = method

  def loss(self, model: EncodedPolicy, batch: dict, rng, step):
    batch = dict(batch)
    obs = model.features(
        batch.pop("obs_images"), batch.pop("obs_proprio", None)
    )
    batch["obs"] = obs * batch["mask"][..., None]  # Zeros at padding.
    batch["goal"] = model.features(
        batch.pop("goal_images"), batch.pop("goal_proprio", None)
    )
    return self.method.loss(model.policy, batch, rng, step)


def parts(model: nnx.Module, encoder: nnx.Module | None = None):
  """(policy model, encoder) of `model`: an `EncodedPolicy`'s own two, else
  `model` and the frozen `encoder` given (None for state policies)."""
  if isinstance(model, EncodedPolicy):
    return model.policy, model.encoder
  return model, encoder
