"""The task suite: goal-conditioned success on the 18 Play-LMP-sized tasks.

Protocol (Lynch et al. 2019, with CALVIN-style predicates):

1. For task k and episode j, reset seeds come from `SeedSequence([seed, k])`;
   starts where the task is infeasible are skipped.
2. From the start, the scripted oracle performs the task in the same env
   (`env.get_state()` before, `env.set_state()` after): the observation it
   reaches is the goal. A start where the oracle fails is skipped.
3. Optionally (Play-LMP's perturbed starts) the tool is moved by a scripted
   motion `perturb` metres away; a move that changes the scene is redrawn.
4. The policy acts for a step budget (default: twice the oracle's steps, at
   most `max_steps`). Success is the task's predicate between the start
   scene and the scene at each step; the episode stops when it holds.

A policy (an `Actor`) is any object with `reset()` and
`act(obs, goal) -> float[7]`, where `obs` and `goal` are the env's observation dicts (`{'state': float32[42]}`,
plus images for an env made with `images=True`). Learned policies wrap their
jit-compiled networks; nothing here imports JAX.

Longer than 500 lines: the protocol's steps above, their aggregation over
seeds and its table are one contract, which every policy's figures obey.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import time
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np

from playlearn import hardware
from playlearn.envs import playtable
from playlearn.envs import tasks as tasks_lib
from playlearn.evaluation.task_names import EVAL_TASKS
from playlearn.play import oracle as oracle_lib

# The suite's tasks that move no block (the fixtures, buttons and lamp),
# which need no grasp or precise contact: `make demo`'s measure.
EASY_TASKS = tuple(t for t in EVAL_TASKS if t in tasks_lib.FIXTURE_TASKS)
MAX_STEPS = 300
BUDGET_FACTOR = 2.0
_MAX_RESETS = 200  # reset seeds tried per wanted episode
_MAX_PERTURB_TRIES = 20
# The tool moves no lower than this in a perturbation: above every fixture.
_PERTURB_Z = (0.18, 0.38)
_PERTURB_XY = ((-0.45, 0.45), (-0.4, 0.25))


class Actor(Protocol):

  def reset(self) -> None:
    ...

  def act(self, obs: dict, goal: dict) -> np.ndarray:
    ...


@dataclasses.dataclass
class Episode:
  """One evaluation start: where the policy begins and what it must reach."""

  task: str
  reset_seed: int
  start: dict  # env.get_state() at the reset (before the oracle)
  start_obs: dict  # observation at the reset
  goal: dict  # observation the oracle reached
  oracle_steps: int


def budget_for(
    oracle_steps: int, step_budget: int | None, max_steps: int = MAX_STEPS
) -> int:
  """`step_budget` if given, else twice the oracle's steps, capped."""
  if step_budget is not None:
    return int(step_budget)
  return int(min(max_steps, np.ceil(BUDGET_FACTOR * oracle_steps)))


def copy_obs(obs: dict) -> dict:
  return {k: np.array(v, copy=True) for k, v in obs.items()}


def run_oracle(
    env: playtable.PlayTableEnv,
    task: str,
    rng: np.random.Generator,
    style: oracle_lib.Style,
    start_scene: playtable.SceneState,
):
  """Runs the oracle on `task` from the current state.

  Returns (success, goal observation, steps); the env is left at the end.
  """
  obs, steps, done = None, 0, False
  for action in oracle_lib.Oracle(env, rng, style).run(task):
    timestep = env.step(action)
    obs, steps = timestep.observation, steps + 1
    if timestep.last():
      done = True
      break
  ok = (
      obs is not None
      and not done
      and tasks_lib.get(task).success(start_scene, env.scene_state())
  )
  return ok, (copy_obs(obs) if obs is not None else None), steps


