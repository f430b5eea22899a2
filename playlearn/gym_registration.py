"""The gymnasium id of PlayTable, registered by `import playlearn`.

A leaf: it imports gymnasium only. The adapter itself
(`playlearn.envs.gym_adapter`, which loads MuJoCo) is imported by gymnasium
from the entry point when `gymnasium.make` first builds the environment, so
importing playlearn, or any model, does not load the simulator.
"""

import gymnasium

ENV_ID = "playlearn/PlayTable-v0"
ENTRY_POINT = "playlearn.envs.gym_adapter:PlayTableGymEnv"
MAX_EPISODE_STEPS = 300


def register() -> None:
  """Registers `ENV_ID` with gymnasium; calling it again does nothing."""
  if ENV_ID in gymnasium.envs.registry:
    return
  gymnasium.register(
      id=ENV_ID, entry_point=ENTRY_POINT, max_episode_steps=MAX_EPISODE_STEPS
  )
