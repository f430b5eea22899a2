"""Acting variants of a trained model: the same weights, other config fields."""

import dataclasses

from flax import nnx


def with_config(model, **changes):
  """The same weights acting with other config fields (sampler, num_steps, guidance...).

  It swaps the `config` of any method's model (`Policy.with_config` uses
  it). Unknown fields raise a ValueError naming them.
  """
  valid = {f.name for f in dataclasses.fields(model.config)}
  unknown = sorted(set(changes) - valid)
  if unknown:
    raise ValueError(
        f"{type(model.config).__module__} config has no field {unknown}; "
        f"valid: {sorted(valid)}"
    )
  graphdef, state = nnx.split(model)
  variant = nnx.merge(graphdef, state)
  variant.config = dataclasses.replace(model.config, **changes)
  return variant
