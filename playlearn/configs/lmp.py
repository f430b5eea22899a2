r"""Play-LMP on PlayTable play (latent plans from play).

  python scripts/train.py --config=playlearn/configs/lmp.py --workdir=out/lmp
  python scripts/train.py --config=playlearn/configs/lmp.py:debug \
      --workdir=out/lmp_debug
"""
from playlearn.configs import common


def get_config(arg: str | None = None):
  c = common.get_config()
  c.method = "lmp"
  return common.with_variant(c, arg)
