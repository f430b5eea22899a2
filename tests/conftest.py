"""Shared pytest set-up.

Nothing here may change how playlearn behaves on import (no MUJOCO_GL,
PYOPENGL_PLATFORM or XLA_FLAGS): the rendering backend is chosen by
playlearn.envs.rendering.select_backend when a Renderer is made. Shared
fixtures: `tiny_play_dataset`, `tiny_image_dataset`.
"""

import os

import pytest


def pytest_report_header(config):
  del config  # Unused.
  choice = os.environ.get("PLAYLEARN_GL") or "auto"
  return [f"playlearn rendering backend: PLAYLEARN_GL={choice}"]


@pytest.fixture(scope="session")
def tiny_play_dataset(tmp_path_factory) -> str:
  """The version directory of `playtable_play/tiny`, built once per session."""
  return _build("tiny", tmp_path_factory)


@pytest.fixture(scope="session")
def tiny_image_dataset(tmp_path_factory) -> str:
  """The version directory of `playtable_play/tiny_images` (both cameras)."""
  return _build("tiny_images", tmp_path_factory)


def _build(config: str, tmp_path_factory) -> str:
  from playlearn.datasets import playtable  # pylint: disable=g-import-not-at-top

  builder = playtable.builder_class("playtable_play")(
      config=config,
      data_dir=str(tmp_path_factory.mktemp(config)),
      num_workers=1,
  )
  builder.download_and_prepare()
  return str(builder.data_dir)
