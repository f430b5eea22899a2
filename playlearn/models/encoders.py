"""Image encoders for pixel policies: a small conv net, ResNet-18, multi-view.

Every encoder maps uint8 images [..., H, W, 3] (any leading dims, e.g. a
batch of windows [B, T]) to features [..., D]; pixels are scaled to [-1, 1]
inside, so the data pipeline hands over the camera's bytes.

* `ConvEncoder`: the vision net of Play-LMP-sized pixel policies, a few
  strided 3x3 convolutions, then a head and a linear layer. Cheap enough
  for this 2-core CPU. Its heads:
  - 'keypoints': a spatial softmax (the expected image position of each
    feature map, Levine et al. 2016). Where things are, but little of what
    state they are in: a light switched on moves no keypoint far.
  - 'grid': each feature map averaged over a `cells` x `cells` grid and
    flattened (where and how strongly each feature fires). It keeps the
    state of the scene's small parts: the lights, buttons and door that
    linear probes cannot read from the keypoints (docs/results.md).
* `ResNet18`: the encoder DynaMo pretrains (He et al. 2016: a 7x7 stem, four
  stages of two basic blocks, global average pooling; 512-D at width 64).
  GroupNorm instead of BatchNorm, so that the encoder is a pure function of
  its weights (no running statistics to carry through jit, scan or EMA
  targets); `width` scales every stage for small runs.
* `PixelGrid`: no weights: the camera's pixels averaged over a `cells` x
  `cells` grid (3 colours a cell). The reference a learned encoder must
  beat: a linear read of it finds more of the blocks and fixtures than
  DynaMo's embeddings do, though policies on it do no better (README,
  sixteenth session). Saved like a pretrained encoder with no training
  (`pretrain_encoder.py --encoder=pixels --steps=0`).
* `MultiView`: one encoder per camera, their features concatenated and
  projected to `features`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


def check_config(
    encoder: str,
    views: tuple[str, ...],
    who: str,
    head: str = "keypoints",
    cells: int = 6,
) -> None:
  """Raises ValueError for an unknown `encoder` or `head` name, a head on an
  encoder without one, grid `cells` below 1, or no camera (`who`: the
  objective, for the message)."""
  if encoder not in ENCODERS:
    raise ValueError(f"Unknown encoder {encoder!r}; valid: {sorted(ENCODERS)}")
  _check_head(head, cells)
  if encoder == "pixels" and head != "keypoints":
    raise ValueError(
        f"encoder_head {head!r} is the conv encoder's; the pixels encoder "
        "has no head: set its grid with encoder_cells."
    )
  if encoder not in ("conv", "pixels") and head != "keypoints":
    raise ValueError(
        f"encoder_head {head!r} is the conv encoder's; {encoder} pools "
        "globally (leave encoder_head 'keypoints')."
    )
  if not views:
    raise ValueError(f"{who} needs at least one camera in `views`.")


def _check_head(head: str, cells: int) -> None:
  """The conv encoder's head settings (its own and its configs' check)."""
  if head not in HEADS:
    raise ValueError(f"Unknown encoder_head {head!r}; valid: {list(HEADS)}")
  if cells < 1:
    raise ValueError(f"encoder_cells must be >= 1, got {cells}")


def _as_float(images: jax.Array) -> jax.Array:
  """uint8 [0, 255] -> float32 [-1, 1]."""
  return images.astype(jnp.float32) / 127.5 - 1.0


def _flat(images: jax.Array) -> tuple[jax.Array, tuple[int, ...]]:
  """[..., H, W, C] -> ([N, H, W, C], leading shape)."""
  if images.ndim < 3:
    raise ValueError(
        f"Images must be [..., H, W, C], got shape {images.shape}."
    )
  lead = images.shape[:-3]
  return images.reshape((-1,) + images.shape[-3:]), lead


def spatial_softmax(maps: jax.Array) -> jax.Array:
  """[N, H, W, C] feature maps -> [N, 2C]: each map's expected (x, y) in [-1, 1]."""
  n, h, w, c = maps.shape
  weights = jax.nn.softmax(maps.reshape(n, h * w, c), axis=1)
  ys, xs = jnp.meshgrid(
      jnp.linspace(-1.0, 1.0, h), jnp.linspace(-1.0, 1.0, w), indexing="ij"
  )
  grid = jnp.stack([xs.reshape(-1), ys.reshape(-1)], axis=-1)  # [HW, 2]
  keypoints = jnp.einsum("npc,pd->ncd", weights, grid)  # [N, C, 2]
  return keypoints.reshape(n, 2 * c)


