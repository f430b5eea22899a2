"""Several pretrained encoders read side by side: one encoder to a policy.

Two self-supervised objectives can keep different parts of a scene (on
PlayTable, DynaMo's grid head reads the doors that ACT-JEPA's loses, and
ACT-JEPA's the blocks better: docs/results.md, nineteenth session). A
stacked encoder embeds each camera with every part and concatenates the
part embeddings per camera, so a policy over it (`--config.encoder`) sees
both. It is saved and loaded as any pretrained encoder (`pretrained.save`,
objective 'stacked'), holding each part's config and weights; it is never
trained (`scripts/stack_encoders.py` builds one from saved encoders).

  model = stacked.Model(stacked.Config.of([dynamo_model, act_jepa_model]), rngs=...)
  stacked.copy_weights(model, [dynamo_model, act_jepa_model])
  dynamo.embed(model, images)  # [..., V * (E_1 + E_2 + ...)]
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses

from flax import nnx
import jax
import jax.numpy as jnp

from playlearn.models import act_jepa
from playlearn.models import configure
from playlearn.models import dynamo
from playlearn.models import state_regression

# The objectives a part may have (single encoders; `pretrained.OBJECTIVES`
# adds 'stacked' itself).
PARTS = {
    "dynamo": dynamo,
    "act_jepa": act_jepa,
    "state_regression": state_regression,
}


def objective_of(model: nnx.Module) -> str:
  """The objective ('dynamo', ...) of a single encoder; TypeError else."""
  for name, module in PARTS.items():
    if isinstance(model, module.Model):
      return name
  raise TypeError(
      f"{type(model).__name__} is not a single encoder: saved encoders and "
      f"the parts of a stacked one are the models of {sorted(PARTS)}."
  )


@dataclasses.dataclass(frozen=True)
class Config:
  """parts: ((objective, config), ...), the configs as dataclasses or as the
  plain data `dataclasses.asdict` wrote (converted here); at least 2 for a
  `Model` (the empty default is what `pretrained.load` fills in)."""

  parts: tuple = ()

  def __post_init__(self):
    parts = []
    for i, (objective, config) in enumerate(self.parts):
      if objective not in PARTS:
        raise ValueError(
            f"parts[{i}]: unknown objective {objective!r}; known: "
            f"{sorted(PARTS)}"
        )
      if isinstance(config, Mapping):
        config = configure.replace_fields(
            PARTS[objective].Config(), config, f"parts[{i}].config"
        )
      parts.append((objective, config))
    views = {tuple(c.views) for _, c in parts}
    if len(views) > 1:
      raise ValueError(
          f"the parts read different cameras {sorted(views)}: stacked "
          "encoders must read the same ones"
      )
    object.__setattr__(self, "parts", tuple(parts))

  @property
  def views(self) -> tuple[str, ...]:
    return tuple(self.parts[0][1].views)

  @classmethod
  def of(cls, models) -> Config:
    return cls(tuple((objective_of(m), m.config) for m in models))


class Model(nnx.Module):
  """The parts' embeddings of each camera, concatenated: [..., V, sum E]."""

  def __init__(self, config: Config, *, rngs: nnx.Rngs):
    if len(config.parts) < 2:
      raise ValueError(
          f"a stacked encoder needs at least 2 parts, got {len(config.parts)}"
      )
    self.config = config
    self.parts = nnx.List(
        [PARTS[o].Model(c, rngs=rngs) for o, c in config.parts]
    )
    self.features = sum(p.features for p in self.parts)

  def embeddings(self, images: dict[str, jax.Array]) -> jax.Array:
    return jnp.concatenate([p.embeddings(images) for p in self.parts], -1)


def copy_weights(model: Model, parts) -> None:
  """Sets `model`'s parts to the weights of the models `parts`, in order."""
  for mine, theirs in zip(model.parts, parts, strict=True):
    nnx.update(mine, nnx.state(theirs))
