"""PlayTable dataset builders: configs, round trips, failures, damaged shards.

All without TensorFlow (test_dataset_tf.py has the tf.data path). Datasets are
built from the `tiny` configs into tmp_path, generating in this process
(num_workers=1) except where worker processes are the point.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import types

import grain
import numpy as np
import pytest
import tensorflow_datasets as tfds

from playlearn import data as data_lib
from playlearn.datasets import playtable
from playlearn.data import rlds
from playlearn.envs import playtable as playtable_env
from playlearn.envs import tasks as tasks_lib
from playlearn.play import episodes
from playlearn.play import noise as noise_lib

PLAY = playtable.builder_class("playtable_play")
DEMOS = playtable.builder_class("playtable_demos")
BUILDERS = {"playtable_play": PLAY, "playtable_demos": DEMOS}
ALL_CONFIGS = [
    (name, config.name)
    for name, cls in BUILDERS.items()
    for config in cls.BUILDER_CONFIGS
]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def assert_same_episode(got, want, path="episode"):
  """Same keys, dtypes, shapes and bits."""
  if isinstance(want, dict):
    assert set(got) == set(want), path
    for key in want:
      assert_same_episode(got[key], want[key], f"{path}/{key}")
  elif isinstance(want, np.ndarray):
    assert isinstance(got, np.ndarray), path
    assert (got.dtype, got.shape) == (want.dtype, want.shape), path
    assert np.array_equal(got, want), path
  else:
    assert got == want, path


def build(cls, config, data_dir, num_workers=1, **kwargs):
  builder = cls(config=config, data_dir=data_dir, num_workers=num_workers)
  builder.download_and_prepare(**kwargs)
  return builder


@pytest.fixture(scope="module")
def tiny_play(tmp_path_factory):
  return build(PLAY, "tiny", tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="module")
def tiny_demos(tmp_path_factory):
  return build(DEMOS, "tiny", tmp_path_factory.mktemp("tfds"))


@pytest.mark.parametrize("name,config", ALL_CONFIGS)
def test_config_contract(name, config, tmp_path):
  builder = BUILDERS[name](config=config, data_dir=tmp_path)
  assert builder.info.file_format == tfds.core.FileFormat.ARRAY_RECORD
  observation = builder.info.features["steps"]["observation"]
  assert observation["state"].shape == (episodes.STATE_DIM,)
  assert observation["target"].shape == (playtable_env.TARGET_DIM,)
  has_images = builder.builder_config.images
  assert ("rgb_static" in observation.keys()) == has_images
  assert ("rgb_gripper" in observation.keys()) == has_images
  if has_images:
    # The env's sizes unless a config says otherwise (images_full_160px).
    s, g = (
        builder.builder_config.static_size,
        builder.builder_config.gripper_size,
    )
    assert (s, g) == ((160, 64) if config.endswith("_160px") else (96, 64))
    assert observation["rgb_static"].shape == (s, s, 3)
    assert observation["rgb_gripper"].shape == (g, g, 3)
  jobs = builder.split_jobs()
  if has_images:  # The episodes render at the config's sizes.
    job = jobs["train"][0]
    assert (job.static_size, job.gripper_size) == (s, g)
  assert set(jobs) == {"train", "validation"} and all(jobs.values())
  for split_jobs in jobs.values():
    assert [job.index for job in split_jobs] == list(range(len(split_jobs)))
  train_seeds = [job.seed for job in jobs["train"]]
  validation_seeds = [job.seed for job in jobs["validation"]]
  assert len(set(train_seeds)) == len(train_seeds)
  assert max(train_seeds) < min(validation_seeds)  # Disjoint ranges.


def test_noise_ablation_configs_change_only_the_noise():
  play = {config.name: config for config in PLAY.BUILDER_CONFIGS}
  full = play["state_full"]
  for name, sigma in (
      ("state_full_sigma15", 0.15),
      ("state_full_sigma60", 0.6),
      ("state_full", 0.3),
  ):
    config = play[name]
    assert config.noise.sigma == sigma and config.noise.kind == "gaussian"
    assert (config.train_episodes, config.steps_per_episode) == (
        full.train_episodes,
        full.steps_per_episode,
    )


def test_push_rich_play_weights_only_the_pushes():
  config = PLAY(config="images_large_pushes").builder_config
  pushes = [t for t in episodes.TASKS if t.startswith("push_")]
  assert len(pushes) == 6
  assert dict(config.task_weights) == {t: 2.5 for t in pushes}
  assert "push_red_block_left x2.5" in config.description
  jobs = PLAY(config="images_large_pushes").split_jobs()
  plain = PLAY(config="images_large").split_jobs()
  for split in ("train", "validation"):
    assert [job.seed for job in jobs[split]] == [
        job.seed for job in plain[split]
    ]
    assert all(
        job.task_weights == dict(config.task_weights) for job in jobs[split]
    )
    assert all(job.task_weights is None for job in plain[split])
  # The weights reach the worker processes (one line of JSON per job).
  job = jobs["train"][0]
  decoded = playtable.decode_job(playtable.encode_job(job))
  assert decoded.task_weights == job.task_weights
  recorded = playtable.generate_episode(
      dataclasses.replace(job, images=False, num_steps=50)
  )["episode_metadata"]["generator_version"]
  assert recorded.startswith(episodes.GENERATOR_VERSION + " task_weights=")
  assert json.loads(recorded.split("task_weights=")[1]) == dict(
      config.task_weights
  )


def test_config_sizes():
  play = {config.name: config for config in PLAY.BUILDER_CONFIGS}
  hz = playtable.CONTROL_HZ
  for name in ("state_full", "images_full", "images_full_160px"):  # 3 hours.
    steps = play[name].train_episodes * play[name].steps_per_episode
    assert steps == 3 * 3600 * hz == 162_000
  # The same play with a finer static view, the gripper's as before.
  assert play["images_full"].static_size == 96
  assert play["images_full_160px"].static_size == 160
  assert play["images_full_160px"].gripper_size == 64
  for name in ("state_large", "images_large", "images_large_pushes"):  # 12 h.
    steps = play[name].train_episodes * play[name].steps_per_episode
    assert steps == 12 * 3600 * hz
  for name in ("state_small", "images_small"):  # Minutes.
    steps = play[name].train_episodes * play[name].steps_per_episode
    assert 3 <= steps / hz / 60 <= 15
  demos = {config.name: config for config in DEMOS.BUILDER_CONFIGS}
  assert demos["state_100"].train_per_task == 100
  assert demos["state_100"].num_tasks is None  # Every task.
  jobs = DEMOS(config="state_10").split_jobs()["train"]
  assert len(jobs) == 10 * len(episodes.TASKS)
  assert [job.task for job in jobs[::10]] == list(episodes.TASKS)


def test_play_round_trip(tiny_play):
  steps_per_episode = tiny_play.builder_config.steps_per_episode
  for split, jobs in tiny_play.split_jobs().items():
    source = data_lib.EpisodeSource(tiny_play.data_dir, split)
    assert len(source) == len(jobs)
    assert len(source) == tiny_play.info.splits[split].num_examples
    for job in jobs:
      got = source[job.index]
      assert_same_episode(got, playtable.generate_episode(job))
      steps = got["steps"]
      assert len(steps["action"]) == steps_per_episode
      assert steps["is_first"].nonzero()[0].tolist() == [0]
      assert steps["is_last"].nonzero()[0].tolist() == [steps_per_episode - 1]
      meta = got["episode_metadata"]
      assert (meta["seed"], meta["kind"], meta["task"]) == (
          job.seed,
          "play",
          "",
      )
      assert meta["episode_id"] == f"play-{job.seed}"


def test_reused_environment_changes_nothing(tiny_play):
  # Builders reuse an environment per process; a fresh one gives the same bits.
  job = tiny_play.split_jobs()["train"][1]
  assert job.noise is not None  # The default play is perturbed.
  fresh = episodes.generate_episode(
      "play",
      job.seed,
      num_steps=job.num_steps,
      noise=noise_lib.NoiseConfig.from_dict(job.noise),
  )
  got = data_lib.EpisodeSource(tiny_play.data_dir, "train")[1]
  assert_same_episode(got["steps"], fresh["steps"])


class _Seed(grain.transforms.Map):

  def map(self, element):
    return element["episode_metadata"]["seed"]


def test_tfds_data_source_and_grain(tiny_play):
  # By name and directory: reading needs no builder code.
  ds = tfds.data_source(
      "playtable_play/tiny", data_dir=tiny_play.data_dir_root, split="train"
  )
  source = data_lib.EpisodeSource(tiny_play.data_dir, "train")
  assert len(ds) == len(source) == 2
  steps = list(ds[1]["steps"])  # TFDS decodes Dataset features step by step.
  want = source[1]["steps"]
  assert len(steps) == len(want["action"])
  np.testing.assert_array_equal(
      np.stack([s["observation"]["state"] for s in steps]),
      want["observation"]["state"],
  )
  np.testing.assert_array_equal(
      np.stack([s["action"] for s in steps]), want["action"]
  )
  assert [s["is_first"] for s in steps] == want["is_first"].tolist()

  lengths = (
      grain.MapDataset.source(source)
      .shuffle(seed=0)
      .map(lambda episode: len(episode["steps"]["action"]))
  )
  assert list(lengths) == [100, 100]
  sampler = grain.samplers.IndexSampler(len(ds), num_epochs=1, shuffle=False)
  loader = grain.DataLoader(
      data_source=ds, sampler=sampler, operations=[_Seed()]
  )
  assert [int(seed) for seed in loader] == [0, 1]


def _site_packages_without_tensorflow(tmp_path):
  """The installed packages (as symlinks in one folder) less TensorFlow."""
  overlay = tmp_path / "site-packages"
  overlay.mkdir()
  for site in sys.path:
    if os.path.basename(site) not in ("site-packages", "dist-packages"):
      continue
    for name in os.listdir(site):
      hidden = name == "tensorflow" or name.startswith(
          ("tensorflow-", "tensorflow_cpu-")
      )
      if not hidden and not os.path.lexists(overlay / name):
        (overlay / name).symlink_to(os.path.join(site, name))
  return overlay


def test_reads_without_tensorflow(tiny_play, tmp_path):
  # TensorFlow may be installed (the tf extra): hide it to show that reading
  # needs none.
  root, version_dir = map(
      os.fspath, (tiny_play.data_dir_root, tiny_play.data_dir)
  )
  script = textwrap.dedent(f"""
      import importlib.util
      import grain
      import tensorflow_datasets as tfds
      from playlearn import data
      ds = tfds.data_source("playtable_play/tiny", data_dir={root!r},
                            split="train")
      source = data.EpisodeSource({version_dir!r}, "train")
      print(len(ds), len(list(ds[0]["steps"])),
            len(list(grain.MapDataset.source(source))),
            data.load_statistics({version_dir!r})["num_steps"],
            importlib.util.find_spec("tensorflow"))
  """)
  path = os.pathsep.join(
      [os.fspath(_site_packages_without_tensorflow(tmp_path)), REPO]
  )
  out = subprocess.run(
      [sys.executable, "-S", "-c", script],
      text=True,
      capture_output=True,
      env={**os.environ, "PYTHONPATH": path},
  )
  assert out.returncode == 0, out.stderr
  assert out.stdout.split()[-5:] == ["2", "100", "2", "200", "None"]


def test_parallel_build_writes_the_same_records(tiny_play, tmp_path):
  parallel = build(PLAY, "tiny", tmp_path, num_workers=2)
  for split in ("train", "validation"):
    a = data_lib.EpisodeSource(tiny_play.data_dir, split)
    b = data_lib.EpisodeSource(parallel.data_dir, split)
    assert len(a) == len(b)
    for i in range(len(a)):
      assert_same_episode(b[i], a[i])
  assert (
      data_lib.load_statistics(parallel)["state"]["mean"].tolist()
      == data_lib.load_statistics(tiny_play)["state"]["mean"].tolist()
  )


def test_worker_processes(monkeypatch):
  # Pretend TensorFlow is loaded: rendering must move out of this process.
  monkeypatch.setitem(sys.modules, "tensorflow", types.ModuleType("tf"))
  good = playtable.EpisodeJob(
      index=0, kind="play", seed=0, num_steps=3, images=True
  )
  with pytest.raises(RuntimeError, match="imported TensorFlow"):
    playtable.generate_episode(good)
  bad = dataclasses.replace(good, index=1, kind="bogus")
  results = playtable.make_examples([good, bad], num_workers=1)
  key, example, _ = next(results)
  assert key == 0
  assert example["steps"]["observation"]["rgb_static"].shape == (3, 96, 96, 3)
  with pytest.raises(
      RuntimeError,
      match="(?s)generating .*kind='bogus'.* "
      "failed in worker.*kind must be 'play' or 'demo'",
  ):
    next(results)


def _structure(nest):
  """Keys in order, the type of each leaf and of each str of object arrays."""
  if isinstance(nest, dict):
    return [(key, _structure(value)) for key, value in nest.items()]
  if isinstance(nest, np.ndarray) and nest.dtype == object:
    return [type(value) for value in nest.flat]
  return type(nest)


def test_episode_codec_round_trip():
  # What workers send: a generated episode, here with camera images and words
  # that are not ASCII added, comes back with the same bits, types and order.
  job = playtable.EpisodeJob(index=0, kind="play", seed=0, num_steps=4)
  episode = playtable.generate_episode(job)
  steps = episode["steps"]
  rng = np.random.default_rng(0)
  steps["observation"]["rgb_static"] = rng.integers(
      0, 256, (4, 96, 96, 3), np.uint8
  )
  steps["observation"]["rgb_gripper"] = rng.integers(
      0, 256, (4, 64, 64, 3), np.uint8
  )
  steps["language_instruction"] = np.array(
      ["", "pousse le bloc à gauche", "把红色方块推到左边 🟥", ""], dtype=object
  )
  episode["episode_metadata"]["task"] = "déplacer"
  got = playtable.decode_episode(playtable.encode_episode(episode))
  assert_same_episode(got, episode)
  assert _structure(got) == _structure(episode)
  assert _structure(got["steps"])[-1] == ("language_instruction", [str] * 4)
  assert _structure(got["episode_metadata"])[:2] == [
      ("seed", int),
      ("reset_seed", int),
  ]


def test_episode_codec_edge_cases():
  episode = {
      "steps": {
          "language_instruction": np.array([], dtype=object),
          "grid": np.zeros((0, 3), np.float32),
          "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
          "words": np.array([["a", "bé"], ["", "c"]], dtype=object),
      },
      "episode_metadata": {
          "big": 2**62,
          "flag": True,
          "x": 0.1,
          "np": np.int32(7),
          "empty": {},
          "text": "ü",
      },
  }
  got = playtable.decode_episode(playtable.encode_episode(episode))
  assert_same_episode(got, episode)
  assert _structure(got) == _structure(episode)
  assert got["steps"]["fortran"].flags.f_contiguous
  for leaf, error in [
      (np.array([1], object), TypeError),
      (np.array(["a\0"], object), ValueError),
      ("a\0", ValueError),
      (2**64, OverflowError),
      (None, TypeError),
      ([1, 2], TypeError),
  ]:
    with pytest.raises(error):
      playtable.encode_episode({"x": leaf})
  with pytest.raises(ValueError, match="key 'a/b'"):
    playtable.encode_episode({"a/b": 1})


def test_decode_episode_refuses_object_arrays():
  # Loading an object array would unpickle it: a reply must not run code.
  buffer = io.BytesIO()
  np.savez(
      buffer,
      __layout__=np.asarray('[["x", "array"]]'),
      x=np.array([{}], dtype=object),
  )
  with pytest.raises(ValueError, match="Object arrays cannot be loaded"):
    playtable.decode_episode(buffer.getvalue())


def test_job_lines_and_reply_frames():
  job = playtable.EpisodeJob(
      index=3, kind="demo", seed=np.int64(2**40), task="déplacer", images=True
  )
  line = playtable.encode_job(job)
  assert line.endswith(b"\n") and line.count(b"\n") == 1
  assert playtable.decode_job(line) == job
  assert type(playtable.decode_job(line).seed) is int

  payload = "Traceback … é".encode()
  stream = io.BytesIO()
  playtable._write_frame(stream, 1, payload)
  frame = stream.getvalue()
  # Status byte, little-endian 8-byte length, payload.
  assert frame == b"\x01" + len(payload).to_bytes(8, "little") + payload
  assert playtable._read_frame(io.BytesIO(frame)) == (1, payload)
  for cut in (0, 5, len(frame) - 1):  # A worker that died mid-reply.
    with pytest.raises(EOFError):
      playtable._read_frame(io.BytesIO(frame[:cut]))


def test_worker_error_carries_its_traceback():
  bad = playtable.EpisodeJob(index=0, kind="bogus", seed=0, num_steps=3)
  with pytest.raises(RuntimeError) as error:
    next(playtable._map_in_processes([bad], num_workers=1))
  message = str(error.value)
  assert message.startswith(f"generating {bad} failed in worker process ")
  assert "Traceback (most recent call last):" in message
  assert "in generate_episode" in message  # The worker's frames.
  assert message.rstrip().endswith(
      "ValueError: kind must be 'play' or 'demo', got 'bogus'"
  )


def test_dead_worker_is_named(monkeypatch):
  monkeypatch.setattr(playtable, "_WORKER", "import sys; sys.exit(3)")
  job = playtable.EpisodeJob(index=0, kind="play", seed=0, num_steps=3)
  with pytest.raises(
      RuntimeError,
      match=r"worker process \d+ died \(exit code 3\) "
      r"generating EpisodeJob\(index=0",
  ):
    next(playtable._map_in_processes([job], num_workers=1))


def test_num_workers_from_environment(monkeypatch, tmp_path):
  monkeypatch.setenv(playtable.NUM_WORKERS_ENV, "3")
  assert PLAY(config="tiny", data_dir=tmp_path).num_workers == 3
  assert PLAY(config="tiny", data_dir=tmp_path, num_workers=5).num_workers == 5


def test_images_round_trip(tmp_path):
  builder = build(PLAY, "tiny_images", tmp_path)
  source = data_lib.EpisodeSource(builder.data_dir, "train")
  for job in builder.split_jobs()["train"]:
    got = source[job.index]
    observation = got["steps"]["observation"]
    t = job.num_steps
    assert observation["rgb_static"].shape == (t, 96, 96, 3)
    assert observation["rgb_gripper"].shape == (t, 64, 64, 3)
    assert observation["rgb_static"].dtype == np.uint8
    assert observation["rgb_static"].std() > 0  # A scene, not a blank frame.
    assert_same_episode(got, playtable.generate_episode(job))
  data_lib.verify_dataset(builder)


def test_demos_round_trip(tiny_demos):
  tasks = list(episodes.TASKS[:2])
  jobs = tiny_demos.split_jobs()
  assert [job.task for job in jobs["train"]] == [tasks[0]] * 2 + [tasks[1]] * 2
  assert [job.task for job in jobs["validation"]] == tasks
  source = data_lib.EpisodeSource(tiny_demos.data_dir, "train")
  assert len(source) == 4
  for job in jobs["train"]:
    got = source[job.index]
    assert_same_episode(got, playtable.generate_episode(job))
    meta = got["episode_metadata"]
    assert (meta["kind"], meta["task"], meta["seed"]) == (
        "demo",
        job.task,
        job.seed,
    )
    # The last step holds the final observation and no action: no task.
    words = got["steps"]["language_instruction"]
    assert set(words[:-1]) == {tasks_lib.TASKS[job.task].instruction}
    assert got["steps"]["is_first"][0] and got["steps"]["is_last"][-1]
  ids = {source[i]["episode_metadata"]["episode_id"] for i in range(4)}
  assert len(ids) == 4


def test_failed_build_leaves_nothing_that_looks_complete(monkeypatch, tmp_path):
  real = episodes.generate_episode

  def fails_on_seed_1(kind, seed, **kwargs):
    if seed == 1:
      raise RuntimeError("generator crashed")
    return real(kind, seed, **kwargs)

  monkeypatch.setattr(episodes, "generate_episode", fails_on_seed_1)
  builder = PLAY(config="tiny", data_dir=tmp_path, num_workers=1)
  with pytest.raises(RuntimeError, match="generator crashed"):
    builder.download_and_prepare()
  assert not (builder.data_path / "dataset_info.json").exists()
  assert not (builder.data_path / "statistics.json").exists()
  assert not [
      p for p in builder.data_path.parent.iterdir() if "incomplete" in p.name
  ]
  with pytest.raises(FileNotFoundError, match="not .*prepared"):
    data_lib.verify_dataset(builder.data_path)

  monkeypatch.setattr(episodes, "generate_episode", real)
  builder = build(PLAY, "tiny", tmp_path)  # The rerun succeeds.
  assert data_lib.verify_dataset(builder) == {
      "train": {"shards": 1, "records": 2},
      "validation": {"shards": 1, "records": 1},
  }


@pytest.fixture
def damaged_copy(tiny_play, tmp_path):
  """A copy of the tiny dataset and the path of its train shard."""
  copy = tmp_path / "copy"
  shutil.copytree(tiny_play.data_dir, copy)
  (shard,) = [p for p in copy.iterdir() if "-train.array_record" in p.name]
  return copy, shard


def _flip(path, offset, count=8):
  with open(path, "r+b") as f:
    f.seek(offset)
    data = f.read(count)
    f.seek(offset)
    f.write(bytes(b ^ 0xFF for b in data))


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_damaged_shard_is_named(damaged_copy, damage):
  copy, shard = damaged_copy
  if damage == "truncate":
    os.truncate(shard, os.path.getsize(shard) // 2)
  elif damage == "flip":
    _flip(shard, 200)  # Inside the first chunk of records.
  else:
    shard.unlink()
  with pytest.raises(data_lib.CorruptShardError, match=shard.name) as error:
    data_lib.verify_dataset(copy)
  assert error.value.path == os.fspath(shard)
  source = data_lib.EpisodeSource(copy, "train")
  with pytest.raises(data_lib.CorruptShardError, match=shard.name):
    source[0]  # pylint: disable=pointless-statement
  data_lib.EpisodeSource(copy, "validation")[0]  # The other shard reads.


def test_verify_counts_records_against_dataset_info(damaged_copy):
  copy, shard = damaged_copy
  # A whole, readable shard with 1 record where 2 belong.
  shutil.copy(copy / shard.name.replace("-train.", "-validation."), shard)
  with pytest.raises(
      data_lib.CorruptShardError,
      match=f"{shard.name}: holds 1 records.* says 2",
  ):
    data_lib.verify_dataset(copy)


def test_to_example_rejects_unknown_metadata():
  job = playtable.EpisodeJob(index=0, kind="play", seed=0, num_steps=5)
  episode = playtable.generate_episode(job)
  episode["episode_metadata"]["new_field"] = 1
  with pytest.raises(ValueError, match="new_field"):
    rlds.to_example(episode, playtable.METADATA)


def test_episode_source_subsplit_and_pickle(tiny_play):
  source = data_lib.EpisodeSource(tiny_play, "train[1:]")
  source = pickle.loads(pickle.dumps(source))  # As Grain workers get it.
  assert len(source) == 1
  assert source[0]["episode_metadata"]["seed"] == 1
  assert source[-1]["episode_metadata"]["seed"] == 1
  with pytest.raises(IndexError):
    source[1]  # pylint: disable=pointless-statement


def _has_beam():
  return importlib.util.find_spec("apache_beam") is not None


@pytest.mark.skipif(
    not _has_beam(), reason="needs apache-beam (the beam extra)"
)
def test_beam_direct_runner_builds_the_same_dataset(tiny_play, tmp_path):
  import apache_beam as beam  # pylint: disable=g-import-not-at-top

  builder = PLAY(config="tiny", data_dir=tmp_path)
  builder.download_and_prepare(
      download_config=tfds.download.DownloadConfig(
          beam_runner=beam.runners.DirectRunner()
      )
  )
  assert data_lib.verify_dataset(builder)["train"]["records"] == 2
  for split in ("train", "validation"):
    a = data_lib.EpisodeSource(tiny_play.data_dir, split)
    b = data_lib.EpisodeSource(builder.data_dir, split)
    for i in range(len(a)):
      assert_same_episode(b[i], a[i])
    beam_stats = data_lib.load_statistics(builder, split)
    local_stats = data_lib.load_statistics(tiny_play, split)
    for field in ("state", "action"):
      for name, value in local_stats[field].items():
        np.testing.assert_allclose(
            beam_stats[field][name], value, rtol=1e-6, err_msg=name
        )
  assert not [
      p for p in builder.data_path.iterdir() if p.name.endswith(".partial")
  ]


def test_large_splits_stay_in_memory_not_in_tensorflow_buckets(
    monkeypatch, tmp_path
):
  # Past TFDS's buffer size its shuffler would spill to bucket files through
  # tf.io.gfile (TensorFlow); the builder keeps every split in memory.
  from tensorflow_datasets.core import shuffle  # pylint: disable=g-import-not-at-top

  def spill(*args):
    raise AssertionError("the shuffle buffer spilled to TensorFlow buckets")

  monkeypatch.setattr(shuffle, "MAX_MEM_BUFFER_SIZE", 1)
  monkeypatch.setattr(shuffle._Bucket, "add", spill)
  builder = build(PLAY, "tiny", tmp_path)
  assert builder.info.splits["train"].num_examples == 2
  assert shuffle.MAX_MEM_BUFFER_SIZE == 1  # Restored after the build.
