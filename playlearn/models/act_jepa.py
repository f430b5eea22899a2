"""ACT-JEPA: action chunks and the future predicted in latent space.

One model, two objectives trained jointly (Vujinovic & Kovacevic 2025):
from the current frames o_t of every camera and a goal frame g,

  c       = context encoders(o_t)              fused embedding [V*E]
  goal    = context encoders(g)                [V*E]
  targets = target encoders(o_t+1 .. o_t+H)    [H, V*E], stop-gradient; the
            target encoders are an exponential moving average of the
            context encoders (`after_step`), never trained by gradient
  a predictor (a transformer over [c, goal, H action queries, H latent
  queries], each query seeing the context and the queries before it) gives
  â_t .. â_t+H-1 and ê_t+1 .. ê_t+H, and

  loss = mean |â - a| (ACT's L1 on the action chunk)
         + latent_weight * mean (1 - cos(ê, targets))

over the valid steps (a window cut at an episode's end is masked). The loss
lives in latent space, never in pixels. The action chunk anchors the
embeddings (a constant embedding cannot predict the actions), and the EMA
target makes the latent term a moving one; `loss` reports
`embedding_std`, the per-dimension spread of the unit-normalised context
embeddings, so a collapse shows in the training curves.

A pretraining objective in `experiments.pretrain` (batches from
`data.frames.FrameWindows` with actions and goals); `embeddings` gives the
frozen features a policy trains on (`config.encoder`), as DynaMo's do; and a
policy itself, `Actor`: the action chunks it predicts, temporally ensembled
as ACT acts.
Batches: {'images': {camera: uint8 [B, H+1, S, S, 3]}, 'goal_images':
{camera: uint8 [B, S, S, 3]}, 'actions': [B, H+1, A] (the last unused),
'mask': [B, H+1]}.
"""

from __future__ import annotations

import collections
import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx
import numpy as np

from playlearn.data import frames
from playlearn.models import dynamo
from playlearn.models import encoders
from playlearn.models import layers


@dataclasses.dataclass(frozen=True)
class Config:
  encoder: str = "conv"  # One of encoders.ENCODERS.
  encoder_width: int = 16  # Embeddings of 8 x width per camera.
  encoder_head: str = "keypoints"  # The conv net's (encoders.HEADS).
  encoder_cells: int = 6  # The grid's cells a side (grid head, pixels).
  views: tuple[str, ...] = ("rgb_static", "rgb_gripper")
  chunk: int = 10  # H: actions predicted, and future frames embedded.
  action_dim: int = 7
  width: int = 128  # Of the predictor.
  layers: int = 4
  heads: int = 4
  latent_weight: float = 1.0
  ema: float = 0.99  # Decay of the target encoders' moving average.

  def __post_init__(self):
    encoders.check_config(
        self.encoder,
        self.views,
        "ACT-JEPA",
        self.encoder_head,
        self.encoder_cells,
    )
    if self.chunk < 1:
      raise ValueError(f"chunk must be >= 1, got {self.chunk}")
    if not 0.0 <= self.ema < 1.0:
      raise ValueError(f"ema must be in [0, 1), got {self.ema}")

  @property
  def window(self) -> int:
    """Frames per training example: the current one and H future ones."""
    return self.chunk + 1

  @classmethod
  def tiny(cls):
    return cls(encoder_width=4, chunk=3, width=16, layers=1, heads=2)


# What a training batch must hold (`experiments.pretrain` passes only these):
# FrameWindows cut with a goal_horizon from a dataset with actions.
BATCH_KEYS = ("images", "goal_images", "actions", "mask")


class Target(nnx.Variable):
  """The target encoders' weights: moved by `after_step`, not by AdamW."""


class Model(nnx.Module):
  """Context encoders (one per camera), their EMA target, the predictor."""

  embeddings = (
      dynamo.Model.embeddings
  )  # {camera: [..., S, S, 3]} -> [..., V, E]

  def __init__(self, config: Config, *, rngs: nnx.Rngs):
    self.config = config
    self.encoders = dynamo.make_encoders(config, rngs=rngs)
    self.features = self.encoders[config.views[0]].features
    fused = len(config.views) * self.features
    self.target = Target(nnx.to_pure_dict(nnx.state(self.encoders, nnx.Param)))
    h = config.chunk
    self.queries = nnx.Param(
        0.02 * jax.random.normal(rngs.params(), (2 * h, config.width))
    )
    self.context = nnx.Linear(fused, config.width, rngs=rngs)
    self.goal = nnx.Linear(fused, config.width, rngs=rngs)
    self.predictor = layers.CausalTransformer(
        config.width,
        config.width,
        width=config.width,
        layers=config.layers,
        heads=config.heads,
        max_len=2 + 2 * h,
        rngs=rngs,
    )
    self.action_head = nnx.Linear(config.width, config.action_dim, rngs=rngs)
    self.latent_head = nnx.Linear(config.width, fused, rngs=rngs)

  def fused(self, images: dict[str, jax.Array]) -> jax.Array:
    e = self.embeddings(images)
    return e.reshape(e.shape[:-2] + (-1,))

  def target_embeddings(self, images: dict[str, jax.Array]) -> jax.Array:
    """The target encoders' fused embeddings, [..., V*E], stop-gradient."""
    state = nnx.state(self.encoders, nnx.Param)
    nnx.replace_by_pure_dict(state, self.target.get_value())
    target = nnx.merge(nnx.graphdef(self.encoders), state)
    e = jnp.stack([target[v](images[v]) for v in self.config.views], axis=-2)
    return jax.lax.stop_gradient(e.reshape(e.shape[:-2] + (-1,)))

  def __call__(self, images: dict[str, jax.Array], goal_images):
    """Current frames {camera: [B, S, S, 3]} and goal frames ->
    (actions [B, H, A], predicted future embeddings [B, H, V*E])."""
    c = self.context(self.fused(images))[:, None]
    g = self.goal(self.fused(goal_images))[:, None]
    q = jnp.broadcast_to(self.queries[...], (c.shape[0],) + self.queries.shape)
    out = self.predictor(jnp.concatenate([c, g, q], axis=1))[:, 2:]
    h = self.config.chunk
    return self.action_head(out[:, :h]), self.latent_head(out[:, h:])


