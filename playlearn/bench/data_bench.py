"""Throughput of the play-window pipeline (playlearn.data.pipeline).

Figures for one dataset directory, batch B, windows of kappa_min..kappa_max:

* `store_build_s`: reading and normalising every train episode once.
* `cut_batches_per_s`: `WindowStore.batch` alone (the numpy gather), no Grain.
* `threads_<n>`: `make_iterator(num_threads=n)` in this process (0: no
  prefetch thread), batches/s and windows/s after a warm-up.
* `workers_<n>`: `make_iterator(worker_count=n)`: Grain's mp_prefetch, n
  worker processes; start-up (first batch) timed apart. Needs absl flags
  parsed (Grain reads its own flags in the workers): run under `app.run`.
* `grain_elementwise`: for comparison, the textbook Grain graph
  `range(W).shuffle(seed).map(window).batch(B)`, which shuffles, cuts and
  stacks window by window in Python.

The consumer to compare with: a default GCBC train step at B=256 runs at about
1.3 steps/s on a 2-core CPU (`scripts/bench_train.py`) and at hundreds of
steps/s on an accelerator, so the pipeline should give hundreds of batches/s.
"""

from __future__ import annotations

import time

import grain
import numpy as np

from playlearn.data import pipeline
from playlearn.data import windows


def _rate(iterator, num_batches: int) -> float:
  """Batches/s over `num_batches` after one warm-up batch."""
  next(iterator)
  tic = time.perf_counter()
  for _ in range(num_batches):
    next(iterator)
  return num_batches / (time.perf_counter() - tic)


def _figure(batches_per_s: float, batch_size: int) -> dict:
  return {
      "batches_per_s": batches_per_s,
      "windows_per_s": batches_per_s * batch_size,
  }


def measure(
    dataset_dir: str,
    batch_size: int = 256,
    kappa_min: int = 16,
    kappa_max: int = 32,
    num_batches: int = 300,
    threads: tuple[int, ...] = (0, 1, 2),
    workers: tuple[int, ...] = (1, 2),
) -> dict:
  """The figures of the module docstring, as a flat-ish dict."""
  config = windows.WindowConfig(kappa_min, kappa_max)
  tic = time.perf_counter()
  store = windows.WindowStore.from_dataset(dataset_dir, "train", config)
  results: dict = {
      "dataset_dir": str(dataset_dir),
      "batch_size": batch_size,
      "kappa": [kappa_min, kappa_max],
      "num_windows": store.num_windows,
      "num_steps": int(store.episode_offsets[-1]),
      "store_build_s": time.perf_counter() - tic,
      "store_mb": (store.states.nbytes + store.actions.nbytes) / 2**20,
  }

  rng = np.random.default_rng(0)
  ids = [
      rng.integers(0, store.num_windows, batch_size) for _ in range(num_batches)
  ]
  tic = time.perf_counter()
  for i, batch_ids in enumerate(ids):
    store.batch(batch_ids, seed=0, epoch=i)
  results["cut"] = _figure(
      num_batches / (time.perf_counter() - tic), batch_size
  )

  for n in threads:
    it = pipeline.make_iterator(
        store, batch_size=batch_size, seed=0, num_threads=n
    )
    results[f"threads_{n}"] = _figure(_rate(it, num_batches), batch_size)

  for n in workers:
    tic = time.perf_counter()
    it = pipeline.make_iterator(
        store, batch_size=batch_size, seed=0, worker_count=n
    )
    next(it)
    startup = time.perf_counter() - tic
    results[f"workers_{n}"] = {
        **_figure(_rate(it, num_batches), batch_size),
        "startup_s": startup,
    }
    del it

  def window(index, window_id):
    one = store.batch(
        np.array([window_id]), seed=0, epoch=index // store.num_windows
    )
    return {k: v[0] for k, v in one.items()}

  ds = (
      grain.MapDataset.range(store.num_windows)
      .shuffle(seed=0)
      .map_with_index(window)
      .batch(batch_size, drop_remainder=True)
      .repeat()
  )
  it = iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=0)))
  results["grain_elementwise"] = _figure(
      _rate(it, max(num_batches // 10, 10)), batch_size
  )
  return results
