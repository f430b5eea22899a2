"""Grain pipeline of play windows: deterministic for a seed, resumable exactly.

  it = make_iterator(dataset_dir, batch_size=256, seed=0)
  batch = next(it)          # see playlearn.data.windows for the contract
  state = get_state(it)     # a JSON-serialisable dict: save it with the weights
  it = make_iterator(dataset_dir, batch_size=256, seed=0, state=state)

The graph is a `grain.MapDataset` over batch positions:

  range(batches_per_epoch) -> map_with_index(cut batch i) -> repeat()

Batch i of the endless sequence is epoch e = i // batches_per_epoch, and holds
the window ids at positions [j*B, (j+1)*B) (j = i mod batches_per_epoch) of
that epoch's permutation of all window ids, `default_rng([seed, e])`
(computed once per epoch, ~3 ms for the full dataset); the remainder of an
epoch's ids is dropped, and every epoch is reshuffled. The windows are then
cut in one vectorised numpy gather (`WindowStore.batch`); a window's length and
goal are a hash of (seed, e, id). So batch i is a pure function of (seed, i):
a resumed iterator yields exactly the batches an uninterrupted one would, and
the iterator state is just the position, `{'next_index': int}` (JSON).

Why not `MapDataset.range(W).shuffle(seed).map(cut).batch(B)`: it gives the
same kind of sampling, but Grain shuffles and batches element by element in
Python, 8 ms per batch of 256 on one core (~170 batches/s), more than 7 times
the cost of cutting the windows themselves.

Multiprocessing (`worker_count > 0`, Grain's `mp_prefetch`) copies the store
into each worker (it pickles; the workers are spawned, so the main module
needs an `if __name__ == '__main__'` guard, and absl flags must be parsed:
run under `app.run`). It yields the same batches in the same order, and its
iterator state is JSON too, but of another shape (see `get_state`). On a
2-core machine it does not pay: one process cuts ~1,000 batches/s of 256, and
moving 1.6 MB batches between processes caps it at ~200/s (see
playlearn/bench/data_bench.py).
"""

from __future__ import annotations

import base64
import json
import os
import threading
from typing import Any

import grain
import numpy as np

from playlearn.data import windows as windows_lib


def make_dataset(
    store: windows_lib.WindowStore,
    batch_size: int,
    seed: int,
    shard_index: int = 0,
    shard_count: int = 1,
) -> grain.MapDataset:
  """Infinite MapDataset of batches; element i is a function of (seed, i).

  With `shard_count` hosts, each cuts `batch_size` windows: host p's batch i
  is rows [p*batch_size, (p+1)*batch_size) of the global batch i of
  `batch_size * shard_count` windows, so the hosts together see exactly the
  batches one host with the global batch size would.
  """
  if batch_size < 1:
    raise ValueError(f"batch_size must be >= 1, got {batch_size}")
  if not 0 <= shard_index < shard_count:
    raise ValueError(
        f"shard_index must be in [0, {shard_count}), got {shard_index}"
    )
  global_batch = batch_size * shard_count
  if store.num_windows < global_batch:
    raise ValueError(
        f"batch_size ({batch_size} x {shard_count} hosts) exceeds "
        f"the number of windows in the data ({store.num_windows})"
    )
  if not 0 <= seed < 2**32:
    raise ValueError(f"seed must be in [0, 2**32), got {seed}")
  ids_of = _window_ids(store.num_windows, global_batch, seed)
  mine = slice(shard_index * batch_size, (shard_index + 1) * batch_size)

  def cut(index: int, _) -> dict:
    epoch, ids = ids_of(index)
    return store.batch(ids[mine], seed=seed, epoch=epoch)

  batches_per_epoch = store.num_windows // global_batch
  return grain.MapDataset.range(batches_per_epoch).map_with_index(cut).repeat()


def _window_ids(num_windows: int, batch_size: int, seed: int):
  """index -> (epoch, int64[batch_size] window ids) of batch `index`."""
  batches_per_epoch = num_windows // batch_size
  permutations = _EpochPermutations(num_windows, seed)

  def ids_of(index: int) -> tuple[int, np.ndarray]:
    epoch, j = divmod(int(index), batches_per_epoch)
    return epoch, permutations(epoch)[j * batch_size : (j + 1) * batch_size]

  return ids_of


