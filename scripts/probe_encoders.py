r"""Probes saved encoders side by side on the same frames of an image dataset.

  python scripts/probe_encoders.py \
      --dataset_dir=out/full/playtable_play/images_full/1.3.0 \
      --encoders=out/dynamo_grid_3k/encoder,out/pixels12/encoder \
      --out=out/probes.json

The held-out linear-probe R^2 of the true state (`evaluation.probe`: fitted
on `--probe_frames` training frames, scored on as many validation frames,
the same frames for every encoder) per field, one column an encoder, beside
the cameras' 8 x 8 pixel means (no encoder). `pretrain_encoder.py` probes
the one encoder it trains on its own frames; this compares several on one
set.
"""

import json
import os

from absl import app
from absl import flags

from playlearn import console
from playlearn.data import frames as frames_lib
from playlearn.evaluation import probe
from playlearn.experiments import pretrain
from playlearn.models import pretrained

_DATASET_DIR = flags.DEFINE_string(
    "dataset_dir", None, "Image play dataset (version dir).", required=True
)
_ENCODERS = flags.DEFINE_list(
    "encoders", None, "Saved encoders (directories).", required=True
)
_OUT = flags.DEFINE_string("out", None, "Write the R^2 table here (JSON).")
_PROBE = flags.DEFINE_integer("probe_frames", 2000, "Frames per probe split.")
_STRIDE = flags.DEFINE_integer(
    "frame_stride", 4, "Read every n-th frame (1/n of the memory)."
)


def main(argv):
  del argv
  console.quiet_library_logs()
  views = set()
  for path in _ENCODERS.value:
    views.update(pretrained.views(path))
  train, val = (
      frames_lib.FrameWindows.from_dataset(
          _DATASET_DIR.value,
          split,
          1,
          tuple(sorted(views)),
          stride=_STRIDE.value,
      )
      for split in ("train", "validation")
  )
  columns = {"pixels (8 x 8 means)": None}
  columns.update({path: path for path in _ENCODERS.value})
  table = {}
  for name, path in columns.items():
    model = pretrained.load(path) if path else None
    table[name] = pretrain.probe_model(model, train, val, _PROBE.value)
    print(f"probed {name}", flush=True)
  print(pretrain.probe_table(table))
  # What an R^2 means in metres: the blocks' spread in the held-out frames.
  spread = {
      axis: [
          float(val.state[:, k].std()) for k in probe.fields()[f"block {axis}"]
      ]
      for axis in "xy"
  }
  for axis, values in spread.items():
    print(
        f"blocks' spread along {axis} in the validation frames: "
        + ", ".join(f"{100 * v:.1f}" for v in values)
        + " cm"
    )
  if _OUT.value:
    os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
    with open(_OUT.value, "w") as f:
      json.dump(
          {
              "dataset_dir": _DATASET_DIR.value,
              "frame_stride": _STRIDE.value,
              "probe_frames": _PROBE.value,
              "probe_r2": table,
              "block_spread_m": spread,
          },
          f,
          indent=1,
      )
    print(f"wrote {_OUT.value}")


if __name__ == "__main__":
  app.run(main)
