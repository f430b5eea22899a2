"""Observations as a frozen encoder's embeddings: pixel play at state speed.

A policy over a frozen pretrained encoder (`config.encoder`, issue 12) never
changes the encoder, so every frame of the play data is embedded once and
the policy trains on the embeddings as it would on states: the same
`WindowStore`, trainer and methods, with `observation/state` replaced by the
cameras' embeddings concatenated ([T, V*E], cameras in the encoder's order)
and goals drawn from the same rows (a goal image's embedding). The saved
policy carries the encoder and embeds the env's camera images itself
(`Policy.act`), so it acts from pixels.

  split = embeddings.embed_split("out/dynamo/encoder", dataset_dir, "train",
                                 cache_dir=workdir)
  norm = embeddings.normalization(split.episodes, windows.load_normalization(...))
  store = windows.WindowStore(split.episodes, norm, window_config)
  split.image_sizes  # {camera: S} of the square frames, for the acting env

With `proprio=True` (`config.data.proprio`) each row is the robot's own
state (`features.proprio`: tool pose, gripper, joints; 14 values) followed
by the embeddings, as the Play-LMP and CALVIN pixel policies see
proprioception beside their images. The robot's columns come first, as in
every state layout (`features.robot_columns`), so goals 'scene' hide them.

Embeddings are cached as `.npz` (no pickle) under `cache_dir`, named by a
hash of the encoder's manifest, the dataset directory and the split, so a
resumed or repeated run does not embed again and a different encoder never
reads another's cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from typing import Callable, NamedTuple

from flax import nnx
import jax.numpy as jnp
import numpy as np

from playlearn import manifest
from playlearn.data import features
from playlearn.data import frames
from playlearn.data import rlds
from playlearn.data import windows
from playlearn.models import dynamo
from playlearn.models import pretrained

embed = nnx.jit(dynamo.embed)  # One compiled call per image batch shape.
_ACTION_KEYS = tuple(rlds.ACTION_FIELDS.values())


def embed_frames(
    encoder: nnx.Module, images: dict[str, np.ndarray], batch: int = 256
) -> np.ndarray:
  """{camera: uint8 [T, H, W, 3]} -> float32 [T, V*E], `batch` at a time."""
  views = encoder.config.views
  n = len(images[views[0]])
  out = []
  for start in range(0, n, batch):
    chunk = {v: jnp.asarray(images[v][start : start + batch]) for v in views}
    out.append(np.asarray(embed(encoder, chunk), np.float32))
  return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


def cache_name(encoder_path: str, dataset_dir: str, split: str) -> str:
  """embeddings_<split>_<hash>.npz: the hash covers the encoder's files, the
  dataset's path and its dataset_info.json (a rebuild changes it)."""
  key = hashlib.sha256()
  with open(os.path.join(encoder_path, manifest.MANIFEST), "rb") as f:
    key.update(f.read())
  info = os.path.join(dataset_dir, "dataset_info.json")
  if os.path.exists(info):
    with open(info, "rb") as f:
      key.update(f.read())
  key.update(os.path.abspath(os.fspath(dataset_dir)).encode())
  key.update(split.encode())
  return f"embeddings_{split}_{key.hexdigest()[:16]}.npz"


class Split(NamedTuple):
  episodes: list[dict]  # As WindowStore reads them (see `embed_split`).
  image_sizes: dict[str, int]  # {camera: S} of the S x S frames embedded.
  # {camera: uint8 [N, S, S, 3]}, every frame in row order: only where
  # `embed_split(keep_images=True)` decoded them (None from the cache).
  images: dict[str, np.ndarray] | None = None


def _from_arrays(arrays: dict) -> Split:
  offsets = arrays["offsets"]
  episodes = []
  for i in range(len(offsets) - 1):
    rows = slice(offsets[i], offsets[i + 1])
    steps = {"observation": {"state": arrays["state"][rows]}}
    if "proprio" in arrays:  # Caches written before proprio lack it.
      steps["observation"]["proprio"] = arrays["proprio"][rows]
    for key in _ACTION_KEYS:
      if key in arrays:
        steps[key] = arrays[key][rows]
    episodes.append({"steps": steps})
  sizes = {
      k[len("size/") :]: int(v)
      for k, v in arrays.items()
      if k.startswith("size/")
  }
  return Split(episodes, sizes)


def _save(path: str, split: Split) -> None:
  episodes = split.episodes
  lengths = [len(e["steps"]["observation"]["state"]) for e in episodes]
  arrays = {
      "offsets": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
      "state": np.concatenate(
          [e["steps"]["observation"]["state"] for e in episodes]
      ),
  }
  arrays["proprio"] = np.concatenate(
      [e["steps"]["observation"]["proprio"] for e in episodes]
  )
  for key in _ACTION_KEYS:
    if all(key in e["steps"] for e in episodes):
      arrays[key] = np.concatenate([e["steps"][key] for e in episodes])
  for view, size in split.image_sizes.items():
    arrays[f"size/{view}"] = np.asarray(size, np.int64)
  staging = path + ".writing.npz"
  np.savez(staging, **arrays)
  os.replace(staging, path)  # A killed run leaves no half-written cache.


