r"""Speed of the learning stack on this machine, as a table and JSON.

  python scripts/bench_train.py --out=out/bench/train.json
  python scripts/bench_train.py --methods=gcbc --seconds=3

A benchmark, not a test. Per method: train steps/s and examples/s of the
trainer's jitted step at the default config (batch 256, windows of 32), its
compile time and parameter count, and the latency of `Policy.act` at 1 and 64
environments. Synthetic inputs, no dataset needed. See
playlearn/bench/train_bench.py for what each figure measures.
"""

from absl import app
from absl import flags

from playlearn import bench
from playlearn.bench import train_bench

_METHODS = flags.DEFINE_list("methods", ["gcbc", "lmp"], "Methods to measure.")
_SECONDS = flags.DEFINE_float(
    "seconds", 10.0, "Steady-state train steps measured per method."
)
_OUT = flags.DEFINE_string("out", "out/bench/train.json", "JSON output.")


def main(argv):
  del argv
  results = bench.start("synthetic batches; data pipeline not included")
  methods = {}
  for method in _METHODS.value:
    print(f"measuring {method} ...", flush=True)
    methods.update(train_bench.measure((method,), seconds=_SECONDS.value))
  results["methods"] = methods
  bench.finish(results, train_bench.table(methods), _OUT.value)


if __name__ == "__main__":
  app.run(main)
