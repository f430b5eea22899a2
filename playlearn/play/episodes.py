"""Play and demonstration episodes in RLDS form, generated with the oracle.

`generate_episode('play', seed)` runs the *play agent*: one long stream with
no reset, made of randomly chosen feasible tasks performed by the oracle in a
per-episode random `Style`, with idle wandering and put-downs in between, like
a person playing with the table; `task_weights` make some tasks more (or
less) likely than the agent's per-episode preferences alone would.
`generate_episode('demo', seed, task=...)` records one successful
demonstration of a task.

Each step records which task segment it belongs to (`language_instruction`
holds the task's words, empty between tasks; `episode_metadata['segments']`
is a JSON list of `{task, start, end, success, noise_scale}`). Learners do not
use these.

Actions (`playlearn.play.noise`): with a `NoiseConfig`, the oracle's command
at each state is perturbed before it is executed. Each step records both:
`action` is what was executed (replaying it from the reset seed reproduces
the episode bitwise, and it is what RLDS readers expect there), and
`action_label` is the oracle's command at that state, the label a policy
learns. Without noise the two are equal.
"""

from __future__ import annotations

from collections.abc import Mapping
import json

import numpy as np

from playlearn.envs import playtable
from playlearn.envs import scene
from playlearn.envs import tasks as tasks_lib
from playlearn.play import noise as noise_lib
from playlearn.play import oracle as oracle_lib

STATE_DIM = playtable.STATE_DIM
ACTION_DIM = playtable.ACTION_DIM
SCENE_VERSION = scene.SCENE_VERSION
GENERATOR_VERSION = "play-agent-1.2"
TASKS = tasks_lib.TASK_NAMES
_MAX_DEMO_TRIES = 50


class _Recorder:
  """Collects (observation, executed action, label) into RLDS step arrays."""

  def __init__(self):
    self.obs, self.actions, self.labels, self.instructions = [], [], [], []

  def add(self, obs, action, instruction, label=None):
    self.obs.append(obs)
    self.actions.append(np.asarray(action, np.float32))
    self.labels.append(
        np.asarray(action if label is None else label, np.float32)
    )
    self.instructions.append(instruction)

  def __len__(self):
    return len(self.actions)

  def steps(self, final_obs, terminal: bool) -> dict:
    """RLDS steps; the last step holds the final observation, a zero action."""
    self.add(final_obs, np.zeros(ACTION_DIM, np.float32), "")
    t = len(self.actions)
    is_first = np.zeros(t, bool)
    is_first[0] = True
    is_last = np.zeros(t, bool)
    is_last[-1] = True
    is_terminal = np.zeros(t, bool)
    is_terminal[-1] = terminal
    observation = {k: np.stack([o[k] for o in self.obs]) for k in self.obs[0]}
    return {
        "observation": observation,
        "action": np.stack(self.actions),
        "action_label": np.stack(self.labels),
        "reward": np.zeros(t, np.float32),
        "discount": np.ones(t, np.float32),
        "is_first": is_first,
        "is_last": is_last,
        "is_terminal": is_terminal,
        "language_instruction": np.array(self.instructions, dtype=object),
    }


def _make_env(images, static_size, gripper_size):
  return playtable.PlayTableEnv(
      playtable.EnvConfig(
          images=images, static_size=static_size, gripper_size=gripper_size
      )
  )


def _metadata(kind, seed, reset_seed, segments, noise, task_weights=None):
  version = GENERATOR_VERSION
  if task_weights:  # The same agent choosing with other odds: say which.
    version += " task_weights=" + json.dumps(dict(sorted(task_weights.items())))
  return {
      "seed": int(seed),
      "reset_seed": int(reset_seed),
      "kind": kind,
      "scene_version": SCENE_VERSION,
      "generator_version": version,
      "episode_id": f"{kind}-{seed}",
      "segments": json.dumps(segments),
      "noise": noise.to_json(),
  }


