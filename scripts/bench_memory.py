r"""Memory bandwidth of this machine, one thread (docs/speed.md, issue 10).

  python scripts/bench_memory.py            # 256 MB from DRAM, 38 MB (BESO's weights)

Prints the best of `--repeats` timings of numpy reading (a sum) and copying
an array of `--dram_mb`, and of reading one of `--weights_mb` (BESO's
float32 weights, which the L3 cache may partly hold): what bounds a batch-1
action that reads every weight once per sampling step.
"""

import time

from absl import app
from absl import flags
import numpy as np

_DRAM_MB = flags.DEFINE_integer("dram_mb", 256, "Array size for DRAM reads.")
_WEIGHTS_MB = flags.DEFINE_integer("weights_mb", 38, "BESO's weights, MB.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timings; the best is kept.")


def _best(fn, repeats: int) -> float:
  times = []
  for _ in range(repeats):
    tic = time.perf_counter()
    fn()
    times.append(time.perf_counter() - tic)
  return min(times)


def main(argv):
  del argv
  big = np.ones(_DRAM_MB.value * 2**20 // 8)
  out = np.empty_like(big)
  weights = np.ones(_WEIGHTS_MB.value * 2**20 // 4, np.float32)
  n = _REPEATS.value
  read = big.nbytes / _best(big.sum, n) / 1e9
  copy = 2 * big.nbytes / _best(lambda: np.copyto(out, big), n) / 1e9
  small = _best(weights.sum, 4 * n)
  print(f"read {_DRAM_MB.value} MB: {read:.1f} GB/s")
  print(f"copy {_DRAM_MB.value} MB (read + write): {copy:.1f} GB/s")
  print(
      f"read {_WEIGHTS_MB.value} MB: {weights.nbytes / small / 1e9:.1f} GB/s "
      f"({1e3 * small:.2f} ms)"
  )


if __name__ == "__main__":
  app.run(main)
