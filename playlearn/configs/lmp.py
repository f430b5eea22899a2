r"""Play-LMP on PlayTable play (latent plans from play).

  python scripts/train.py --config=playlearn/configs/lmp.py --workdir=out/lmp
  python scripts/train.py --config=playlearn/configs/lmp.py:debug \
      --workdir=out/lmp_debug

Variants after ':' (see `common.VARIANTS`): `cpu` is the README's run (about
30 min on 2 CPU cores; pass --config.dataset_dir), `demo` is `make demo`'s,
`debug` takes seconds. `cpu` and `demo` use the MSE action head.
"""

from playlearn.configs import common


def get_config(arg: str | None = None):
  c = common.get_config("lmp")
  c = common.with_variant(c, arg)
  if arg in ("cpu", "demo"):
    # As in gcbc.py: the MSE head. Its loss is about 0.4 where the logistic
    # NLL is 10-20, so beta shrinks with it (beta * KL was a third of the
    # loss at beta 0.01, and the plan was collapsing), with a warm-up.
    c.model.policy.head = "mse"
    c.optimizer.lr = 3e-4
    c.model.beta = 0.001
    c.model.kl_warmup_steps = 2000
  if arg == "cpu":
    c.total_steps = 8_000
  return c
