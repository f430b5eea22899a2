"""Fault injection on what training writes: flipped bytes, truncation, kills
mid-save, reruns and bad config values. Each asserts the clear error or the
recovery (issue 11: no artifact can rot silently)."""

import json
import os
import shutil

import numpy as np
import pytest

from playlearn import manifest
from playlearn.configs import gcbc as gcbc_config
from playlearn.envs import playtable as playtable_env
from playlearn.policy import Policy
from playlearn.train import trainer


def _config(dataset_dir, **overrides):
  config = gcbc_config.get_config("debug")
  config.dataset_dir = dataset_dir
  for key, value in overrides.items():
    config[key] = value
  return config


def _flip_bytes(path, count=16, offset=None):
  """Inverts `count` bytes of a file in place (the middle by default)."""
  with open(path, "r+b") as f:
    data = bytearray(f.read())
    start = len(data) // 2 if offset is None else offset
    for i in range(start, min(start + count, len(data))):
      data[i] ^= 0xFF
    f.seek(0)
    f.write(data)


def _largest_file(directory):
  files = [
      os.path.join(r, n)
      for r, _, ns in os.walk(directory)
      for n in ns
      if n != manifest.MANIFEST
  ]
  return max(files, key=os.path.getsize)


@pytest.fixture(scope="module")
def trained(tiny_play_dataset, tmp_path_factory):
  """A finished debug run (20 steps, checkpoints every 10)."""
  workdir = str(tmp_path_factory.mktemp("run"))
  trainer.train_and_evaluate(_config(tiny_play_dataset), workdir)
  return workdir


def test_manifest_names_the_changed_file(tmp_path):
  (tmp_path / "sub").mkdir()
  (tmp_path / "sub" / "a.bin").write_bytes(bytes(range(200)))
  (tmp_path / "b.txt").write_text("hello")
  manifest.write(str(tmp_path))
  manifest.verify(str(tmp_path))
  (tmp_path / "notes.md").write_text("added later: allowed")
  manifest.verify(str(tmp_path))
  _flip_bytes(tmp_path / "sub" / "a.bin")
  with pytest.raises(
      manifest.CorruptArtifactError, match=r"sub/a.bin.*SHA-256"
  ):
    manifest.verify(str(tmp_path))
  (tmp_path / "b.txt").write_text("hell")
  with pytest.raises(manifest.CorruptArtifactError, match=r"b.txt has 4 bytes"):
    manifest.verify(str(tmp_path))


def test_flipped_policy_weights_refuse_to_load(trained, tmp_path):
  policy_dir = str(tmp_path / "policy")
  shutil.copytree(os.path.join(trained, "policy"), policy_dir)
  Policy.load(policy_dir)  # Intact: loads.
  bad = _largest_file(os.path.join(policy_dir, "params"))
  _flip_bytes(bad)
  with pytest.raises(
      manifest.CorruptArtifactError, match=os.path.basename(bad)
  ):
    Policy.load(policy_dir)


