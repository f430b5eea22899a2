r"""Play-GCBC on PlayTable play (goal-conditioned behaviour cloning).

  python scripts/train.py --config=playlearn/configs/gcbc.py --workdir=out/gcbc
  python scripts/train.py --config=playlearn/configs/gcbc.py:debug \
      --workdir=out/gcbc_debug
"""
from playlearn.configs import common


def get_config(arg: str | None = None):
  c = common.get_config()
  c.method = "gcbc"
  return common.with_variant(c, arg)
