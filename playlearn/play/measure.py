"""Measuring the scripted oracle: per-task success from random feasible starts."""

from __future__ import annotations

import multiprocessing
import time

import numpy as np

from playlearn.envs import playtable
from playlearn.envs import tasks as tasks_lib
from playlearn.play import oracle as oracle_lib


def attempt_task(
    env: playtable.PlayTableEnv, task: str, seed: int, random_style: bool = True
) -> dict | None:
  """One oracle attempt from the reset of `seed`; None if infeasible there."""
  spec = tasks_lib.get(task)
  env.reset(seed=seed)
  start = env.scene_state()
  if not spec.feasible(start):
    return None
  rng = np.random.default_rng(seed)
  style = oracle_lib.Style.sample(rng) if random_style else oracle_lib.Style()
  steps = 0
  for action in oracle_lib.Oracle(env, rng, style).run(task):
    steps += 1
    if env.step(action).last():
      break
  return {
      "seed": seed,
      "steps": steps,
      "success": bool(spec.success(start, env.scene_state())),
      "unstable": bool(env.last_info.get("physics_unstable", False)),
  }


def _task_worker(args) -> dict:
  task, attempts, first_seed = args
  env = playtable.PlayTableEnv()
  results, seed, tic = [], first_seed, time.perf_counter()
  while len(results) < attempts:
    result = attempt_task(env, task, seed)
    seed += 1
    if result is not None:
      results.append(result)
  steps = sum(r["steps"] for r in results)
  return {
      "task": task,
      "attempts": len(results),
      "successes": sum(r["success"] for r in results),
      "unstable": sum(r["unstable"] for r in results),
      "mean_steps": steps / len(results),
      "failed_seeds": [r["seed"] for r in results if not r["success"]],
      "seconds": time.perf_counter() - tic,
  }


def oracle_success(
    task_names,
    attempts: int,
    first_seed: int = 0,
    workers: int | None = None,
    progress=None,
) -> list[dict]:
  """Success of the oracle per task, tasks spread over worker processes."""
  jobs = [
      (t, attempts, first_seed + 1_000_000 * k)
      for k, t in enumerate(task_names)
  ]
  ctx = multiprocessing.get_context("spawn")
  with ctx.Pool(workers or multiprocessing.cpu_count()) as pool:
    rows = []
    for row in pool.imap(_task_worker, jobs):
      rows.append(row)
      if progress:
        progress(row)
  return rows
