"""Console hygiene and shared flags of the command-line tools."""

from absl import flags
from absl import logging


class _QuietLibraries(logging.logging.Filter):
  """Drops INFO chatter of checkpointing, data and rendering libraries."""

  NOISY = (
      "/orbax/",
      "/grain/",
      "/tensorflow_datasets/",
      "/dm_control/",
      "/OpenGL/",
      "/jax/_src/",
  )

  def filter(self, record):
    return record.levelno >= logging.logging.WARNING or not any(
        part in record.pathname for part in self.NOISY
    )


def quiet_library_logs() -> None:
  """Keeps library INFO logs off the console (warnings and errors stay);
  call from an absl `main`."""
  logging.get_absl_handler().addFilter(_QuietLibraries())


def define_sample_flag() -> flags.FlagHolder:
  """--sample / --nosample / unset: how a loaded policy acts; pass the value
  to `greedy_from_sample` for `Policy.load`'s greedy."""
  return flags.DEFINE_bool(
      "sample",
      None,
      "Sample actions (--sample) or take the distribution's mode (--nosample);"
      " unset: the method's own choice (BESO samples, GCBC and LMP take the"
      " mode).",
  )


def greedy_from_sample(sample: bool | None) -> bool | None:
  """`Policy.load`'s greedy from --sample's value (None: the method's own)."""
  return None if sample is None else not sample
