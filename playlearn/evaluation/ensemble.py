"""Several saved policies acting as one: each step, the mean of their actions.

Policies trained alike from different seeds may make different mistakes;
in closed loop, averaging their actions can let one member's error be
outvoted before it compounds (on the pixel suite the gain was within noise:
docs/results.md, twenty-first session). `Ensemble` follows the suite's
policy protocol (`reset`, `act(obs, goal)`, `image_sizes`), so it runs on
the same episodes as any one of its members:

  ensemble = Ensemble.load(["out/a/policy", "out/b/policy"])
  ensemble.reset()
  action = ensemble.act(obs, goal)

Pixel members whose encoders hold the same weights (a frozen encoder shared
by several trainings) embed each frame once between them.
"""

from __future__ import annotations

from collections.abc import Sequence

from flax import nnx
import jax
import numpy as np

from playlearn.policy import Policy


class Ensemble:
  """The mean action of `members` (saved policies of one action space)."""

  def __init__(self, members: Sequence[Policy]):
    members = list(members)
    if not members:
      raise ValueError("Ensemble: give at least one policy")
    first = members[0]
    for i, member in enumerate(members[1:], start=1):
      if member.image_sizes != first.image_sizes:
        raise ValueError(
            f"Ensemble: member {i} reads cameras {member.image_sizes}, "
            f"member 0 {first.image_sizes}: the members act in one env, so "
            "they must read the same observations"
        )
      if member.encoder is not None and _same_weights(
          member.encoder, first.encoder
      ):
        member.embed_with(first)
    self.members = members

  @property
  def image_sizes(self) -> dict[str, int] | None:
    return self.members[0].image_sizes

  @property
  def greedy(self) -> bool:
    return all(m.greedy for m in self.members)

  def with_config(self, **changes) -> Ensemble:
    """Every member acting with the same changed config fields."""
    return Ensemble([m.with_config(**changes) for m in self.members])

  def reset(self, batch_size: int | None = None) -> None:
    for member in self.members:
      member.reset(batch_size)

  def act(self, obs: dict, goal: dict) -> np.ndarray:
    actions = [member.act(obs, goal) for member in self.members]
    shapes = {a.shape for a in actions}
    if len(shapes) > 1:
      raise ValueError(
          f"Ensemble.act: the members' actions have shapes {sorted(shapes)}"
      )
    return np.mean(actions, axis=0).astype(np.float32)

  @classmethod
  def load(
      cls, paths: Sequence[str], *, seed: int = 0, greedy: bool | None = None
  ) -> Ensemble:
    return cls([Policy.load(p, seed=seed, greedy=greedy) for p in paths])


def _same_weights(a: nnx.Module, b: nnx.Module) -> bool:
  """Whether two encoders have one config and equal parameters."""
  if a is b:
    return True
  if a.config != b.config:
    return False
  state_a, state_b = nnx.state(a, nnx.Param), nnx.state(b, nnx.Param)
  if jax.tree.structure(state_a) != jax.tree.structure(state_b):
    return False
  return all(
      np.array_equal(x, y)
      for x, y in zip(jax.tree.leaves(state_a), jax.tree.leaves(state_b))
  )
