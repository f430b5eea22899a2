"""Speed measurements (not tests): results are printed and written as JSON."""
import json
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


def machine() -> dict:
  """The CPU model and core count, recorded beside every figure."""
  name = (cpuinfo().get("model name") or platform.processor()
          or platform.machine())
  return {"cpu": name, "cpu_count": os.cpu_count()}


def start(note: str) -> dict:
  """The header of a results dict: machine, a note, the load before."""
  # Other processes share the cores: the figures scale with the load.
  return {**machine(), "note": note,
          "load_average_1m_before": os.getloadavg()[0]}


def finish(results: dict, table: str, path: str) -> None:
  """Records the load after, prints `table` and the machine, writes JSON."""
  results["load_average_1m_after"] = os.getloadavg()[0]
  print()
  print(table)
  print(f"\ncpu: {results['cpu']} ({results['cpu_count']} cores), load "
        f"average {results['load_average_1m_before']:.1f} before, "
        f"{results['load_average_1m_after']:.1f} after")
  write_json(path, results)


def write_json(path: str, results: dict) -> None:
  """Writes a benchmark's results (making the folder) and says where."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(results, f, indent=1)
  print(f"\nwrote {path}")
