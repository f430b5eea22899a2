"""Speed measurements (not tests): results are printed and written as JSON."""

import os

from playlearn import hardware
from playlearn import manifest


def start(note: str) -> dict:
  """The header of a results dict: machine, a note, the load before."""
  # Other processes share the cores: the figures scale with the load.
  return {
      **hardware.describe(),
      "note": note,
      "load_average_1m_before": os.getloadavg()[0],
  }


def finish(results: dict, table: str, path: str) -> None:
  """Records the load after, prints `table` and the machine, writes JSON."""
  results["load_average_1m_after"] = os.getloadavg()[0]
  print()
  print(table)
  print(
      f"\ncpu: {results['cpu']} ({results['cpu_count']} cores), load "
      f"average {results['load_average_1m_before']:.1f} before, "
      f"{results['load_average_1m_after']:.1f} after"
  )
  manifest.write_json(path, results)
