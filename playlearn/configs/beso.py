r"""BESO on PlayTable play (goal-conditioned score-based diffusion policy).

  python scripts/train.py --config=playlearn/configs/beso.py --workdir=out/beso
  python scripts/train.py --config=playlearn/configs/beso.py:debug \
      --workdir=out/beso_debug

Variants after ':' (see `common.VARIANTS`): `cpu` is the README's run (about
an hour on 2 CPU cores; pass --config.dataset_dir), `demo` is `make demo`'s,
`debug` takes seconds. C-BESO (no null goal, plain goal conditioning):
--config.model.cond_drop_prob=0; the faster network: --config.model.network=mlp.
"""
from playlearn.configs import common


def get_config(arg: str | None = None):
  c = common.get_config("beso")
  c.optimizer.lr = 1e-4  # AdamW 1e-4 as in the paper.
  c.ema_decay = 0.999  # Evaluation and the saved policy use the EMA weights.
  return common.with_variant(c, arg)
