"""Per-field dataset statistics: one streaming pass, stored as JSON with data.

The builders compute them while writing and put `statistics.json` in the
dataset's version directory, next to `dataset_info.json` (see
`playlearn.datasets.playtable`). One split's statistics:

  {'num_episodes': int, 'num_steps': int,
   'state':  {'mean', 'std', 'min', 'max', 'q01', 'q05', 'q50', 'q95', 'q99'}:
             float32[D],
   'action': {...}: float32[7]}

Mean and std (population, ddof=0) are exact: per-episode moments merged with
Chan et al.'s parallel update in float64, so any split of the data into parts
and any merge order give the same result up to rounding. Quantiles come from a
sample of at most `reservoir_size` steps drawn without replacement by bottom-k
sampling: each step gets a priority from `np.random.default_rng((seed,
episode_key))` and the sample keeps the steps of smallest priority. The sample
depends on the seed and the episode keys only, never on how the parts were
merged, and it holds every step while the data has at most `reservoir_size`
(then the quantiles are exact). Memory: the sample, about 20 MB by default.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
import json
import os
import re
from typing import Any

from etils import epath
import numpy as np

STATISTICS_FILENAME = "statistics.json"
FORMAT = "playlearn.statistics/1"
QUANTILES = {"q01": 0.01, "q05": 0.05, "q50": 0.5, "q95": 0.95, "q99": 0.99}
RESERVOIR_SIZE = 100_000
RESERVOIR_SEED = 0


def episode_fields(episode: Mapping[str, Any]) -> dict[str, np.ndarray]:
  """The fields that get statistics: name -> [T, D] array."""
  steps = episode["steps"]
  fields = {"state": steps["observation"]["state"], "action": steps["action"]}
  if "action_label" in steps:
    fields["action_label"] = steps["action_label"]
  return fields


class StatisticsAccumulator:
  """Mergeable running statistics of named [T, D] fields (see module doc)."""

  def __init__(
      self, reservoir_size: int = RESERVOIR_SIZE, seed: int = RESERVOIR_SEED
  ):
    self.reservoir_size = reservoir_size
    self.seed = seed
    self.num_episodes = 0
    self.num_steps = 0
    # name -> {'mean', 'm2', 'min', 'max'}: float64[D].
    self.moments: dict[str, dict[str, np.ndarray]] = {}
    # The sample: priorities [n] and name -> rows [n, D], by priority.
    self.priorities = np.zeros((0,), np.float64)
    self.sample: dict[str, np.ndarray] = {}

  def add_episode(
      self, fields: Mapping[str, np.ndarray], key: int
  ) -> StatisticsAccumulator:
    """Adds one episode; `key` is unique in the data (e.g. its index)."""
    lengths = {name: len(value) for name, value in fields.items()}
    if len(set(lengths.values())) != 1:
      raise ValueError(f"fields have different lengths: {lengths}")
    (t,) = set(lengths.values())
    other = StatisticsAccumulator(self.reservoir_size, self.seed)
    other.num_episodes, other.num_steps = 1, t
    for name, value in fields.items():
      x = np.asarray(value, np.float64).reshape(t, -1)
      d = x.shape[1]
      mean = x.mean(0) if t else np.zeros(d)
      other.moments[name] = {
          "mean": mean,
          "m2": ((x - mean) ** 2).sum(0),
          "min": x.min(0) if t else np.full(d, np.inf),
          "max": x.max(0) if t else np.full(d, -np.inf),
      }
    other.priorities = np.random.default_rng((self.seed, int(key))).random(t)
    other.sample = {
        name: np.asarray(value).reshape(t, -1) for name, value in fields.items()
    }
    other._trim()
    return self.merge(other)

  def merge(self, other: StatisticsAccumulator) -> StatisticsAccumulator:
    """Merges `other` into self (in place) and returns self."""
    if (other.reservoir_size, other.seed) != (self.reservoir_size, self.seed):
      raise ValueError(
          "cannot merge statistics with another reservoir size or seed"
      )
    if not other.num_episodes:
      return self
    if not self.num_episodes:
      self.moments = {k: dict(v) for k, v in other.moments.items()}
      self.priorities, self.sample = other.priorities, dict(other.sample)
    else:
      if set(self.moments) != set(other.moments):
        raise ValueError(
            f"fields differ: {sorted(self.moments)} vs "
            f"{sorted(other.moments)}"
        )
      na, nb = self.num_steps, other.num_steps
      n = na + nb
      for name, a in self.moments.items():
        b = other.moments[name]
        if n:  # Chan et al.: combine means and sums of squared deviations.
          delta = b["mean"] - a["mean"]
          a["mean"] = a["mean"] + delta * (nb / n)
          a["m2"] = a["m2"] + b["m2"] + delta**2 * (na * nb / n)
        a["min"] = np.minimum(a["min"], b["min"])
        a["max"] = np.maximum(a["max"], b["max"])
      self.priorities = np.concatenate([self.priorities, other.priorities])
      self.sample = {
          k: np.concatenate([v, other.sample[k]])
          for k, v in self.sample.items()
      }
    self.num_episodes += other.num_episodes
    self.num_steps += other.num_steps
    self._trim()
    return self

  def _trim(self):
    """Keeps the `reservoir_size` rows of smallest priority, in order."""
    order = np.argsort(self.priorities, kind="stable")[: self.reservoir_size]
    self.priorities = self.priorities[order]
    self.sample = {k: v[order] for k, v in self.sample.items()}

  def result(self) -> dict[str, Any]:
    """Counts and, per field, float32 arrays (see the module docstring)."""
    out: dict[str, Any] = {
        "num_episodes": self.num_episodes,
        "num_steps": self.num_steps,
    }
    for name, m in self.moments.items():
      field = {
          "mean": m["mean"],
          "std": np.sqrt(m["m2"] / max(self.num_steps, 1)),
          "min": m["min"],
          "max": m["max"],
      }
      sample = self.sample[name].astype(np.float64)
      for qname, q in QUANTILES.items():
        field[qname] = (
            np.quantile(sample, q, axis=0)
            if len(sample)
            else np.full(sample.shape[1], np.nan)
        )
      out[name] = {k: np.asarray(v, np.float32) for k, v in field.items()}
    return out


def merge_all(
    accumulators: Iterable[StatisticsAccumulator],
) -> StatisticsAccumulator:
  """Merges accumulators into a new one (a Beam `CombineGlobally` function)."""
  total = None
  for acc in accumulators:
    if total is None:
      total = StatisticsAccumulator(acc.reservoir_size, acc.seed)
    total.merge(acc)
  return total if total is not None else StatisticsAccumulator()


def compute_statistics(
    episodes: Iterable[Mapping[str, Any]],
    fields: Callable[
        [Mapping[str, Any]], Mapping[str, np.ndarray]
    ] = episode_fields,
    reservoir_size: int = RESERVOIR_SIZE,
    seed: int = RESERVOIR_SEED,
) -> dict[str, Any]:
  """Statistics of episodes in one pass; episode i has key i, as in builds."""
  acc = StatisticsAccumulator(reservoir_size, seed)
  for i, episode in enumerate(episodes):
    acc.add_episode(fields(episode), key=i)
  return acc.result()


def to_json(
    statistics_by_split: Mapping[str, Mapping[str, Any]], **info: Any
) -> dict:
  """{'format', 'quantiles', **info, 'splits': {split: statistics}}."""

  def convert(x):
    if isinstance(x, Mapping):
      return {k: convert(v) for k, v in x.items()}
    if isinstance(x, np.ndarray):  # The shortest decimals of each float32.
      return [
          float(str(v)) if np.isfinite(v) else None
          for v in x.astype(np.float32).ravel()
      ]
    return x

  return {
      "format": FORMAT,
      "quantiles": QUANTILES,
      **info,
      "splits": {
          split: convert(statistics)
          for split, statistics in statistics_by_split.items()
      },
  }


def save_statistics(
    path: str | os.PathLike,
    statistics_by_split: Mapping[str, Mapping[str, Any]],
    **info: Any,
) -> None:
  """Writes `to_json(...)` to the file `path` (local or cloud)."""
  text = json.dumps(to_json(statistics_by_split, **info), indent=1)
  # One line per array rather than one per number.
  text = re.sub(
      r"\[([^\[\]{}]*)\]",
      lambda m: "[" + " ".join(m.group(1).split()) + "]",
      text,
  )
  epath.Path(path).write_text(text + "\n")


def from_json(data: Mapping[str, Any], split: str = "train") -> dict[str, Any]:
  """One split's statistics from `to_json` output, as float32 arrays."""
  if data.get("format") != FORMAT:
    raise ValueError(
        f"not a playlearn statistics file (format {data.get('format')!r})"
    )
  splits = data["splits"]
  if split not in splits:
    raise KeyError(
        f"no statistics for split {split!r}; available: {sorted(splits)}"
    )

  def convert(x):
    if isinstance(x, Mapping):
      return {k: convert(v) for k, v in x.items()}
    if isinstance(x, list):
      return np.array([np.nan if v is None else v for v in x], np.float32)
    return x

  return convert(splits[split])


def load_statistics(source: Any, split: str = "train") -> dict[str, Any]:
  """Loads one split's statistics stored with a dataset.

  Args:
    source: a TFDS builder (its `data_dir`), a dataset version directory (the
      one holding dataset_info.json) or the path of a statistics JSON file.
    split: whose statistics ('train' for normalisation).

  Returns:
    {'num_episodes': int, 'num_steps': int, field: {stat: float32[D]}}.
  """
  path = epath.Path(getattr(source, "data_dir", source))
  if path.is_dir():
    path = path / STATISTICS_FILENAME
  if not path.exists():
    raise FileNotFoundError(
        f"{path} does not exist: was the dataset built by a playlearn builder?"
    )
  return from_json(json.loads(path.read_text()), split)
