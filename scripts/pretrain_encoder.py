r"""Pretrains an image encoder on play frames; probes it.

Objectives: DynaMo, ACT-JEPA, or a read of the simulator's state.


  python scripts/collect_play.py --config=images_small --data_dir=out/data
  python scripts/pretrain_encoder.py \
      --dataset_dir=out/data/playtable_play/images_small/1.3.0 \
      --workdir=out/dynamo --steps=2000
  python scripts/pretrain_encoder.py --objective=act_jepa --chunk=10 \
      --dataset_dir=out/data/playtable_play/images_small/1.3.0 \
      --workdir=out/act_jepa --steps=2000
  python scripts/pretrain_encoder.py --objective=state_regression \
      --encoder_head=grid --batch_size=128 --lr=1e-3 \
      --dataset_dir=out/data/playtable_play/images_small/1.3.0 \
      --workdir=out/state_encoder --steps=2000

Writes `workdir/encoder` (a saved encoder, `playlearn.models.pretrained`),
`metrics.jsonl`, `curves.png` and `probe.json`: the held-out linear-probe R^2
of the true state from the frozen embeddings, as initialised and as
pretrained, per state field (printed as a table), and `tsne.png`: a t-SNE of
the frozen embeddings of validation frames coloured by task segment.
"""

import os

from absl import app
from absl import flags

from playlearn import console
from playlearn.data import frames as frames_lib
from playlearn.experiments import pretrain
from playlearn.models import act_jepa
from playlearn.models import dynamo
from playlearn.models import encoders
from playlearn.models import pretrained
from playlearn.models import state_regression

_OBJECTIVE = flags.DEFINE_enum(
    "objective",
    "dynamo",
    ["dynamo", "act_jepa", "state_regression"],
    "DynaMo's latent dynamics (frames only), ACT-JEPA's action chunks and "
    "latent future (frames, actions and goal frames), or a linear read of the "
    "simulator's state (privileged labels a real robot lacks: a reference "
    "for what a frozen encoder can give a policy).",
)
_DATASET_DIR = flags.DEFINE_string(
    "dataset_dir", None, "Image play dataset (version dir).", required=True
)
_WORKDIR = flags.DEFINE_string("workdir", "out/dynamo", "Output directory.")
_STEPS = flags.DEFINE_integer("steps", 2000, "Training steps.")
_BATCH = flags.DEFINE_integer(
    "batch_size", 32, "Windows per batch (state_regression: frames)."
)
_LR = flags.DEFINE_float("lr", 1e-4, "AdamW learning rate.")
_SEED = flags.DEFINE_integer("seed", 0, "Initialisation and batch seed.")
_ENCODER = flags.DEFINE_enum(
    "encoder",
    "conv",
    list(encoders.ENCODERS),
    "Image encoder; 'pixels' has no weights (each camera's pixels averaged "
    "over --encoder_cells x --encoder_cells): save it with --steps=0.",
)
_WIDTH = flags.DEFINE_integer(
    "encoder_width", 16, "Encoder base width (embedding: 8 x width)."
)
_HEAD = flags.DEFINE_enum(
    "encoder_head",
    "keypoints",
    list(encoders.HEADS),
    "The conv encoder's head: a spatial softmax's keypoints, or each "
    "feature map averaged over a grid of --encoder_cells x --encoder_cells "
    "(keeps the state of small things: lights, buttons).",
)
_CELLS = flags.DEFINE_integer(
    "encoder_cells",
    6,
    "The grid's cells along each side: the grid head's (each feature map's "
    "mean over every cell is kept) or the pixels encoder's.",
)
_WINDOW = flags.DEFINE_integer(
    "window", 6, "DynaMo: frames per training window."
)
_STRIDE = flags.DEFINE_integer(
    "frame_stride",
    1,
    "DynaMo and the state regression: keep every n-th frame of the play "
    "(DynaMo's windows span (window - 1) * n control steps; 1/n of the "
    "memory, so 12 hours fit).",
)
_CHUNK = flags.DEFINE_integer(
    "chunk", 10, "ACT-JEPA: actions and future frames predicted."
)
_GOAL_HORIZON = flags.DEFINE_integer(
    "goal_horizon", 64, "ACT-JEPA: goal frames up to this many steps ahead."
)
_VIEWS = flags.DEFINE_list(
    "views", ["rgb_static", "rgb_gripper"], "Cameras to encode."
)
_PROBE = flags.DEFINE_integer("probe_frames", 2000, "Frames per probe split.")
_LOG_EVERY = flags.DEFINE_integer("log_every", 50, "Steps between logs.")


def main(argv):
  del argv
  console.quiet_library_logs()
  views = tuple(_VIEWS.value)
  encoder = dict(
      encoder=_ENCODER.value,
      encoder_width=_WIDTH.value,
      encoder_head=_HEAD.value,
      encoder_cells=_CELLS.value,
      views=views,
  )
  if _OBJECTIVE.value == "dynamo":
    model, goal_horizon = dynamo.Config(**encoder, window=_WINDOW.value), None
  elif _OBJECTIVE.value == "state_regression":
    model, goal_horizon = state_regression.Config(**encoder), None
  else:
    if _STRIDE.value != 1:
      raise app.UsageError(
          "--frame_stride is for DynaMo and the state regression: ACT-JEPA "
          "predicts the actions of consecutive control steps."
      )
    model = act_jepa.Config(**encoder, chunk=_CHUNK.value)
    goal_horizon = _GOAL_HORIZON.value
  train, val = (
      frames_lib.FrameWindows.from_dataset(
          _DATASET_DIR.value,
          split,
          model.window,
          views,
          goal_horizon,
          stride=_STRIDE.value,
      )
      for split in ("train", "validation")
  )
  print(
      f"{_OBJECTIVE.value}: {train.num_windows} train windows of "
      f"{model.window} frames (every {_STRIDE.value} control steps), "
      f"{len(val.state)} validation frames; cameras {list(views)}"
  )
  config = pretrain.PretrainConfig(
      model=model,
      steps=_STEPS.value,
      batch_size=_BATCH.value,
      lr=_LR.value,
      seed=_SEED.value,
      log_every=_LOG_EVERY.value,
      probe_frames=_PROBE.value,
  )
  result = pretrain.run(train, val, config, _WORKDIR.value)
  print(pretrain.markdown(result))
  tsne = os.path.join(_WORKDIR.value, "tsne.png")
  count = pretrain.embedding_tsne(
      pretrained.load(os.path.join(_WORKDIR.value, "encoder")),
      _DATASET_DIR.value,
      tsne,
      points=_PROBE.value,
  )
  print(f"t-SNE of {count} validation frames by task segment: {tsne}")
  print(
      f"{_STEPS.value} steps in {result['train_seconds']:.0f} s "
      f"({result['steps_per_second']:.2f} steps/s); wrote {_WORKDIR.value}"
  )


if __name__ == "__main__":
  app.run(main)
