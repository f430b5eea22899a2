r"""What PlayTable's cameras show: object sizes in pixels and a contact sheet.

  python scripts/camera_report.py --out_dir=out/cameras

Replays play episodes and measures, every few steps, each task object in the
static and gripper views (`playlearn.play.views`): pixels across, pixels
covered, how often it is seen, how much the arm hides. Writes `views.md` (the
table), `views.json` and `contact_sheet.png` (static view beside the gripper
view, upscaled). Try another static framing without editing the scene:

  python scripts/camera_report.py --static_framing=0.6,-0.76,0.85,-0.02,-0.02,0,52
"""

import json
import os
import time

from absl import app
from absl import flags
import numpy as np

from playlearn.play import replay
from playlearn.play import views

_OUT_DIR = flags.DEFINE_string("out_dir", "out/cameras", "Output directory.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "Play episodes' seeds.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 600, "Steps per episode.")
_EVERY = flags.DEFINE_integer("every", 15, "Measure every this many steps.")
_STATIC_SIZE = flags.DEFINE_integer("static_size", 96, "Static view (px).")
_GRIPPER_SIZE = flags.DEFINE_integer("gripper_size", 64, "Gripper view (px).")
_FRAMING = flags.DEFINE_string(
    "static_framing",
    None,
    "'x,y,z,target_x,target_y,target_z,fovy': place the static camera here "
    "instead of the scene's (metres, degrees).",
)
_SHEET = flags.DEFINE_integer("sheet_frames", 12, "Frames in the sheet.")


def main(argv):
  del argv
  framing = views.Framing.parse(_FRAMING.value) if _FRAMING.value else None
  tic = time.perf_counter()
  report = views.measure(
      seeds=[int(s) for s in _SEEDS.value],
      num_steps=_NUM_STEPS.value,
      every=_EVERY.value,
      static_size=_STATIC_SIZE.value,
      gripper_size=_GRIPPER_SIZE.value,
      static_framing=framing,
      frames_for_sheet=_SHEET.value,
  )
  seconds = time.perf_counter() - tic
  os.makedirs(_OUT_DIR.value, exist_ok=True)
  table = views.markdown(report)
  print(table)
  print(f"{report['states']} states of play, {seconds:.0f} s")
  with open(os.path.join(_OUT_DIR.value, "views.md"), "w") as f:
    f.write(table + "\n")
  frames = report.pop("frames", [])
  with open(os.path.join(_OUT_DIR.value, "views.json"), "w") as f:
    json.dump(report, f, indent=1)
  if frames:
    pairs = replay.side_by_side(
        np.stack([s for s, _ in frames]), np.stack([g for _, g in frames])
    )
    sheet = os.path.join(_OUT_DIR.value, "contact_sheet.png")
    replay.contact_sheet(
        list(pairs), [""] * len(pairs), columns=3, scale=2
    ).save(sheet)
    print(f"wrote {sheet}")


if __name__ == "__main__":
  app.run(main)