def iter_episodes(
    env: playtable.PlayTableEnv, task: str, seed: int, task_index: int
) -> Iterator[Episode]:
  """Feasible starts of `task` with oracle goals, deterministic in
  (seed, task_index). Each `next` resets the env; the env is left at the
  oracle's end. Raises if the oracle finds no start in many resets."""
  spec = tasks_lib.get(task)
  rng = np.random.default_rng(np.random.SeedSequence([seed, task_index]))
  misses = 0
  while misses < _MAX_RESETS:
    reset_seed = int(rng.integers(2**31))
    timestep = env.reset(seed=reset_seed)
    start_scene = env.scene_state()
    if not spec.feasible(start_scene):
      misses += 1
      continue
    snapshot = env.get_state()
    start_obs = copy_obs(timestep.observation)
    oracle_rng = np.random.default_rng(reset_seed)
    style = oracle_lib.Style.sample(oracle_rng)
    ok, goal, steps = run_oracle(env, task, oracle_rng, style, start_scene)
    if not ok:
      misses += 1
      continue
    misses = 0
    yield Episode(task, reset_seed, snapshot, start_obs, goal, steps)
  raise RuntimeError(
      f"no start for {task!r} (seed {seed}) where it is "
      f"feasible and the oracle succeeds in {_MAX_RESETS} resets"
  )


def cached_episodes(
    env: playtable.PlayTableEnv,
    task: str,
    seed: int,
    task_index: int,
    cache: dict | None,
) -> Iterator[Episode]:
  """`iter_episodes`, remembered in `cache` (a dict the caller keeps).

  Starts and oracle goals cost more than most rollouts; evaluating several
  policies (a sweep) on the same episodes computes them once. Only valid
  for one env configuration: the key includes the env's id.
  """
  if cache is None:
    yield from iter_episodes(env, task, seed, task_index)
    return
  done, fresh = cache.setdefault(
      (id(env), task, seed, task_index),
      ([], iter_episodes(env, task, seed, task_index)),
  )
  for i in itertools.count():
    if i == len(done):
      done.append(next(fresh))
    yield done[i]


def sample_episodes(
    env: playtable.PlayTableEnv, task: str, num: int, seed: int, task_index: int
) -> list[Episode]:
  """The first `num` episodes of `iter_episodes`."""
  return list(itertools.islice(iter_episodes(env, task, seed, task_index), num))


def _scene_unchanged(a: playtable.SceneState, b: playtable.SceneState) -> bool:
  """Nothing but the arm moved (fixtures, lights, lamp, blocks)."""
  return (
      abs(a.drawer - b.drawer) < 0.005
      and abs(a.door - b.door) < 0.005
      and np.array_equal(a.lights, b.lights)
      and a.lamp == b.lamp
      and abs(a.switch - b.switch) < 0.05
      and np.max(np.abs(a.block_pos - b.block_pos)) < 0.005
      and np.max(np.abs(a.block_yaw - b.block_yaw)) < 0.05
      and not b.block_held.any()
  )


def perturb_tool(
    env: playtable.PlayTableEnv,
    distance: float,
    rng: np.random.Generator,
    task: str,
    max_tries: int = _MAX_PERTURB_TRIES,
) -> dict | None:
  """Moves the tool about `distance` metres away by stepping the env.

  The direction is random in the horizontal plane with a random height
  change; the target stays in a box above the fixtures. The motion is the
  oracle's waypoint follower (real physics, no teleport). A try that changes
  the scene, leaves the task infeasible or already done, or ends further
  than 15% from `distance`, is undone and redrawn.

  Returns {'offset': metres moved, 'steps', 'tries', 'obs': the observation
  after the move}, or None if
  no try worked (the env is then back at its state on entry).
  """
  spec = tasks_lib.get(task)
  snapshot = env.get_state()
  start_scene = env.scene_state()
  tcp0 = start_scene.tcp_pos.copy()
  oracle = oracle_lib.Oracle(env, rng)
  for attempt in range(1, max_tries + 1):
    target = _perturb_target(tcp0, distance, rng)
    if target is None:
      continue
    wp = oracle_lib.Waypoint(
        target,
        oracle.tool_yaw(),
        oracle_lib.OPEN,
        tol=0.01,
        hold=3,
        max_steps=int(distance / 0.015) + 30,
    )
    steps, broke, obs = 0, False, None
    for action in oracle.follow([wp]):
      steps += 1
      timestep = env.step(action)
      obs = timestep.observation
      if timestep.last():
        broke = True
        break
    end = env.scene_state()
    offset = float(np.linalg.norm(end.tcp_pos - tcp0))
    if (
        obs is not None
        and not broke
        and _scene_unchanged(start_scene, end)
        and abs(offset - distance) <= 0.15 * distance
        and spec.feasible(end)
        and not spec.success(start_scene, end)
    ):
      return {
          "offset": offset,
          "steps": steps,
          "tries": attempt,
          "obs": copy_obs(obs),
      }
    env.set_state(snapshot)
  return None


