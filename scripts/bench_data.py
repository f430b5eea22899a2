r"""Throughput of the play-window data pipeline, as a table and JSON.

  python scripts/collect_play.py --config=state_small --data_dir=/tmp/data
  python scripts/bench_data.py \
    --dataset_dir=/tmp/data/playtable_play/state_small/1.3.0 \
    --out=out/bench/data.json

A benchmark, not a test. Goal (issue 3): at least 10x what a trainer consumes
(a GCBC train step at batch 256: about 1.3 steps/s on a 2-core CPU, hundreds
on an accelerator), i.e. hundreds of batches/s. See playlearn/bench/data_bench.py for what each figure measures.
"""

from absl import app
from absl import flags

from playlearn import hardware
from playlearn import manifest
from playlearn.bench import data_bench

_DATASET_DIR = flags.DEFINE_string(
    "dataset_dir",
    None,
    "Dataset version directory (holds statistics.json).",
    required=True,
)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Windows per batch.")
_KAPPA_MIN = flags.DEFINE_integer("kappa_min", 16, "Shortest window.")
_KAPPA_MAX = flags.DEFINE_integer("kappa_max", 32, "Longest window.")
_NUM_BATCHES = flags.DEFINE_integer(
    "num_batches", 300, "Batches per measurement."
)
_WORKERS = flags.DEFINE_list(
    "workers", ["1", "2"], "Grain worker process counts to measure."
)
_OUT = flags.DEFINE_string("out", "out/bench/data.json", "JSON output.")


def main(argv):
  del argv
  results = hardware.describe()
  results.update(
      data_bench.measure(
          _DATASET_DIR.value,
          batch_size=_BATCH_SIZE.value,
          kappa_min=_KAPPA_MIN.value,
          kappa_max=_KAPPA_MAX.value,
          num_batches=_NUM_BATCHES.value,
          workers=tuple(int(w) for w in _WORKERS.value),
      )
  )
  print()
  print("| pipeline | batches/s | windows/s |")
  print("|---|---|---|")
  for key, value in results.items():
    if isinstance(value, dict) and "batches_per_s" in value:
      extra = (
          f" (start-up {value['startup_s']:.2f} s)"
          if "startup_s" in value
          else ""
      )
      print(
          f"| {key}{extra} | {value['batches_per_s']:.0f} | "
          f"{value['windows_per_s']:.0f} |"
      )
  print()
  for key in ("num_windows", "num_steps", "store_build_s", "store_mb", "cpu"):
    value = results[key]
    print(
        f"{key}: {value:.3f}" if isinstance(value, float) else f"{key}: {value}"
    )
  manifest.write_json(_OUT.value, results)


if __name__ == "__main__":
  app.run(main)
