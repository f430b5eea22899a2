"""Does a trained policy imitate held-out play, and does it read its goal?

Success on the task suite says whether a policy works; these figures say why
one does not. The saved policy acts step by step along held-out play windows,
fed the demonstrated observations (teacher forcing) and the window's hindsight
goal, exactly as at deployment (`Policy.reset` / `Policy.act`, recurrent state
and plans included). Its actions are compared with the demonstrated ones (the
oracle's labels, `action_label`, where the data records them: the executed
actions of recovery-rich play carry noise no policy should predict):

* `corr` / `mse`: per action dimension, the correlation and mean squared error
  between the policy's and the demonstrated actions. A policy that learnt only
  the marginal of the actions has correlation about 0 in every dimension.
* `corr_shuffled_goal`: the same correlation with the goals permuted across
  windows. A goal-conditioned policy that reads its goal loses correlation when
  the goal is wrong; `goal_use` is the drop, averaged over dimensions.
* `moving_share`: how often the policy's action is non-zero in each dimension,
  beside the same share in the data (a policy that only outputs 0, the most
  common play action, has 0 here).

`closed_loop_drift` asks the other question: in closed loop, on suite
episodes, how far do the observations the policy meets leave its training
data (|z| of each feature under the policy's own normalisation), and how far
does the tool tilt (play keeps roll and pitch within a few hundredths of a
radian of the home pose)? A policy whose actions carry noise that play's
labels only corrected (e.g. one that samples them) walks away from the data.

Method-agnostic: only `Policy` is used, so GCBC, LMP and BESO are compared
the same way.
"""

from __future__ import annotations

import numpy as np

from playlearn import policy as policy_lib
from playlearn.data import frames
from playlearn.data import reading
from playlearn.data import rlds
from playlearn.envs import playtable
from playlearn.evaluation import suite

# |action| above this counts as moving (the logistic head snaps to bins 2/255
# apart, so its "zero" is +-1/255).
MOVING = 0.01
ACTION_NAMES = ("dx", "dy", "dz", "droll", "dpitch", "dyaw", "gripper")


def sample_windows(
    dataset_dir: str,
    split: str,
    num_windows: int,
    length: int,
    goal_horizon: int,
    seed: int,
    views: tuple[str, ...] = (),
):
  """Random windows of held-out play: (observations {'state': [N, L, D] and,
  where recorded, 'target': [N, L, 6]}, actions [N, L, A], goals
  {'state': [N, D]}); the goal is the step 0..goal_horizon steps after the
  window. `views`: cameras whose frames the observations and goals also
  carry ([N, L, S, S, 3] and [N, S, S, 3]), for pixel policies."""
  source = reading.EpisodeSource(dataset_dir, split)
  rng = np.random.default_rng(seed)
  # The last step holds the final observation and no action, so a window
  # needs length + 1 steps.
  episodes = [
      steps
      for steps in (source[i]["steps"] for i in range(len(source)))
      if len(steps["action"]) > length + 1
  ]
  for steps in episodes:
    frames.check_views(views, steps["observation"], f"{dataset_dir} ({split})")
  if not episodes:
    raise ValueError(
        f"no episode of {dataset_dir} ({split}) is longer than "
        f"length={length} + 1 steps"
    )
  keys = ("state", "target") + tuple(views)
  obs, actions, goals = [], [], []
  for _ in range(num_windows):
    steps = episodes[rng.integers(len(episodes))]
    s, a = steps["observation"]["state"], rlds.step_actions(steps, "label")
    start = rng.integers(0, len(s) - 1 - length)
    end = start + length
    goal_index = min(end - 1 + rng.integers(0, goal_horizon + 1), len(s) - 1)
    seen = {k: v for k, v in steps["observation"].items() if k in keys}
    obs.append({k: v[start:end] for k, v in seen.items()})
    actions.append(a[start:end])
    goals.append({k: seen[k][goal_index] for k in ("state",) + tuple(views)})
  stack = lambda parts, k: np.stack([p[k] for p in parts])
  return (
      {k: stack(obs, k) for k in obs[0]},
      np.stack(actions).astype(np.float32),
      {k: stack(goals, k) for k in goals[0]},
  )


def rollout_actions(
    policy: policy_lib.Policy,
    obs: dict[str, np.ndarray],
    goals: dict[str, np.ndarray],
) -> np.ndarray:
  """The policy's actions [N, L, A] along demonstrated observations [N, L, ...]
  towards `goals` ({'state': [N, D]}, and cameras for a pixel policy)."""
  n, length = obs["state"].shape[:2]
  policy.reset(n)
  return np.stack(
      [
          policy.act({k: v[:, t] for k, v in obs.items()}, goals)
          for t in range(length)
      ],
      axis=1,
  )


def _correlation(x: np.ndarray, y: np.ndarray) -> np.ndarray:
  """Per-column Pearson correlation of [M, A] arrays (0 where one is constant)."""
  x = x - x.mean(0)
  y = y - y.mean(0)
  denom = np.sqrt((x**2).sum(0) * (y**2).sum(0))
  return np.where(denom > 0, (x * y).sum(0) / np.maximum(denom, 1e-12), 0.0)