def _noise(
    config: noise_lib.NoiseConfig | None, seed: int
) -> noise_lib.ActionNoise:
  # Its own random stream: the oracle's choices do not depend on it.
  return noise_lib.ActionNoise(
      config or noise_lib.NoiseConfig(), np.random.default_rng([seed, 7])
  )


def check_task_weights(task_weights: Mapping[str, float] | None) -> np.ndarray:
  """Task name -> weight (default 1) as one weight per task in `TASKS` order."""
  weights = np.ones(len(TASKS))
  for task, weight in (task_weights or {}).items():
    if task not in TASKS:
      raise ValueError(
          f"task_weights: unknown task {task!r}; valid tasks: "
          + ", ".join(TASKS)
      )
    if not (
        isinstance(weight, (int, float)) and np.isfinite(weight) and weight > 0
    ):
      raise ValueError(
          f"task_weights[{task!r}] must be a positive number, got {weight!r}"
      )
    weights[TASKS.index(task)] = weight
  return weights


def play_episode(
    env: playtable.PlayTableEnv,
    seed: int,
    num_steps: int,
    noise: noise_lib.NoiseConfig | None = None,
    task_weights: Mapping[str, float] | None = None,
) -> tuple[dict, list]:
  """Runs the play agent for `num_steps` steps; returns (steps, segments).

  Each episode draws its own task preferences; `task_weights` (task name ->
  weight, default 1) multiplies them, e.g. to play a rare task more often.
  Without weights the episode is bitwise the one of earlier versions.
  """
  weight_of = check_task_weights(task_weights)
  rng = np.random.default_rng(seed)
  style = oracle_lib.Style.sample(rng)
  oracle = oracle_lib.Oracle(env, rng, style)
  perturb = _noise(noise, seed)
  idle_probability = rng.uniform(0.05, 0.3)
  # Per-episode task preferences make episodes differ in what is played.
  preference = rng.dirichlet(np.full(len(TASKS), 2.0)) * weight_of
  timestep = env.reset(seed=seed)
  rec, segments = _Recorder(), []
  done = False

  def execute(labels, instruction):
    nonlocal timestep, done
    perturb.start_segment()
    for label in labels:
      if len(rec) >= num_steps - 1 or done:
        return
      # Step with exactly the float32 action that is recorded, so that the
      # recorded actions replay the episode bitwise.
      label = np.asarray(label, np.float32)
      action = perturb(label)
      rec.add(timestep.observation, action, instruction, label)
      timestep = env.step(action)
      done = timestep.last()

  while len(rec) < num_steps - 1 and not done:
    state = env.scene_state()
    if state.block_held.any():
      execute(oracle.follow(oracle.put_down()), "")
      continue
    feasible = tasks_lib.feasible_tasks(state)
    if not feasible or rng.random() < idle_probability:
      execute(oracle.follow(oracle.wander()), "")
      continue
    weights = np.array([preference[TASKS.index(t)] for t in feasible])
    task = feasible[rng.choice(len(feasible), p=weights / weights.sum())]
    start = len(rec)
    execute(oracle.run(task), tasks_lib.TASKS[task].instruction)
    segments.append(
        {
            "task": task,
            "start": start,
            "end": len(rec),
            "success": bool(
                tasks_lib.TASKS[task].success(state, env.scene_state())
            ),
            "noise_scale": perturb.segment_scale,
        }
    )
  terminal = done and env.last_info.get("physics_unstable", False)
  return rec.steps(timestep.observation, terminal), segments


