"""Speed measurements (not tests): results are printed and written as JSON."""
import json
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


def write_json(path: str, results: dict) -> None:
  """Writes a benchmark's results (making the folder) and says where."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(results, f, indent=1)
  print(f"\nwrote {path}")
