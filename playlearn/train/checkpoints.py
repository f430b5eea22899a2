"""Orbax checkpoints of the train state and of the data iterator.

A checkpoint step directory holds `state` (the nnx state pytree, through
`StandardSave`) and `data` (the Grain iterator state, JSON), so that a resumed
run sees exactly the batches an uninterrupted one would. Saves are async;
`CheckpointManager.wait_until_finished` is called before the process exits.
"""
from __future__ import annotations

import os
import signal

import orbax.checkpoint as ocp


def manager(workdir: str, keep: int, save_every: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(
      max_to_keep=keep, save_interval_steps=save_every, enable_async_checkpointing=True,
      create=True)
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), "checkpoints"), options=options,
      item_names=("state", "data"))


def save(mgr: ocp.CheckpointManager, step: int, state, data_state: dict,
         force: bool = False) -> bool:
  return mgr.save(step, args=ocp.args.Composite(
      state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state)),
                  force=force)


def restore_latest(mgr: ocp.CheckpointManager, abstract_state):
  """(step, state, data_state) of the newest checkpoint, or None."""
  step = mgr.latest_step()
  if step is None:
    return None
  restored = mgr.restore(step, args=ocp.args.Composite(
      state=ocp.args.StandardRestore(abstract_state),
      data=ocp.args.JsonRestore()))
  return step, restored["state"], restored["data"]


class StopRequest:
  """Set by SIGTERM: the train loop saves a checkpoint and stops."""

  def __init__(self):
    self.requested = False
    self._previous = None

  def __enter__(self):
    self._previous = signal.signal(signal.SIGTERM, self._handle)
    return self

  def _handle(self, signum, frame):
    del signum, frame
    self.requested = True

  def __exit__(self, *exc):
    signal.signal(signal.SIGTERM, self._previous)
