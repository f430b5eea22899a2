r"""BESO on PlayTable play (goal-conditioned score-based diffusion policy).

  python scripts/train.py --config=playlearn/configs/beso.py --workdir=out/beso
  python scripts/train.py --config=playlearn/configs/beso.py:debug \
      --workdir=out/beso_debug

Variants after ':' (see `common.VARIANTS`): `cpu` is the README's run (about
13 min on 2 CPU cores; pass --config.dataset_dir), `demo` is `make demo`'s,
`debug` takes seconds. `cpu` and `demo` use the MLP score network (width 256,
4 layers). C-BESO (no null goal, plain goal conditioning):
--config.model.cond_drop_prob=0; the faster network: --config.model.network=mlp.
History carried in a GRU, as GCBC's policy carries it, trained on every
step of GCBC's batches (64 windows): --config.model.network=gru
--config.model.obs_window=32 --config.data.batch_size=64
--config.optimizer.lr=1e-3 (docs/results.md, eighth session).
The reference transformer on a CPU: --config.microbatches=4 takes the same
gradient in 4 slices, about twice as fast there at 1,024 samples
(docs/speed.md); on a GPU keep 1.
"""

from playlearn.configs import common


def get_config(arg: str | None = None):
  c = common.get_config("beso")
  c.optimizer.lr = 1e-4  # AdamW 1e-4 as in the paper.
  c.ema_decay = 0.999  # Evaluation and the saved policy use the EMA weights.
  c = common.with_variant(c, arg)
  if arg in ("cpu", "demo"):
    # The reference transformer is far too slow to train on 2 CPU cores
    # (docs/speed.md); an MLP score network over the same window is not.
    c.model.network = "mlp"
    c.model.width = 256
    c.model.layers = 4
  if arg == "cpu":
    # 256 windows x samples_per_window 4: the paper's 1,024 samples.
    c.data.batch_size = 256
    # lr 1e-4 for 10k steps left the denoiser far from fitting the actions
    # on state_full; 3e-4 for 30k fits them (docs/results.md, BESO).
    c.optimizer.lr = 3e-4
    c.total_steps = 30_000
  return c
