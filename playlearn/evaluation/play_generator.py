"""A policy as a play generator: which tasks it completes unprompted, and how often.

A goal-independent policy (BESO with guidance 0, see `models.beso.goal_free`)
imitates the play distribution itself, so left running it should play: open
the drawer, push a block, turn on the lamp. This module runs a policy (or
replays the scripted play agent's recorded actions) for a while and counts the
tasks completed along the way, with one detector for both, so the two are
compared on equal terms.

Detection: a snapshot of the scene is taken at the start; every `check_every`
steps the task predicates compare it with the current scene
(`tasks.completed_tasks(snapshot, now)`). Each completed task is counted once
and the snapshot moves to the current scene, so the next completion is
measured from there: opening and closing the drawer counts two tasks, holding
it open counts one. Completions within the same check are all counted.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
import time

import numpy as np

from playlearn.data import reading
from playlearn.envs import playtable
from playlearn.envs import scene
from playlearn.envs import tasks as tasks_lib

STEPS_PER_MINUTE = 60 * scene.CONTROL_HZ


class TaskCounter:
  """Counts task completions along a stream of scene states (module doc)."""

  def __init__(self, start: playtable.SceneState):
    self.snapshot = start
    self.counts: collections.Counter = collections.Counter()

  def update(self, now: playtable.SceneState) -> list[str]:
    """Tasks completed since the snapshot (counted; the snapshot moves if any)."""
    done = tasks_lib.completed_tasks(self.snapshot, now)
    if done:
      self.counts.update(done)
      self.snapshot = now
    return done


def run_stream(
    env: playtable.PlayTableEnv,
    reset_seed: int,
    act: Callable[[dict], np.ndarray],
    num_steps: int,
    check_every: int = 5,
) -> dict:
  """Steps the env from `reset_seed` with `act(observation)` and counts tasks.

  Runs `num_steps` steps, or fewer if the episode ends (physics unstable).
  Returns {'counts': {task: n}, 'steps': steps run, 'unstable': bool}.
  """
  timestep = env.reset(seed=reset_seed)
  counter = TaskCounter(env.scene_state())
  steps = 0
  for steps in range(1, num_steps + 1):
    timestep = env.step(np.asarray(act(timestep.observation), np.float32))
    if steps % check_every == 0 or timestep.last():
      counter.update(env.scene_state())
    if timestep.last():
      break
  return {
      "counts": dict(counter.counts),
      "steps": steps,
      "unstable": bool(env.last_info.get("physics_unstable", False)),
  }


def _summary(runs: list[dict], seconds: float) -> dict:
  counts = collections.Counter()
  for run in runs:
    counts.update(run["counts"])
  steps = sum(run["steps"] for run in runs)
  minutes = steps / STEPS_PER_MINUTE
  return {
      "runs": len(runs),
      "steps": steps,
      "sim_minutes": minutes,
      "wall_seconds": seconds,
      "unstable_runs": sum(run["unstable"] for run in runs),
      "tasks_per_minute": sum(counts.values()) / max(minutes, 1e-9),
      "distinct_tasks": len(counts),
      "per_task": {
          task: {"count": n, "per_minute": n / max(minutes, 1e-9)}
          for task, n in sorted(counts.items(), key=lambda kv: -kv[1])
      },
  }


def policy_play(
    policy,
    *,
    num_runs: int,
    steps_per_run: int,
    seed: int = 0,
    check_every: int = 5,
    progress: Callable[[str], None] | None = None,
) -> dict:
  """Lets a policy play from `num_runs` resets (seeds seed, seed + 1, ...).

  The policy's goal is the current observation: a goal-free policy ignores it
  (BESO with guidance 0 drops it for its null token). See `_summary` for the
  result's fields.
  """
  env = playtable.PlayTableEnv()
  runs, tic = [], time.perf_counter()
  for i in range(num_runs):
    policy.reset()

    def act(obs):
      return policy.act(obs, obs)

    runs.append(run_stream(env, seed + i, act, steps_per_run, check_every))
    if progress:
      progress(
          f"play run {i + 1}/{num_runs}: {sum(runs[-1]['counts'].values())} "
          f"tasks in {runs[-1]['steps']} steps "
          f"({time.perf_counter() - tic:.0f} s)"
      )
  env.close()
  return _summary(runs, time.perf_counter() - tic)


def scripted_play(
    dataset_dir: str,
    *,
    split: str = "validation",
    num_runs: int | None = None,
    steps_per_run: int | None = None,
    check_every: int = 5,
) -> dict:
  """The same count for the scripted play agent, by replaying recorded play.

  Each episode of `split` is re-simulated from its reset seed with its
  recorded actions (bitwise identical to the recording, see
  `playlearn.play.replay`), up to `steps_per_run` steps.
  """
  source = reading.EpisodeSource(dataset_dir, split)
  env = playtable.PlayTableEnv()
  runs, tic = [], time.perf_counter()
  for i in range(min(num_runs or len(source), len(source))):
    episode = source[i]
    actions = episode["steps"]["action"][:-1]  # The last step has no action.
    limit = min(steps_per_run or len(actions), len(actions))
    recorded = iter(actions[:limit])
    runs.append(
        run_stream(
            env,
            int(episode["episode_metadata"]["reset_seed"]),
            lambda obs, it=recorded: next(it),
            limit,
            check_every,
        )
    )
  env.close()
  return _summary(runs, time.perf_counter() - tic)


def table(results: dict[str, dict]) -> str:
  """Markdown: one column per player, rows = tasks per minute."""
  names = list(results)
  tasks = sorted(
      {t for r in results.values() for t in r["per_task"]},
      key=lambda t: -max(
          r["per_task"].get(t, {"per_minute": 0})["per_minute"]
          for r in results.values()
      ),
  )
  lines = [
      "| task | " + " | ".join(names) + " |",
      "|---|" + "---|" * len(names),
  ]
  for task in tasks:
    cells = [
        f"{r['per_task'][task]['per_minute']:.2f}"
        if task in r["per_task"]
        else "0"
        for r in results.values()
    ]
    lines.append(f"| {task} | " + " | ".join(cells) + " |")
  lines.append(
      "| **all tasks / min** | "
      + " | ".join(f"**{r['tasks_per_minute']:.2f}**" for r in results.values())
      + " |"
  )
  lines.append(
      "| distinct tasks | "
      + " | ".join(str(r["distinct_tasks"]) for r in results.values())
      + " |"
  )
  lines.append(
      "| simulated minutes | "
      + " | ".join(f"{r['sim_minutes']:.1f}" for r in results.values())
      + " |"
  )
  return "\n".join(lines)
