"""Bad input and interrupted writes: clear errors, and nothing written is lost.

Each test injects one fault a user met (NaN physics, a negative time limit, a
dataset copied without its statistics, a killed build or training run) and
checks the error names the culprit, or that the damage is repaired.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from playlearn import data as data_lib
from playlearn.datasets import playtable as playtable_data
from playlearn.envs import playtable
from playlearn.envs import registry
from playlearn.evaluation import report


@pytest.fixture(scope="module")
def env():
  env = registry.load("PlayTable")
  yield env
  env.close()


# ------------------------------------------------------------ env.set_state
def _bad(state, field, value):
  return {**state, field: value}


def _nan_physics(state):
  physics = state["physics"].copy()
  physics[3] = np.nan
  return _bad(state, "physics", physics)


@pytest.mark.parametrize(
    "damage, message",
    [
        (
            _nan_physics,
            r"state\['physics'\] has non-finite values at indices \[3\]",
        ),
        (
            lambda s: _bad(s, "physics", s["physics"][:-1]),
            r"state\['physics'\] must be a float array of shape",
        ),
        (
            lambda s: _bad(s, "lights", np.zeros(2, bool)),
            r"state\['lights'\] must have shape \(3,\), got \(2,\)",
        ),
        (
            lambda s: _bad(s, "lights", np.array([0.5, np.nan, 1.0])),
            r"state\['lights'\] must be booleans",
        ),
        (
            lambda s: _bad(s, "button_down", np.zeros((3, 1), bool)),
            r"state\['button_down'\] must have shape \(3,\)",
        ),
        (
            lambda s: _bad(s, "lamp", [True, False]),
            r"state\['lamp'\] must have shape \(\)",
        ),
        (
            lambda s: _bad(s, "steps", -1),
            r"state\['steps'\] must be an integer",
        ),
        (
            lambda s: {k: v for k, v in s.items() if k != "lights"},
            r"state lacks lights",
        ),
    ],
)
def test_set_state_rejects_bad_state_and_leaves_the_simulator(
    env, damage, message
):
  env.reset(seed=0)
  snapshot = env.get_state()
  env.step(np.full(playtable.ACTION_DIM, 0.5, np.float32))
  current = env.get_state()
  assert not np.array_equal(current["physics"], snapshot["physics"])
  with pytest.raises(ValueError, match=message):
    env.set_state(damage(snapshot))
  after = env.get_state()  # Still the stepped state, not the snapshot's.
  np.testing.assert_array_equal(after["physics"], current["physics"])
  assert after["steps"] == current["steps"] == 1
  observation = env.step(np.zeros(playtable.ACTION_DIM, np.float32)).observation
  assert np.isfinite(observation["state"]).all()


def test_set_state_accepts_its_own_state_after_a_json_round_trip(env):
  env.reset(seed=1)
  state = env.get_state()
  as_json = json.loads(
      json.dumps(
          {
              k: v.tolist() if isinstance(v, np.ndarray) else v
              for k, v in state.items()
          }
      )
  )
  want = env.step(np.full(playtable.ACTION_DIM, 0.3, np.float32)).observation
  env.set_state(as_json)  # Lists of floats and of bools, as JSON gives them.
  got = env.step(np.full(playtable.ACTION_DIM, 0.3, np.float32)).observation
  np.testing.assert_array_equal(got["state"], want["state"])


# ----------------------------------------------------------------- EnvConfig
@pytest.mark.parametrize(
    "field, value, message",
    [
        (
            "time_limit",
            -1,
            r"EnvConfig.time_limit must be an integer >= 1 "
            r"\(None: no limit\), got -1",
        ),
        ("time_limit", 0, r"EnvConfig.time_limit must be an integer >= 1"),
        ("time_limit", 2.5, r"EnvConfig.time_limit must be an integer >= 1"),
        (
            "static_size",
            0,
            r"EnvConfig.static_size must be an integer >= 1, got 0",
        ),
        (
            "gripper_size",
            -64,
            r"EnvConfig.gripper_size must be an integer >= 1",
        ),
        ("substeps", 0, r"EnvConfig.substeps must be an integer >= 1"),
        (
            "max_pos_step",
            float("nan"),
            r"EnvConfig.max_pos_step must be a finite",
        ),
        (
            "max_rot_lead",
            0.0,
            r"EnvConfig.max_rot_lead must be a finite number > 0",
        ),
        (
            "stack_probability",
            1.5,
            r"EnvConfig.stack_probability must be in \[0, 1\], got 1.5",
        ),
        (
            "render_backend",
            "vulkan",
            r"EnvConfig.render_backend must be None or "
            r"one of auto, egl, osmesa; got 'vulkan'",
        ),
    ],
)
def test_load_rejects_out_of_range_config(field, value, message):
  with pytest.raises(ValueError, match=message):
    registry.load("PlayTable", **{field: value})


def test_config_accepts_its_limits():
  assert playtable.EnvConfig(time_limit=None).time_limit is None
  config = playtable.EnvConfig(
      time_limit=1, stack_probability=0, render_backend="auto", static_size=1
  )
  assert (config.time_limit, config.stack_probability) == (1, 0)


# ------------------------------------------------------------------ datasets
def test_verify_dataset_names_missing_statistics(tiny_play_dataset, tmp_path):
  copy = tmp_path / "copy"
  shutil.copytree(tiny_play_dataset, copy)
  data_lib.verify_dataset(copy, decode=False)  # Whole: passes.
  (copy / "statistics.json").unlink()
  with pytest.raises(
      data_lib.CorruptShardError, match=r"statistics\.json: is missing"
  ) as error:
    data_lib.verify_dataset(copy, decode=False)
  assert error.value.path == str(copy / "statistics.json")


def test_build_removes_what_killed_builds_left(tmp_path, capsys):
  builder = playtable_data.builder_class("playtable_play")(
      config="tiny", data_dir=tmp_path, num_workers=1
  )
  version = str(builder.version)
  config_dir = builder.data_path.parent
  # As TFDS names its build directories: incomplete.<6 random>_<version>.
  stale = [
      config_dir / f"incomplete.7QX2KD_{version}",
      config_dir / "incomplete.AB12CD_0.9.0",
  ]
  for path in stale:
    path.mkdir(parents=True)
    (path / "playtable_play-train.array_record-00000-of-00001").write_bytes(
        b"half a shard"
    )
  finished = config_dir / "0.9.0"  # Another version, built earlier.
  finished.mkdir()
  (finished / "dataset_info.json").write_text("{}")

  builder.download_and_prepare()

  out = capsys.readouterr().out
  assert (
      f"removed 2 directories left by killed builds from {config_dir}: "
      f"incomplete.7QX2KD_{version}, incomplete.AB12CD_0.9.0"
  ) in out
  assert not any(path.exists() for path in stale)
  assert (finished / "dataset_info.json").read_text() == "{}"
  assert sorted(p.name for p in config_dir.iterdir()) == ["0.9.0", version]
  assert data_lib.verify_dataset(builder, decode=False)["train"] == {
      "shards": 1,
      "records": 2,
  }


# ------------------------------------------------------------- metrics.jsonl
_ROWS = [{"step": 1, "loss": 3.0}, {"step": 2, "loss": 2.5}]


def _write_metrics(workdir, tail: str) -> None:
  (workdir / "metrics.jsonl").write_text(
      "".join(json.dumps(r) + "\n" for r in _ROWS) + tail
  )


def test_readers_skip_a_half_written_last_line(tmp_path):
  _write_metrics(tmp_path, '{"step": 3, "lo')
  assert report.read_jsonl(str(tmp_path / "metrics.jsonl")) == _ROWS
  series = report.read_metrics(str(tmp_path))
  np.testing.assert_array_equal(series["loss"], [[1, 3.0], [2, 2.5]])


def test_a_corrupt_middle_line_is_named(tmp_path):
  path = tmp_path / "metrics.jsonl"
  path.write_text(
      '{"step": 1, "loss": 3.0}\n{"step": 2, "lo\n{"step": 3, "loss": 2.0}\n'
  )
  with pytest.raises(ValueError, match=f"{path}:2: not JSON"):
    report.read_jsonl(str(path))
  with pytest.raises(ValueError, match=f"{path}:2: not JSON"):
    report.read_metrics(str(tmp_path))


@pytest.mark.parametrize(
    "tail, kept, message",
    [
        (
            '{"step": 3, "lo',
            _ROWS,
            "removed a half-written last line (15 bytes)",
        ),
        ('{"step": 3, "loss": 2.0}', _ROWS + [{"step": 3, "loss": 2.0}], ""),
    ],
)
def test_writer_appends_after_a_killed_runs_last_line(
    tmp_path, capsys, tail, kept, message
):
  from playlearn.train import metrics  # pylint: disable=g-import-not-at-top

  _write_metrics(tmp_path, tail)
  writer = metrics.Writer(str(tmp_path), total_steps=10, start_step=3)
  writer.scalars(4, {"loss": 1.5})
  writer.close()
  rows = report.read_jsonl(str(tmp_path / "metrics.jsonl"))
  assert rows == kept + [{"step": 4, "loss": 1.5}]
  assert message in capsys.readouterr().out
