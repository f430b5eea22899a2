"""Floors for the task suite: a random policy and nearest-neighbour replay.

A success rate means little without them: they show how much of the suite
is solved by chance (`RandomPolicy`) and by looking the goal up in the play
data and replaying what was done there (`NearestNeighbourReplay`), with no
learning at all. Both follow the suite's `Policy` protocol (`reset`,
`act(obs, goal)`), so they run on the same episodes as learned policies.
"""

from __future__ import annotations

import numpy as np

from playlearn.data import windows as windows_lib


class RandomPolicy:
  """Uniform random motion in [-1, 1] on every action dimension."""

  def __init__(self, action_dim: int = 7, seed: int = 0):
    self.action_dim = action_dim
    self.seed = seed
    self._rng = np.random.default_rng(seed)

  def reset(self) -> None:
    pass

  def act(self, obs: dict, goal: dict) -> np.ndarray:
    del obs, goal
    return self._rng.uniform(-1.0, 1.0, self.action_dim).astype(np.float32)


class NearestNeighbourReplay:
  """Replays the play segment that best joins the observation to the goal.

  From the current state s and goal g (both normalised with the play data's
  statistics), it picks the play step k and horizon h (one of `horizons`)
  minimising |s_k - s| + |s_{k+h} - g| (Euclidean), replays the recorded
  actions a_k..a_{k+h-1} open loop, then looks up again from where it is.
  Actions are the steps' labels (the oracle's commands).
  """

  def __init__(
      self,
      store: windows_lib.WindowStore,
      horizons: tuple[int, ...] = (16, 32, 64, 96),
      max_rows: int = 60_000,
      seed: int = 0,
  ):
    self.store = store
    self.horizons = tuple(horizons)
    rng = np.random.default_rng(seed)
    starts, ends = [], []
    offsets = store.episode_offsets
    for e in range(len(offsets) - 1):
      acting = offsets[e + 1] - offsets[e] - 1
      for h in self.horizons:
        k = np.arange(offsets[e], offsets[e] + acting - h + 1)
        starts.append(k)
        ends.append(k + h)
    starts, ends = np.concatenate(starts), np.concatenate(ends)
    if len(starts) > max_rows:  # Bounded memory and lookup time.
      keep = np.sort(rng.choice(len(starts), max_rows, replace=False))
      starts, ends = starts[keep], ends[keep]
    self._starts, self._ends = starts, ends
    self._from = store.states[starts]
    self._to = store.goal_states[ends]
    self._plan: list[np.ndarray] = []

  def reset(self) -> None:
    self._plan = []

  def act(self, obs: dict, goal: dict) -> np.ndarray:
    if not self._plan:
      norm = self.store.normalization
      s = norm.normalize_observation(obs)
      g = norm.normalize_goal(goal["state"])
      cost = np.linalg.norm(self._from - s, axis=1) + np.linalg.norm(
          self._to - g, axis=1
      )
      best = int(np.argmin(cost))
      rows = range(self._starts[best], self._ends[best])
      self._plan = [
          norm.unnormalize_action(self.store.actions[r]) for r in rows
      ][::-1]
    return np.clip(self._plan.pop(), -1.0, 1.0)
