"""Batches cut and put on the devices ahead of the step, on a thread.

  batches = prefetch.Prefetcher(data_iter, put=lambda b: shard(b, mesh))
  batch = next(batches)   # already on the devices
  state = batches.state   # the data iterator's state after this batch
  batches.close()

The train loop then spends no time of its own on the data: while the step
computes, the thread takes the next batch from the Grain iterator (whose own
read thread cuts it) and copies it to the devices (the host-to-device copy
that a GPU otherwise waits for). It yields exactly the iterator's batches, in
its order; the thread runs `size` batches ahead, so the iterator's own
`get_state` is ahead of the loop: checkpoint `batches.state` instead, the
state right after the last batch handed out, and a resumed run sees the
batches an uninterrupted one would. An error of the iterator (a corrupt
file, say) is raised by the `next` that would have returned its batch.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterator

from playlearn.data import pipeline

_POLL_S = 0.1  # How often a blocked thread looks whether it was closed.


class Prefetcher:
  """An iterator over `put(batch)` of `iterator`'s batches, `size` ahead."""

  def __init__(
      self,
      iterator: Iterator[dict],
      put: Callable[[dict], Any] = lambda batch: batch,
      size: int = 2,
  ):
    if size < 1:
      raise ValueError(f"prefetch size must be >= 1, got {size}")
    self._iterator, self._put = iterator, put
    self._queue: queue.Queue = queue.Queue(maxsize=size)
    self._closed = threading.Event()
    self.state = pipeline.get_state(iterator)
    self._thread = threading.Thread(
        target=self._fill, name="playlearn-prefetch", daemon=True
    )
    self._thread.start()

  def _fill(self) -> None:
    while not self._closed.is_set():
      try:
        batch = next(self._iterator)
        item = (self._put(batch), pipeline.get_state(self._iterator), None)
      except BaseException as error:  # Handed to the consumer, raised there.
        item = (None, None, error)
      while not self._closed.is_set():
        try:
          self._queue.put(item, timeout=_POLL_S)
          break
        except queue.Full:
          continue
      if item[2] is not None:
        return

  def __iter__(self):
    return self

  def __next__(self):
    if self._closed.is_set():
      raise RuntimeError("next() on a closed Prefetcher")
    batch, state, error = self._queue.get()
    if error is not None:
      self.close()
      raise error
    self.state = state
    return batch

  def close(self) -> None:
    """Stops the thread (at most one batch later); idempotent."""
    self._closed.set()
    self._thread.join()

  def __enter__(self):
    return self

  def __exit__(self, *exc_info):
    self.close()
