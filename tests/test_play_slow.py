"""Longer measurements of the scripted play (`make test-slow`, minutes)."""

import json

import pytest

from playlearn.envs import tasks
from playlearn.play import episodes
from playlearn.play import measure


@pytest.mark.slow
def test_oracle_succeeds_on_every_task():
  # 20 random feasible starts per task on other seeds than the fast test;
  # the reported 200-attempt table comes from scripts/oracle_success.py.
  rows = measure.oracle_success(
      tasks.TASK_NAMES, attempts=20, first_seed=123, workers=2
  )
  failures = {r["task"]: r["failed_seeds"] for r in rows if r["failed_seeds"]}
  assert not failures


@pytest.mark.slow
@pytest.mark.parametrize("seed", [101, 202])
def test_long_play_episode_finishes_its_tasks(seed):
  episode = episodes.generate_episode("play", seed, num_steps=2700)
  n = len(episode["steps"]["action"])
  segments = json.loads(episode["episode_metadata"]["segments"])
  finished = [s for s in segments if s["end"] < n - 1]
  assert len(finished) >= 20  # about 11 tasks per minute of play
  assert [s for s in finished if not s["success"]] == []
