"""The trainer's prefetching thread: same batches, exact state, errors raised."""

import numpy as np
import pytest

from playlearn.train import prefetch


class Counter:
  """A Grain-like iterator: batch i holds i; its state is the next index."""

  def __init__(self, stop=None, fail_at=None):
    self.next_index, self.stop, self.fail_at = 0, stop, fail_at

  def __iter__(self):
    return self

  def __next__(self):
    if self.next_index == self.fail_at:
      raise ValueError(f"corrupt record at batch {self.fail_at}")
    if self.next_index == self.stop:
      raise StopIteration
    self.next_index += 1
    return {"x": np.full((2,), self.next_index - 1)}

  def get_state(self):
    return {"next_index": self.next_index}


def test_yields_the_iterators_batches_in_order_with_the_state_after_each():
  with prefetch.Prefetcher(Counter(), put=lambda b: b["x"] * 10, size=3) as it:
    assert it.state == {"next_index": 0}
    for i in range(20):
      np.testing.assert_array_equal(next(it), [10 * i, 10 * i])
      # The thread is ahead of the loop; the state is that of the loop.
      assert it.state == {"next_index": i + 1}


def test_an_iterator_error_is_raised_by_the_next_that_reaches_it():
  it = prefetch.Prefetcher(Counter(fail_at=2))
  next(it), next(it)
  with pytest.raises(ValueError, match="corrupt record at batch 2"):
    next(it)
  assert it.state == {"next_index": 2}
  assert not it._thread.is_alive()


def test_a_finite_iterator_ends_the_loop():
  with prefetch.Prefetcher(Counter(stop=5)) as it:
    assert [int(b["x"][0]) for b in it] == [0, 1, 2, 3, 4]


def test_close_stops_the_thread_while_the_queue_is_full():
  it = prefetch.Prefetcher(Counter(), size=1)
  next(it)
  it.close()
  assert not it._thread.is_alive()
  with pytest.raises(RuntimeError, match="closed"):
    next(it)


def test_size_must_be_positive():
  with pytest.raises(ValueError, match="prefetch size must be >= 1, got 0"):
    prefetch.Prefetcher(Counter(), size=0)
