"""Side-by-side results of several policies: one markdown table, one bar chart.

Each input is the JSON that `scripts/evaluate.py` writes: 'tasks' (from
`suite.evaluate_over_seeds`), optionally 'perturbed' (the same, perturbed
starts) and 'chains' (`chains.evaluate_chains`). Policies evaluated on the
same episodes (the same seeds, so the same starts and goals) are also
compared episode by episode (`paired`), which tells apart differences that
the per-policy intervals cannot.
"""

from __future__ import annotations

from collections.abc import Mapping
import json
import math

from absl import logging
import numpy as np


def load(paths: Mapping[str, str]) -> dict[str, dict]:
  """{name: results.json path} -> {name: results}; names a missing part."""
  results = {}
  for name, path in paths.items():
    with open(path) as f:
      try:
        r = json.load(f)
      except json.JSONDecodeError as e:
        raise ValueError(f"{path} ({name}) is not JSON: {e}") from None
    tasks = r.get("tasks") if isinstance(r, dict) else None
    if not isinstance(tasks, dict) or "per_task" not in tasks:
      raise ValueError(
          f"{path} ({name}) is not a scripts/evaluate.py result: "
          "it has no 'tasks' with 'per_task'"
      )
    results[name] = r
  return results


def _cell(r: Mapping[str, float]) -> str:
  return f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f}"


def table(results: Mapping[str, dict]) -> str:
  """Markdown: a row per task, a column per policy (success %, mean ± std
  over evaluation seeds), then the averages, perturbed averages and chains."""
  names = list(results)
  tasks = list(next(iter(results.values()))["tasks"]["per_task"])
  for name, r in results.items():
    if list(r["tasks"]["per_task"]) != tasks:
      raise ValueError(
          f"{name} was evaluated on other tasks than "
          f"{names[0]}: the columns would not compare"
      )
  lines = [
      "| task | " + " | ".join(names) + " |",
      "|---|" + "---|" * len(names),
  ]
  for task in tasks:
    lines.append(
        f"| `{task}` | "
        + " | ".join(
            _cell(results[n]["tasks"]["per_task"][task]) for n in names
        )
        + " |"
    )
  lines.append(
      "| **average** | "
      + " | ".join(f"**{_cell(results[n]['tasks'])}**" for n in names)
      + " |"
  )
  if any("perturbed" in r for r in results.values()):
    lines.append(
        "| average, perturbed start | "
        + " | ".join(
            _cell(results[n]["perturbed"]) if "perturbed" in results[n] else "–"
            for n in names
        )
        + " |"
    )
  if any("chains" in r for r in results.values()):
    for k in range(5):
      lines.append(
          f"| chains: {k + 1}+ of 5 done | "
          + " | ".join(
              f"{100 * results[n]['chains']['success_rates'][k]:.0f}%"
              if "chains" in results[n]
              else "–"
              for n in names
          )
          + " |"
      )
    lines.append(
        "| chains: average length | "
        + " | ".join(
            f"{results[n]['chains']['avg_len']:.2f}"
            if "chains" in results[n]
            else "–"
            for n in names
        )
        + " |"
    )
  return "\n".join(lines)


# Bar chart layout: inches per bar, and the widest a row of tasks may be
# before the tasks wrap onto another row (a figure of 18 tasks x 5 runs on
# one row was 52 inches wide).
_BAR_INCHES = 0.3
_MAX_ROW_INCHES = 20.0


def episodes(result: Mapping) -> dict[tuple, bool]:
  """{(evaluation seed, task, k, the start's reset seed): success} of each
  episode of a scripts/evaluate.py result; tasks saved without per-episode
  lists (older results) are left out."""
  out = {}
  for run in result.get("tasks", {}).get("runs", []):
    seed = run["config"]["seed"]
    for task, r in run["tasks"].items():
      if "successes" not in r or "reset_seeds" not in r:
        continue
      for k, (ok, start) in enumerate(zip(r["successes"], r["reset_seeds"])):
        out[(seed, task, k, start)] = bool(ok)
  return out


def mcnemar_p(only_a: int, only_b: int) -> float:
  """Exact two-sided McNemar p: how likely a split of the episodes that
  only one policy solves at least this uneven is, were neither better."""
  n = only_a + only_b
  tail = sum(math.comb(n, i) for i in range(min(only_a, only_b) + 1))
  return min(1.0, 2 * tail / 2**n)


def paired(results: Mapping[str, dict]) -> str:
  """A markdown table of every pair of runs evaluated on the same episodes:
  how many both solve, only one, neither, and McNemar's exact p; '' when no
  two runs share their episodes."""
  solved = {name: episodes(r) for name, r in results.items()}
  names = [name for name in solved if solved[name]]
  lines = [
      "| A | B | episodes | both | only A | only B | neither | McNemar p |",
      "|---|---|---|---|---|---|---|---|",
  ]
  for i, a in enumerate(names):
    for b in names[i + 1 :]:
      if solved[a].keys() != solved[b].keys():
        continue
      pairs = [(solved[a][k], solved[b][k]) for k in solved[a]]
      both = sum(x and y for x, y in pairs)
      only_a = sum(x and not y for x, y in pairs)
      only_b = sum(y and not x for x, y in pairs)
      neither = len(pairs) - both - only_a - only_b
      lines.append(
          f"| {a} | {b} | {len(pairs)} | {both} | {only_a} | {only_b} | "
          f"{neither} | {mcnemar_p(only_a, only_b):.3f} |"
      )
  return "\n".join(lines) if len(lines) > 2 else ""