def test_truncated_policy_json_names_the_file(trained, tmp_path):
  policy_dir = tmp_path / "policy"
  shutil.copytree(os.path.join(trained, "policy"), policy_dir)
  text = (policy_dir / "policy.json").read_text()
  (policy_dir / "policy.json").write_text(text[: len(text) // 2])
  with pytest.raises(manifest.CorruptArtifactError, match="policy.json has"):
    Policy.load(str(policy_dir))
  # A policy saved before manifests: the JSON error still names the file.
  os.remove(policy_dir / manifest.MANIFEST)
  with pytest.raises(ValueError, match=r"policy.json is not valid JSON"):
    Policy.load(str(policy_dir))


def test_a_save_killed_midway_keeps_the_previous_policy(
    trained, tmp_path, monkeypatch
):
  policy_dir = str(tmp_path / "policy")
  shutil.copytree(os.path.join(trained, "policy"), policy_dir)
  policy = Policy.load(policy_dir)

  def die(directory):
    raise KeyboardInterrupt("killed while saving")

  monkeypatch.setattr(manifest, "write", die)
  with pytest.raises(KeyboardInterrupt):
    policy.save(policy_dir)
  monkeypatch.undo()
  manifest.verify(policy_dir)
  Policy.load(policy_dir)
  policy.save(policy_dir)  # Replacing a policy leaves no staging folders.
  assert os.listdir(tmp_path) == ["policy"]
  (tmp_path / "notes").mkdir()
  (tmp_path / "notes" / "a.txt").write_text("not a policy")
  with pytest.raises(ValueError, match="is not a saved policy"):
    policy.save(str(tmp_path / "notes"))


def test_act_refuses_non_finite_observations(trained):
  policy = Policy.load(os.path.join(trained, "policy"))
  obs = playtable_env.PlayTableEnv().reset(seed=0).observation
  policy.reset()
  bad = dict(obs, state=np.where(np.arange(42) == 3, np.nan, obs["state"]))
  with pytest.raises(ValueError, match=r"obs\['state'\] has non-finite"):
    policy.act(bad, obs)
  with pytest.raises(ValueError, match=r"goal\['state'\] has non-finite"):
    policy.act(obs, bad)


def test_rerunning_a_finished_run_is_a_no_op(
    trained, tiny_play_dataset, capsys
):
  metrics_path = os.path.join(trained, "final_metrics.json")
  before = open(metrics_path).read()
  params = os.path.join(trained, "policy", manifest.MANIFEST)
  params_before = open(params).read()
  result = trainer.train_and_evaluate(_config(tiny_play_dataset), trained)
  assert "nothing to do" in capsys.readouterr().out
  assert open(metrics_path).read() == before
  assert open(params).read() == params_before
  assert result == json.loads(before)


def test_a_corrupt_checkpoint_falls_back_to_the_previous(
    tiny_play_dataset, tmp_path, capsys
):
  workdir = str(tmp_path)
  trainer.train_and_evaluate(_config(tiny_play_dataset), workdir)
  os.remove(os.path.join(workdir, "final_metrics.json"))  # Unfinished now.
  latest = os.path.join(workdir, "checkpoints", "20")
  assert manifest.exists(latest)
  _flip_bytes(_largest_file(os.path.join(latest, "state")))
  result = trainer.train_and_evaluate(_config(tiny_play_dataset), workdir)
  out = capsys.readouterr().out
  assert "checkpoint at step 20 is unusable" in out
  assert "resumed from checkpoint at step 10" in out
  assert result["step"] == 20
  # Nothing deleted: the bad step is kept aside, a good step 20 rewritten.
  assert os.path.isdir(os.path.join(workdir, "checkpoints_corrupt", "20"))
  manifest.verify(os.path.join(workdir, "checkpoints", "20"))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("total_steps", -1, r"config.total_steps=-1: must be an integer >= 1"),
        ("log_every", 0, r"config.log_every=0: must be an integer >= 1"),
        ("checkpoint_every", 0, r"config.checkpoint_every=0"),
        ("ema_decay", 1.0, r"config.ema_decay=1.0: must be in \[0, 1\)"),
        ("data.obs_noise", -0.1, r"config.data.obs_noise=-0.1: must be >= 0"),
        ("data.std_floor", 0.0, r"config.data.std_floor=0.0: must be > 0"),
        (
            "data.goal_dropout",
            1.5,
            r"config.data.goal_dropout=1.5: must be in \[0, 1\]",
        ),
        (
            "data.features",
            "pixels",
            r"config.data.features='pixels'.*valid: raw",
        ),
        (
            "data.goals",
            "robot",
            r"config.data.goals='robot'.*valid: full, scene",
        ),
        ("data.kappa_min", 40, r"config.data.kappa_min=40: must not exceed"),
        ("optimizer.lr", 0.0, r"config.optimizer.lr=0.0: must be > 0"),
    ],
)
def test_bad_config_values_fail_before_any_work(
    tiny_play_dataset, tmp_path, field, value, message
):
  config = _config(tiny_play_dataset)
  parent = config
  *path, name = field.split(".")
  for part in path:
    parent = parent[part]
  parent[name] = value
  with pytest.raises(ValueError, match=message):
    trainer.train_and_evaluate(config, str(tmp_path / "run"))
  assert not os.path.exists(tmp_path / "run")


def test_goal_dropout_needs_whole_goals(tiny_play_dataset, tmp_path):
  config = _config(tiny_play_dataset)
  config.data.goals, config.data.goal_dropout = "scene", 0.5
  with pytest.raises(ValueError, match="goal_dropout=0.5.*goals='full'"):
    trainer.train_and_evaluate(config, str(tmp_path / "run"))


@pytest.mark.parametrize(
    "flag, message",
    [
        (
            "--config.model.mixture=2",
            r"config.model has no field 'mixture'; valid: act_window, bins, chunk",
        ),
        ("--config.foo.bar=1", r"config has no field 'foo'; valid: action_dim"),
    ],
)
def test_unknown_config_flags_are_named_with_the_valid_fields(flag, message):
  from playlearn.configs import common  # pylint: disable=g-import-not-at-top

  argv = [
      "train.py",
      "--config",
      "playlearn/configs/gcbc.py:debug",
      "--workdir=/tmp/unused",
      flag,
  ]
  with pytest.raises(SystemExit, match=message):
    common.parse_flags(argv)
