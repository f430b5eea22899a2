"""Tests of the evaluation suite and chains, with scripted test policies."""

import json
import os

import numpy as np
import pytest

from playlearn import evaluation
from playlearn.envs import playtable
from playlearn.envs import tasks as tasks_lib
from playlearn.evaluation import suite
from playlearn.play import oracle as oracle_lib

TASKS = ("open_drawer", "press_red_button", "push_red_block_left")
EPISODES = 2


class OraclePolicy:
  """Replays the oracle from the env's current state (privileged).

  The task comes through a side channel: the evaluator calls `reset()` once
  per episode (or chain subtask) in a known order, so the policy pops the
  next task name from `schedule` at each reset. The evaluator stops a task as
  soon as its predicate holds, which can leave the tool right at a block or
  handle; the policy first lifts the open gripper clear, as the oracle only
  plans from rest.
  """

  def __init__(self, env, schedule):
    self.env = env
    self.schedule = list(schedule)
    self._actions = None
    self._task = None

  def reset(self):
    self._task = self.schedule.pop(0)
    self._actions = None

  def act(self, obs, goal):
    del obs, goal
    if self._actions is None:  # plan from the state the policy starts in
      self._actions = self._plan()
    return next(self._actions, np.zeros(7))

  def _plan(self):
    oracle = oracle_lib.Oracle(self.env, np.random.default_rng(0))
    tcp = self.env.scene_state().tcp_pos
    if tcp[2] < 0.12:
      yield from oracle.follow(
          [
              oracle_lib.Waypoint(
                  tcp + [0, 0, 0.12 - tcp[2]],
                  oracle.tool_yaw(),
                  oracle_lib.OPEN,
                  tol=0.02,
                  max_steps=20,
              )
          ]
      )
    yield from oracle.run(self._task)


class ZeroPolicy:

  def reset(self):
    pass

  def act(self, obs, goal):
    return np.zeros(7, np.float32)


class RecordingPolicy(ZeroPolicy):
  """Keeps the first observation, goal and physics state of each episode."""

  def __init__(self, env=None):
    self.env = env
    self.first_obs, self.goals, self.physics, self._new = [], [], [], False

  def reset(self):
    self._new = True

  def act(self, obs, goal):
    if self._new:
      self.first_obs.append({k: v.copy() for k, v in obs.items()})
      self.goals.append(goal)
      if self.env is not None:
        self.physics.append(self.env.get_state()["physics"])
      self._new = False
    return np.zeros(7, np.float32)


@pytest.fixture(scope="module")
def env():
  return playtable.PlayTableEnv()


def _schedule(tasks, episodes):
  return [t for t in tasks for _ in range(episodes)]


def test_oracle_policy_succeeds(env):
  policy = OraclePolicy(env, _schedule(TASKS, EPISODES))
  results = evaluation.evaluate_tasks(
      policy, TASKS, episodes_per_task=EPISODES, seed=3, env=env
  )
  for task in TASKS:
    assert results["tasks"][task]["successes"] == [True] * EPISODES, task
    # Stopped early: at the step the predicate first held, within budget.
    assert all(
        s <= b
        for s, b in zip(
            results["tasks"][task]["steps"], results["tasks"][task]["budgets"]
        )
    )
  assert results["mean"] == 1.0
  assert not policy.schedule


def test_zero_policy_fails(env):
  lines = []
  results = evaluation.evaluate_tasks(
      ZeroPolicy(),
      TASKS,
      episodes_per_task=EPISODES,
      seed=3,
      step_budget=40,
      env=env,
      progress=lines.append,
  )
  assert results["mean"] == 0.0
  assert len(lines) == len(TASKS)
  assert lines[-1].startswith(
      f"[{len(TASKS)}/{len(TASKS)}] {TASKS[-1]}: 0/{EPISODES} ("
  )
  assert all(r["steps"] == [40] * EPISODES for r in results["tasks"].values())


