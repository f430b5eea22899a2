r"""Plots the latent plan space of a trained Play-LMP policy (t-SNE by task).

  python scripts/plot_latents.py --policy=out/lmp/policy \
      --dataset_dir=out/full/playtable_play/state_full/1.3.0 \
      --out=out/latents.png

Encodes up to --max_windows held-out play windows that lie inside one task
segment with q(z | tau), embeds the posterior means with t-SNE (needs
scikit-learn) and writes a PNG with a legend by task, and the points as
`<out>.npz` (z, xy, labels) beside it.
"""

import os

from absl import app
from absl import flags
import numpy as np

from playlearn.evaluation import latent

_POLICY = flags.DEFINE_string(
    "policy", None, "Saved LMP policy directory.", required=True
)
_DATASET_DIR = flags.DEFINE_string(
    "dataset_dir", None, "Dataset version directory.", required=True
)
_SPLIT = flags.DEFINE_string("split", "validation", "Split to embed.")
_OUT = flags.DEFINE_string("out", "out/latents.png", "PNG to write.")
_WINDOW = flags.DEFINE_integer("window", 32, "Steps per window.")
_MAX_WINDOWS = flags.DEFINE_integer("max_windows", 2000, "Windows at most.")
_PERPLEXITY = flags.DEFINE_float("perplexity", 30.0, "t-SNE perplexity.")
_SEED = flags.DEFINE_integer("seed", 0, "Window subset and t-SNE seed.")


def main(argv):
  del argv
  z, labels = latent.plan_embeddings(
      _POLICY.value,
      _DATASET_DIR.value,
      split=_SPLIT.value,
      window=_WINDOW.value,
      max_windows=_MAX_WINDOWS.value,
      seed=_SEED.value,
  )
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  xy = latent.tsne_plot(
      z, labels, _OUT.value, perplexity=_PERPLEXITY.value, seed=_SEED.value
  )
  np.savez(
      os.path.splitext(_OUT.value)[0] + ".npz",
      z=z,
      xy=xy,
      labels=np.asarray(labels),
  )
  print(f"wrote {_OUT.value}: {len(labels)} windows, {len(set(labels))} tasks")


if __name__ == "__main__":
  app.run(main)
