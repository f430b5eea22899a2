"""playlearn: goal-conditioned robot policies learned from play data.

Importing playlearn registers the gymnasium environment
`playlearn/PlayTable-v0`; the native interface is `playlearn.envs.load`.
"""

from playlearn.envs import EnvConfig
from playlearn.envs import load
from playlearn.envs import PlayTableEnv
from playlearn.envs import TASK_NAMES
from playlearn.envs.gym_adapter import register_gymnasium as _register_gymnasium

__all__ = ["EnvConfig", "PlayTableEnv", "TASK_NAMES", "load"]
__version__ = "0.1.0"

_register_gymnasium()
