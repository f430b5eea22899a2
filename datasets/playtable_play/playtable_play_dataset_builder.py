"""playtable_play: unsegmented scripted play in the PlayTable scene, as RLDS.

Build (ArrayRecord, read without TensorFlow; playlearn must be installed):

  tfds build datasets/playtable_play --config=state_small --data_dir=DIR

`--file_format=tfrecord` for tf.data readers; on Apache Beam (any runner):

  tfds build datasets/playtable_play --config=images_full --data_dir=DIR \\
    --beam_pipeline_options="runner=DirectRunner,direct_num_workers=8,\\
direct_running_mode=multi_processing"

Local builds use PLAYLEARN_NUM_WORKERS processes (default: every core).

Actions: from 1.1.0 the play agent's executed actions carry noise
(`playlearn.play.noise.PLAY_NOISE`: white Gaussian noise of 0.3 per step on
the six motion dimensions; `state_full_ou` uses the correlated variant), so
that play holds recoveries; each step records the executed `action` and the oracle's
`action_label`. `*_clean` configs are the noise-free play of 1.0.0, for
comparisons. Datasets built as 1.0.0 stay readable: their `action` is the
label (`playlearn.data.rlds.step_actions`). From 1.2.0 each step also records
`observation/target`, the commanded tool pose that the actions move.

Task weights: a config's `task_weights` multiply the play agent's odds of
choosing those tasks (`images_large_pushes`: every push 2.5x); the weights
are recorded in each episode's `generator_version`.

Seeds: train episode i has seed TRAIN_SEED_START + i, validation episode i
VALIDATION_SEED_START + i; disjoint for up to 1,000,000 train episodes.
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from playlearn.datasets import playtable
from playlearn.play import noise as noise_lib

TRAIN_SEED_START = 0
VALIDATION_SEED_START = 1_000_000
PUSH_WEIGHT = 2.5
_PUSH_TASKS = [t for t in playtable.task_names() if t.startswith("push_")]


@dataclasses.dataclass(kw_only=True)
class PlayConfig(playtable.EpisodeConfig):
  train_episodes: int = 0
  validation_episodes: int = 0
  steps_per_episode: int = 0


def _config(
    name: str,
    *,
    images: bool,
    train: int,
    validation: int,
    steps: int,
    noise: noise_lib.NoiseConfig = noise_lib.PLAY_NOISE,
    static_size: int = 96,
    task_weights: dict[str, float] | None = None,
) -> PlayConfig:
  minutes = train * steps / playtable.CONTROL_HZ / 60
  what = "state and camera images" if images else "state only"
  if images and static_size != 96:
    what += f" (static view {static_size} px)"
  if task_weights:
    what += "; tasks weighted " + ", ".join(
        f"{task} x{weight:g}" for task, weight in task_weights.items()
    )
  actions = (
      "executed actions with recovery noise"
      if noise.enabled
      else "noise-free executed actions"
  )
  return PlayConfig(
      name=name,
      images=images,
      train_episodes=train,
      validation_episodes=validation,
      steps_per_episode=steps,
      noise=noise,
      static_size=static_size,
      task_weights=tuple((task_weights or {}).items()),
      description=(
          f"{what}; train: {train} episodes x {steps} steps = {minutes:.1f} "
          f"min of play at {playtable.CONTROL_HZ} Hz; validation: "
          f"{validation} episodes; {actions}."
      ),
  )


class Builder(playtable.EpisodeBuilder):
  """DatasetBuilder for playtable_play."""

  VERSION = tfds.core.Version("1.3.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "Recovery-rich play: noise on the executed actions, the "
      "oracle's command recorded as `action_label`, "
      "`episode_metadata/noise`; `*_clean` configs without noise.",
      "1.2.0": "`observation/target`: the commanded tool pose (the mocap "
      "target that actions move). Same episodes as 1.1.0.",
      "1.3.0": "Scene playtable-1.1: the static camera reframed, so "
      "`rgb_static` of the image configs changes; states, actions and all "
      "else but `episode_metadata/scene_version` are those of 1.2.0.",
  }
  BUILDER_CONFIGS = [
      # For unit tests: seconds to build.
      _config("tiny", images=False, train=2, validation=1, steps=100),
      _config("tiny_images", images=True, train=2, validation=1, steps=20),
      # Minutes of play, for the demo and smoke runs.
      _config("state_small", images=False, train=4, validation=1, steps=1500),
      _config("images_small", images=True, train=4, validation=1, steps=1500),
      # 3 hours of play (162,000 steps at 15 Hz), as in the Play-LMP paper.
      _config("state_full", images=False, train=60, validation=4, steps=2700),
      _config(
          "state_full_clean",
          images=False,
          train=60,
          validation=4,
          steps=2700,
          noise=noise_lib.NoiseConfig(),
      ),
      # The correlated-noise variant of the noise ablation (docs/results.md).
      _config(
          "state_full_ou",
          images=False,
          train=60,
          validation=4,
          steps=2700,
          noise=noise_lib.OU_NOISE,
      ),
      # The noise-level curve (docs/results.md): the same play with white noise of
      # 0.15 and 0.6 instead of 0.3.
      _config(
          "state_full_sigma15",
          images=False,
          train=60,
          validation=4,
          steps=2700,
          noise=dataclasses.replace(noise_lib.WHITE_NOISE, sigma=0.15),
      ),
      _config(
          "state_full_sigma60",
          images=False,
          train=60,
          validation=4,
          steps=2700,
          noise=dataclasses.replace(noise_lib.WHITE_NOISE, sigma=0.6),
      ),
      # Shorter play, for success against hours of play (same seeds: each
      # is a prefix of state_full's train split).
      _config("state_30min", images=False, train=10, validation=4, steps=2700),
      _config("state_1h", images=False, train=20, validation=4, steps=2700),
      _config("images_full", images=True, train=60, validation=4, steps=2700),
      # The same 3 hours with the static view at 160 px in place of 96 (a
      # push moves a block about 7 px in place of 4; the gripper view as
      # before): does a finer view help the block tasks?
      _config(
          "images_full_160px",
          images=True,
          train=60,
          validation=4,
          steps=2700,
          static_size=160,
      ),
      # 4x that (12 hours, 648,000 steps): does more play help? Its train
      # split holds state_full's 60 episodes and 180 more; the validation
      # episodes are the same (seeds start at fixed points per split).
      _config("state_large", images=False, train=240, validation=4, steps=2700),
      # The same 12 hours with the cameras (about 4.7 GB).
      _config("images_large", images=True, train=240, validation=4, steps=2700),
      # 12 hours of image play from the same seeds in which the play agent
      # pushes 2.5x as often (pushes are the rarest tasks of images_large:
      # their corridor must be clear, so they are feasible less often; 93
      # segments of push_red_block_left against 207-249 of each lift). An
      # episode leaves images_large's at its first choice of task made while
      # a push is feasible.
      _config(
          "images_large_pushes",
          images=True,
          train=240,
          validation=4,
          steps=2700,
          task_weights={t: PUSH_WEIGHT for t in _PUSH_TASKS},
      ),
      # 8x (24 hours): the next point of success against hours of play.
      # Its train split holds state_large's 240 episodes and 240 more.
      _config("state_xl", images=False, train=480, validation=4, steps=2700),
      _config(
          "state_large_clean",
          images=False,
          train=240,
          validation=4,
          steps=2700,
          noise=noise_lib.NoiseConfig(),
      ),
  ]
  DEFAULT_CONFIG_NAME = "state_small"

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=playtable.episode_features(self.builder_config),
        disable_shuffling=True,  # Record i of a split is episode i.
    )

  def split_jobs(self) -> dict[str, list[playtable.EpisodeJob]]:
    config = self.builder_config
    if config.train_episodes > VALIDATION_SEED_START - TRAIN_SEED_START:
      raise ValueError("train seeds would overlap validation seeds")

    def jobs(seed_start, count):
      return [
          playtable.EpisodeJob(
              index=i,
              kind="play",
              seed=seed_start + i,
              num_steps=config.steps_per_episode,
              images=config.images,
              static_size=config.static_size,
              gripper_size=config.gripper_size,
              noise=config.noise_fields(),
              task_weights=dict(config.task_weights) or None,
          )
          for i in range(count)
      ]

    return {
        "train": jobs(TRAIN_SEED_START, config.train_episodes),
        "validation": jobs(VALIDATION_SEED_START, config.validation_episodes),
    }