def demo_episode(
    env: playtable.PlayTableEnv,
    seed: int,
    task: str,
    noise: noise_lib.NoiseConfig | None = None,
) -> tuple[dict, dict]:
  """One successful demonstration of `task` from a random feasible start.

  With `noise`, a try whose perturbed execution fails is discarded too.
  """
  spec = tasks_lib.get(task)
  rng = np.random.default_rng(seed)
  perturb = _noise(noise, seed)
  for attempt in range(_MAX_DEMO_TRIES):
    reset_seed = int(rng.integers(2**31))
    timestep = env.reset(seed=reset_seed)
    start = env.scene_state()
    if not spec.feasible(start):
      continue
    oracle = oracle_lib.Oracle(env, rng, oracle_lib.Style.sample(rng))
    rec = _Recorder()
    perturb.start_segment()
    for label in oracle.run(task):
      label = np.asarray(label, np.float32)
      action = perturb(label)
      rec.add(timestep.observation, action, spec.instruction, label)
      timestep = env.step(action)
      if timestep.last():
        break
    if not timestep.last() and spec.success(start, env.scene_state()):
      segment = {
          "task": task,
          "start": 0,
          "end": len(rec),
          "success": True,
          "noise_scale": perturb.segment_scale,
      }
      return (
          rec.steps(timestep.observation, False),
          {
              "reset_seed": reset_seed,
              "attempts": attempt + 1,
              "segments": [segment],
          },
      )
  raise RuntimeError(
      f"no successful demonstration of {task!r} from seed "
      f"{seed} in {_MAX_DEMO_TRIES} attempts"
  )


def generate_episode(
    kind: str,
    seed: int,
    *,
    num_steps: int = 1500,
    task: str | None = None,
    images: bool = False,
    static_size: int = 96,
    gripper_size: int = 64,
    env: playtable.PlayTableEnv | None = None,
    noise: noise_lib.NoiseConfig | None = None,
    task_weights: Mapping[str, float] | None = None,
) -> dict:
  """Generates one RLDS episode as numpy arrays.

  Args:
    kind: 'play' (one long unsegmented stream) or 'demo' (one task).
    seed: episode seed; the same seed gives bitwise the same episode.
    num_steps: number of steps of a 'play' episode (15 per second).
    task: task name for 'demo'.
    images: also record rgb_static [T,S,S,3] and rgb_gripper [T,G,G,3] uint8.
    static_size, gripper_size: image sizes.
    env: an environment to reuse (its image settings must match).
    noise: perturbation of the executed actions (None: none).
    task_weights: 'play' only: task name -> weight on the play agent's odds
      of choosing it (default 1; see `play_episode`).

  Returns:
    {'steps': {'observation': {'state': float32[T,42], 'target':
               float32[T,6], ('rgb_static', 'rgb_gripper')},
               'action': float32[T,7] (executed),
               'action_label': float32[T,7] (the oracle's command),
               'reward': float32[T],
               'discount': float32[T], 'is_first', 'is_last', 'is_terminal':
               bool[T], 'language_instruction': object[T] (str)},
     'episode_metadata': {'seed', 'reset_seed' (the environment's reset
                          seed, to replay the actions), 'kind',
                          'scene_version', 'generator_version' (with the
                          task weights, if any), 'episode_id',
                          'segments' (JSON), 'noise' (JSON NoiseConfig)}}
  """
  if kind not in ("play", "demo"):
    raise ValueError(f"kind must be 'play' or 'demo', got {kind!r}")
  if env is None:
    env = _make_env(images, static_size, gripper_size)
  noise = noise or noise_lib.NoiseConfig()
  if kind == "play":
    if num_steps < 2:
      raise ValueError(f"num_steps must be at least 2, got {num_steps}")
    steps, segments = play_episode(env, seed, num_steps, noise, task_weights)
    return {
        "steps": steps,
        "episode_metadata": _metadata(
            kind, seed, seed, segments, noise, task_weights
        ),
    }
  if task_weights:
    raise ValueError("task_weights apply to kind='play' only")
  if task is None:
    raise ValueError(
        "kind='demo' needs a task; valid tasks: " + ", ".join(TASKS)
    )
  steps, info = demo_episode(env, seed, task, noise)
  return {
      "steps": steps,
      "episode_metadata": _metadata(
          kind, seed, info["reset_seed"], info["segments"], noise
      ),
  }
