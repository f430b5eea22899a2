"""Shared pytest set-up.

Deliberately almost empty: nothing here may change how playlearn behaves on
import (no MUJOCO_GL, PYOPENGL_PLATFORM or XLA_FLAGS). The rendering backend is
chosen by playlearn.envs.rendering.select_backend when a Renderer is made.
"""
import os


def pytest_report_header(config):
  del config  # Unused.
  choice = os.environ.get("PLAYLEARN_GL") or "auto"
  return [f"playlearn rendering backend: PLAYLEARN_GL={choice}"]
