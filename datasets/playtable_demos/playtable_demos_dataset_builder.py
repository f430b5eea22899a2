"""playtable_demos: N scripted demonstrations of every PlayTable task, as RLDS.

Build (ArrayRecord, read without TensorFlow; playlearn must be installed):

  tfds build datasets/playtable_demos --config=state_100 --data_dir=DIR

`--file_format=tfrecord` for tf.data readers, `--beam_pipeline_options=...` to
generate on Apache Beam (see playtable_play).

Seeds: demonstration i of task k (the k-th of the generator's TASKS) has seed
SPLIT_SEED_START[split] + k * MAX_DEMOS_PER_TASK + i, so tasks and splits use
disjoint seeds (a config naming `tasks` gives each the seeds it has among
all). Records go task by task: record k * n + i is demonstration i of the
config's k-th task. Every demonstration succeeds: the generator retries from new starts.

Actions: from 1.1.0 the executed actions carry the same recovery noise as
play (`playlearn.play.noise.PLAY_NOISE`) and each step records the oracle's
`action_label`; `*_clean` configs have none.
"""

from __future__ import annotations

import dataclasses

import tensorflow_datasets as tfds

from playlearn.datasets import playtable
from playlearn.play import noise as noise_lib

SPLIT_SEED_START = {"train": 0, "validation": 1_000_000}
MAX_DEMOS_PER_TASK = 10_000


@dataclasses.dataclass(kw_only=True)
class DemoConfig(playtable.EpisodeConfig):
  train_per_task: int = 0
  validation_per_task: int = 0
  num_tasks: int | None = None  # The first num_tasks tasks; None: all.
  tasks: tuple[str, ...] | None = None  # These tasks instead (by name).


def _config(
    name: str,
    *,
    images: bool,
    train: int,
    validation: int,
    num_tasks: int | None = None,
    noise: noise_lib.NoiseConfig = noise_lib.PLAY_NOISE,
) -> DemoConfig:
  what = "state and camera images" if images else "state only"
  tasks = "every task" if num_tasks is None else f"the first {num_tasks} tasks"
  actions = "with recovery noise" if noise.enabled else "noise-free"
  return DemoConfig(
      name=name,
      images=images,
      train_per_task=train,
      validation_per_task=validation,
      num_tasks=num_tasks,
      noise=noise,
      description=(
          f"{what}; {train} train and {validation} validation "
          f"demonstrations of {tasks}, {actions}."
      ),
  )


class Builder(playtable.EpisodeBuilder):
  """DatasetBuilder for playtable_demos."""

  VERSION = tfds.core.Version("1.3.0")
  RELEASE_NOTES = {
      "1.0.0": "Initial release.",
      "1.1.0": "Recovery noise on the executed actions, `action_label`, "
      "`episode_metadata/noise`; `*_clean` configs without noise.",
      "1.2.0": "`observation/target`: the commanded tool pose (the mocap "
      "target that actions move). Same episodes as 1.1.0.",
      "1.3.0": "Scene playtable-1.1: the static camera reframed, so "
      "`rgb_static` of the image configs changes; states, actions and all "
      "else but `episode_metadata/scene_version` are those of 1.2.0.",
  }
  BUILDER_CONFIGS = [
      # For unit tests: seconds to build.
      _config("tiny", images=False, train=2, validation=1, num_tasks=2),
      _config("state_10", images=False, train=10, validation=2),
      # 100 per task: the expert BC baseline of the Play-LMP paper.
      _config("state_100", images=False, train=100, validation=10),
      _config(
          "state_100_clean",
          images=False,
          train=100,
          validation=10,
          noise=noise_lib.NoiseConfig(),
      ),
      _config("images_10", images=True, train=10, validation=2),
      _config("images_100", images=True, train=100, validation=10),
  ]
  DEFAULT_CONFIG_NAME = "state_100"

  def _info(self) -> tfds.core.DatasetInfo:
    return self.dataset_info_from_configs(
        features=playtable.episode_features(self.builder_config),
        disable_shuffling=True,  # Records stay in (task, demo) order.
    )

  def split_jobs(self) -> dict[str, list[playtable.EpisodeJob]]:
    config = self.builder_config
    tasks = playtable.task_names()[: config.num_tasks]
    if config.tasks is not None:
      unknown = sorted(set(config.tasks) - set(playtable.task_names()))
      if unknown:
        raise ValueError(
            f"DemoConfig.tasks: unknown tasks {unknown}; valid: "
            f"{', '.join(playtable.task_names())}"
        )
      tasks = list(config.tasks)
    per_task = {
        "train": config.train_per_task,
        "validation": config.validation_per_task,
    }
    if max(per_task.values()) > MAX_DEMOS_PER_TASK:
      raise ValueError(f"at most {MAX_DEMOS_PER_TASK} demonstrations per task")
    if len(tasks) * MAX_DEMOS_PER_TASK > SPLIT_SEED_START["validation"]:
      raise ValueError("too many tasks: train seeds would reach validation's")

    def jobs(split, count):
      return [
          playtable.EpisodeJob(
              index=k * count + i,
              kind="demo",
              task=task,
              seed=(
                  SPLIT_SEED_START[split]
                  + playtable.task_names().index(task) * MAX_DEMOS_PER_TASK
                  + i
              ),
              images=config.images,
              static_size=config.static_size,
              gripper_size=config.gripper_size,
              noise=config.noise_fields(),
          )
          for k, task in enumerate(tasks)
          for i in range(count)
      ]

    return {split: jobs(split, count) for split, count in per_task.items()}
