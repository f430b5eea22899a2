"""Metrics to TensorBoard, to `metrics.jsonl`, and a console progress line.

`metrics.jsonl` holds one JSON object per line, {'step': int, name: float}.
A run killed while writing leaves a half-written last line: the reader
(`playlearn.evaluation.report.read_jsonl`) skips it and `Writer` cuts it off
before appending, so that a resumed run's first row does not land on it.
"""

from __future__ import annotations

import json
import os
import time


def _end_last_line(path: str) -> None:
  """Makes `path` end with a newline, dropping a half-written last row."""
  if not os.path.exists(path) or not os.path.getsize(path):
    return
  with open(path, "rb+") as f:
    f.seek(-1, os.SEEK_END)
    if f.read(1) == b"\n":
      return
    f.seek(0)
    data = f.read()
    start = data.rfind(b"\n") + 1
    try:
      complete = isinstance(json.loads(data[start:]), dict)
    except ValueError:
      complete = False
    if complete:  # Only the newline was lost.
      f.write(b"\n")
    else:
      f.truncate(start)
      print(
          f"{path}: removed a half-written last line ({len(data) - start} "
          "bytes) left by a killed run",
          flush=True,
      )


class Writer:
  """TensorBoard scalars under `workdir/tensorboard` plus console progress.

  `active=False` (hosts other than the first in a multi-host run) writes and
  prints nothing, so the hosts do not write over each other.
  """

  def __init__(
      self, workdir: str, total_steps: int, start_step: int, active: bool = True
  ):
    self._active = active
    if active:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top

      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
      path = os.path.join(workdir, "metrics.jsonl")
      _end_last_line(path)
      self._jsonl = open(path, "a")
    self._total = total_steps
    self._last_step, self._last_time = start_step, time.perf_counter()

  def scalars(self, step: int, metrics: dict) -> None:
    if not self._active:
      return
    for name, value in metrics.items():
      self._tb.add_scalar(name, float(value), step)
    self._tb.flush()
    self._jsonl.write(
        json.dumps({"step": step, **{k: float(v) for k, v in metrics.items()}})
        + "\n"
    )
    self._jsonl.flush()

  def progress(self, step: int, metrics: dict) -> float:
    """Logs `step/total`, steps/s and ETA with the metrics; returns steps/s."""
    now = time.perf_counter()
    rate = (step - self._last_step) / max(now - self._last_time, 1e-9)
    self._last_step, self._last_time = step, now
    eta = (self._total - step) / max(rate, 1e-9)
    shown = " ".join(f"{k}={float(v):.4g}" for k, v in sorted(metrics.items()))
    line = (
        f"[{step}/{self._total}] {rate:.1f} steps/s "
        f"eta {int(eta // 60)}m{int(eta % 60):02d}s {shown}"
    )
    if self._active:
      print(line, flush=True)
    return rate

  def close(self) -> None:
    if not self._active:
      return
    self._tb.close()
    self._jsonl.close()
