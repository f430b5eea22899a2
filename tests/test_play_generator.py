"""BESO's acting-time sweep and the play-generator count, on tiny settings."""

import os
import subprocess
import sys

import numpy as np
import pytest

from playlearn.configs import beso as beso_config
from playlearn.envs import playtable
from playlearn.evaluation import play_generator
from playlearn.evaluation import suite
from playlearn.evaluation import sweep
from playlearn.policy import Policy
from playlearn.train import trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def beso_policy_dir(tiny_play_dataset, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("beso")
  config = beso_config.get_config("debug")
  config.dataset_dir = tiny_play_dataset
  config.total_steps = 5
  trainer.train_and_evaluate(config, str(workdir))
  return str(workdir / "policy")


def test_counter_counts_each_completion_once():
  env = playtable.PlayTableEnv()
  env.reset(seed=0)
  start = env.scene_state()
  counter = play_generator.TaskCounter(start)
  assert counter.update(start) == []  # Nothing happened.
  opened = dataclasses_replace(start, drawer=0.0 if start.drawer > 0.1 else 0.2)
  done = counter.update(opened)
  assert done and set(done) <= {"open_drawer", "close_drawer"}
  assert (
      counter.update(opened) == []
  )  # Holding the drawer there is not a new task.
  assert sum(counter.counts.values()) == len(done)
  env.close()


def dataclasses_replace(state, **changes):
  import dataclasses  # pylint: disable=g-import-not-at-top

  return dataclasses.replace(state, **changes)


def test_scripted_replay_finds_the_recorded_tasks(tiny_play_dataset):
  result = play_generator.scripted_play(tiny_play_dataset, split="train")
  assert result["runs"] == 2 and result["steps"] > 0
  assert result["unstable_runs"] == 0
  # Tiny play episodes do complete tasks; counts and rates agree.
  total = sum(t["count"] for t in result["per_task"].values())
  assert total > 0
  np.testing.assert_allclose(
      result["tasks_per_minute"],
      total / (result["steps"] / play_generator.STEPS_PER_MINUTE),
  )
  assert "all tasks / min" in play_generator.table({"scripted": result})


def test_idle_policy_completes_nothing():
  class Idle:

    def reset(self):
      pass

    def act(self, obs, goal):
      del obs, goal
      return np.zeros(7, np.float32)

  result = play_generator.policy_play(Idle(), num_runs=2, steps_per_run=20)
  assert result["steps"] == 40 and result["tasks_per_minute"] == 0.0


def test_sweep_shares_episodes_and_times_each_variant(beso_policy_dir):
  policy = Policy.load(beso_policy_dir)
  variants = [
      sweep.parse_variant("sampler=ddim,num_steps=1"),
      sweep.parse_variant("sampler=heun,num_steps=2,guidance=0"),
  ]
  rows = sweep.run(
      policy,
      variants,
      tasks=["open_drawer", "press_red_button"],
      episodes_per_task=1,
      latency_calls=3,
  )
  assert [r["sampler"] for r in rows] == ["ddim", "heun"]
  assert all(r["act_ms"] > 0 and 0 <= r["success"] <= 1 for r in rows)
  assert "| heun | 2 | 0.0 |" in sweep.table(rows)  # Typed, defaults filled.
  assert "| ddim | 1 | 1.0 |" in sweep.table(rows)


def test_sweep_rejects_unknown_fields(beso_policy_dir):
  policy = Policy.load(beso_policy_dir)
  with pytest.raises(ValueError, match="no config field 'samplr'"):
    sweep.typed(policy, sweep.parse_variant("samplr=heun"))
  with pytest.raises(ValueError, match="not key=value"):
    sweep.parse_variant("heun")
  with pytest.raises(ValueError, match=r"unknown fields \['samplr'\]"):
    policy.with_config(samplr="heun")
  with pytest.raises(ValueError, match="beso has no nested config 'sampler'"):
    sweep.typed(policy, sweep.parse_variant("sampler.steps=2"))


def test_with_config_keeps_weights_and_changes_acting(beso_policy_dir):
  policy = Policy.load(beso_policy_dir)
  free = policy.with_config(guidance=0.0)
  assert (
      free.model.config.guidance == 0.0 and policy.model.config.guidance == 1.0
  )
  obs = {"state": np.zeros(policy.normalization.state_mean.shape, np.float32)}
  assert free.act(obs, obs).shape == (7,)


def test_episode_cache_gives_the_same_episodes():
  env = playtable.PlayTableEnv()
  cache = {}
  first = [
      e.reset_seed
      for e, _ in zip(
          suite.cached_episodes(env, "open_drawer", 0, 0, cache), range(2)
      )
  ]
  again = [
      e.reset_seed
      for e, _ in zip(
          suite.cached_episodes(env, "open_drawer", 0, 0, cache), range(3)
      )
  ]
  plain = [
      e.reset_seed for e in suite.sample_episodes(env, "open_drawer", 3, 0, 0)
  ]
  assert again[:2] == first and again == plain
  env.close()


def test_scripts_run(beso_policy_dir, tiny_play_dataset, tmp_path):
  env = dict(os.environ, PYTHONPATH=ROOT)
  for args in (
      [
          "scripts/sweep_policy.py",
          f"--policy={beso_policy_dir}",
          "--variant=num_steps=1",
          "--tasks=open_drawer",
          "--episodes_per_task=1",
          f"--out={tmp_path / 'sweep.json'}",
      ],
      [
          "scripts/play_generator.py",
          f"--policy={beso_policy_dir}",
          "--guidance=0",
          f"--dataset_dir={tiny_play_dataset}",
          "--runs=1",
          "--minutes_per_run=0.05",
          f"--out={tmp_path / 'play.json'}",
      ],
  ):
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
  assert (tmp_path / "sweep.json").exists() and (
      tmp_path / "play.json"
  ).exists()