def embed_split(
    encoder_path: str,
    dataset_dir: str,
    split: str,
    *,
    cache_dir: str | None = None,
    progress: Callable[[str], None] | None = print,
    encoder: nnx.Module | None = None,
    proprio: bool = False,
    keep_images: bool = False,
) -> Split:
  """The episodes of `split` with `observation/state` the encoder's embeddings.

  Each episode is {'steps': {'observation': {'state': float32[T, V*E],
  'proprio': float32[T, 14]}, 'action': ..., 'action_label': ...}}, what
  `WindowStore` reads; with `proprio` the state is [T, 14 + V*E], the
  robot's own state and the embeddings. `encoder`: the model saved at
  `encoder_path`, if the caller has it loaded. With `keep_images` a split
  that had to be embedded keeps the frames it decoded (`Split.images`), for
  a caller that needs them next (a policy training its encoder), so that
  they are not decoded twice; a cached split has none.
  """
  cache, result = None, None
  if cache_dir is not None:
    cache = os.path.join(
        cache_dir, cache_name(encoder_path, dataset_dir, split)
    )
    if os.path.exists(cache):
      with np.load(cache, allow_pickle=False) as arrays:
        result = _from_arrays(dict(arrays))
      if (
          proprio
          and "proprio" not in result.episodes[0]["steps"]["observation"]
      ):
        result = None  # A cache from before proprio: embedded again.
  if result is None:
    result = _embed(
        encoder_path, dataset_dir, split, encoder, progress, keep_images
    )
    if cache is not None:
      os.makedirs(cache_dir, exist_ok=True)
      _save(cache, result)
  return with_proprio(result) if proprio else result


def frames_of(
    split: Split, dataset_dir: str, name: str, views: tuple[str, ...]
) -> dict[str, np.ndarray]:
  """The frames of `split` (the split `name` of `dataset_dir`) in row order:
  those it kept when embedded (`keep_images`), else read from the dataset."""
  if split.images is not None:
    return split.images
  return frames.read_images(dataset_dir, name, views)


def with_proprio(split: Split) -> Split:
  """`split` with each step's proprio before its embeddings."""
  episodes = []
  for e in split.episodes:
    obs = e["steps"]["observation"]
    state = np.concatenate([obs["proprio"], obs["state"]], axis=-1)
    steps = dict(e["steps"], observation=dict(obs, state=state))
    episodes.append({"steps": steps})
  return Split(episodes, split.image_sizes, split.images)


def _embed(
    encoder_path, dataset_dir, split, encoder, progress, keep_images=False
) -> Split:
  """The encoder's embeddings of `split` and its proprio, every episode
  (and the frames, with `keep_images`)."""
  from playlearn.data import reading  # pylint: disable=g-import-not-at-top

  encoder = encoder or pretrained.load(encoder_path)
  source = reading.EpisodeSource(dataset_dir, split)
  episodes, sizes, count, tic = [], {}, 0, time.perf_counter()
  kept = {v: [] for v in encoder.config.views}  # Filled with keep_images.
  for i in range(len(source)):
    steps = source[i]["steps"]
    frames.check_views(
        encoder.config.views,
        steps["observation"],
        f"{dataset_dir} ({split}, episode {i})",
    )
    images = {v: steps["observation"][v] for v in encoder.config.views}
    sizes = {v: int(images[v].shape[1]) for v in images}
    if keep_images:
      for v in images:
        kept[v].append(np.asarray(images[v], np.uint8))
    embedded = {
        "observation": {
            "state": embed_frames(encoder, images),
            "proprio": features.proprio(steps["observation"]["state"]),
        }
    }
    for key in _ACTION_KEYS:
      if key in steps:
        embedded[key] = np.asarray(steps[key], np.float32)
    episodes.append({"steps": embedded})
    count += len(embedded["observation"]["state"])
    if progress is not None:
      rate = count * len(images) / (time.perf_counter() - tic)
      progress(
          f"embedded {split} episode {i + 1}/{len(source)}: {count} steps, "
          f"{rate:.0f} images/s"
      )
  images = {v: np.concatenate(kept[v]) for v in kept} if keep_images else None
  return Split(episodes, sizes, images)


def normalization(
    episodes: list[dict],
    base: windows.Normalization,
    std_floor: float = windows.STD_FLOOR,
) -> windows.Normalization:
  """`base`'s action map and the embeddings' own mean and (floored) std."""
  x = np.concatenate(
      [e["steps"]["observation"]["state"] for e in episodes]
  ).astype(np.float64)
  return dataclasses.replace(
      base,
      state_mean=x.mean(0).astype(np.float32),
      state_std=np.maximum(x.std(0), std_floor).astype(np.float32),
      features="raw",
  )
