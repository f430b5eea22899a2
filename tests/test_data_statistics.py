"""Streaming statistics: exact against numpy, mergeable in any order, JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from playlearn import data as data_lib
from playlearn.datasets import playtable
from playlearn.data import statistics

STATS = ("mean", "std", "min", "max", "q01", "q05", "q50", "q95", "q99")


def fake_episodes(lengths, seed=0):
  rng = np.random.default_rng(seed)
  episodes = []
  for t in lengths:
    state = rng.normal(3, 2, (t, 5)).astype(np.float32)
    action = rng.uniform(-1, 1, (t, 7)).astype(np.float32)
    episodes.append(
        {"steps": {"observation": {"state": state}, "action": action}}
    )
  return episodes


def numpy_reference(episodes):
  out = {}
  for name, get in (
      ("state", lambda e: e["steps"]["observation"]["state"]),
      ("action", lambda e: e["steps"]["action"]),
  ):
    x = np.concatenate([get(e) for e in episodes]).astype(np.float64)
    out[name] = {
        "mean": x.mean(0),
        "std": x.std(0),
        "min": x.min(0),
        "max": x.max(0),
    }
    for qname, q in statistics.QUANTILES.items():
      out[name][qname] = np.quantile(x, q, axis=0)
  return out


def assert_matches_reference(got, reference):
  for field, want in reference.items():
    for stat in STATS:
      message = f"{field}/{stat}"
      assert got[field][stat].dtype == np.float32, message
      if stat in ("mean", "std"):
        np.testing.assert_allclose(
            got[field][stat], want[stat], rtol=1e-6, atol=1e-7, err_msg=message
        )
      else:  # Exact up to the final rounding to float32.
        np.testing.assert_array_equal(
            got[field][stat], want[stat].astype(np.float32), err_msg=message
        )


def test_known_values():
  # State values 0, 2 (episode 0) and 4 (episode 1): mean 2, variance
  # (4 + 0 + 4) / 3 = 8/3. Linear interpolation in [0, 2, 4]: the median is 2,
  # the 1% quantile 0 + 0.02 * 2 = 0.04.
  acc = statistics.StatisticsAccumulator()
  acc.add_episode({"state": np.array([[0.0], [2.0]])}, key=0)
  acc.add_episode({"state": np.array([[4.0]])}, key=1)
  result = acc.result()
  assert (result["num_episodes"], result["num_steps"]) == (2, 3)
  np.testing.assert_allclose(result["state"]["mean"], [2.0])
  np.testing.assert_allclose(
      result["state"]["std"], [np.sqrt(8 / 3)], rtol=1e-6
  )
  np.testing.assert_allclose(result["state"]["q50"], [2.0])
  np.testing.assert_allclose(result["state"]["q01"], [0.04], rtol=1e-6)
  assert (result["state"]["min"], result["state"]["max"]) == (0.0, 4.0)


def test_matches_numpy():
  episodes = fake_episodes([50, 1, 120, 33])
  result = statistics.compute_statistics(episodes)
  assert (result["num_episodes"], result["num_steps"]) == (4, 204)
  assert_matches_reference(result, numpy_reference(episodes))


def test_merge_order_and_partition_do_not_matter():
  episodes = fake_episodes([40, 25, 60, 10, 80], seed=1)
  fields = [statistics.episode_fields(e) for e in episodes]

  def accumulate(keys, seed=0):
    # A sample smaller than the data, so the quantiles come from a sample.
    acc = statistics.StatisticsAccumulator(reservoir_size=64, seed=seed)
    for key in keys:
      acc.add_episode(fields[key], key)
    return acc

  sequential = accumulate(range(5))
  merged = statistics.merge_all([accumulate([3, 1]), accumulate([4, 0, 2])])
  a, b = sequential.result(), merged.result()
  assert a["num_steps"] == b["num_steps"] == 215
  for field in ("state", "action"):
    for stat in ("mean", "std"):
      np.testing.assert_allclose(a[field][stat], b[field][stat], rtol=1e-6)
    for stat in ("min", "max", "q01", "q05", "q50", "q95", "q99"):
      np.testing.assert_array_equal(a[field][stat], b[field][stat])
  assert len(sequential.priorities) == 64
  # The sample is 64 rows of the data; another seed draws another sample.
  rows = {tuple(row) for f in fields for row in f["state"]}
  assert all(tuple(row) in rows for row in sequential.sample["state"])
  other = accumulate(range(5), seed=1)
  assert not np.array_equal(other.sample["state"], sequential.sample["state"])


def test_sampled_quantiles_are_close():
  episodes = fake_episodes([2000, 3000], seed=2)
  result = statistics.compute_statistics(episodes, reservoir_size=1000)
  reference = numpy_reference(episodes)
  np.testing.assert_allclose(
      result["state"]["mean"], reference["state"]["mean"], rtol=1e-6
  )
  # 1000 of 5000 rows of N(3, 2): the sample median's standard error is about
  # 1.25 * 2 / sqrt(1000) = 0.08; allow three of them.
  np.testing.assert_allclose(
      result["state"]["q50"], reference["state"]["q50"], atol=0.25
  )


def test_json_round_trip(tmp_path):
  result = statistics.compute_statistics(fake_episodes([7, 9]))
  path = tmp_path / statistics.STATISTICS_FILENAME
  statistics.save_statistics(
      path, {"train": result, "validation": result}, dataset="x/y/1.0.0"
  )
  assert json.loads(path.read_text())["dataset"] == "x/y/1.0.0"
  for source in (tmp_path, path):
    loaded = statistics.load_statistics(source, "validation")
    assert loaded["num_steps"] == 16
    for stat in STATS:
      np.testing.assert_array_equal(
          loaded["action"][stat], result["action"][stat]
      )
  with pytest.raises(KeyError, match=r"available: \['train', 'validation'\]"):
    statistics.load_statistics(path, "test")
  path.write_text(json.dumps({"format": "something else"}))
  with pytest.raises(ValueError, match="not a playlearn statistics file"):
    statistics.load_statistics(path)
  with pytest.raises(FileNotFoundError):
    statistics.load_statistics(tmp_path / "missing")


def test_statistics_stored_with_a_built_dataset(tmp_path):
  builder = playtable.builder_class("playtable_play")(
      config="tiny", data_dir=tmp_path, num_workers=1
  )
  builder.download_and_prepare()
  for split in ("train", "validation"):
    episodes = list(data_lib.EpisodeSource(builder.data_dir, split))
    stored = data_lib.load_statistics(builder, split)
    assert stored["num_episodes"] == len(episodes)
    assert stored["num_steps"] == sum(
        len(e["steps"]["action"]) for e in episodes
    )
    state_dim = episodes[0]["steps"]["observation"]["state"].shape[1]
    assert stored["state"]["mean"].shape == (state_dim,)
    assert_matches_reference(stored, numpy_reference(episodes))
    # A streaming pass over the data read back gives what the build stored.
    recomputed = data_lib.compute_statistics(episodes)
    for stat in STATS:
      np.testing.assert_allclose(
          stored["action"][stat], recomputed["action"][stat], rtol=1e-6
      )
