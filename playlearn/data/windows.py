"""Trajectory-level transforms of play: windows, goals, padding, normalisation.

No decoding happens here: `WindowStore` reads every episode of a split once,
keeps the normalised states and actions of all of them in two flat arrays with
an episode offset table, and cuts windows out of them by index arithmetic, so a
window costs a numpy slice, never an episode decode. The full state dataset
(162,000 steps x (42 + 7) float32) is about 32 MB. Images are not held here
(state-only store; frame-level transforms belong elsewhere).

Sampling (Lynch et al. 2019, hindsight relabelling), per window id:

* A window id is a valid start: a step k of an episode from which at least
  `kappa_min` steps with real actions follow. Every valid start in the split
  has its own id, so a shuffled epoch visits each start exactly once: every
  start is equally likely across the dataset, not per episode (long episodes
  give proportionally more windows).
* Its length kappa is uniform in [kappa_min, kappa_max], truncated to the real
  steps left in the episode (only starts in the last kappa_max - kappa_min real
  steps of an episode are affected: 16 of 2,699 per episode by default).
* Its goal is the state `goal_offset` steps after its last state, with
  `goal_offset` uniform in [0, goal_horizon] and clipped to the episode's final
  observation; goal_horizon = 0 gives the window's last state (the paper's
  choice). The goal may be the episode's final observation, which has no action.
* With `goal_dropout` = p, a fraction p of the windows (its own random stream)
  show their goal as goals 'scene' do: the robot's columns at 0, their
  training mean. A full goal also says where the tool ended, which a policy
  can imitate instead of the change to the scene (a push's goal ends with the
  tool above the pushed block); hiding it now and then makes the policy
  read the scene's change too, and at test time it still sees the whole goal
  (on pixel Play-LMP it did not bring the pushes: docs/results.md).
* The randomness of a window is a counter-based hash (SplitMix64) of
  (seed, epoch, window id): the same role as
  `np.random.default_rng([seed, epoch, id])`, vectorised over a batch (about
  60x cheaper than two draws from a Generator made per window: 0.06 ms
  against 3.9 ms per batch of 256). A window's kappa and goal
  therefore depend on neither the batch size nor the batch it falls in, and a
  resumed pipeline reproduces them exactly.

RLDS steps: the last step of an episode holds the final observation and a
zero action (see `playlearn.play.episodes`), so windows use steps 0..T-2 only
(each obs paired with the action really taken there); the final observation
can still be a goal.

Normalisation (statistics of the train split, `statistics.json`):

* states: (s - mean) / max(std, std_floor). The floor (1e-6) is needed because
  a field can be constant in small data (a light or the lamp that no task
  toggled, a block nothing touched: std = 0, and x / 0 is nan); floored, such
  a field maps to exactly 0 in the training data. A value outside the
  training range of a constant field still becomes huge (diff / 1e-6): a
  policy meeting such a state was not trained on it anyway.
* actions are the steps' labels (`actions='label'`, the oracle's command;
  see `playlearn.data.rlds.step_actions`) or what was executed
  (`actions='executed'`: label plus the injected noise).
  `action_norm='none'` (default) leaves them as stored: environment
  actions are already in [-1, 1] and the policy's output then needs no
  inverse. `'minmax'` maps each dimension's [min, max] of the train split to
  [-1, 1] ((a - center) / half_range; a dimension whose half range is below
  std_floor is only centred, so its constant value maps to 0);
  `Normalization.unnormalize_action` inverts it for acting.
  The train statistics include the zero action of each episode's last step.

Batch contract (DESIGN.md), T = kappa_max:
  {'obs': float32[B, T, D], 'actions': float32[B, T, 7], 'goal': float32[B, D],
   'mask': float32[B, T] (1 valid, 0 padding), 'length': int32[B]}
Padding positions (t >= length) hold zeros in obs and actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import dataclasses
import os
from typing import Any

import numpy as np

from playlearn.data import features as features_lib
from playlearn.data import reading
from playlearn.data import rlds
from playlearn.data import statistics as statistics_lib

ACTION_NORMS = ("none", "minmax")
STD_FLOOR = 1e-6


@dataclasses.dataclass(frozen=True)
class WindowConfig:
  """How windows are sampled; defaults: 16-32 steps (1-2 s at 15 Hz)."""

  kappa_min: int = 16
  kappa_max: int = 32
  goal_horizon: int = 0  # Extra steps beyond the window the goal may lie.
  action_norm: str = "none"  # 'none' | 'minmax'; see the module docstring.
  std_floor: float = STD_FLOOR
  actions: str = "label"  # 'label' | 'executed'; see the module docstring.
  features: str = "raw"  # Observation features (playlearn.data.features).
  goals: str = "full"  # What goals show: 'full' | 'scene' (features.GOALS).
  goal_dropout: float = 0.0  # Windows whose goal hides the robot (above).

  def __post_init__(self):
    if self.kappa_min < 1:
      raise ValueError(f"kappa_min must be >= 1, got {self.kappa_min}")
    if self.kappa_min > self.kappa_max:
      raise ValueError(
          f"kappa_min ({self.kappa_min}) must not exceed "
          f"kappa_max ({self.kappa_max})"
      )
    if self.goal_horizon < 0:
      raise ValueError(f"goal_horizon must be >= 0, got {self.goal_horizon}")
    if self.action_norm not in ACTION_NORMS:
      raise ValueError(
          f"action_norm must be one of {ACTION_NORMS}, got "
          f"{self.action_norm!r}"
      )
    if not self.std_floor > 0:
      raise ValueError(f"std_floor must be > 0, got {self.std_floor}")
    if self.features not in features_lib.FEATURES:
      raise ValueError(
          f"features must be one of {features_lib.FEATURES}, "
          f"got {self.features!r}"
      )
    if self.actions not in rlds.ACTION_FIELDS:
      raise ValueError(
          f"actions must be one of {sorted(rlds.ACTION_FIELDS)}, "
          f"got {self.actions!r}"
      )
    if self.goals not in features_lib.GOALS:
      raise ValueError(
          f"goals must be one of {features_lib.GOALS}, got {self.goals!r}"
      )
    if not 0 <= self.goal_dropout <= 1:
      raise ValueError(
          f"goal_dropout must be in [0, 1], got {self.goal_dropout}"
      )


@dataclasses.dataclass(frozen=True)
class Normalization:
  """Affine maps of states and actions, from a dataset's train statistics.

  Arrays: state_mean, state_std (floored): float32[F] of the observation
  features `features` (`playlearn.data.features`; F = D for 'raw');
  action_center, action_scale: float32[7] (0 and 1 for action_norm='none').
  `normalize_state` takes raw states [..., D] and computes the features
  first, so whoever holds the normalisation (a saved policy) sees what the
  learner saw. Host-side numpy (inputs are cast to float32); not for use
  inside jit.
  """

  state_mean: np.ndarray
  state_std: np.ndarray
  action_center: np.ndarray
  action_scale: np.ndarray
  features: str = "raw"
  goals: str = "full"

  @classmethod
  def from_statistics(
      cls,
      statistics: Mapping[str, Any],
      action_norm: str = "none",
      std_floor: float = STD_FLOOR,
      actions: str = "label",
  ) -> Normalization:
    """From `load_statistics(...)` output, for the `actions` learnt."""
    action_field = rlds.ACTION_FIELDS[actions]
    if action_field not in statistics:  # Version 1.0.0: label == action.
      action_field = "action"
    for field in ("state", action_field):
      if field not in statistics:
        raise ValueError(f"statistics have no {field!r} field")
    state, action = statistics["state"], statistics[action_field]
    mean = np.asarray(state["mean"], np.float32)
    std = np.maximum(np.asarray(state["std"], np.float32), std_floor)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
      raise ValueError("statistics: state mean/std are not finite")
    dim = len(action["min"])
    if action_norm == "none":
      center, scale = np.zeros(dim, np.float32), np.ones(dim, np.float32)
    elif action_norm == "minmax":
      lo = np.asarray(action["min"], np.float32)
      hi = np.asarray(action["max"], np.float32)
      center = (hi + lo) / 2
      half = (hi - lo) / 2
      scale = np.where(half < std_floor, 1.0, half).astype(np.float32)
    else:
      raise ValueError(
          f"action_norm must be one of {ACTION_NORMS}, got {action_norm!r}"
      )
    return cls(mean, std.astype(np.float32), center.astype(np.float32), scale)

  def with_features(
      self,
      features: str,
      raw_states: np.ndarray,
      std_floor: float = STD_FLOOR,
      targets: np.ndarray | None = None,
  ) -> Normalization:
    """The same action map, the state map of `features` of `raw_states`."""
    x = features_lib.transform(raw_states, features, targets).astype(np.float64)
    std = np.maximum(x.std(0), std_floor)
    return dataclasses.replace(
        self,
        state_mean=x.mean(0).astype(np.float32),
        state_std=std.astype(np.float32),
        features=features,
    )

  def normalize_state(
      self, state: np.ndarray, target: np.ndarray | None = None
  ) -> np.ndarray:
    """Raw states [..., D] -> normalised features [..., F] float32.

    `target`: the observations' commanded tool poses [..., 6], for features
    that read them (`features_lib.uses_target`); None for goals.
    """
    state = features_lib.transform(state, self.features, target)
    return ((state - self.state_mean) / self.state_std).astype(np.float32)

  def normalize_goal(self, state: np.ndarray) -> np.ndarray:
    """Raw goal states [..., D] -> [..., F]: `normalize_state`, and with
    goals 'scene' the robot's columns at 0 (their training mean)."""
    goal = self.normalize_state(state)
    if self.goals == "scene":
      goal[
          ..., features_lib.robot_columns(self.features, np.shape(state)[-1])
      ] = 0.0
    return goal

  def normalize_observation(self, observation: Mapping[str, Any]) -> np.ndarray:
    """An observation {'state': [..., D], 'target': [..., 6]} -> [..., F].

    `target` is needed where the features read it; goals, which are states
    only, go through `normalize_state`.
    """
    target = observation.get("target")
    if target is None and features_lib.uses_target(self.features):
      raise ValueError(
          f"features {self.features!r} read observation "
          f"'target' (the commanded tool pose), which this "
          f"observation lacks; it has {sorted(observation)}"
      )
    return self.normalize_state(observation["state"], target)

  def normalize_action(self, action: np.ndarray) -> np.ndarray:
    action = np.asarray(action, np.float32)
    return ((action - self.action_center) / self.action_scale).astype(
        np.float32
    )

  def unnormalize_action(self, action: np.ndarray) -> np.ndarray:
    """A policy's output back to environment actions."""
    return (action * self.action_scale + self.action_center).astype(np.float32)


