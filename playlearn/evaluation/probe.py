"""Linear probes: how much of the true state frozen image features hold.

A ridge regression from features to the simulator state, fitted on one set of
frames and scored on another, reports R^2 (1 - residual / variance, summed
over a field's dimensions) per field of `playtable.STATE_LAYOUT` and per
group: the tool's pose, the fixtures, the blocks' positions. Block
orientations are left out: their Euler angles wrap at +-pi, so a linear probe
would score the wrap, not the encoder.

  r2 = probe.linear_probe(train_features, train_state, test_features, test_state)
"""

from __future__ import annotations

import numpy as np

from playlearn.envs import playtable

_BLOCK_POSITIONS = np.concatenate(
    [np.arange(24 + 6 * k, 27 + 6 * k) for k in range(3)]
)


def fields() -> dict[str, np.ndarray]:
  """Field name -> state indices, for each probed field and group."""
  layout = {
      name: np.arange(s.start, s.stop)
      for name, s in playtable.STATE_LAYOUT.items()
      if name not in ("blocks", "arm_qpos")
  }
  layout["block positions"] = _BLOCK_POSITIONS
  for k, axis in enumerate("xyz"):  # x is the axis the pushes move along.
    layout[f"block {axis}"] = _BLOCK_POSITIONS[k::3]
  groups = {
      "tool pose": ("tcp_pos", "tcp_euler", "gripper_width"),
      "fixtures": ("drawer", "door", "buttons", "switch", "lights", "lamp"),
  }
  for group, names in groups.items():
    layout[group] = np.concatenate([layout[n] for n in names])
  return layout


RIDGES = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
# A field that varies this little in the held-out frames (against the fitting
# frames) gets no R^2: its denominator would be noise (a button pressed in
# one held-out frame scores -14).
MIN_VARIANCE_RATIO = 0.05


def _design(x, mean, std):
  return np.concatenate([(x - mean) / std, np.ones((len(x), 1))], 1)


def _fit(a, y, ridge):
  penalty = ridge * len(a) * np.eye(a.shape[1])
  penalty[-1, -1] = 0.0  # The bias is not shrunk.
  return np.linalg.solve(a.T @ a + penalty, a.T @ y)


def _r2(predicted, y, baseline):
  total = ((y - baseline) ** 2).sum()
  return float(1.0 - ((predicted - y) ** 2).sum() / total) if total else 0.0


def linear_probe(
    train_x: np.ndarray,
    train_state: np.ndarray,
    test_x: np.ndarray,
    test_state: np.ndarray,
    ridges=RIDGES,
    folds: int = 5,
) -> dict[str, float | None]:
  """Held-out R^2 per field of a ridge regression features -> state.

  The ridge penalty (on standardised features) is chosen from `ridges` for
  each state dimension by `folds`-fold cross-validation on the fitting
  frames; a field that hardly
  varies in the held-out frames (below MIN_VARIANCE_RATIO of its variance in
  the fitting frames) gets None.

  Args:
    train_x, test_x: features [N, F] (any float).
    train_state, test_state: states [N, STATE_DIM].
  """
  train_x, test_x = (np.asarray(a, np.float64) for a in (train_x, test_x))
  train_state = np.asarray(train_state, np.float64)
  test_state = np.asarray(test_state, np.float64)
  if train_x.ndim != 2 or len(train_x) != len(train_state):
    raise ValueError(
        f"Probe features must be [N, F] with one row per state; got "
        f"{train_x.shape} for {len(train_state)} states."
    )
  mean, std = train_x.mean(0), train_x.std(0) + 1e-8
  a, b = _design(train_x, mean, std), _design(test_x, mean, std)
  # The penalty is chosen per state dimension, by cross-validated error.
  fold = np.arange(len(a)) % folds
  errors = np.zeros((len(ridges), train_state.shape[1]))
  for i, ridge in enumerate(ridges):
    for k in range(folds):
      w = _fit(a[fold != k], train_state[fold != k], ridge)
      errors[i] += ((a[fold == k] @ w - train_state[fold == k]) ** 2).sum(0)
  best = errors.argmin(0)
  predicted = np.zeros_like(test_state)
  for i, ridge in enumerate(ridges):
    if (best == i).any():
      predicted[:, best == i] = (b @ _fit(a, train_state, ridge))[:, best == i]
  out = {}
  for name, index in fields().items():
    varies = test_state[:, index].var(0).sum() >= (
        MIN_VARIANCE_RATIO * train_state[:, index].var(0).sum()
    )
    out[name] = (
        _r2(
            predicted[:, index],
            test_state[:, index],
            train_state.mean(0)[index],
        )
        if varies
        else None
    )
  return out
