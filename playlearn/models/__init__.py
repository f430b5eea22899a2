"""Learning methods. Each is a module with the same parts, which is all the trainer
and the policy use:

  Config                                   frozen dataclass; Config.tiny() for tests
  Model(config, obs_dim, action_dim, *, rngs)   the nnx network
  loss(model, batch, rng, step) -> (loss, metrics)
  initial_state(model, batch_size) -> state
  act(model, obs_history, goal, rng, state, greedy) -> (action, state)

and may set ACTS_GREEDY (default True): whether a `Policy` that is not told
takes the distribution's mode (True) or samples (False).

Shared pieces live in `layers.py` (MLP, scan_rnn, masked_nll), `heads.py`
(action distributions) and `configure.py` (acting with other config fields).
"""

from playlearn.models import beso, configure, gcbc, heads, layers, lmp

METHODS = {"beso": beso, "gcbc": gcbc, "lmp": lmp}


def get(name):
  """The method module called `name`."""
  if name not in METHODS:
    raise KeyError(f"Unknown method {name!r}; valid: {sorted(METHODS)}")
  return METHODS[name]


__all__ = [
    "METHODS",
    "beso",
    "configure",
    "gcbc",
    "get",
    "heads",
    "layers",
    "lmp",
]
