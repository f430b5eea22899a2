r"""playlearn (JAX) against PyTorch on this CPU, side by side in one run.

  python scripts/bench_vs_torch.py --out=out/bench/vs_torch.json
  python scripts/bench_vs_torch.py --train_batches=8 --act_batches=1 \
      --widths=12 --curve_batch=8 --beso_width=12 --rounds=1 --calls=3 \
      --out=/tmp/vs_torch.json          # a check of the script, in a minute
  python scripts/bench_vs_torch.py --device=gpu --peak_tflops=495 \
      --out=out/bench/vs_torch_gpu.json  # on an NVIDIA GPU (H100/H200: TF32)

Needs the `bench` extra (`pip install -e '.[bench]'`: torch==2.13.0, the CPU
build). A benchmark, not a test: run it on an otherwise idle machine (the
load average is recorded before and after). Writes the JSON (each ratio
JAX / PyTorch under a key `ratio/train/<net>/b<B>` or `ratio/act/<net>/b<B>`),
prints a table, and draws the step time against batch size and width
beside the JSON (`<out>.png`). See playlearn/bench/vs_torch.py for what
each figure measures.
"""

import os

from absl import app
from absl import flags
import matplotlib
import matplotlib.pyplot as plt

from playlearn import bench
from playlearn.bench import vs_torch

_TRAIN_BATCHES = flags.DEFINE_list(
    "train_batches",
    ["64", "256", "1024"],
    "Train batch sizes (BESO: samples; GCBC: windows of 32 steps).",
)
_ACT_BATCHES = flags.DEFINE_list(
    "act_batches", ["1", "64"], "Acting batch sizes (environments)."
)
_WIDTHS = flags.DEFINE_list(
    "widths",
    ["120", "240", "360", "480"],
    "BESO transformer widths of the cost curve.",
)
_CURVE_BATCH = flags.DEFINE_integer(
    "curve_batch", 256, "BESO batch (samples) of the width curve."
)
_BESO_WIDTH = flags.DEFINE_integer(
    "beso_width",
    None,
    "BESO width of the train figures (None: the reference's 360).",
)
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Interleaved rounds per figure.")
_CALLS = flags.DEFINE_integer("calls", 100, "Timed calls per acting figure.")
_THREADS = flags.DEFINE_integer(
    "threads",
    None,
    "Threads of both frameworks (None: every core this process may use).",
)
_DATASET_DIR = flags.DEFINE_string(
    "dataset_dir",
    None,
    "A play dataset version dir: also time the real "
    "trainer on it against the bare step (None: skip).",
)
_TRAINER_STEPS = flags.DEFINE_integer(
    "trainer_steps", 500, "Steps of the trainer run."
)
_DEVICE = flags.DEFINE_enum(
    "device",
    "cpu",
    vs_torch.DEVICES,
    "Where both frameworks run: 'gpu' needs JAX's CUDA backend and a CUDA "
    "build of torch (not the `bench` extra's CPU build).",
)
_PEAK_TFLOPS = flags.DEFINE_float(
    "peak_tflops",
    None,
    "The device's peak TFLOP/s at the precision used (TF32 on a GPU): "
    "adds the model FLOPs utilisation of each train figure (None: none).",
)
_MICROBATCHES = flags.DEFINE_integer(
    "microbatches",
    4,
    "Also BESO's largest train batch with its gradient taken in this many "
    "slices by both frameworks (1: not).",
)
_OUT = flags.DEFINE_string("out", "out/bench/vs_torch.json", "JSON output.")


def plot(results: dict, path: str) -> None:
  """Train step time against batch size (both networks) and BESO's width."""
  fig, axes = plt.subplots(1, 2, figsize=(10, 4))
  for net, marker in (("beso", "o"), ("gcbc", "s")):
    rows = [
        r
        for k, r in results["train"].items()
        if k.startswith(net + "/") and r.get("microbatches", 1) == 1
    ]
    for framework, style in (("jax", "-"), ("torch", "--")):
      axes[0].plot(
          [r["batch"] for r in rows],
          [r[framework]["median_ms"] for r in rows],
          style,
          marker=marker,
          label=f"{net} {framework}",
      )
  if results["train"]:
    axes[0].set(
        xscale="log",
        yscale="log",
        xlabel="batch (BESO samples, GCBC windows)",
        ylabel="train step (ms, median)",
    )
  rows = list(results["curve"].values())
  for framework, style in (("jax", "-"), ("torch", "--")):
    axes[1].plot(
        [r["width"] for r in rows],
        [r[framework]["median_ms"] for r in rows],
        style,
        marker="o",
        label=framework,
    )
  if rows:
    axes[1].set(
        xlabel=f"BESO width (batch {rows[0]['batch']})",
        ylabel="train step (ms, median)",
        yscale="log",
    )
  for ax in axes:
    if ax.lines:
      ax.legend()
    ax.grid(alpha=0.3)
  where = (
      results["accelerator"]
      or f"{results['cpu']} ({results['threads']} threads)"
  )
  fig.suptitle(where, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
  print(f"wrote {path}")


def main(argv):
  del argv
  matplotlib.use("Agg")  # A script, not a library: it may choose the backend.
  results = bench.start(
      "JAX and PyTorch interleaved, same threads, synthetic batches"
  )
  results.update(
      vs_torch.measure(
          train_batches=[int(b) for b in _TRAIN_BATCHES.value],
          act_batches=[int(b) for b in _ACT_BATCHES.value],
          widths=[int(w) for w in _WIDTHS.value],
          curve_batch=_CURVE_BATCH.value,
          beso_width=_BESO_WIDTH.value,
          rounds=_ROUNDS.value,
          calls=_CALLS.value,
          threads=_THREADS.value,
          dataset_dir=_DATASET_DIR.value,
          trainer_steps=_TRAINER_STEPS.value,
          device=_DEVICE.value,
          peak_tflops=_PEAK_TFLOPS.value,
          microbatches=_MICROBATCHES.value,
          progress=lambda s: print(s, flush=True),
      )
  )
  bench.finish(results, vs_torch.table(results), _OUT.value)
  plot(results, os.path.splitext(_OUT.value)[0] + ".png")


if __name__ == "__main__":
  app.run(main)