def test_episodes_are_deterministic(env):
  a = suite.sample_episodes(env, "open_drawer", 2, seed=5, task_index=0)
  b = suite.sample_episodes(
      playtable.PlayTableEnv(), "open_drawer", 2, seed=5, task_index=0
  )
  c = suite.sample_episodes(env, "open_drawer", 2, seed=6, task_index=0)
  for x, y in zip(a, b):
    assert x.reset_seed == y.reset_seed
    np.testing.assert_array_equal(x.start_obs["state"], y.start_obs["state"])
    np.testing.assert_array_equal(x.goal["state"], y.goal["state"])
  assert [e.reset_seed for e in a] != [e.reset_seed for e in c]


def test_goal_differs_in_task_fields(env):
  drawer = playtable.STATE_LAYOUT["drawer"]
  for ep in suite.sample_episodes(env, "open_drawer", 2, seed=1, task_index=0):
    start, goal = ep.start_obs["state"], ep.goal["state"]
    assert start[drawer][0] < 0.1 and goal[drawer][0] > tasks_lib.DRAWER_OPEN
    # The buttons' lights are untouched.
    lights = playtable.STATE_LAYOUT["lights"]
    np.testing.assert_array_equal(start[lights], goal[lights])


def test_policy_starts_from_the_restored_start(env):
  episodes = suite.sample_episodes(
      env, "press_green_button", 2, seed=2, task_index=0
  )
  policy = RecordingPolicy(env)
  evaluation.evaluate_tasks(
      policy,
      ["press_green_button"],
      episodes_per_task=2,
      seed=2,
      step_budget=3,
      env=env,
  )
  assert len(policy.physics) == 2
  for ep, obs, goal, physics in zip(
      episodes, policy.first_obs, policy.goals, policy.physics
  ):
    # Bitwise: the oracle ran from here and set_state undid it exactly.
    assert physics.tobytes() == ep.start["physics"].tobytes()
    assert obs["state"].tobytes() == ep.start_obs["state"].tobytes()
    assert goal["state"].tobytes() == ep.goal["state"].tobytes()
  # Restoring reproduces the physics too: the oracle gives the same goal.
  ep = episodes[0]
  env.set_state(ep.start)
  rng = np.random.default_rng(ep.reset_seed)
  style = oracle_lib.Style.sample(rng)
  ok, goal, _ = suite.run_oracle(
      env, "press_green_button", rng, style, env.scene_state()
  )
  assert ok and goal["state"].tobytes() == ep.goal["state"].tobytes()


def test_perturbed_start_moves_the_tool(env):
  tcp = playtable.STATE_LAYOUT["tcp_pos"]
  policy = RecordingPolicy()
  results = evaluation.evaluate_tasks(
      policy,
      ["press_blue_button", "open_drawer"],
      episodes_per_task=2,
      seed=4,
      perturb=0.4,
      step_budget=2,
      env=env,
  )
  episodes = suite.sample_episodes(
      env, "press_blue_button", 2, 4, 0
  ) + suite.sample_episodes(env, "open_drawer", 2, 4, 1)
  assert len(policy.first_obs) == 4
  assert [e.reset_seed for e in episodes] == sum(
      (r["reset_seeds"] for r in results["tasks"].values()), []
  )
  for ep, obs in zip(episodes, policy.first_obs):
    moved = np.linalg.norm(obs["state"][tcp] - ep.start_obs["state"][tcp])
    assert 0.32 <= moved <= 0.48, moved
  offsets = sum((r["perturb_offsets"] for r in results["tasks"].values()), [])
  assert len(offsets) == 4 and all(abs(o - 0.4) < 0.08 for o in offsets)


def test_oracle_policy_from_perturbed_starts(env):
  tasks = ("press_red_button", "open_drawer")
  policy = OraclePolicy(env, _schedule(tasks, 1))
  results = evaluation.evaluate_tasks(
      policy, tasks, episodes_per_task=1, seed=8, perturb=0.4, env=env
  )
  assert results["mean"] == 1.0


