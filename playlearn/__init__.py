"""playlearn: goal-conditioned robot policies learned from play data.

Importing playlearn registers the gymnasium environment
`playlearn/PlayTable-v0`; the native interface is `playlearn.envs.load`.
The environment names below are loaded on first use, so that importing a
model (`playlearn.models`) does not load MuJoCo.
"""

import importlib

from playlearn import gym_registration

__all__ = ["EnvConfig", "PlayTableEnv", "TASK_NAMES", "load"]
__version__ = "0.1.0"

gym_registration.register()


# Subpackages reachable as attributes (`playlearn.envs.load(...)`) after a
# bare `import playlearn`, imported when first read.
_SUBPACKAGES = (
    "envs",
    "play",
    "data",
    "datasets",
    "diffusion",
    "models",
    "configs",
    "policy",
    "evaluation",
    "train",
    "experiments",
    "bench",
)


def __getattr__(name: str):
  if name in __all__:
    return getattr(importlib.import_module("playlearn.envs"), name)
  if name in _SUBPACKAGES:
    return importlib.import_module(f"playlearn.{name}")
  raise AttributeError(f"module 'playlearn' has no attribute {name!r}")