def after_step(model: Model) -> None:
  """Run after each optimizer step: target <- ema * target + (1 - ema) *
  context encoders."""
  online = nnx.to_pure_dict(nnx.state(model.encoders, nnx.Param))
  decay = model.config.ema
  model.target.set_value(
      jax.tree.map(
          lambda t, o: decay * t + (1.0 - decay) * o,
          model.target.get_value(),
          online,
      )
  )


def loss(model: Model, batch: dict, rng: jax.Array, step: jax.Array):
  """The joint objective on a batch of frame windows; (loss, metrics)."""
  del rng, step  # Deterministic: no dropout, no augmentation.
  h = model.config.chunk
  mask = batch["mask"].astype(jnp.float32)  # [B, H+1]
  now = {v: x[:, 0] for v, x in batch["images"].items()}
  future = {v: x[:, 1:] for v, x in batch["images"].items()}
  actions, predicted = model(now, batch["goal_images"])
  # Action k of the chunk is taken from frame k, so it counts while frame k
  # lies in the episode; future frame k (1..H) counts while it does.
  act_mask = mask[:, :h]
  error = jnp.abs(actions - batch["actions"][:, :h]).mean(-1)
  action_loss = (error * act_mask).sum() / jnp.maximum(act_mask.sum(), 1.0)
  targets = model.target_embeddings(future)  # [B, H, V*E]
  cos = dynamo.cosine(predicted, targets)
  future_mask = mask[:, 1:]
  latent = ((1.0 - cos) * future_mask).sum() / jnp.maximum(
      future_mask.sum(), 1.0
  )
  total = action_loss + model.config.latent_weight * latent
  context = model.fused(now)
  normed = context / (jnp.linalg.norm(context, axis=-1, keepdims=True) + 1e-6)
  return total, {
      "loss": total,
      "action": action_loss,
      "latent": latent,
      # Per-dimension std of the unit-normalised context embeddings: about
      # 1/sqrt(V*E) when spread evenly, 0 when collapsed to one point.
      "embedding_std": normed.std(0).mean(),
  }


_predict = nnx.jit(lambda model, now, goal: model(now, goal)[0])


class Actor:
  """ACT-JEPA acting from the cameras: `reset()`, `act(obs, goal)`.

  `obs` and `goal` hold uint8 images {camera: [S, S, 3]} of `image_sizes`
  (`evaluation.env_for` makes an env that renders them). Every step predicts
  a chunk of H actions; the action taken at step t is ACT's temporal
  ensemble of every chunk that covers t, the chunk predicted i steps ago
  weighted exp(-m i) (m = `ensemble`; oldest first as in ACT, so m > 0
  favours the older predictions). Actions are the dataset's own (in [-1,
  1], action_norm 'none'), clipped.
  """

  def __init__(
      self, model: Model, image_sizes: dict[str, int], ensemble: float = 0.01
  ):
    self.model, self.image_sizes, self.ensemble = model, image_sizes, ensemble
    self.reset()

  def reset(self) -> None:
    self._chunks = collections.deque(maxlen=self.model.config.chunk)

  def act(self, obs: dict, goal: dict) -> np.ndarray:
    views = self.model.config.views
    for what, d in (("obs", obs), ("goal", goal)):
      frames.check_views(views, d, f"act_jepa.Actor: {what}")
    now = {v: jnp.asarray(obs[v])[None] for v in views}
    target = {v: jnp.asarray(goal[v])[None] for v in views}
    self._chunks.appendleft(np.asarray(_predict(self.model, now, target))[0])
    # Chunk j, predicted j steps ago, holds this step's action at index j.
    actions = np.stack([c[j] for j, c in enumerate(self._chunks)])
    from_oldest = len(actions) - 1 - np.arange(len(actions))
    weights = np.exp(-self.ensemble * from_oldest)
    action = (weights[:, None] * actions).sum(0) / weights.sum()
    return np.clip(action, -1.0, 1.0).astype(np.float32)
