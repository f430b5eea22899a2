"""Wall-time figures of a call: the median and spread that every benchmark
and acting sweep reports (a leaf module, so evaluation and bench share it)."""

import time

import numpy as np


def spread_ms(times) -> dict:
  """Durations in seconds -> median, p10 and p90 in ms, and their count."""
  ms = 1e3 * np.asarray(times)
  return {
      "calls": int(ms.size),
      "median_ms": float(np.median(ms)),
      "p10_ms": float(np.percentile(ms, 10)),
      "p90_ms": float(np.percentile(ms, 90)),
  }


def time_calls(fn, calls: int, warmup: int = 3) -> dict:
  """Wall time of fn() (which must block until its result is ready).

  Returns first_call_s (compile included), `spread_ms` over `calls` calls
  after `warmup` more, and compile_s = first call - median.
  """
  tic = time.perf_counter()
  fn()
  first = time.perf_counter() - tic
  for _ in range(warmup):
    fn()
  times = np.empty(calls)
  for i in range(calls):
    tic = time.perf_counter()
    fn()
    times[i] = time.perf_counter() - tic
  figures = spread_ms(times)
  return {
      **figures,
      "first_call_s": first,
      "compile_s": max(first - figures["median_ms"] / 1e3, 0.0),
  }
