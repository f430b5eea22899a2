"""Environments by name: a plain dict, as in MuJoCo Playground's registry.

    env = playlearn.envs.load("PlayTable", time_limit=300)

Each name maps to a factory and its default config (a frozen dataclass such as
`EnvConfig`); `load` overrides config fields by keyword and calls the factory
with the result. Unknown names and unknown fields are errors that list the valid
ones, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import dm_env

from playlearn.envs import playtable

Factory = Callable[[Any], dm_env.Environment]

# name -> (factory, default config).
_ENVS: dict[str, tuple[Factory, Any]] = {}


def register(name: str, factory: Factory, default_config: Any = None) -> None:
  """Adds an environment.

  Args:
    name: the name `load` takes; must be new.
    factory: called with the config, returns the `dm_env.Environment`.
    default_config: a dataclass instance whose fields are `load`'s options;
      `playtable.EnvConfig()` when None.
  """
  if name in _ENVS:
    raise ValueError(f"environment {name!r} is already registered")
  if default_config is None:
    default_config = playtable.EnvConfig()
  if not dataclasses.is_dataclass(default_config):
    raise TypeError(
        f"default_config of {name!r} must be a dataclass "
        f"instance, got {type(default_config).__name__}"
    )
  _ENVS[name] = (factory, default_config)


def names() -> tuple[str, ...]:
  return tuple(_ENVS)


def get_default_config(name: str) -> Any:
  return _lookup(name)[1]


def load(name: str, **options) -> dm_env.Environment:
  """Builds environment `name`; `options` override fields of its config."""
  factory, default_config = _lookup(name)
  valid = [f.name for f in dataclasses.fields(default_config)]
  unknown = [k for k in options if k not in valid]
  if unknown:
    raise ValueError(
        f"unknown option(s) {', '.join(map(repr, unknown))} for "
        f"environment {name!r}; valid options: {', '.join(valid)}"
    )
  return factory(dataclasses.replace(default_config, **options))


def _lookup(name: str) -> tuple[Factory, Any]:
  try:
    return _ENVS[name]
  except KeyError:
    raise ValueError(
        f"unknown environment {name!r}; valid environments: "
        f"{', '.join(_ENVS)}"
    ) from None


register("PlayTable", playtable.PlayTableEnv, playtable.EnvConfig())
register(
    "PlayTableImages", playtable.PlayTableEnv, playtable.EnvConfig(images=True)
)