def _perturb_target(tcp0, distance, rng) -> np.ndarray | None:
  """A point `distance` from tcp0 inside the perturbation box, or None."""
  for _ in range(100):
    z = rng.uniform(*_PERTURB_Z)
    dz = z - tcp0[2]
    if abs(dz) >= distance:
      continue
    angle = rng.uniform(-np.pi, np.pi)
    r = np.sqrt(distance**2 - dz**2)
    x, y = tcp0[0] + r * np.cos(angle), tcp0[1] + r * np.sin(angle)
    (x0, x1), (y0, y1) = _PERTURB_XY
    if x0 <= x <= x1 and y0 <= y <= y1:
      return np.array([x, y, z])
  return None


def rollout(
    env: playtable.PlayTableEnv,
    policy: Actor,
    obs: dict,
    goal: dict,
    task: str,
    start_scene: playtable.SceneState,
    budget: int,
    frames: list | None = None,
) -> dict:
  """Runs the policy from the current state; stops when `task` is done.

  Returns {'success', 'steps' (to success or the budget), 'unstable', 'obs'
  (the last observation)}.
  `frames`, if a list, receives the camera images before each step and at the
  end (from the observation if it has them, else `env.render()`).
  """
  spec = tasks_lib.get(task)
  policy.reset()
  if frames is not None:
    frames.append(_frame(env, obs))
  for t in range(budget):
    action = np.asarray(policy.act(obs, goal), np.float32)
    timestep = env.step(action)
    obs = timestep.observation
    if frames is not None:
      frames.append(_frame(env, obs))
    if spec.success(start_scene, env.scene_state()):
      return {"success": True, "steps": t + 1, "unstable": False, "obs": obs}
    if timestep.last():
      return {
          "success": False,
          "steps": t + 1,
          "obs": obs,
          "unstable": bool(env.last_info.get("physics_unstable", False)),
      }
  return {"success": False, "steps": budget, "unstable": False, "obs": obs}


def env_for(policy: Actor) -> playtable.PlayTableEnv:
  """The env `policy` acts in: with camera images of its `image_sizes`
  ({camera: S}) for a pixel policy, state only otherwise."""
  sizes = getattr(policy, "image_sizes", None)
  if not sizes:
    return playtable.PlayTableEnv()
  default = playtable.EnvConfig()
  return playtable.PlayTableEnv(
      playtable.EnvConfig(
          images=True,
          static_size=sizes.get("rgb_static", default.static_size),
          gripper_size=sizes.get("rgb_gripper", default.gripper_size),
      )
  )


def _frame(env: playtable.PlayTableEnv, obs: dict) -> dict:
  if "rgb_static" in obs and "rgb_gripper" in obs:
    return {"rgb_static": obs["rgb_static"], "rgb_gripper": obs["rgb_gripper"]}
  return env.render()


def write_frames(path: str, frames: list[dict]) -> None:
  from playlearn.play import replay  # pylint: disable=g-import-not-at-top

  static = np.stack([f["rgb_static"] for f in frames])
  gripper = np.stack([f["rgb_gripper"] for f in frames])
  replay.write_video(path, replay.side_by_side(static, gripper))


