r"""Trains a policy from play. This file is intentionally kept short.

  python scripts/train.py --config=playlearn/configs/gcbc.py --workdir=out/gcbc

Every option is a config field (`--config.total_steps=1000`); rerunning the
same command resumes from the newest checkpoint in the workdir.
"""
from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from playlearn.train import trainer

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Checkpoints and logs.")
flags.mark_flags_as_required(["config", "workdir"])


class _QuietLibraries(logging.logging.Filter):
  """Drops INFO chatter from checkpointing and data libraries on the console."""

  def filter(self, record):
    noisy = ("/orbax/", "/grain/", "/tensorflow_datasets/")
    return record.levelno >= logging.logging.WARNING or not any(
        part in record.pathname for part in noisy)


def main(argv):
  del argv
  logging.get_absl_handler().addFilter(_QuietLibraries())
  trainer.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  app.run(main)
