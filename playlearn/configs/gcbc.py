r"""Play-GCBC on PlayTable play (goal-conditioned behaviour cloning).

  python scripts/train.py --config=playlearn/configs/gcbc.py --workdir=out/gcbc
  python scripts/train.py --config=playlearn/configs/gcbc.py:debug \
      --workdir=out/gcbc_debug

Variants after ':' (see `common.VARIANTS`): `cpu` is the README's run (about
an hour on 2 CPU cores; pass --config.dataset_dir), `demo` is `make demo`'s,
`debug` takes seconds.
"""
from playlearn.configs import common


def get_config(arg: str | None = None):
  c = common.get_config("gcbc")
  return common.with_variant(c, arg)
