"""The machine a figure was measured on, recorded the same way everywhere."""

import os
import platform


def cpuinfo() -> dict:
  """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
  fields = {}
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if not line.strip():
          break
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
  except OSError:
    pass
  return fields


def describe() -> dict:
  """CPU model and count, platform and Python: beside every result."""
  return {
      "cpu": (
          cpuinfo().get("model name")
          or platform.processor()
          or platform.machine()
      ),
      "cpu_count": os.cpu_count(),
      "platform": platform.platform(),
      "machine": platform.machine(),
      "python": platform.python_version(),
  }