def diagnose(
    policy: policy_lib.Policy,
    dataset_dir: str,
    *,
    split: str = "validation",
    num_windows: int = 256,
    length: int = 32,
    goal_horizon: int = 0,
    seed: int = 0,
) -> dict:
  """Imitation and goal-use figures of `policy` on held-out play (see module doc)."""
  encoder = getattr(policy, "encoder", None)
  views = tuple(encoder.config.views) if encoder is not None else ()
  obs, actions, goals = sample_windows(
      dataset_dir, split, num_windows, length, goal_horizon, seed, views
  )
  predicted = rollout_actions(policy, obs, goals)
  order = np.random.default_rng(seed + 1).permutation(len(goals["state"]))
  shuffled = rollout_actions(
      policy, obs, {k: v[order] for k, v in goals.items()}
  )
  flat = lambda x: x.reshape(-1, x.shape[-1])
  a, p, q = flat(actions), flat(predicted), flat(shuffled)
  corr, corr_shuffled = _correlation(p, a), _correlation(q, a)
  return {
      "num_windows": num_windows,
      "length": length,
      "goal_horizon": goal_horizon,
      "split": split,
      "dims": list(ACTION_NAMES[: a.shape[-1]]),
      "corr": corr.tolist(),
      "corr_shuffled_goal": corr_shuffled.tolist(),
      "goal_use": float(np.mean(corr - corr_shuffled)),
      "mse": ((p - a) ** 2).mean(0).tolist(),
      "mse_shuffled_goal": ((q - a) ** 2).mean(0).tolist(),
      "moving_share": (np.abs(p) > MOVING).mean(0).tolist(),
      "moving_share_data": (np.abs(a) > MOVING).mean(0).tolist(),
  }


def closed_loop_drift(
    policy: policy_lib.Policy,
    tasks: tuple[str, ...] = (
        "open_drawer",
        "press_red_button",
        "lift_red_block",
    ),
    *,
    episodes_per_task: int = 3,
    steps: int = 100,
    beyond: float = 5.0,
    seed: int = 0,
) -> dict:
  """How far closed-loop rollouts leave the training data (module docstring).

  Runs `steps` steps (success does not stop them) from the first
  `episodes_per_task` suite starts of each task (evaluation seed `seed`,
  oracle goals). Returns per task the share of steps where some feature lies
  more than `beyond` training standard deviations from its mean, the most
  frequent such feature (its index in the policy's features) and the largest
  tool roll or pitch (radians), averaged over the episodes.
  """
  env = suite.env_for(policy)  # With cameras for a pixel policy.
  tilt = playtable.STATE_LAYOUT["tcp_euler"]
  result = {"beyond": beyond, "steps": steps, "tasks": {}}
  for k, task in enumerate(tasks):
    # The suite's own starts for its tasks (evaluate_tasks numbers them so).
    index = suite.EVAL_TASKS.index(task) if task in suite.EVAL_TASKS else k
    outside, tilts, worst = [], [], []
    for ep in suite.sample_episodes(env, task, episodes_per_task, seed, index):
      env.set_state(ep.start)
      obs = ep.start_obs
      policy.reset()
      for _ in range(steps):
        seen = policy.observed(obs)  # A pixel policy's embeddings.
        z = np.abs(policy.normalization.normalize_observation(seen))
        outside.append(bool(z.max() > beyond))
        worst.append(int(z.argmax()))
        tilts.append(float(np.abs(obs["state"][tilt][:2]).max()))
        action = np.asarray(policy.act(obs, ep.goal), np.float32)
        obs = env.step(action).observation
    worst_outside = [w for w, o in zip(worst, outside) if o]
    result["tasks"][task] = {
        "share_beyond": float(np.mean(outside)),
        "worst_feature": (
            int(np.bincount(worst_outside).argmax()) if worst_outside else None
        ),
        "max_tilt_rad": float(
            np.mean(np.max(np.reshape(tilts, (-1, steps)), axis=1))
        ),
    }
  return result


def drift_table(result: dict) -> str:
  """A markdown table of `closed_loop_drift`'s figures, one row per task."""
  lines = [
      f"| task | steps with a feature beyond {result['beyond']:g} std "
      "| most frequent such feature | largest tool roll/pitch (rad) |",
      "|---|---|---|---|",
  ]
  for task, row in result["tasks"].items():
    lines.append(
        f"| {task} | {row['share_beyond']:.0%} | {row['worst_feature']} "
        f"| {row['max_tilt_rad']:.3f} |"
    )
  return "\n".join(lines)


def table(result: dict) -> str:
  """A markdown table of `diagnose`'s figures, one row per action dimension."""
  lines = [
      "| dim | corr | corr (shuffled goal) | mse | moving (policy) | moving (data) |",
      "|---|---|---|---|---|---|",
  ]
  for i, name in enumerate(result["dims"]):
    lines.append(
        f"| {name} | {result['corr'][i]:+.2f} | {result['corr_shuffled_goal'][i]:+.2f} "
        f"| {result['mse'][i]:.3f} | {result['moving_share'][i]:.0%} "
        f"| {result['moving_share_data'][i]:.0%} |"
    )
  lines.append(
      f"\ngoal use (mean drop in correlation with shuffled goals): "
      f"{result['goal_use']:+.3f}"
  )
  return "\n".join(lines)
