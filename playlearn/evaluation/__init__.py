"""Evaluation of goal-conditioned policies in PlayTable.

`suite.py`: per-task success from oracle-goal starts (optionally perturbed),
over seeds, as JSON and markdown; `chains.py`: CALVIN-style chains of tasks.
"""

from playlearn.evaluation.chains import evaluate_chains
from playlearn.evaluation.chains import sample_chain
from playlearn.evaluation.suite import Actor
from playlearn.evaluation.suite import EASY_TASKS
from playlearn.evaluation.suite import EVAL_TASKS
from playlearn.evaluation.suite import evaluate_over_seeds
from playlearn.evaluation.suite import evaluate_tasks
from playlearn.evaluation.suite import format_table
from playlearn.evaluation.suite import sample_episodes

__all__ = [
    "Actor",
    "EASY_TASKS",
    "EVAL_TASKS",
    "evaluate_chains",
    "evaluate_over_seeds",
    "evaluate_tasks",
    "format_table",
    "sample_chain",
    "sample_episodes",
]
