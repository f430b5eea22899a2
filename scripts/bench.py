r"""Speed of the PlayTable environment, physics, play generation and rendering.

  python scripts/bench.py --out=out/bench/env.json

A benchmark, not a test: it prints a table and writes the figures as JSON with
the machine they were measured on. Goals (issue 2): the environment costs at
most 25% over raw MuJoCo physics; play is generated at least 20x faster than
real time per core; 64-128 px frames render at a few hundred frames/s.
"""

from absl import app
from absl import flags

from playlearn import hardware
from playlearn import manifest
from playlearn.bench import env_bench

_OUT = flags.DEFINE_string("out", "out/bench/env.json", "JSON output.")
_STEPS = flags.DEFINE_integer("steps", 1500, "Control steps per measurement.")
_SKIP_RENDER = flags.DEFINE_bool("skip_render", False, "Skip image figures.")


def main(argv):
  del argv
  results = {
      **hardware.describe(),
      "note": "single process, one core per measurement",
  }
  print("measuring env and raw physics ...", flush=True)
  results.update(env_bench.env_and_physics(num_steps=_STEPS.value))
  print("measuring play generation ...", flush=True)
  results.update(env_bench.play_generation(num_steps=2 * _STEPS.value))
  if not _SKIP_RENDER.value:
    print("measuring rendering ...", flush=True)
    results.update(env_bench.env_with_images())
    results.update(env_bench.render_fps())
  print()
  print("| figure | value |")
  print("|---|---|")
  for key, value in results.items():
    if isinstance(value, dict):
      for k, v in value.items():
        print(
            f"| {key}/{k} | {v:.1f} |"
            if isinstance(v, float)
            else f"| {key}/{k} | {v} |"
        )
    elif isinstance(value, float):
      print(f"| {key} | {value:.3f} |")
    else:
      print(f"| {key} | {value} |")
  manifest.write_json(_OUT.value, results)


if __name__ == "__main__":
  app.run(main)
