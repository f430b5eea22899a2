"""The TensorFlow path: `tfds build` to TFRecord, reading through tf.data.

Needs the `tf` extra; the rest of the datasets is tested without it in
test_datasets.py. TensorFlow runs in a subprocess and is never imported here:
a process that has imported it crashes when MuJoCo renders, as other tests in
this process do.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from playlearn import data as data_lib
from playlearn.datasets import playtable

pytestmark = [
    pytest.mark.tf,
    pytest.mark.skipif(
        importlib.util.find_spec("tensorflow") is None,
        reason="needs the tf extra (tensorflow)",
    ),
]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Builds with the `tfds build` command (in-process, as TFDS's own CLI tests
# do, so that TensorFlow is imported once), reads back through tf.data and
# saves what it read for the test process.
_TF_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import numpy as np
    import tensorflow as tf
    import tensorflow_datasets as tfds
    from tensorflow_datasets.scripts.cli import main as cli

    repo, data_dir, out = sys.argv[1:]
    for config in ("tiny", "tiny_images"):
      cli.main(cli._parse_flags([
          "tfds", "build", os.path.join(repo, "datasets", "playtable_play"),
          f"--config={config}", "--file_format=tfrecord",
          f"--data_dir={data_dir}"]))
    arrays = {}
    for config in ("tiny", "tiny_images"):
      # From the files alone, without the builder code.
      builder = tfds.builder(f"playtable_play/{config}", data_dir=data_dir)
      for split in ("train", "validation"):
        for i, episode in enumerate(builder.as_dataset(split=split)):
          assert isinstance(episode["steps"], tf.data.Dataset)  # RLDS.
          steps = tf.data.Dataset.get_single_element(
              episode["steps"].batch(1_000_000))
          flat = {f"observation/{k}": v
                  for k, v in steps.pop("observation").items()}
          flat.update(steps)
          flat.update({f"meta/{k}": v
                       for k, v in episode["episode_metadata"].items()})
          for key, value in flat.items():
            value = value.numpy()
            if isinstance(value, bytes) or value.dtype == object:  # Strings.
              value = np.vectorize(bytes.decode, otypes=[str])(value)
            arrays[f"{config}/{split}/{i}/{key}"] = value
    np.savez(os.path.join(out, "read.npz"), **arrays)
    # The usual RLDS pipeline: flatten the episodes into steps.
    steps = tfds.load("playtable_play/tiny", data_dir=data_dir,
                      split="train").flat_map(lambda episode: episode["steps"])
    firsts = [bool(step["is_first"]) for step in steps.as_numpy_iterator()]
    with open(os.path.join(out, "summary.json"), "w") as f:
      json.dump({"flat_steps": len(firsts), "flat_firsts": sum(firsts)}, f)
""")


@pytest.fixture(scope="module")
def tf_run(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("tfds")
  out = tmp_path_factory.mktemp("out")
  env = {
      **os.environ,
      playtable.NUM_WORKERS_ENV: "1",
      "PYTHONPATH": os.pathsep.join(
          filter(None, [REPO, os.environ.get("PYTHONPATH")])
      ),
  }
  run = subprocess.run(
      [
          sys.executable,
          "-c",
          _TF_SCRIPT,
          REPO,
          os.fspath(data_dir),
          os.fspath(out),
      ],
      env=env,
      capture_output=True,
      text=True,
  )
  assert run.returncode == 0, run.stderr[-4000:]
  with np.load(out / "read.npz", allow_pickle=False) as arrays:
    read = dict(arrays)
  return data_dir, read, json.loads((out / "summary.json").read_text())


def test_tfds_build_writes_tfrecord(tf_run):
  data_dir, _, _ = tf_run
  version_dir = data_dir / "playtable_play" / "tiny" / "1.3.0"
  assert sorted(p.name for p in version_dir.glob("*.tfrecord*")) == [
      "playtable_play-train.tfrecord-00000-of-00001",
      "playtable_play-validation.tfrecord-00000-of-00001",
  ]
  summary = data_lib.verify_dataset(version_dir)
  assert summary["train"] == {"shards": 1, "records": 2}
  assert data_lib.load_statistics(version_dir)["num_steps"] == 200


@pytest.mark.parametrize("config", ["tiny", "tiny_images"])
def test_as_dataset_matches_the_generator(tf_run, config):
  # tiny_images: `tfds build` had imported TensorFlow, so the episodes were
  # rendered in worker processes even with PLAYLEARN_NUM_WORKERS=1 (rendering
  # in the command's own process would have crashed it).
  _, read, _ = tf_run
  jobs = playtable.builder_class("playtable_play")(config=config).split_jobs()
  for split, split_jobs in jobs.items():
    for i, job in enumerate(split_jobs):
      want = playtable.generate_episode(job)
      prefix = f"{config}/{split}/{i}"
      steps = dict(want["steps"])
      for key, value in steps.pop("observation").items():
        steps[f"observation/{key}"] = value
      for key, value in steps.items():
        got = read[f"{prefix}/{key}"]
        if key == "language_instruction":
          assert got.tolist() == value.tolist()
        else:
          assert (got.dtype, got.shape) == (value.dtype, value.shape), key
          np.testing.assert_array_equal(got, value, err_msg=key)
      meta = want["episode_metadata"]
      assert int(read[f"{prefix}/meta/seed"]) == job.seed
      assert read[f"{prefix}/meta/segments"].item() == meta["segments"]


def test_tfds_load_rlds_style(tf_run):
  _, _, summary = tf_run
  assert summary == {"flat_steps": 200, "flat_firsts": 2}


def test_damaged_tfrecord_is_named(tf_run, tmp_path):
  data_dir, _, _ = tf_run
  copy = tmp_path / "copy"
  shutil.copytree(data_dir / "playtable_play" / "tiny" / "1.3.0", copy)
  shard = copy / "playtable_play-train.tfrecord-00000-of-00001"
  os.truncate(shard, os.path.getsize(shard) - 10)
  with pytest.raises(data_lib.CorruptShardError, match=shard.name):
    data_lib.verify_dataset(copy)
  with pytest.raises(ValueError, match="tfrecord"):
    data_lib.EpisodeSource(copy)  # Random access needs ArrayRecord.
