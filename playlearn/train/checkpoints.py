"""Orbax checkpoints of the train state and of the data iterator.

A checkpoint step directory holds `state` (the nnx state pytree, through
`StandardSave`) and `data` (the Grain iterator state, JSON), so that a resumed
run sees exactly the batches an uninterrupted one would. Saves are async;
`seal` waits for them and writes each finished step's MANIFEST.json (content
hashes, `playlearn.manifest`), at the next save and before the process
exits. `restore_latest` verifies a step before using it: a corrupt one is
moved to `checkpoints_corrupt/` (kept, not deleted) and the previous step is
tried instead. `initialise_from` starts a new run from a saved policy's
weights (`config.init_policy`).
"""

from __future__ import annotations

import os
import shutil
import signal

from absl import logging
from flax import nnx
import jax
import numpy as np
import orbax.checkpoint as ocp

from playlearn import manifest
from playlearn import policy as policy_lib


def manager(workdir: str, keep: int, save_every: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(
      max_to_keep=keep,
      save_interval_steps=save_every,
      enable_async_checkpointing=True,
      create=True,
  )
  return ocp.CheckpointManager(
      os.path.join(os.path.abspath(workdir), "checkpoints"),
      options=options,
      item_names=("state", "data"),
  )


def step_dir(mgr: ocp.CheckpointManager, step: int) -> str:
  return os.path.join(os.fspath(mgr.directory), str(step))


def save(
    mgr: ocp.CheckpointManager,
    step: int,
    state,
    data_state: dict,
    force: bool = False,
) -> bool:
  seal(mgr)  # The previous save is long finished: this rarely waits.
  return mgr.save(
      step,
      args=ocp.args.Composite(
          state=ocp.args.StandardSave(state), data=ocp.args.JsonSave(data_state)
      ),
      force=force,
  )


def seal(mgr: ocp.CheckpointManager) -> None:
  """Waits for pending saves; writes a manifest into every step without one."""
  mgr.wait_until_finished()
  if jax.process_index():
    return  # Hosts share the directory: the first one writes.
  for step in mgr.all_steps():
    directory = step_dir(mgr, step)
    if os.path.isdir(directory) and not manifest.exists(directory):
      manifest.write(directory)


def _quarantine(mgr: ocp.CheckpointManager, step: int) -> str:
  """Moves a bad step aside (nothing is deleted); returns where it went."""
  root = os.path.join(
      os.path.dirname(os.fspath(mgr.directory)), "checkpoints_corrupt"
  )
  os.makedirs(root, exist_ok=True)
  target = os.path.join(root, str(step))
  suffix = 0
  while os.path.exists(target):
    suffix += 1
    target = os.path.join(root, f"{step}.{suffix}")
  shutil.move(step_dir(mgr, step), target)
  mgr.reload()
  return target


def _restore(mgr, step: int, abstract_state, legacy):
  """The step's {'state', 'data'}; with `legacy` = (abstract, convert), a
  step that does not fit `abstract_state` is read in that older layout and
  converted. The error of the current layout is the one raised."""

  def read(abstract):
    return mgr.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract),
            data=ocp.args.JsonRestore(),
        ),
    )

  try:
    return read(abstract_state)
  except ValueError as error:
    if legacy is None:
      raise
    old_abstract, convert = legacy
    try:
      restored = read(old_abstract)
    except ValueError:
      raise error from None
    logging.info("checkpoint at step %d: read in the older layout", step)
    return {"state": convert(restored["state"]), "data": restored["data"]}


def restore_latest(mgr: ocp.CheckpointManager, abstract_state, legacy=None):
  """(step, state, data_state) of the newest good checkpoint, or None.

  A step whose files differ from its manifest is quarantined with a message
  and the next older one is tried. A step with no manifest (the process died
  between its save and the next seal) is used with a warning, or
  quarantined too if Orbax cannot read it. `legacy`: (abstract state,
  convert) of the layout older versions wrote (`trainer.legacy_layout`).
  """
  quarantined = []
  for step in sorted(mgr.all_steps(), reverse=True):
    directory = step_dir(mgr, step)
    sealed = manifest.exists(directory)
    try:
      if sealed:
        manifest.verify(directory)
      else:
        logging.warning(
            "checkpoint %s has no manifest: it cannot be checked", directory
        )
      restored = _restore(mgr, step, abstract_state, legacy)
    except Exception as e:  # pylint: disable=broad-except
      # A verified step that Orbax cannot read is a bug (or another config),
      # not rot: that error is the user's to see.
      if sealed and not isinstance(e, manifest.CorruptArtifactError):
        raise
      where = _quarantine(mgr, step) if not jax.process_index() else "-"
      quarantined.append(where)
      print(
          f"checkpoint at step {step} is unusable ({e}); moved to "
          f"{where}; trying the previous one",
          flush=True,
      )
      continue
    return step, restored["state"], restored["data"]
  if quarantined:  # Never restart from step 0 without being told to.
    raise RuntimeError(
        f"no usable checkpoint in {mgr.directory}: every step was set aside "
        f"({', '.join(quarantined)}). Use a new --workdir to start again."
    )
  return None


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


def _param_shapes(module: nnx.Module) -> dict[str, tuple]:
  leaves = jax.tree_util.tree_flatten_with_path(nnx.state(module, nnx.Param))[0]
  return {jax.tree_util.keystr(k): tuple(v.shape) for k, v in leaves}


def initialise_from(
    config, model: nnx.Module, normalization, encoder=None
) -> None:
  """Starts `model` from the weights of the saved policy `config.init_policy`.

  The policy must be of `config.method` with the same network, trained on
  data normalised as this run's (its dataset and features; a pixel policy:
  its encoder, which must be `config.encoder`'s weights). Raises ValueError
  naming what differs.
  """
  path = config.init_policy
  where = f"config.init_policy={path!r}"
  saved = policy_lib.Policy.load(path)
  if saved.method_name != config.method:
    raise ValueError(
        f"{where} is a {saved.method_name} policy; this run trains "
        f"{config.method}"
    )
  ours, theirs = _param_shapes(model), _param_shapes(saved.model)
  if ours != theirs:
    differ = sorted(set(ours.items()) ^ set(theirs.items()))[:3]
    raise ValueError(
        f"{where}: its network differs from config.model's (first "
        f"differences, name and shape: {differ})"
    )
  for field in ("state_mean", "state_std"):
    a, b = getattr(saved.normalization, field), getattr(normalization, field)
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-5):
      raise ValueError(
          f"{where} was trained on data normalised otherwise ({field} "
          "differs: another dataset, features or encoder); train on its data"
          + (f", with config.encoder={path}/encoder" if saved.encoder else "")
      )
  if saved.encoder is not None:
    same = jax.tree.map(
        np.array_equal,
        nnx.state(saved.encoder, nnx.Param),
        nnx.state(encoder, nnx.Param),
    )
    if not all(jax.tree.leaves(same)):
      raise ValueError(
          f"{where} acts with another encoder than config.encoder="
          f"{config.encoder!r}; use config.encoder={path}/encoder"
      )
  nnx.update(model, nnx.state(saved.model, nnx.Param))
