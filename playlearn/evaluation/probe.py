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
  groups = {
      "tool pose": ("tcp_pos", "tcp_euler", "gripper_width"),
      "fixtures": ("drawer", "door", "buttons", "switch", "lights", "lamp"),
  }
  for group, names in groups.items():
    layout[group] = np.concatenate([layout[n] for n in names])
  return layout


def linear_probe(
    train_x: np.ndarray,
    train_state: np.ndarray,
    test_x: np.ndarray,
    test_state: np.ndarray,
    ridge: float = 1e-3,
) -> dict[str, float]:
  """Held-out R^2 per field of a ridge regression features -> state.

  Args:
    train_x, test_x: features [N, F] (any float).
    train_state, test_state: states [N, STATE_DIM].
    ridge: L2 penalty on the standardised features' weights.
  """
  train_x, test_x = (np.asarray(a, np.float64) for a in (train_x, test_x))
  if train_x.ndim != 2 or len(train_x) != len(train_state):
    raise ValueError(
        f"Probe features must be [N, F] with one row per state; got "
        f"{train_x.shape} for {len(train_state)} states."
    )
  mean, std = train_x.mean(0), train_x.std(0) + 1e-8
  a = np.concatenate([(train_x - mean) / std, np.ones((len(train_x), 1))], 1)
  b = np.concatenate([(test_x - mean) / std, np.ones((len(test_x), 1))], 1)
  penalty = ridge * len(a) * np.eye(a.shape[1])
  penalty[-1, -1] = 0.0  # The bias is not shrunk.
  weights = np.linalg.solve(a.T @ a + penalty, a.T @ train_state)
  residual = (b @ weights - test_state) ** 2
  spread = (test_state - train_state.mean(0)) ** 2
  out = {}
  for name, index in fields().items():
    total = spread[:, index].sum()
    out[name] = float(1.0 - residual[:, index].sum() / total) if total else 0.0
  return out
