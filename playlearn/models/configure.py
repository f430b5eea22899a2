"""Method configs from plain data, and acting variants of a trained model."""

from collections.abc import Mapping
import dataclasses

from flax import nnx


def replace_fields(
    base, fields: Mapping, where: str, *, skip_none: bool = False
):
  """`base` (a method's frozen `Config`) with `fields` from plain data.

  The one place a config is built from ml_collections or JSON: lists become
  tuples and nested mappings nested configs (LMP's policy), recursively, so
  that the config is hashable, as nnx requires of a module's attributes.
  `skip_none`: a None keeps the field's default (the placeholders of
  `configs.common.model_fields`). An unknown field raises a ValueError
  naming it, after `where`.
  """
  valid = {f.name for f in dataclasses.fields(base)}
  unknown = sorted(set(fields) - valid)
  if unknown:
    raise ValueError(
        f"{where} has unknown fields {unknown}; valid: {sorted(valid)}"
    )
  changes = {}
  for name, value in fields.items():
    current = getattr(base, name)
    if isinstance(value, Mapping) and dataclasses.is_dataclass(current):
      changes[name] = replace_fields(
          current, value, f"{where}.{name}", skip_none=skip_none
      )
    elif value is not None or not skip_none:
      changes[name] = tuple(value) if isinstance(value, list) else value
  return dataclasses.replace(base, **changes)


def with_config(model, **changes):
  """The same weights acting with other config fields (sampler, num_steps, guidance...).

  It swaps the `config` of any method's model (`Policy.with_config` uses
  it); a nested config's fields come as a mapping (LMP's
  `policy={"act_window": 32}`). Unknown fields raise a ValueError naming them.
  """
  config = replace_fields(
      model.config, changes, f"{type(model.config).__module__} config"
  )
  graphdef, state = nnx.split(model)
  variant = nnx.merge(graphdef, state)
  variant.config = config
  return variant
