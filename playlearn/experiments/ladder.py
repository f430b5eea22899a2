"""The sanity ladder: imitation in three rungs, each with its success interval.

A success rate near zero is a bug until shown otherwise. The ladder finds at
which step imitation breaks, with the project's own stack at every rung
(dataset builder -> Grain windows -> trainer -> saved policy -> task suite):

  rung 1  one task from N demonstrations, clean against recovery-rich
          (executed actions perturbed, the oracle's command as the label);
  rung 2  one goal-conditioned policy on demonstrations of all 18 suite tasks;
  rung 3  the same learner on play.

Every rung is Play-GCBC (`configs/gcbc.py:cpu`, the MSE head); the goal of
a demonstration window is mostly the demonstration's final state
(`goal_horizon` reaches past its end), as the suite's oracle goals are.
Results are success with a 95% Wilson interval over every episode of every
seed (`suite.evaluate_over_seeds`).

This module sits above the others (datasets, train, evaluation): it joins
them, as `scripts/readme_results.sh` does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

from playlearn import evaluation
from playlearn.configs import gcbc as gcbc_config
from playlearn.datasets import playtable
from playlearn.play import noise as noise_lib
from playlearn.policy import Policy
from playlearn.train import trainer

RUNG1_TASKS = ("press_red_button", "open_drawer", "lift_red_block")


@dataclasses.dataclass(frozen=True)
class LadderConfig:
  """Sizes of the ladder's runs (the defaults: about 1.5 h on 2 cores)."""

  demos_per_task: int = 100  # rung 1
  demos_per_task_all: int = 30  # rung 2, per each of the 18 tasks
  train_steps: int = 3000
  batch_size: int = 64
  goal_horizon: int = 300  # goal: mostly the demonstration's end
  episodes_per_task: int = 10
  seeds: tuple[int, ...] = (0, 1)
  noise: noise_lib.NoiseConfig = noise_lib.PLAY_NOISE
  goals: str = "full"  # what goals show (playlearn.data.features)
  tiny_model: bool = False  # for tests