def load_normalization(
    dataset_dir: str | os.PathLike,
    action_norm: str = "none",
    std_floor: float = STD_FLOOR,
    actions: str = "label",
) -> Normalization:
  """The train split's normalisation; ValueError naming a missing file."""
  try:
    stats = statistics_lib.load_statistics(dataset_dir, split="train")
  except FileNotFoundError as e:
    raise ValueError(f"no normalisation statistics: {e}") from e
  return Normalization.from_statistics(stats, action_norm, std_floor, actions)


# SplitMix64 (Steele et al. 2014): a bijective 64-bit mixer; chaining it over
# the key parts gives independent-looking uniform 64-bit words per key.
_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
  z = z + _GAMMA
  z = (z ^ (z >> np.uint64(30))) * _M1
  z = (z ^ (z >> np.uint64(27))) * _M2
  return z ^ (z >> np.uint64(31))


def window_random(
    seed: int, epoch: int, ids: np.ndarray, stream: int
) -> np.ndarray:
  """Uniform uint64[len(ids)], a pure function of (seed, epoch, id, stream)."""
  ids = np.asarray(ids, np.uint64)
  with np.errstate(over="ignore"):
    h = _mix(np.full(ids.shape, seed % 2**64, np.uint64))
    h = _mix(h ^ np.uint64(epoch % 2**64))
    h = _mix(h ^ ids)
    return _mix(h ^ np.uint64(stream))