def task_rows(num_tasks: int, num_runs: int) -> list[range]:
  """Task indices per row of `plot`: as many groups of `num_runs` bars a row
  as fit `_MAX_ROW_INCHES` (at least one), rows as even as possible."""
  per_row = max(1, int(_MAX_ROW_INCHES // (_BAR_INCHES * (num_runs + 1))))
  num_rows = -(-num_tasks // per_row)
  # The first `extra` rows take one task more than the others.
  base, extra = divmod(num_tasks, num_rows)
  bounds = np.cumsum([0] + [base + (i < extra) for i in range(num_rows)])
  return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def plot(results: Mapping[str, dict], path: str) -> None:
  """Grouped bars of per-task success (with the seed spread) to a PNG; the
  tasks wrap onto further rows when there are many runs (`task_rows`)."""
  # A bare Figure draws with Agg and leaves the process's pyplot backend as
  # it is (a notebook keeps its own).
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top

  names = list(results)
  tasks = list(next(iter(results.values()))["tasks"]["per_task"]) + ["average"]
  rows = task_rows(len(tasks), len(names))
  per_task = {  # The bars of each run, in the order of `tasks`.
      name: [r["tasks"]["per_task"][t] for t in tasks[:-1]] + [r["tasks"]]
      for name, r in results.items()
  }
  width = 0.8 / len(names)
  row_inches = _BAR_INCHES * (len(names) + 1) * len(rows[0])
  fig = Figure(figsize=(max(8, row_inches + 1.5), 3.6 * len(rows) + 0.9))
  axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
  for ax, row in zip(axes, rows):
    x = np.arange(len(row))
    for i, name in enumerate(names):
      bars = [per_task[name][j] for j in row]
      ax.bar(
          x + (i - (len(names) - 1) / 2) * width,
          [100 * b["mean"] for b in bars],
          width,
          yerr=[100 * b["std"] for b in bars],
          capsize=2,
          label=name,
      )
    ax.set_xticks(
        x, [tasks[j] for j in row], rotation=30, ha="right", fontsize=8
    )
    ax.set_xlim(-0.5, len(rows[0]) - 0.5)
    ax.set_ylabel("success (%)")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
  axes[0].legend(
      loc="lower left", bbox_to_anchor=(0, 1.02), ncol=min(len(names), 6)
  )
  fig.tight_layout()
  fig.savefig(path, dpi=120)


def read_jsonl(path: str) -> list[dict]:
  """The rows of a `metrics.jsonl`, without a half-written last line.

  A run killed while writing leaves its last line cut short (no newline);
  a bad line anywhere else is damage, not a kill, and is an error.

  Raises:
    ValueError: naming the file and line of a row that is not a JSON object,
      other than a last line cut short (one without its newline).
  """
  with open(path, encoding="utf-8", errors="replace") as f:
    lines = f.read().split("\n")
  last = lines.pop()  # After the final newline: '' unless a write was cut.
  rows = [
      _parse(line, path, i) for i, line in enumerate(lines, 1) if line.strip()
  ]
  if last.strip():
    try:
      rows.append(_parse(last, path, len(lines) + 1))
    except ValueError:
      logging.warning(
          "%s: skipped line %d, half-written by a killed run",
          path,
          len(lines) + 1,
      )
  return rows


def _parse(line: str, path: str, number: int) -> dict:
  try:
    row = json.loads(line)
  except json.JSONDecodeError as e:
    raise ValueError(
        f"{path}:{number}: not JSON ({e}): {line[:80]!r}"
    ) from None
  if not isinstance(row, dict):
    raise ValueError(f"{path}:{number}: not a JSON object: {line[:80]!r}")
  return row


def read_metrics(workdir: str) -> dict[str, np.ndarray]:
  """`workdir/metrics.jsonl` -> {name: float[N, 2] of (step, value)}.

  A resumed run appends; a step logged twice keeps its last value. A
  half-written last line (a killed run's) is skipped, see `read_jsonl`.
  """
  path = f"{workdir}/metrics.jsonl"
  by_step: dict[int, dict] = {}
  for number, row in enumerate(read_jsonl(path), 1):
    if "step" not in row:
      raise ValueError(f"{path}: row {number} has no 'step': {row}")
    by_step.setdefault(int(row.pop("step")), {}).update(row)
  series: dict[str, list] = {}
  for step in sorted(by_step):
    for name, value in by_step[step].items():
      series.setdefault(name, []).append((step, value))
  return {
      name: np.asarray(points, np.float64) for name, points in series.items()
  }


def plot_curves(
    workdirs: Mapping[str, str], key: str, path: str, smooth: int = 10
) -> None:
  """`key` against the step for each run (raw, faint; moving average over
  `smooth` logged points, solid) to a PNG."""
  # A bare Figure draws with Agg and leaves the process's pyplot backend as
  # it is (a notebook keeps its own).
  from matplotlib.figure import Figure  # pylint: disable=g-import-not-at-top

  fig = Figure(figsize=(7, 4))
  ax = fig.subplots()
  for name, workdir in workdirs.items():
    series = read_metrics(workdir)
    if key not in series:
      raise KeyError(
          f"{workdir}/metrics.jsonl has no {key!r}; it has {sorted(series)}"
      )
    steps, values = series[key].T
    (line,) = ax.plot(steps, values, alpha=0.25)
    if len(values) >= smooth > 1:
      kernel = np.ones(smooth) / smooth
      ax.plot(
          steps[smooth - 1 :],
          np.convolve(values, kernel, "valid"),
          color=line.get_color(),
          label=name,
      )
    else:
      line.set_label(name)
  ax.set_xlabel("step")
  ax.set_ylabel(key)
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=120)