def evaluate_tasks(
    policy: Actor,
    tasks: Sequence[str] = EVAL_TASKS,
    *,
    episodes_per_task: int = 10,
    seed: int = 0,
    step_budget: int | None = None,
    max_steps: int = MAX_STEPS,
    perturb: float = 0.0,
    video_dir: str | None = None,
    videos_per_task: int = 1,
    env: playtable.PlayTableEnv | None = None,
    progress: Callable[[str], None] | None = None,
    episode_cache: dict | None = None,
) -> dict:
  """Success of `policy` per task from oracle-goal starts (module docstring).

  Args:
    policy: `reset()` and `act(obs, goal) -> float[7]`.
    tasks: task names (default the 18 `EVAL_TASKS`).
    episodes_per_task: starts per task.
    seed: fixes every start and goal (the same seed gives the same episodes).
    step_budget: steps per episode; None: 2x the oracle's steps, <= max_steps.
    perturb: metres the tool is moved away before the policy starts (0: off;
      Play-LMP used about 0.4).
    video_dir: if set, MP4s `<task>_<k>.mp4` of the first `videos_per_task`
      episodes of each task (static and gripper camera side by side).
    env: the env to use; None: `env_for(policy)`, state only, or with the
      camera images a pixel policy reads.
    progress: called with a line after each task (its success, policy steps/s
      and the time left), e.g. `print`.
    episode_cache: a dict kept across calls with the same env, so that they
      share starts and goals instead of recomputing them (`cached_episodes`).

  Returns:
    JSON-serialisable {'config', 'hardware', 'tasks': {name: {'successes',
    'steps', 'budgets', 'reset_seeds', 'oracle_steps', 'perturb_offsets',
    'perturb_skipped' (starts dropped as no perturbation worked), 'unstable',
    'rate'}}, 'mean' (over tasks), 'seconds', 'env_steps'}.
  """
  for t in tasks:
    tasks_lib.get(t)  # unknown names fail before any work
  env = env or env_for(policy)
  if video_dir:
    os.makedirs(video_dir, exist_ok=True)
  tic = time.perf_counter()
  per_task, env_steps = {}, 0
  for k, task in enumerate(tasks):
    episodes = cached_episodes(env, task, seed, k, episode_cache)
    perturb_rng = np.random.default_rng(np.random.SeedSequence([seed, k, 1]))
    row = {
        "successes": [],
        "steps": [],
        "budgets": [],
        "reset_seeds": [],
        "oracle_steps": [],
        "perturb_offsets": [],
        "unstable": 0,
        "perturb_skipped": 0,
    }
    while len(row["successes"]) < episodes_per_task:
      j, ep = len(row["successes"]), next(episodes)
      env.set_state(ep.start)
      obs = ep.start_obs
      start_scene = env.scene_state()
      if perturb > 0:
        moved = perturb_tool(env, perturb, perturb_rng, task)
        if moved is None:  # rare: no move kept the scene as it was
          row["perturb_skipped"] += 1
          continue
        row["perturb_offsets"].append(moved["offset"])
        obs = moved["obs"]
        start_scene = env.scene_state()
      budget = budget_for(ep.oracle_steps, step_budget, max_steps)
      frames = [] if video_dir and j < videos_per_task else None
      result = rollout(
          env, policy, obs, ep.goal, task, start_scene, budget, frames
      )
      if frames:
        write_frames(os.path.join(video_dir, f"{task}_{j}.mp4"), frames)
      env_steps += result["steps"]
      row["successes"].append(bool(result["success"]))
      row["steps"].append(int(result["steps"]))
      row["budgets"].append(budget)
      row["reset_seeds"].append(ep.reset_seed)
      row["oracle_steps"].append(int(ep.oracle_steps))
      row["unstable"] += int(result["unstable"])
    row["rate"] = float(np.mean(row["successes"]))
    per_task[task] = row
    if progress:
      elapsed = time.perf_counter() - tic
      left = elapsed / (k + 1) * (len(tasks) - k - 1)
      # Policy steps per second of the whole loop: the oracle's goals, resets
      # and videos included (the policy and env alone are ~1.3 ms a step).
      rate = env_steps / elapsed
      progress(
          f"[{k + 1}/{len(tasks)}] {task}: {sum(row['successes'])}/"
          f"{len(row['successes'])} ({rate:.0f} policy steps/s overall,"
          f" eta {int(left // 60)}m{int(left % 60):02d}s)"
      )
  return {
      "config": {
          "tasks": list(tasks),
          "episodes_per_task": episodes_per_task,
          "seed": seed,
          "step_budget": step_budget,
          "max_steps": max_steps,
          "budget_factor": BUDGET_FACTOR,
          "perturb": perturb,
          "env": dataclasses.asdict(env.config),
      },
      "hardware": hardware.describe(),
      "tasks": per_task,
      "mean": float(np.mean([r["rate"] for r in per_task.values()])),
      "seconds": time.perf_counter() - tic,
      "env_steps": env_steps,
  }