def build_demos(
    data_dir: str, name: str, tasks, per_task: int, noise: noise_lib.NoiseConfig
) -> str:
  """A playtable_demos dataset of `tasks`; returns its version directory."""
  cls = playtable.builder_class("playtable_demos")
  config = type(cls.BUILDER_CONFIGS[0])(
      name=name,
      train_per_task=per_task,
      validation_per_task=max(1, per_task // 10),
      tasks=tuple(tasks),
      noise=noise,
      description=f"sanity ladder: {name}",
  )
  builder = cls(config=config, data_dir=data_dir)
  builder.download_and_prepare()
  return os.fspath(builder.data_path)


def train_gcbc(
    dataset_dir: str,
    workdir: str,
    cfg: LadderConfig,
    goal_horizon: int | None = None,
) -> str:
  """Trains GCBC (`cpu` variant, `cfg`'s size); returns the policy dir."""
  policy_dir = os.path.join(workdir, "policy")
  if os.path.exists(os.path.join(policy_dir, "policy.json")):
    return policy_dir
  config = gcbc_config.get_config("cpu")
  config.dataset_dir = dataset_dir
  config.total_steps = cfg.train_steps
  config.data.batch_size = cfg.batch_size
  if goal_horizon is not None:
    config.data.goal_horizon = goal_horizon
  config.optimizer.warmup_steps = min(500, cfg.train_steps // 10)
  config.checkpoint_every = cfg.train_steps
  config.evals.val.every = cfg.train_steps
  config.log_every = min(config.log_every, cfg.train_steps)
  config.tiny_model = cfg.tiny_model
  config.data.goals = cfg.goals
  trainer.train_and_evaluate(config, workdir)
  return policy_dir


def evaluate(policy_dir: str, tasks, cfg: LadderConfig, progress=None) -> dict:
  results = evaluation.evaluate_over_seeds(
      lambda: Policy.load(policy_dir),
      cfg.seeds,
      tasks=list(tasks),
      episodes_per_task=cfg.episodes_per_task,
      progress=progress,
  )
  return {
      "mean": results["mean"],
      "successes": results["successes"],
      "episodes": results["episodes"],
      "wilson95": results["wilson95"],
      "per_task": results["per_task"],
  }


def _run_dir(out_dir: str, name: str, cfg: LadderConfig) -> str:
  """A run's directory: other goals, another run (never a reused policy)."""
  suffix = "" if cfg.goals == "full" else f"_goals_{cfg.goals}"
  return os.path.join(out_dir, name + suffix)


def _row(rung, what, data, result, seconds, cfg: LadderConfig) -> dict:
  if cfg.goals != "full":
    what += f", {cfg.goals} goals"
  return {
      "rung": rung,
      "what": what,
      "data": data,
      "seconds": seconds,
      **result,
  }


def run(
    out_dir: str,
    rungs=(1, 2, 3),
    cfg: LadderConfig = LadderConfig(),
    rung1_tasks=RUNG1_TASKS,
    play_dataset: str | None = None,
    play_policy: str | None = None,
    progress=print,
) -> list[dict]:
  """Runs the rungs; writes `out_dir/ladder.json` after each row."""
  os.makedirs(out_dir, exist_ok=True)
  data_dir = os.path.join(out_dir, "data")
  rows = []

  def finish(row):
    rows.append(row)
    with open(os.path.join(out_dir, "ladder.json"), "w") as f:
      json.dump({"config": dataclasses.asdict(cfg), "rows": rows}, f, indent=1)
    lo, hi = row["wilson95"]
    progress(
        f"rung {row['rung']} {row['what']}: {row['successes']}/"
        f"{row['episodes']} ({100 * row['mean']:.1f}%, 95% "
        f"{100 * lo:.0f}-{100 * hi:.0f}%)"
    )

  variants = (("clean", noise_lib.NoiseConfig()), ("recovery", cfg.noise))
  if 1 in rungs:
    for task in rung1_tasks:
      for label, noise in variants:
        tic = time.perf_counter()
        name = f"{task}_{cfg.demos_per_task}_{label}"
        dataset = build_demos(data_dir, name, [task], cfg.demos_per_task, noise)
        policy = train_gcbc(
            dataset, _run_dir(out_dir, name, cfg), cfg, cfg.goal_horizon
        )
        finish(
            _row(
                1,
                f"{task}, {cfg.demos_per_task} demos, {label}",
                dataset,
                evaluate(policy, [task], cfg),
                time.perf_counter() - tic,
                cfg,
            )
        )
  if 2 in rungs:
    tic = time.perf_counter()
    name = f"suite_{cfg.demos_per_task_all}_recovery"
    dataset = build_demos(
        data_dir, name, evaluation.EVAL_TASKS, cfg.demos_per_task_all, cfg.noise
    )
    policy = train_gcbc(
        dataset, _run_dir(out_dir, name, cfg), cfg, cfg.goal_horizon
    )
    finish(
        _row(
            2,
            f"18 tasks, {cfg.demos_per_task_all} demos each, recovery",
            dataset,
            evaluate(policy, evaluation.EVAL_TASKS, cfg),
            time.perf_counter() - tic,
            cfg,
        )
    )
  if 3 in rungs and (play_dataset or play_policy):
    tic = time.perf_counter()
    policy = play_policy or train_gcbc(
        play_dataset, os.path.join(out_dir, "play"), cfg
    )
    finish(
        _row(
            3,
            "play",
            play_dataset or play_policy,
            evaluate(policy, evaluation.EVAL_TASKS, cfg),
            time.perf_counter() - tic,
            cfg,
        )
    )
  return rows


def format_rows(rows: list[dict]) -> str:
  lines = [
      "| rung | what | success | 95% interval (Wilson) |",
      "|---|---|---|---|",
  ]
  for r in rows:
    lo, hi = r["wilson95"]
    lines.append(
        f"| {r['rung']} | {r['what']} | {r['successes']}/"
        f"{r['episodes']} ({100 * r['mean']:.1f}%) | "
        f"{100 * lo:.1f}-{100 * hi:.1f}% |"
    )
  return "\n".join(lines)
