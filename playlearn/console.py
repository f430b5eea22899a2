"""Console hygiene for the command-line tools."""

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