def test_chains(env):
  lines = []
  zero = evaluation.evaluate_chains(
      ZeroPolicy(),
      num_chains=2,
      seed=1,
      step_budget=20,
      env=env,
      progress=lines.append,
  )
  assert zero["avg_len"] == 0.0 and zero["success_rates"] == [0.0] * 5
  assert len(lines) == 2 and lines[1].startswith("[2/2] chain ")
  assert ": 0 done (eta 0m00s)" in lines[1]
  schedule = [t for c in zero["chains"] for t in c["tasks"]]
  assert all(
      len(c["tasks"]) == 5 and len(set(c["tasks"])) == 5 for c in zero["chains"]
  )
  oracle = evaluation.evaluate_chains(
      OraclePolicy(env, schedule), num_chains=2, seed=1, env=env
  )
  assert [c["tasks"] for c in oracle["chains"]] == [
      c["tasks"] for c in zero["chains"]
  ]
  assert oracle["avg_len"] == 5.0 and oracle["success_rates"] == [1.0] * 5
  json.loads(json.dumps(oracle))


def test_results_json_and_table(env):
  results = evaluation.evaluate_tasks(
      ZeroPolicy(), TASKS, episodes_per_task=1, seed=0, step_budget=2, env=env
  )
  back = json.loads(json.dumps(results))
  assert back == results
  assert back["hardware"]["cpu_count"] == os.cpu_count()
  table = evaluation.format_table(results)
  assert all(f"`{t}`" in table for t in TASKS) and "average" in table


def test_over_seeds_and_table_lists_every_eval_task(env):
  over = evaluation.evaluate_over_seeds(
      ZeroPolicy,
      [0, 1],
      tasks=TASKS[1:2],
      episodes_per_task=1,
      step_budget=2,
      env=env,
  )
  assert over["seeds"] == [0, 1] and len(over["runs"]) == 2
  assert over["mean"] == 0.0 and over["std"] == 0.0
  json.dumps(over)
  fake = {
      "tasks": {
          t: {"successes": [True, False], "steps": [3, 4], "rate": 0.5}
          for t in evaluation.EVAL_TASKS
      },
      "mean": 0.5,
  }
  table = evaluation.format_table(fake)
  assert len(evaluation.EVAL_TASKS) == 18
  assert all(f"`{t}`" in table for t in evaluation.EVAL_TASKS)


def test_unknown_task_lists_valid_names():
  with pytest.raises(ValueError, match="valid tasks"):
    evaluation.evaluate_tasks(ZeroPolicy(), ["open_the_fridge"])


def test_videos(env, tmp_path):
  results = evaluation.evaluate_tasks(
      ZeroPolicy(),
      ["press_red_button"],
      episodes_per_task=2,
      seed=0,
      step_budget=5,
      video_dir=str(tmp_path),
      videos_per_task=1,
      env=env,
  )
  assert results["tasks"]["press_red_button"]["rate"] == 0.0
  assert os.listdir(tmp_path) == ["press_red_button_0.mp4"]
  assert (tmp_path / "press_red_button_0.mp4").stat().st_size > 1000


def test_pixel_policy_gets_images_in_obs_and_goal():
  policy = RecordingPolicy()
  env = playtable.PlayTableEnv(playtable.EnvConfig(images=True))
  evaluation.evaluate_tasks(
      policy,
      ["turn_on_lamp"],
      episodes_per_task=1,
      seed=0,
      step_budget=2,
      env=env,
  )
  (obs,), (goal,) = policy.first_obs, policy.goals
  for d in (obs, goal):
    assert d["rgb_static"].shape == (96, 96, 3)
    assert d["rgb_gripper"].shape == (64, 64, 3)
  assert not np.array_equal(obs["rgb_static"], goal["rgb_static"])


def test_easy_tasks_are_the_fixture_button_and_lamp_tasks():
  fixtures = ("drawer", "door", "button", "lamp")
  want = [
      t
      for t in evaluation.EVAL_TASKS
      if any(f in t for f in fixtures) and t != "place_in_drawer"
  ]
  assert list(evaluation.EASY_TASKS) == want and len(want) == 9
