"""Play windows and their Grain pipeline, against a numpy reference (tiny data).

The `tiny` play dataset (2 train episodes x 100 steps, 1 validation) is built
once into a tmp dir. The reference decodes the episodes itself with
EpisodeSource and normalises with statistics.json, independently of
WindowStore.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest

from playlearn.data import features
from playlearn.data import pipeline
from playlearn.datasets import playtable
from playlearn.data import reading
from playlearn.data import statistics as statistics_lib
from playlearn.data import windows

# pylint: disable=protected-access  (pipeline._window_ids: which windows)

CONFIG = windows.WindowConfig(kappa_min=16, kappa_max=32)


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
  builder = playtable.builder_class("playtable_play")(
      config="tiny", data_dir=tmp_path_factory.mktemp("tfds"), num_workers=1
  )
  builder.download_and_prepare()
  return builder.data_dir


@pytest.fixture(scope="module")
def reference(dataset_dir):
  """Per episode: normalised states [T, D] and action labels [T, 7], by hand.

  WindowConfig.actions defaults to 'label': learners imitate the oracle's
  command, not the perturbed action that was executed.
  """
  stats = statistics_lib.load_statistics(dataset_dir)
  mean, std = stats["state"]["mean"], stats["state"]["std"]
  source = reading.EpisodeSource(dataset_dir, "train")
  episodes = []
  for i in range(len(source)):
    steps = source[i]["steps"]
    states = (steps["observation"]["state"] - mean) / np.maximum(std, 1e-6)
    episodes.append((states.astype(np.float32), steps["action_label"]))
  return episodes


@pytest.fixture(scope="module")
def store(dataset_dir):
  return windows.WindowStore.from_dataset(dataset_dir, "train", CONFIG)


def locate(store, row):
  """(episode, step) of a flat row of the store."""
  e = int(np.searchsorted(store.episode_offsets, row, side="right")) - 1
  return e, int(row - store.episode_offsets[e])


def check_against_reference(batch, ids, store, reference, config):
  """Every window of `batch` (window ids `ids`) equals a hand-cut window."""
  b, t = batch["mask"].shape
  assert t == config.kappa_max
  for k in range(b):
    e, start = locate(store, store.starts[ids[k]])
    states, actions = reference[e]
    acting = len(states) - 1  # The last RLDS step has no real action.
    length = int(batch["length"][k])
    assert config.kappa_min <= length <= config.kappa_max
    assert length == config.kappa_max or length <= acting - start
    assert start + length <= acting
    np.testing.assert_array_equal(
        batch["mask"][k], (np.arange(t) < length).astype(np.float32)
    )
    np.testing.assert_allclose(
        batch["obs"][k, :length],
        states[start : start + length],
        rtol=1e-6,
        atol=1e-6,
    )
    np.testing.assert_array_equal(
        batch["actions"][k, :length], actions[start : start + length]
    )
    assert not batch["obs"][k, length:].any()
    assert not batch["actions"][k, length:].any()
    last = start + length - 1
    goal_rows = [
        r
        for r in range(
            last, min(last + config.goal_horizon, len(states) - 1) + 1
        )
        if np.allclose(batch["goal"][k], states[r], atol=1e-6)
    ]
    assert goal_rows, f"window {k}: goal is no state in its allowed range"
    if config.goal_horizon == 0:
      np.testing.assert_array_equal(
          batch["goal"][k], batch["obs"][k, length - 1]
      )


def take(iterator, n):
  return [next(iterator) for _ in range(n)]


def assert_same_batches(a, b):
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert set(x) == set(y)
    for key in x:
      np.testing.assert_array_equal(x[key], y[key])


def test_batch_contract(store):
  it = pipeline.make_iterator(store, batch_size=8, seed=0)
  batch = next(it)
  d = store.state_dim
  assert d == 42
  want = {
      "obs": (np.float32, (8, 32, d)),
      "actions": (np.float32, (8, 32, 7)),
      "goal": (np.float32, (8, d)),
      "mask": (np.float32, (8, 32)),
      "length": (np.int32, (8,)),
  }
  assert {k: (v.dtype, v.shape) for k, v in batch.items()} == {
      k: (np.dtype(t), s) for k, (t, s) in want.items()
  }
  np.testing.assert_array_equal(batch["mask"].sum(1), batch["length"])


def test_store_layout(store, reference):
  # 2 episodes of 100 steps, 99 with actions: starts 0..83 in each (99-16+1).
  assert store.num_windows == 2 * 84
  np.testing.assert_array_equal(store.episode_offsets, [0, 100, 200])
  np.testing.assert_array_equal(
      store.starts, np.concatenate([np.arange(84), 100 + np.arange(84)])
  )
  np.testing.assert_allclose(
      store.states,
      np.concatenate([s for s, _ in reference]),
      rtol=1e-6,
      atol=1e-6,
  )


@pytest.mark.parametrize("goal_horizon", [0, 5, 1000])
def test_windows_match_reference(dataset_dir, reference, goal_horizon):
  config = windows.WindowConfig(16, 32, goal_horizon=goal_horizon)
  store = windows.WindowStore.from_dataset(dataset_dir, "train", config)
  ids_of = pipeline._window_ids(store.num_windows, 32, seed=3)
  it = pipeline.make_iterator(store, batch_size=32, seed=3)
  goal_is_final = 0
  for i in range(12):  # 5 batches per epoch: crosses two epoch boundaries.
    batch = next(it)
    _, ids = ids_of(i)
    check_against_reference(batch, ids, store, reference, config)
    for k in range(32):
      e, _ = locate(store, store.starts[ids[k]])
      goal_is_final += np.allclose(batch["goal"][k], reference[e][0][-1])
  if goal_horizon == 1000:  # Clipped to the final observation.
    assert goal_is_final > 100
  elif goal_horizon == 0:  # Windows end before the final observation.
    assert goal_is_final < 10


def test_every_start_once_per_epoch(store):
  ids_of = pipeline._window_ids(store.num_windows, 8, seed=0)
  per_epoch = store.num_windows // 8  # 21, no remainder.
  epochs = [
      np.concatenate([ids_of(e * per_epoch + j)[1] for j in range(per_epoch)])
      for e in range(2)
  ]
  for ids in epochs:
    np.testing.assert_array_equal(np.sort(ids), np.arange(store.num_windows))
  assert not np.array_equal(epochs[0], epochs[1])  # Reshuffled.


def test_lengths_cover_range(store):
  it = pipeline.make_iterator(store, batch_size=168, seed=0)
  lengths = np.concatenate([b["length"] for b in take(it, 10)])
  counts = np.bincount(lengths, minlength=33)[16:33]
  # 1680 windows, 17 lengths: ~99 each when untruncated; all present.
  assert counts.min() > 40 and lengths.min() == 16 and lengths.max() == 32


def test_deterministic_and_seeds_differ(store):
  a = take(pipeline.make_iterator(store, batch_size=8, seed=1), 3)
  b = take(
      pipeline.make_iterator(store, batch_size=8, seed=1, num_threads=0), 3
  )
  c = take(pipeline.make_iterator(store, batch_size=8, seed=2), 3)
  assert_same_batches(a, b)
  assert not np.array_equal(a[0]["obs"], c[0]["obs"])
  assert not np.array_equal(a[0]["length"], c[0]["length"])


def test_host_shards_make_up_the_global_batch(store):
  whole = take(pipeline.make_iterator(store, batch_size=24, seed=4), 8)
  shards = [
      take(
          pipeline.make_iterator(
              store, batch_size=8, seed=4, shard_index=p, shard_count=3
          ),
          8,
      )
      for p in range(3)
  ]
  for i, batch in enumerate(whole):  # 8 batches: crosses an epoch (168 // 24).
    for key in batch:
      np.testing.assert_array_equal(
          np.concatenate([shard[i][key] for shard in shards]), batch[key]
      )
  with pytest.raises(ValueError, match="shard_index must be in \\[0, 3\\)"):
    pipeline.make_iterator(store, batch_size=8, shard_index=3, shard_count=3)
  with pytest.raises(ValueError, match="100 x 2 hosts"):
    pipeline.make_iterator(store, batch_size=100, shard_count=2)


def test_resume_gives_the_same_batches(dataset_dir):
  # 168 windows / 32 = 5 batches per epoch: the 8 batches cross an epoch.
  it = pipeline.make_iterator(dataset_dir, batch_size=32, seed=7)
  take(it, 5)
  state = json.loads(json.dumps(pipeline.get_state(it)))
  assert state == {"next_index": 5}
  after = take(it, 3)
  fresh = pipeline.make_iterator(dataset_dir, batch_size=32, seed=7)
  pipeline.set_state(fresh, state)
  assert_same_batches(take(fresh, 3), after)
  resumed = pipeline.make_iterator(
      dataset_dir, batch_size=32, seed=7, state=state
  )
  assert_same_batches(take(resumed, 3), after)


def test_state_base64_round_trip():
  class Bytes:
    state = b"\x00\xffstate"

    def get_state(self):
      return self.state

    def set_state(self, state):
      self.state = state

  it = Bytes()
  saved = json.loads(json.dumps(pipeline.get_state(it)))
  it.state = None
  pipeline.set_state(it, saved)
  assert it.state == b"\x00\xffstate"


def test_std_floor_and_minmax_actions():
  stats = {
      "state": {
          "mean": np.array([1.0, 2.0], np.float32),
          "std": np.array([0.0, 2.0], np.float32),
      },
      "action": {
          "min": np.array([-0.5, 0.3], np.float32),
          "max": np.array([0.5, 0.3], np.float32),
      },
  }
  norm = windows.Normalization.from_statistics(stats, "minmax")
  # Constant field: (1 - 1) / 1e-6 = 0, not nan; (4 - 2) / 2 = 1.
  np.testing.assert_array_equal(
      norm.normalize_state(np.array([1.0, 4.0])), [0.0, 1.0]
  )
  # [-0.5, 0.5] -> [-1, 1]; the constant dimension 0.3 -> 0.
  got = norm.normalize_action(np.array([[-0.5, 0.3], [0.5, 0.3], [0.0, 0.3]]))
  np.testing.assert_allclose(got, [[-1, 0], [1, 0], [0, 0]], atol=1e-6)
  np.testing.assert_allclose(
      norm.unnormalize_action(got)[:, 0], [-0.5, 0.5, 0.0], atol=1e-6
  )
  none = windows.Normalization.from_statistics(stats, "none")
  np.testing.assert_array_equal(
      none.normalize_action(np.array([0.7, -0.2])),
      np.array([0.7, -0.2], np.float32),
  )


def test_minmax_actions_in_unit_range(dataset_dir):
  config = windows.WindowConfig(action_norm="minmax")
  store = windows.WindowStore.from_dataset(dataset_dir, "train", config)
  assert store.actions.min() == pytest.approx(-1, abs=1e-5)
  assert store.actions.max() == pytest.approx(1, abs=1e-5)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        ({"kappa_min": 33, "kappa_max": 32}, "kappa_min"),
        ({"kappa_min": 0}, "kappa_min"),
        ({"goal_horizon": -1}, "goal_horizon"),
        ({"action_norm": "zscore"}, "action_norm"),
        ({"goal_dropout": 1.5}, "goal_dropout"),
    ],
)
def test_bad_config(kwargs, field):
  with pytest.raises(ValueError, match=field):
    windows.WindowConfig(**kwargs)


def test_goal_dropout_hides_the_robot_of_some_goals(dataset_dir, store):
  """A goal_dropout fraction of the goals have the robot's columns at 0 (the
  training mean), the rest and every scene column as without; which goals
  depends on (seed, epoch, window), not on the batch they fall in."""
  ids = np.arange(store.num_windows)
  full = store.batch(ids, seed=3, epoch=1)
  robot = features.robot_columns("raw")
  for p in (0.3, 1.0):
    dropped = windows.WindowStore.from_dataset(
        dataset_dir, "train", dataclasses.replace(CONFIG, goal_dropout=p)
    )
    batch = dropped.batch(ids, seed=3, epoch=1)
    np.testing.assert_array_equal(batch["obs"], full["obs"])
    np.testing.assert_array_equal(
        batch["goal"][:, ~robot], full["goal"][:, ~robot]
    )
    hidden = np.all(batch["goal"][:, robot] == 0, axis=1)
    np.testing.assert_array_equal(batch["goal"][~hidden], full["goal"][~hidden])
    assert abs(hidden.mean() - p) < 4 * np.sqrt(p * (1 - p) / len(ids)) + 1e-9
    again = dropped.batch(ids[::-1], seed=3, epoch=1)["goal"][::-1]
    np.testing.assert_array_equal(again, batch["goal"])
  other = dropped.batch(ids, seed=3, epoch=2)["goal"]
  assert np.all(other[:, robot] == 0)  # p = 1: every epoch.


def test_kappa_max_longer_than_every_episode(dataset_dir):
  config = windows.WindowConfig(kappa_min=16, kappa_max=100)  # 99 acting steps.
  with pytest.raises(ValueError, match="kappa_max"):
    windows.WindowStore.from_dataset(dataset_dir, "train", config)


def test_missing_statistics(dataset_dir, tmp_path):
  copy = tmp_path / "copy"
  shutil.copytree(dataset_dir, copy)
  (copy / "statistics.json").unlink()
  with pytest.raises(ValueError, match="statistics.json"):
    pipeline.make_iterator(copy, batch_size=8)


def test_batch_larger_than_data(store):
  with pytest.raises(ValueError, match="batch_size"):
    pipeline.make_iterator(store, batch_size=169)


def test_state_from_another_pipeline_shape_is_refused(store):
  it = pipeline.make_iterator(store, batch_size=8)
  with pytest.raises(ValueError, match="worker_count"):
    pipeline.set_state(
        it,
        {
            "next_index_in_cycle": 1,
            "iterators_in_use_states": [{"next_index": 3}],
        },
    )


def test_validation_split_uses_train_statistics(dataset_dir, store):
  val = windows.WindowStore.from_dataset(dataset_dir, "validation", CONFIG)
  assert val.num_windows == 84  # 1 episode of 100 steps.
  np.testing.assert_array_equal(
      val.normalization.state_mean, store.normalization.state_mean
  )
  raw = reading.EpisodeSource(dataset_dir, "validation")[0]
  np.testing.assert_allclose(
      val.states,
      store.normalization.normalize_state(raw["steps"]["observation"]["state"]),
      rtol=1e-6,
      atol=1e-6,
  )
  batch = next(
      pipeline.make_iterator(
          dataset_dir, split="validation", batch_size=16, config=CONFIG
      )
  )
  assert batch["obs"].shape == (16, 32, 42)


def test_data_bench_runs(dataset_dir):
  from playlearn.bench import data_bench  # pylint: disable=g-import-not-at-top

  results = data_bench.measure(
      dataset_dir, batch_size=32, num_batches=5, threads=(0,), workers=()
  )
  assert results["num_windows"] == 168
  assert results["threads_0"]["batches_per_s"] > 0
  assert results["threads_0"]["windows_per_s"] == pytest.approx(
      32 * results["threads_0"]["batches_per_s"]
  )


def test_executed_actions_on_request(dataset_dir):
  # The tiny play is perturbed: labels and executed actions differ, and
  # WindowConfig.actions picks which one the learner sees.
  source = reading.EpisodeSource(dataset_dir, "train")
  steps = source[0]["steps"]
  assert not np.array_equal(steps["action"], steps["action_label"])
  for field, key in (("executed", "action"), ("label", "action_label")):
    config = windows.WindowConfig(16, 32, actions=field)
    store = windows.WindowStore.from_dataset(dataset_dir, "train", config)
    np.testing.assert_array_equal(store.actions[: len(steps[key])], steps[key])
  with pytest.raises(ValueError, match="actions"):
    windows.WindowConfig(16, 32, actions="clean")
