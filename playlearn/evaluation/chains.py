"""Long-horizon chains of tasks, in the style of CALVIN's 5-task chains.

A chain is built by the oracle in the env: from a reset, it picks a random
feasible task of the suite, performs it, records the observation reached as
the goal, and goes on from there; then the start is restored. The policy gets
the goals one after another, each with its own step budget and a
`policy.reset()`, and the chain stops at the first task it fails. Lift tasks
end with a block in the air, so they come only last in a chain; no task
repeats within a chain.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Callable, Sequence

import numpy as np

from playlearn import hardware
from playlearn.envs import playtable
from playlearn.envs import tasks as tasks_lib
from playlearn.evaluation import suite
from playlearn.play import oracle as oracle_lib

_MAX_RESETS = 100


@dataclasses.dataclass
class Chain:
  reset_seed: int
  start: dict  # env.get_state() at the reset
  start_obs: dict
  tasks: list[str]
  goals: list[dict]  # observation after the oracle did each task
  oracle_steps: list[int]


def sample_chain(
    env: playtable.PlayTableEnv,
    rng: np.random.Generator,
    length: int = 5,
    tasks: Sequence[str] = suite.EVAL_TASKS,
) -> Chain:
  """A chain of `length` tasks the oracle did one after another.

  Deterministic in `rng`'s state; the env is left at the chain's start.
  """
  for _ in range(_MAX_RESETS):
    reset_seed = int(rng.integers(2**31))
    timestep = env.reset(seed=reset_seed)
    start, start_obs = env.get_state(), suite.copy_obs(timestep.observation)
    oracle_rng = np.random.default_rng(reset_seed)
    style = oracle_lib.Style.sample(oracle_rng)
    chain = Chain(reset_seed, start, start_obs, [], [], [])
    while len(chain.tasks) < length and _extend(
        env, chain, tasks, length, rng, oracle_rng, style
    ):
      pass
    env.set_state(start)
    if len(chain.tasks) == length:
      return chain
  raise RuntimeError(f"no chain of {length} tasks in {_MAX_RESETS} resets")


def _extend(env, chain, tasks, length, rng, oracle_rng, style) -> bool:
  """Adds one task the oracle can do from the current state; False if none."""
  scene = env.scene_state()
  last = len(chain.tasks) == length - 1
  candidates = [
      t
      for t in tasks
      if t not in chain.tasks
      and (last or not t.startswith("lift_"))
      and tasks_lib.get(t).feasible(scene)
  ]
  snapshot = env.get_state()
  for k in rng.permutation(len(candidates)):
    task = candidates[k]
    ok, goal, steps = suite.run_oracle(env, task, oracle_rng, style, scene)
    if ok:
      chain.tasks.append(task)
      chain.goals.append(goal)
      chain.oracle_steps.append(steps)
      return True
    env.set_state(snapshot)
  return False


def evaluate_chains(
    policy: suite.Actor,
    num_chains: int = 20,
    chain_length: int = 5,
    seed: int = 0,
    *,
    step_budget: int | None = None,
    max_steps: int = suite.MAX_STEPS,
    tasks: Sequence[str] = suite.EVAL_TASKS,
    env: playtable.PlayTableEnv | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
  """CALVIN-style chain evaluation.

  Each subtask's success is its predicate between the scene when the policy
  starts it and the scene after; budgets as in `suite.evaluate_tasks` (from
  that subtask's oracle steps). `progress` (e.g. `print`) gets a line per
  chain.

  Returns JSON-serialisable {'config', 'hardware', 'chains': [{'reset_seed',
  'tasks', 'completed', 'steps'}], 'success_rates': [share of chains with
  >= 1, ..., >= chain_length tasks done], 'avg_len', 'seconds'}.
  """
  env = env or suite.env_for(policy)
  rng = np.random.default_rng(np.random.SeedSequence([seed, 7]))
  tic = time.perf_counter()
  rows = []
  for _ in range(num_chains):
    chain = sample_chain(env, rng, chain_length, tasks)
    env.set_state(chain.start)
    obs, completed, steps = chain.start_obs, 0, []
    for task, goal, oracle_steps in zip(
        chain.tasks, chain.goals, chain.oracle_steps
    ):
      budget = suite.budget_for(oracle_steps, step_budget, max_steps)
      result = suite.rollout(
          env, policy, obs, goal, task, env.scene_state(), budget
      )
      obs = result["obs"]
      steps.append(int(result["steps"]))
      if not result["success"]:
        break
      completed += 1
    rows.append(
        {
            "reset_seed": chain.reset_seed,
            "tasks": chain.tasks,
            "completed": completed,
            "steps": steps,
        }
    )
    if progress:
      elapsed = time.perf_counter() - tic
      left = elapsed / len(rows) * (num_chains - len(rows))
      progress(
          f"[{len(rows)}/{num_chains}] chain {' > '.join(chain.tasks)}: "
          f"{completed} done "
          f"(eta {int(left // 60)}m{int(left % 60):02d}s)"
      )
  done = np.array([r["completed"] for r in rows])
  return {
      "config": {
          "num_chains": num_chains,
          "chain_length": chain_length,
          "seed": seed,
          "step_budget": step_budget,
          "max_steps": max_steps,
          "tasks": list(tasks),
      },
      "hardware": hardware.describe(),
      "chains": rows,
      "success_rates": [
          float(np.mean(done >= k)) for k in range(1, chain_length + 1)
      ],
      "avg_len": float(done.mean()),
      "seconds": time.perf_counter() - tic,
  }
