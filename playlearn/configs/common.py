"""What every method's config shares; method files override fields."""

import dataclasses
import importlib.util

from absl import app
import ml_collections
from ml_collections import config_dict

from playlearn import models


def model_fields(config_cls) -> ml_collections.ConfigDict:
  """A method's `Config` fields as typed placeholders (None: the default).

  Each is then settable from the command line (`--config.model.head=mse`);
  the fields left None keep the method's default (or `Config.tiny()`'s with
  `tiny_model`). A nested config (LMP's policy) is nested the same way.
  """
  fields = ml_collections.ConfigDict()
  defaults = config_cls()
  for f in dataclasses.fields(config_cls):
    default = getattr(defaults, f.name)
    if dataclasses.is_dataclass(default):
      fields[f.name] = model_fields(type(default))
    else:
      fields[f.name] = config_dict.placeholder(type(default))
  return fields


def get_config(method: str) -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.method = method
  c.dataset_dir = "out/data/playtable_play/state_full/1.3.0"
  c.seed = 0
  c.obs_dim = config_dict.placeholder(int)  # checked against the dataset
  c.action_dim = config_dict.placeholder(int)  # when set
  c.tiny_model = False
  # A saved pretrained encoder (`playlearn.models.pretrained`, e.g. DynaMo's
  # out/dynamo/encoder), kept frozen: the policy learns from its embeddings
  # of the dataset's camera images (`playlearn.models.embeddings`; features
  # 'raw') and carries it to act from pixels. '': learn from the state.
  c.encoder = ""
  # Train the encoder with the policy (`playlearn.models.pixels`): fine-tunes
  # a pretrained encoder, or trains one saved untrained from scratch; the
  # batches then carry the images (slower: the encoder runs every step).
  c.train_encoder = False
  # A saved policy to start from (its weights; the same method, network and
  # data normalisation), e.g. a policy trained on a frozen encoder, then
  # fine-tuned with it (train_encoder). '': from initialisation.
  c.init_policy = ""
  c.model = model_fields(models.get(method).Config)  # None: the default
  # actions: 'label' (the oracle's command; play's executed actions carry
  # recovery noise, see playlearn.play.noise) or 'executed'. features: what
  # the policy sees of the state, goals: of the goal ('full' or 'scene');
  # both in playlearn.data.features, saved with the policy. obs_noise: the
  # standard deviation of Gaussian noise on training observations, in
  # normalised units (0: off; trainer.add_obs_noise). image_shift: DrQ's
  # random shift of the camera images by up to that many pixels, for a
  # trained encoder only (0: off; frames.ImageWindows). proprio: a pixel
  # policy also sees the robot's own state (tool pose, gripper, joints;
  # features.proprio) beside its embeddings, in observations and goals.
  # goal_dropout: the fraction of training windows whose goal hides the
  # robot's own columns, as goals 'scene' do (windows.WindowConfig); the
  # policy then learns to read the scene's change, and acts on whole goals.
  # std_floor: observations are divided by max(std, std_floor); raising it
  # keeps a feature that hardly varies in play (a pixel cell of the pixels
  # encoder) from being magnified when it does change.
  c.data = ml_collections.ConfigDict(
      dict(
          batch_size=256,
          kappa_min=16,
          kappa_max=32,
          goal_horizon=0,
          action_norm="none",
          actions="label",
          features="raw",
          goals="full",
          obs_noise=0.0,
          image_shift=0,
          proprio=False,
          goal_dropout=0.0,
          std_floor=1e-6,  # windows.STD_FLOOR
      )
  )
  # lr 1e-4 (CALVIN's): the logistic mixture's loss is stiff once components
  # sharpen on exact actions, and a global-norm clip of 1 shrank nearly every
  # update and slowed it, so grad_clip is off (docs/results.md).
  c.optimizer = ml_collections.ConfigDict(
      dict(
          lr=1e-4,
          warmup_steps=1000,
          final_lr_fraction=0.1,
          weight_decay=1e-4,
          grad_clip=0.0,
      )
  )
  c.total_steps = 50_000
  # The batch's gradient taken in this many slices, one after the other
  # (trainer.microbatch_grads): the same update, k times smaller activations.
  c.microbatches = 1
  # An exponential moving average of the weights for acting and the saved
  # policy (0: off, the last weights act).
  c.ema_decay = 0.0
  c.log_every = 100
  # Evaluators by name (playlearn.train.evaluators), each run every `every`
  # steps and at the end (0: never), its metrics logged as <name>/<metric>:
  # the loss on fixed validation windows, and rollouts on the task suite
  # with a few videos under workdir/eval/<step>/.
  c.evals = ml_collections.ConfigDict(
      dict(
          val=dict(type="validation", every=1000, batches=4),
          suite=dict(
              type="suite",
              every=10_000,
              tasks="all",
              episodes_per_task=2,
              videos_per_task=1,
              seed=0,
          ),
      )
  )
  c.checkpoint_every = 1000
  c.keep_checkpoints = 3
  return c


def parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parser for scripts with a `--config` flag; an override of
  a field the config does not have (`--config.model.foo=1`) exits with a
  message naming it and listing the fields there are."""
  overrides = [a for a in argv[1:] if a.startswith("--config.")]
  config = _load_config_flag(argv) if overrides else None
  for arg in overrides if config is not None else ():
    path = arg[len("--config.") :].split("=", 1)[0].split(".")
    node = config
    for depth, key in enumerate(path):
      if not isinstance(node, ml_collections.ConfigDict) or key not in node:
        where = ".".join(["config"] + path[:depth])
        valid = (
            sorted(node.keys())
            if isinstance(node, ml_collections.ConfigDict)
            else []
        )
        raise SystemExit(
            f"--config.{'.'.join(path)}: {where} has no field "
            f"{key!r}; valid: {', '.join(valid)}"
        )
      node = node[key]
  return app.parse_flags_with_usage(argv)


def _load_config_flag(argv: list[str]) -> ml_collections.ConfigDict | None:
  """The config that `--config FILE[:VARIANT]` in argv names (None if none:
  absl then reports the missing flag itself)."""
  value = None
  for i, arg in enumerate(argv):
    if arg.startswith("--config="):
      value = arg.split("=", 1)[1]
    elif arg == "--config" and i + 1 < len(argv):
      value = argv[i + 1]
  if value is None:
    return None
  path, _, variant = value.partition(":")
  spec = importlib.util.spec_from_file_location("_config_file", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(variant or None)


def with_variant(
    c: ml_collections.ConfigDict, arg: str | None
) -> ml_collections.ConfigDict:
  """Applies the variant named after the config file's ':'."""
  if not arg:
    return c
  if arg not in VARIANTS:
    raise ValueError(
        f"unknown config variant {arg!r}; valid: "
        f"{', '.join(sorted(VARIANTS))}"
    )
  return VARIANTS[arg](c)


def cpu(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """The README's runs on a 2-core CPU: batch 64, 4k steps (10-20 min).

  Goals reach up to 96 steps past the window: the suite's goals lie 40-110
  steps (the oracle's) ahead, beyond the 16-32 of windows alone.
  """
  c.data.batch_size = 64
  c.data.goal_horizon = 96
  c.optimizer.warmup_steps = 500
  c.total_steps = 4_000
  c.evals.val.every = 500
  c.checkpoint_every = 2000
  c.evals.suite.every = 0  # Evaluate the saved policy with scripts/evaluate.py.
  return c


# What `make demo` collects: 3 hours of play, about 2 minutes to generate.
DEMO_DATASET = "out/demo/data/playtable_play/state_full/1.3.0"


def debug(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Seconds on a laptop CPU: tiny model, tiny batches, few steps."""
  c.dataset_dir = DEMO_DATASET
  c.tiny_model = True
  c.data.batch_size = 8
  c.data.kappa_min, c.data.kappa_max = 8, 12
  c.optimizer.warmup_steps = 5
  c.total_steps = 20
  c.log_every = 5
  c.evals.val.every = 10
  c.checkpoint_every = 10
  c.evals.suite.every = 0
  return c


def demo(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """`make demo`: `cpu` on 3 hours of play, 12k steps (13 min on 2 cores).

  Less play is too little (on 6.7 minutes the policy solved 2 of 36
  episodes) and 8k steps left it at the easy tasks' bar of 50%
  (docs/results.md).
  """
  c = cpu(c)
  c.dataset_dir = DEMO_DATASET
  c.total_steps = 12_000
  c.evals.val.every = 1000
  return c


VARIANTS = {"cpu": cpu, "debug": debug, "demo": demo}
