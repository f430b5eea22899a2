r"""Trains a policy from play. This file is intentionally kept short.

  python scripts/train.py --config=playlearn/configs/gcbc.py --workdir=out/gcbc

Every option is a config field (`--config.total_steps=1000`); rerunning the
same command resumes from the newest checkpoint in the workdir.
"""
from absl import app
from absl import flags
from ml_collections import config_flags

from playlearn.train import trainer

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Checkpoints and logs.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  trainer.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  app.run(main)
