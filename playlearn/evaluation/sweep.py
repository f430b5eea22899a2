"""Acting-time ablations: one trained policy, several ways of acting.

Settings that change only how a network acts (BESO's sampler, number of
denoising steps and guidance weight) are compared on the same evaluation
episodes (starts and oracle goals computed once, `suite.cached_episodes`),
each with its success on the task suite and its `Policy.act` latency.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
import time

from playlearn import policy as policy_lib
from playlearn import timing
from playlearn.evaluation import suite

# BESO's ablation: DDIM over step counts, the other samplers at 3 steps, and
# the guidance weight (0: goal-free, 1: conditional, 2: extrapolated).
BESO_VARIANTS = (
    *(
        {"sampler": "ddim", "num_steps": n, "guidance": 1.0}
        for n in (1, 3, 5, 10)
    ),
    *(
        {"sampler": s, "num_steps": 3, "guidance": 1.0}
        for s in ("euler", "euler_ancestral", "heun", "dpmpp_2m")
    ),
    *({"sampler": "ddim", "num_steps": 3, "guidance": g} for g in (0.0, 2.0)),
)


def parse_variant(text: str) -> dict:
  """'sampler=heun,num_steps=5' -> {'sampler': 'heun', 'num_steps': '5'}."""
  variant = {}
  for item in filter(None, text.split(",")):
    key, sep, value = item.partition("=")
    if not sep:
      raise ValueError(f"variant item {item!r} of {text!r} is not key=value")
    variant[key.strip()] = value.strip()
  return variant


def typed(policy: policy_lib.Policy, variant: dict) -> dict:
  """The variant's values converted to the types of the policy's config
  fields; a dotted key names a nested config's field ('policy.act_window'
  of LMP) and becomes a nested mapping, as `Policy.with_config` takes it."""
  out = {}
  for key, value in variant.items():
    config, where = policy.model.config, policy.method_name
    path = key.split(".")
    for name in path[:-1]:
      config = getattr(config, name, None)
      if not dataclasses.is_dataclass(config):
        raise ValueError(f"{where} has no nested config {name!r} (in {key!r})")
      where = f"{where}.{name}"
    if not hasattr(config, path[-1]):
      raise ValueError(f"{where} has no config field {path[-1]!r}")
    kind = type(getattr(config, path[-1]))
    if kind is bool and isinstance(value, str):
      value = value.lower() in ("1", "true", "yes")
    else:
      value = kind(value)
    node = out
    for name in path[:-1]:
      node = node.setdefault(name, {})
    node[path[-1]] = value
  return out


def act_latency_ms(
    policy: policy_lib.Policy, obs: dict, calls: int = 50
) -> float:
  """Median ms of one `Policy.act` at batch 1 (compile excluded)."""
  policy.reset()
  return timing.time_calls(lambda: policy.act(obs, obs), calls)["median_ms"]


def run(
    policy: policy_lib.Policy,
    variants: Sequence[dict],
    *,
    tasks: Sequence[str] = suite.EVAL_TASKS,
    episodes_per_task: int = 3,
    seed: int = 0,
    latency_calls: int = 50,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
  """Each variant's suite success and act latency, on shared episodes."""
  env = suite.env_for(policy)  # With cameras for a pixel policy.
  cache: dict = {}
  obs = env.reset(seed=seed).observation
  # Every row names every swept field, with the value it acted with.
  keys = list(dict.fromkeys(k for variant in variants for k in variant))
  rows = []
  for i, variant in enumerate(variants):
    changed = policy.with_config(**typed(policy, variant))
    fields = {k: getattr(changed.model.config, k) for k in keys}
    tic = time.perf_counter()
    result = suite.evaluate_tasks(
        changed,
        tasks,
        episodes_per_task=episodes_per_task,
        seed=seed,
        env=env,
        episode_cache=cache,
    )
    latency = act_latency_ms(changed, obs, latency_calls)
    rows.append(
        {
            **fields,
            "success": result["mean"],
            "per_task": {t: r["rate"] for t, r in result["tasks"].items()},
            "episodes": episodes_per_task * len(tasks),
            "act_ms": latency,
            "seconds": time.perf_counter() - tic,
        }
    )
    if progress:
      progress(
          f"[{i + 1}/{len(variants)}] {fields}: {100 * result['mean']:.1f}% "
          f"success, {latency:.2f} ms/action ({rows[-1]['seconds']:.0f} s)"
      )
  env.close()
  return rows


def table(rows: list[dict]) -> str:
  """Markdown: one row per variant (its fields), success and latency."""
  keys = [
      k
      for k in rows[0]
      if k not in ("success", "per_task", "episodes", "act_ms", "seconds")
  ]
  lines = [
      "| " + " | ".join(keys) + " | success | ms/action (B=1) |",
      "|" + "---|" * (len(keys) + 2),
  ]
  for row in rows:
    lines.append(
        "| "
        + " | ".join(str(row[k]) for k in keys)
        + f" | {100 * row['success']:.1f}% | {row['act_ms']:.2f} |"
    )
  return "\n".join(lines)