def _bins(size: int, cells: int) -> list[tuple[int, int]]:
  """`cells` [start, stop) ranges splitting range(size) as evenly as
  integers allow, none empty (a size below `cells` repeats positions)."""
  starts = [min(i * size // cells, size - 1) for i in range(cells)]
  return [
      (a, max((i + 1) * size // cells, a + 1)) for i, a in enumerate(starts)
  ]


def grid_pool(maps: jax.Array, cells: int) -> jax.Array:
  """[N, H, W, C] -> [N, cells * cells * C]: each map's mean over a grid
  of `cells` x `cells` (any map size, `_bins`)."""
  n, h, w, c = maps.shape
  pooled = [
      maps[:, r0:r1, c0:c1].mean(axis=(1, 2))
      for r0, r1 in _bins(h, cells)
      for c0, c1 in _bins(w, cells)
  ]
  return jnp.stack(pooled, axis=1).reshape(n, cells * cells * c)


HEADS = ("keypoints", "grid")


class ConvEncoder(nnx.Module):
  """Strided convolutions, a head ('keypoints' or 'grid') and a linear layer."""

  def __init__(
      self,
      features: int = 64,
      channels: tuple[int, ...] = (32, 64, 64),
      *,
      head: str = "keypoints",
      cells: int = 6,
      rngs: nnx.Rngs,
  ):
    _check_head(head, cells)
    sizes = (3,) + tuple(channels)
    self.convs = nnx.List(
        [
            nnx.Conv(a, b, (3, 3), strides=2, padding="SAME", rngs=rngs)
            for a, b in zip(sizes[:-1], sizes[1:])
        ]
    )
    self.head, self.cells = head, cells
    pooled = 2 if head == "keypoints" else cells * cells
    self.out = nnx.Linear(pooled * channels[-1], features, rngs=rngs)
    self.features = features

  def __call__(self, images: jax.Array) -> jax.Array:
    x, lead = _flat(images)
    x = _as_float(x)
    for conv in self.convs:
      x = jax.nn.relu(conv(x))
    if self.head == "keypoints":
      x = spatial_softmax(x)
    else:
      x = grid_pool(x, self.cells)
    return self.out(x).reshape(lead + (self.features,))


def _norm(channels: int, rngs: nnx.Rngs) -> nnx.GroupNorm:
  # 32 groups as in Wu & He (2018); at least 2 channels a group, since a
  # group of one channel on a 1x1 map normalises to 0 and passes no gradient.
  groups = min(32, max(1, channels // 2))
  return nnx.GroupNorm(channels, num_groups=groups, rngs=rngs)


class _BasicBlock(nnx.Module):
  """Two 3x3 convolutions with a residual; a 1x1 projection on a stride."""

  def __init__(self, cin: int, cout: int, stride: int, *, rngs: nnx.Rngs):
    conv = lambda a, b, k, s: nnx.Conv(
        a, b, (k, k), strides=s, padding="SAME", use_bias=False, rngs=rngs
    )
    self.conv1, self.norm1 = conv(cin, cout, 3, stride), _norm(cout, rngs)
    self.conv2, self.norm2 = conv(cout, cout, 3, 1), _norm(cout, rngs)
    self.project = nnx.data(None)  # A module on a stride, None otherwise.
    if stride != 1 or cin != cout:
      self.project = nnx.data(conv(cin, cout, 1, stride))
      self.project_norm = _norm(cout, rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    y = jax.nn.relu(self.norm1(self.conv1(x)))
    y = self.norm2(self.conv2(y))
    if self.project is not None:
      x = self.project_norm(self.project(x))
    return jax.nn.relu(x + y)


class ResNet18(nnx.Module):
  """ResNet-18 without its classifier: [..., H, W, 3] -> [..., 8 * width]."""

  def __init__(self, width: int = 64, *, rngs: nnx.Rngs):
    self.stem = nnx.Conv(
        3, width, (7, 7), strides=2, padding="SAME", use_bias=False, rngs=rngs
    )
    self.stem_norm = _norm(width, rngs)
    blocks, cin = [], width
    for stage in range(4):
      cout = width * 2**stage
      for i in range(2):
        stride = 2 if stage > 0 and i == 0 else 1
        blocks.append(_BasicBlock(cin, cout, stride, rngs=rngs))
        cin = cout
    self.blocks = nnx.List(blocks)
    self.features = cin

  def __call__(self, images: jax.Array) -> jax.Array:
    x, lead = _flat(images)
    x = jax.nn.relu(self.stem_norm(self.stem(_as_float(x))))
    x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
    for block in self.blocks:
      x = block(x)
    return x.mean(axis=(1, 2)).reshape(lead + (self.features,))


class PixelGrid(nnx.Module):
  """No weights: [..., H, W, 3] -> [..., cells * cells * 3], the pixels
  (scaled to [-1, 1]) averaged over each cell of a `cells` x `cells` grid."""

  def __init__(self, cells: int = 12):
    _check_head("keypoints", cells)
    self.cells = cells
    self.features = cells * cells * 3

  def __call__(self, images: jax.Array) -> jax.Array:
    x, lead = _flat(images)
    return grid_pool(_as_float(x), self.cells).reshape(lead + (self.features,))


ENCODERS = {"conv": ConvEncoder, "resnet18": ResNet18, "pixels": PixelGrid}


class MultiView(nnx.Module):
  """One encoder per camera; features concatenated and projected.

  Usage:
    encoder = MultiView(
        {"rgb_static": ConvEncoder(rngs=rngs),
         "rgb_gripper": ConvEncoder(rngs=rngs)}, features=128, rngs=rngs)
    z = encoder({"rgb_static": s, "rgb_gripper": g})  # [..., 128]
  """

  def __init__(
      self, encoders: dict[str, nnx.Module], features: int, *, rngs: nnx.Rngs
  ):
    if not encoders:
      raise ValueError("MultiView needs at least one camera's encoder.")
    self.views = tuple(sorted(encoders))
    self.encoders = nnx.Dict(encoders)
    total = sum(e.features for e in encoders.values())
    self.out = nnx.Linear(total, features, rngs=rngs)
    self.features = features

  def __call__(self, images: dict[str, jax.Array]) -> jax.Array:
    missing = [v for v in self.views if v not in images]
    if missing:
      raise KeyError(
          f"MultiView has no images for {missing}; it was given "
          f"{sorted(images)} and encodes {list(self.views)}."
      )
    parts = [self.encoders[v](images[v]) for v in self.views]
    return self.out(jnp.concatenate(parts, axis=-1))
