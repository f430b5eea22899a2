r"""Play-LMP on PlayTable play (latent plans from play).

  python scripts/train.py --config=playlearn/configs/lmp.py --workdir=out/lmp
  python scripts/train.py --config=playlearn/configs/lmp.py:debug \
      --workdir=out/lmp_debug

Variants after ':' (see `common.VARIANTS`): `cpu` is the README's run (about
an hour on 2 CPU cores; pass --config.dataset_dir), `demo` is `make demo`'s,
`debug` takes seconds.
"""
from playlearn.configs import common


def get_config(arg: str | None = None):
  c = common.get_config("lmp")
  return common.with_variant(c, arg)