class _EpochPermutations:
  """The window ids of each epoch in shuffled order, the last two cached.

  np.random.default_rng([seed, epoch]).permutation: a pure function of (seed,
  epoch), so threads or processes that compute it again agree.
  """

  def __init__(self, num_windows: int, seed: int):
    self._num_windows, self._seed = num_windows, seed
    self._cache: dict[int, np.ndarray] = {}
    self._lock = threading.Lock()

  def __getstate__(self):  # For Grain's worker processes.
    return {"num_windows": self._num_windows, "seed": self._seed}

  def __setstate__(self, state):
    self.__init__(state["num_windows"], state["seed"])

  def __call__(self, epoch: int) -> np.ndarray:
    with self._lock:
      order = self._cache.get(epoch)
      if order is None:
        order = np.random.default_rng([self._seed, epoch]).permutation(
            self._num_windows
        )
        if len(self._cache) >= 2:
          del self._cache[min(self._cache)]
        self._cache[epoch] = order
      return order


def make_iterator(
    source: str | os.PathLike | windows_lib.WindowStore,
    *,
    batch_size: int = 256,
    seed: int = 0,
    split: str = "train",
    config: windows_lib.WindowConfig = windows_lib.WindowConfig(),
    state: dict | None = None,
    num_threads: int = 1,
    prefetch: int = 4,
    worker_count: int = 0,
    shard_index: int = 0,
    shard_count: int = 1,
) -> grain.DatasetIterator:
  """An endless iterator of window batches.

  Args:
    source: a dataset version directory (its states and train statistics are
      read once; see `WindowStore.from_dataset`) or a ready `WindowStore`
      or `frames.ImageWindows` (then `split` and `config` are the store's).
    batch_size, seed: as in `make_dataset`; seed in [0, 2**32).
    split: which split's episodes (statistics are always the train split's).
    config: window sampling and normalisation.
    state: from `get_state`, to resume exactly where it was taken.
    num_threads, prefetch: Grain read threads and their buffer, in batches
      (1.6 MB each at B=256, T=32: keep it small; Grain's default is 500).
    worker_count: > 0 runs the pipeline in that many processes (mp_prefetch).
    shard_index, shard_count: this host's part of the global batch (see
      `make_dataset`; `jax.process_index()`, `jax.process_count()`).

  Returns:
    A `grain.DatasetIterator`; use `get_state` / `set_state` below.
  """
  store = (
      source
      if hasattr(source, "batch")  # A WindowStore or frames.ImageWindows.
      else windows_lib.WindowStore.from_dataset(source, split, config)
  )
  ds = make_dataset(
      store, batch_size, seed, shard_index, shard_count
  ).to_iter_dataset(
      grain.ReadOptions(num_threads=num_threads, prefetch_buffer_size=prefetch)
  )
  if worker_count > 0:
    ds = ds.mp_prefetch(grain.MultiprocessingOptions(num_workers=worker_count))
  iterator = iter(ds)
  if state is not None:
    set_state(iterator, state)
  return iterator


def get_state(iterator: grain.DatasetIterator) -> dict:
  """The iterator's state as a JSON-serialisable dict.

  Grain 0.2.18 gives `{'next_index': int}` (batches consumed) without worker
  processes; with worker_count = n > 0 a nested dict of ints and lists (one
  position per worker), which only an iterator with the same worker_count
  can take. Should a Grain version return bytes, they are wrapped as
  {'base64': str}. Save it as JSON beside the checkpoint (e.g. orbax
  `args.JsonSave` in a `Composite`).
  """
  state = iterator.get_state()
  if isinstance(state, bytes):
    return {"base64": base64.b64encode(state).decode("ascii")}
  json.dumps(state)  # Fails here, not when the checkpoint is written.
  return state


def set_state(iterator: grain.DatasetIterator, state: dict[str, Any]) -> None:
  """Restores what `get_state` returned (also after a JSON round trip)."""
  if isinstance(state, dict) and set(state) == {"base64"}:
    state = base64.b64decode(state["base64"])
  current = iterator.get_state()
  if (
      isinstance(state, dict)
      and isinstance(current, dict)
      and (set(state) != set(current))
  ):
    raise ValueError(
        f"iterator state has keys {sorted(state)}, this iterator "
        f"{sorted(current)}: it was saved from a pipeline with another "
        "worker_count (restore with the same one)"
    )
  iterator.set_state(state)
