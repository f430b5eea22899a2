r"""Play-GCBC on PlayTable play (goal-conditioned behaviour cloning).

  python scripts/train.py --config=playlearn/configs/gcbc.py --workdir=out/gcbc
  python scripts/train.py --config=playlearn/configs/gcbc.py:debug \
      --workdir=out/gcbc_debug

Variants after ':' (see `common.VARIANTS`): `cpu` is the README's run (about
12 min on 2 CPU cores; pass --config.dataset_dir), `demo` is `make demo`'s,
`debug` takes seconds. `cpu` and `demo` use the MSE action head.
"""

from playlearn.configs import common


def get_config(arg: str | None = None):
  c = common.get_config("gcbc")
  c = common.with_variant(c, arg)
  if arg in ("cpu", "demo"):
    # The MSE head: the logistic mixture does not fit in a CPU-sized run
    # (docs/results.md, "The logistic-mixture head").
    c.model.head = "mse"
    c.optimizer.lr = 3e-4
  if arg == "cpu":
    c.total_steps = 12_000
  if arg == "demo":
    c.optimizer.lr = 1e-3  # Beats 3e-4 on 3 h of play (docs/results.md).
  return c