def _uniform_int(bits: np.ndarray, low: int, high: int) -> np.ndarray:
  """Ints uniform in [low, high] (modulo bias < 2^-50 for small ranges)."""
  return low + (bits % np.uint64(high - low + 1)).astype(np.int64)


class WindowStore:
  """All episodes of a split as flat normalised arrays; cuts windows.

  Attributes:
    states: float32[N, D] normalised states of all steps, episode after episode.
    goal_states: float32[N, D] the same as goals: without the commanded tool
      pose where the features read it (`features.uses_target`), else `states`.
    actions: float32[N, 7] normalised actions.
    episode_offsets: int64[E + 1]: episode e is rows offsets[e]:offsets[e+1].
    starts: int64[W]: the row of each valid window start (window id -> row).
    num_windows: W.
  """

  def __init__(
      self,
      episodes: Iterable[Mapping[str, Any]],
      normalization: Normalization,
      config: WindowConfig = WindowConfig(),
  ):
    self.config = config
    states, targets, actions, lengths = [], [], [], []
    use_target = features_lib.uses_target(config.features)
    for ep in episodes:
      steps = ep["steps"]
      s = np.asarray(steps["observation"]["state"], np.float32)
      a = rlds.step_actions(steps, config.actions)
      if use_target:
        if "target" not in steps["observation"]:
          raise ValueError(
              f"features {config.features!r} read steps/observation/target, "
              f"which this dataset lacks (PlayTable datasets record it from "
              f"version 1.2.0; rebuild, or choose other features)"
          )
        targets.append(np.asarray(steps["observation"]["target"], np.float32))
      states.append(s)
      actions.append(a)
      lengths.append(len(s))
    if not lengths:
      raise ValueError("no episodes to cut windows from")
    lengths = np.asarray(lengths, np.int64)
    self.episode_offsets = np.concatenate([[0], np.cumsum(lengths)])
    raw = np.concatenate(states)
    raw_targets = np.concatenate(targets) if use_target else None
    if normalization.features != config.features:
      # Feature statistics of these (the train) states; a validation store
      # is given the train store's normalisation and keeps it.
      normalization = normalization.with_features(
          config.features, raw, config.std_floor, raw_targets
      )
    normalization = dataclasses.replace(normalization, goals=config.goals)
    self.normalization = normalization
    self.states = normalization.normalize_state(raw, raw_targets)
    # Goals are states only (as the suite gives them): no commanded pose.
    # Without a target and with full goals they are the states themselves
    # (one array, not two: 12 hours of play hold 648,000 of them).
    self.goal_states = (
        self.states
        if not use_target and config.goals == "full"
        else normalization.normalize_goal(raw)
    )
    self._robot = features_lib.robot_columns(config.features, raw.shape[-1])
    self.actions = normalization.normalize_action(np.concatenate(actions))
    # Real (obs, action) steps per episode: the last RLDS step has no action.
    acting = lengths - 1
    if acting.max() < config.kappa_max:
      raise ValueError(
          f"kappa_max ({config.kappa_max}) is longer than every episode (the "
          f"longest has {acting.max()} steps with actions)"
      )
    starts, act_ends, last_obs = [], [], []
    for e, n in enumerate(acting):
      count = max(int(n) - config.kappa_min + 1, 0)
      begin = self.episode_offsets[e]
      starts.append(begin + np.arange(count, dtype=np.int64))
      act_ends.append(np.full(count, begin + n, np.int64))
      last_obs.append(np.full(count, begin + n, np.int64))  # Final obs row.
    self.starts = np.concatenate(starts)
    self._act_end = np.concatenate(act_ends)  # Exclusive end of action rows.
    self._last_obs = np.concatenate(last_obs)
    self.num_windows = len(self.starts)
    self._offsets = np.arange(config.kappa_max, dtype=np.int64)

  @classmethod
  def from_dataset(
      cls,
      dataset_dir: str | os.PathLike,
      split: str = "train",
      config: WindowConfig = WindowConfig(),
  ) -> WindowStore:
    """Reads (decodes) every episode of `split` once; train statistics."""
    normalization = load_normalization(
        dataset_dir, config.action_norm, config.std_floor, config.actions
    )
    source = reading.EpisodeSource(dataset_dir, split)
    return cls((source[i] for i in range(len(source))), normalization, config)

  @property
  def state_dim(self) -> int:
    return self.states.shape[1]

  def cut(
      self, ids: np.ndarray, seed: int, epoch: int
  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rows int64[B, T], valid bool[B, T], length int64[B], goal_row
    int64[B]) of windows `ids`: which rows of the flat arrays each window
    and its goal read (padding positions repeat the window's first row)."""
    ids = np.asarray(ids, np.int64)
    cfg = self.config
    start = self.starts[ids]
    kappa = _uniform_int(
        window_random(seed, epoch, ids, 0), cfg.kappa_min, cfg.kappa_max
    )
    length = np.minimum(kappa, self._act_end[ids] - start)
    offset = _uniform_int(
        window_random(seed, epoch, ids, 1), 0, cfg.goal_horizon
    )
    goal_row = np.minimum(start + length - 1 + offset, self._last_obs[ids])
    valid = self._offsets[None, :] < length[:, None]  # [B, T]
    rows = np.where(
        valid, start[:, None] + self._offsets[None, :], start[:, None]
    )
    return rows, valid, length, goal_row

  def batch(
      self, ids: np.ndarray, seed: int, epoch: int
  ) -> dict[str, np.ndarray]:
    """Windows `ids` (int[B] in [0, num_windows)) as one batch (see module)."""
    rows, valid, length, goal_row = self.cut(ids, seed, epoch)
    obs = self.states[rows]
    obs[~valid] = 0.0
    return {
        "obs": obs,
        "goal": self.goals(ids, seed, epoch, goal_row),
        **self.labels(rows, valid, length),
    }

  def goals(
      self, ids: np.ndarray, seed: int, epoch: int, goal_row: np.ndarray
  ) -> np.ndarray:
    """float32[B, D]: the goals of windows `ids` (rows `goal_row`, from
    `cut`), a `goal_dropout` fraction of them with the robot hidden."""
    goal = self.goal_states[goal_row]  # A copy: fancy indexing.
    if self.config.goal_dropout:
      bits = window_random(seed, epoch, ids, 2) >> np.uint64(11)
      hide = bits * 2.0**-53 < self.config.goal_dropout  # Uniform in [0, 1).
      goal[np.ix_(hide, self._robot)] = 0.0
    return goal

  def labels(
      self, rows: np.ndarray, valid: np.ndarray, length: np.ndarray
  ) -> dict[str, np.ndarray]:
    """The batch's 'actions' (0 at padding), 'mask' and 'length' of windows
    cut as `cut` returns them; shared by every batch of these windows."""
    actions = self.actions[rows]
    actions[~valid] = 0.0
    return {
        "actions": actions,
        "mask": valid.astype(np.float32),
        "length": length.astype(np.int32),
    }
