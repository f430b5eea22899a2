"""Policy diagnostics: imitation and goal use along held-out play windows."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from playlearn.configs import gcbc as gcbc_config
from playlearn.configs import lmp as lmp_config
from playlearn.evaluation import diagnostics
from playlearn.evaluation import latent
from playlearn.train import trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LENGTH = 8  # Tiny episodes have 100 steps.


class _FakePolicy:
  """act -> f(state, goal) for a given f: a stand-in with known behaviour."""

  def __init__(self, fn):
    self.fn, self.resets = fn, 0

  def reset(self, batch_size=None):
    del batch_size
    self.resets += 1

  def act(self, obs, goal):
    return self.fn(obs["state"], goal["state"])

  def observed(self, obs, what="obs"):
    del what  # A state policy reads the observation as it is.
    return obs


def test_correlation_matches_numpy_and_is_zero_for_constants():
  rng = np.random.default_rng(0)
  x, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
  y[:, 1] += 2 * x[:, 1]
  y[:, 2] = 0.5  # Constant: no correlation defined; reported as 0.
  got = diagnostics._correlation(x, y)
  for i in range(2):
    np.testing.assert_allclose(
        got[i], np.corrcoef(x[:, i], y[:, i])[0, 1], atol=1e-9
    )
  assert got[2] == 0.0


def test_sample_windows_shapes_and_goal_inside_episode(tiny_play_dataset):
  obs, actions, goals = diagnostics.sample_windows(
      tiny_play_dataset,
      "train",
      num_windows=5,
      length=LENGTH,
      goal_horizon=4,
      seed=1,
  )
  assert obs["state"].shape[:2] == (5, LENGTH) and actions.shape == (
      5,
      LENGTH,
      7,
  )
  assert obs["target"].shape == (5, LENGTH, 6)
  assert goals["state"].shape == (5, obs["state"].shape[-1])


def test_constant_policy_has_no_correlation_and_no_goal_use(tiny_play_dataset):
  policy = _FakePolicy(lambda s, g: np.zeros((len(s), 7), np.float32))
  result = diagnostics.diagnose(
      policy, tiny_play_dataset, split="train", num_windows=16, length=LENGTH
  )
  assert result["corr"] == [0.0] * 7 and result["goal_use"] == 0.0
  assert result["moving_share"] == [0.0] * 7
  assert max(result["moving_share_data"]) > 0  # The scripted play moves.
  assert policy.resets == 2  # True goals, then shuffled ones.


def test_goal_reading_policy_shows_goal_use(monkeypatch):
  # Windows whose goal holds the demonstrated action: a policy that acts with
  # the goal imitates perfectly, and not at all once the goals are shuffled.
  rng = np.random.default_rng(0)
  actions = rng.uniform(-1, 1, (64, 1, 7)).astype(np.float32)
  states = rng.normal(size=(64, 1, 9)).astype(np.float32)
  goals = np.concatenate([actions[:, 0], np.zeros((64, 2), np.float32)], -1)
  monkeypatch.setattr(
      diagnostics,
      "sample_windows",
      lambda *args: ({"state": states}, actions, {"state": goals}),
  )
  result = diagnostics.diagnose(
      _FakePolicy(lambda s, g: g[:, :7]), "unused", num_windows=64, length=1
  )
  np.testing.assert_allclose(result["corr"], 1.0, atol=1e-6)
  assert max(np.abs(result["corr_shuffled_goal"])) < 0.5
  assert result["goal_use"] > 0.7
  assert result["mse"] == [0.0] * 7 and min(result["mse_shuffled_goal"]) > 0.1
  assert "goal use" in diagnostics.table(result)


class _Scaled:
  """A normalisation whose z-scores are the raw state divided by `scale`."""

  def __init__(self, scale):
    self.scale = scale

  def normalize_observation(self, obs):
    return np.asarray(obs["state"]) / self.scale


def test_closed_loop_drift_sees_a_policy_that_tilts_the_tool():
  still = _FakePolicy(lambda s, g: np.zeros(7, np.float32))
  still.normalization = _Scaled(100.0)  # No feature ever beyond 5.
  rolling = _FakePolicy(lambda s, g: np.eye(7, dtype=np.float32)[3])
  rolling.normalization = _Scaled(0.01)  # Every step beyond 5.
  kwargs = dict(tasks=("press_red_button",), episodes_per_task=1, steps=30)
  quiet = diagnostics.closed_loop_drift(still, **kwargs)["tasks"]
  tilted = diagnostics.closed_loop_drift(rolling, **kwargs)["tasks"]
  assert quiet["press_red_button"]["share_beyond"] == 0.0
  assert quiet["press_red_button"]["max_tilt_rad"] < 0.01
  assert tilted["press_red_button"]["share_beyond"] == 1.0
  assert tilted["press_red_button"]["max_tilt_rad"] > 0.2
  assert still.resets == 1


@pytest.mark.parametrize("module", [gcbc_config, lmp_config])
def test_script_on_a_trained_policy(module, tiny_play_dataset, tmp_path):
  config = module.get_config("debug")
  config.dataset_dir = tiny_play_dataset
  config.total_steps = 5
  trainer.train_and_evaluate(config, str(tmp_path / "gcbc"))
  out = tmp_path / "diag.json"
  proc = subprocess.run(
      [
          sys.executable,
          "scripts/diagnose_policy.py",
          f"--policy={tmp_path / 'gcbc' / 'policy'}",
          f"--dataset_dir={tiny_play_dataset}",
          "--split=train",
          "--num_windows=8",
          f"--length={LENGTH}",
          "--drift_episodes=1",
          f"--out={out}",
      ],
      cwd=ROOT,
      env=dict(os.environ, PYTHONPATH=ROOT),
      capture_output=True,
      text=True,
      timeout=300,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "| gripper |" in proc.stdout
  result = json.loads(out.read_text())
  assert len(result["corr"]) == 7 and result["num_windows"] == 8
  assert "largest tool roll/pitch" in proc.stdout
  assert set(result["closed_loop_drift"]["tasks"]) == {
      "open_drawer",
      "press_red_button",
      "lift_red_block",
  }
  if module is lmp_config:  # And what its plan is worth.
    assert "| proposal |" in proc.stdout
    errors = result["plan_errors"]["action_sq_error"]
    assert sorted(errors) == sorted(latent.PLAN_SOURCES)


def test_too_long_window_is_a_clear_error(tiny_play_dataset):
  with pytest.raises(ValueError, match="length"):
    diagnostics.sample_windows(
        tiny_play_dataset,
        "train",
        num_windows=2,
        length=10_000,
        goal_horizon=0,
        seed=0,
    )
