"""Evaluation of goal-conditioned policies in PlayTable.

`suite.py`: per-task success from oracle-goal starts (optionally perturbed),
over seeds, as JSON and markdown; `chains.py`: CALVIN-style chains of tasks.

The names below load on first use (PEP 562), so that importing a module that
needs no simulator (`evaluation.report`, `evaluation.latent`) does not load
MuJoCo: the trainer and the benchmarks run where MuJoCo is not installed.
"""

import importlib

_NAMES = {
    "evaluate_chains": "chains",
    "sample_chain": "chains",
    "Actor": "suite",
    "EASY_TASKS": "suite",
    "EVAL_TASKS": "task_names",
    "env_for": "suite",
    "evaluate_over_seeds": "suite",
    "evaluate_tasks": "suite",
    "format_table": "suite",
    "sample_episodes": "suite",
}
__all__ = sorted(_NAMES)


def __getattr__(name: str):
  if name in _NAMES:
    module = importlib.import_module(f"playlearn.evaluation.{_NAMES[name]}")
    return getattr(module, name)
  raise AttributeError(
      f"module 'playlearn.evaluation' has no attribute {name!r}"
  )