def wilson_interval(
    successes: int, trials: int, z: float = 1.959964
) -> tuple[float, float]:
  """95% Wilson score interval of a success rate (Wilson 1927).

  Unlike the normal approximation it stays inside [0, 1] and is not empty at
  0 or n successes: 0/90 gives (0, 0.041).
  """
  if trials <= 0:
    return (0.0, 1.0)
  p = successes / trials
  denominator = 1 + z * z / trials
  centre = (p + z * z / (2 * trials)) / denominator
  half = (
      z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials**2)) / denominator
  )
  return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def evaluate_over_seeds(
    policy_factory: Callable[[], Actor], seeds: Sequence[int], **kwargs
) -> dict:
  """`evaluate_tasks` once per seed (a fresh policy each); mean and std.

  `kwargs` go to `evaluate_tasks`; videos (`video_dir`) are of the first
  seed only. Returns {'seeds', 'runs', 'mean', 'std' (of the per-seed task
  averages), 'successes', 'episodes', 'wilson95' (of all episodes pooled),
  'per_task': {name: {'mean', 'std', 'successes', 'episodes', 'wilson95'}},
  'hardware'}.
  """
  progress = kwargs.pop("progress", None)
  video_dir = kwargs.pop("video_dir", None)
  runs = []
  for i, s in enumerate(seeds):
    log = (lambda line, s=s: progress(f"seed {s} {line}")) if progress else None
    runs.append(
        evaluate_tasks(
            policy_factory(),
            seed=s,
            progress=log,
            video_dir=None if i else video_dir,
            **kwargs,
        )
    )
  means = [r["mean"] for r in runs]
  per_task = {}
  for t in runs[0]["tasks"]:
    wins = sum(sum(r["tasks"][t]["successes"]) for r in runs)
    trials = sum(len(r["tasks"][t]["successes"]) for r in runs)
    per_task[t] = {
        "mean": float(np.mean([r["tasks"][t]["rate"] for r in runs])),
        "std": float(np.std([r["tasks"][t]["rate"] for r in runs])),
        "successes": int(wins),
        "episodes": int(trials),
        "wilson95": wilson_interval(wins, trials),
    }
  wins = sum(r["successes"] for r in per_task.values())
  trials = sum(r["episodes"] for r in per_task.values())
  return {
      "seeds": list(seeds),
      "runs": runs,
      "mean": float(np.mean(means)),
      "std": float(np.std(means)),
      "successes": int(wins),
      "episodes": int(trials),
      "wilson95": wilson_interval(wins, trials),
      "per_task": per_task,
      "hardware": hardware.describe(),
  }


def format_table(results: dict) -> str:
  """A markdown table of `evaluate_tasks` or `evaluate_over_seeds` results."""
  if "runs" in results:
    n = len(results["seeds"])
    lines = [
        f"| task | success (mean ± std over {n} seeds) | successes | "
        "95% interval (Wilson) |",
        "|---|---|---|---|",
    ]

    def row(name, r):
      lo, hi = r["wilson95"]
      return (
          f"| {name} | {100 * r['mean']:.1f}% ± {100 * r['std']:.1f} | "
          f"{r['successes']}/{r['episodes']} | "
          f"{100 * lo:.1f}-{100 * hi:.1f}% |"
      )

    for task, r in results["per_task"].items():
      lines.append(row(f"`{task}`", r))
    lines.append(row("**average**", results))
    return "\n".join(lines)
  lines = ["| task | success | rate | mean steps |", "|---|---|---|---|"]
  for task, r in results["tasks"].items():
    wins = sum(r["successes"])
    lines.append(
        f"| `{task}` | {wins}/{len(r['successes'])} | "
        f"{100 * r['rate']:.1f}% | {np.mean(r['steps']):.0f} |"
    )
  lines.append(f"| **average** | | **{100 * results['mean']:.1f}%** | |")
  return "\n".join(lines)
