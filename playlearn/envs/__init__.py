"""Environments: the PlayTable scene, its tasks and the registry.

Rendering (`rendering.py`) and the gymnasium adapter (`gym_adapter.py`) are
imported only where used, so importing this package loads no GL library.
"""

from playlearn.envs.playtable import EnvConfig
from playlearn.envs.playtable import PlayTableEnv
from playlearn.envs.registry import load
from playlearn.envs.registry import register
from playlearn.envs.tasks import TASK_NAMES

__all__ = ["EnvConfig", "PlayTableEnv", "TASK_NAMES", "load", "register"]
