r"""Speed of BESO on this machine against the PyTorch reference (issue 4).

  python scripts/bench_beso.py --out=out/bench/beso.json
  python scripts/bench_beso.py --tiny --calls=5 --seconds=1 --samplers=ddim \
      --steps=3 --train_batch_size=8 --matmul_size=256 --out=/tmp/beso.json

A benchmark, not a test: run it on an otherwise idle machine (other processes
share the cores; the load average is recorded before and after). At the
reference's network sizes (`beso.Config()`, obs_dim 42, action_dim 7): the
latency of `Policy.act` and of the bare jitted sampler at batch 1 and 64 for
3 DDIM steps, a sweep of samplers x steps at batch 1, train steps/s at the
default 256 windows x 4 sub-windows = 1024 samples, and the share of the CPU's
fp32 peak (estimated, and measured with a matmul) that sampling reaches.
--tiny uses `Config.tiny()` to check the script in seconds. See
playlearn/bench/beso_bench.py for what each figure measures.
"""

from absl import app
from absl import flags

from playlearn import bench
from playlearn.bench import beso_bench
from playlearn.diffusion import samplers

_TINY = flags.DEFINE_bool(
    "tiny", False, "Config.tiny() models (a check of the script)."
)
_CALLS = flags.DEFINE_integer(
    "calls", 200, "Timed calls per latency (a quarter in the sweep)."
)
_WARMUP = flags.DEFINE_integer("warmup", 10, "Untimed calls before those.")
_BATCH_SIZES = flags.DEFINE_list(
    "batch_sizes", ["1", "64"], "Acting batch sizes (environments)."
)
_SAMPLERS = flags.DEFINE_list(
    "samplers", list(samplers.SAMPLERS), "Samplers of the sweep."
)
_STEPS = flags.DEFINE_list(
    "steps", ["1", "3", "5", "10"], "Steps of the sweep."
)
_SECONDS = flags.DEFINE_float(
    "seconds", 10.0, "Steady-state train steps measured."
)
_TRAIN_BATCH_SIZE = flags.DEFINE_integer(
    "train_batch_size",
    None,
    "Train batch windows (None: the config's 256, 1024 samples).",
)
_WINDOW = flags.DEFINE_integer(
    "window", 32, "Train batch window length in steps."
)
_MATMUL_SIZE = flags.DEFINE_integer(
    "matmul_size", 2048, "Side of the matmul measuring the peak."
)
_OUT = flags.DEFINE_string("out", "out/bench/beso.json", "JSON output.")


def main(argv):
  del argv
  results = bench.start("synthetic inputs; data pipeline not included")
  results.update(
      beso_bench.measure(
          tiny=_TINY.value,
          batch_sizes=[int(b) for b in _BATCH_SIZES.value],
          calls=_CALLS.value,
          warmup=_WARMUP.value,
          sweep_samplers=_SAMPLERS.value,
          sweep_steps=[int(n) for n in _STEPS.value],
          seconds=_SECONDS.value,
          train_batch_size=_TRAIN_BATCH_SIZE.value,
          window=_WINDOW.value,
          matmul_size=_MATMUL_SIZE.value,
      )
  )
  bench.finish(results, beso_bench.table(results), _OUT.value)


if __name__ == "__main__":
  app.run(main)
