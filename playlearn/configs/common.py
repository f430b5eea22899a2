"""What every method's config shares; method files override fields."""
import ml_collections


def get_config() -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.method = ""
  c.dataset_dir = "out/data/playtable_play/state_full/1.0.0"
  c.seed = 0
  c.obs_dim = None     # checked against the dataset when set
  c.action_dim = None
  c.tiny_model = False
  c.model = ml_collections.ConfigDict()  # overrides of the method's Config
  c.data = ml_collections.ConfigDict(dict(
      batch_size=256, kappa_min=16, kappa_max=32, goal_horizon=0,
      action_norm="none"))
  c.optimizer = ml_collections.ConfigDict(dict(
      lr=1e-3, warmup_steps=1000, final_lr_fraction=0.1, weight_decay=1e-4,
      grad_clip=1.0))
  c.total_steps = 50_000
  # Rollouts on the task suite every N steps and at the end (0: never), with
  # a few videos under workdir/eval/<step>/.
  c.eval_every = 10_000
  c.eval = ml_collections.ConfigDict(dict(
      tasks=None, episodes_per_task=2, videos_per_task=1, seed=0))
  c.log_every = 100
  c.checkpoint_every = 1000
  c.keep_checkpoints = 3
  return c


def with_variant(c: ml_collections.ConfigDict,
                 arg: str | None) -> ml_collections.ConfigDict:
  """Applies the variant named after the config file's ':' (only 'debug')."""
  if arg == "debug":
    return debug(c)
  if arg:
    raise ValueError(f"unknown config variant {arg!r}; valid: debug")
  return c


def debug(c: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Seconds on a laptop CPU: tiny model, tiny batches, few steps."""
  c.dataset_dir = "out/demo/data/playtable_play/state_small/1.0.0"
  c.tiny_model = True
  c.data.batch_size = 8
  c.data.kappa_min, c.data.kappa_max = 8, 12
  c.optimizer.warmup_steps = 5
  c.total_steps = 20
  c.log_every = 5
  c.checkpoint_every = 10
  c.eval_every = 0
  return c
