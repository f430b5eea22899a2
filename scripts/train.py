r"""Trains a policy from play. This file is intentionally kept short.

  python scripts/train.py --config=playlearn/configs/gcbc.py --workdir=out/gcbc

Every option is a config field (`--config.total_steps=1000`); rerunning the
same command resumes from the newest checkpoint in the workdir.

Several hosts: run the same command on each with --distributed (and, where
JAX cannot detect the cluster as on Cloud TPU or SLURM, the coordinator
flags); each host reads its own part of every global batch.
"""

from absl import app
from absl import flags
import jax
from ml_collections import config_flags

from playlearn import console
from playlearn.configs import common
from playlearn.train import trainer

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file.", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Checkpoints and logs.")
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed", False, "Join a multi-host run: jax.distributed.initialize()."
)
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0 (--distributed)."
)
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", None, "Processes in all (--distributed)."
)
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", None, "This process's index (--distributed)."
)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  del argv
  console.quiet_library_logs()
  if _DISTRIBUTED.value:
    jax.distributed.initialize(
        coordinator_address=_COORDINATOR.value,
        num_processes=_NUM_PROCESSES.value,
        process_id=_PROCESS_ID.value,
    )
  trainer.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  app.run(main, flags_parser=common.parse_flags)
