"""Speed measurements (not tests): results are printed and written as JSON."""
import os
import platform


def machine() -> dict:
  """The CPU model and core count, recorded beside every figure."""
  name = platform.processor() or platform.machine()
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          name = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  return {"cpu": name, "cpu_count": os.cpu_count()}
