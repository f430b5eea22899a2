"""Noise on executed actions: play and demonstrations that hold recoveries.

A scripted oracle is a perfect supervisor, and behaviour cloning from it
alone fails in closed loop: the learner's small errors lead it to states the
oracle never visited, and the data shows no way back (covariate shift). DART
(Laskey et al., CoRL 2017) perturbs what the supervisor *executes* and records
what the supervisor *commands* at the state the perturbation led to. The
oracle here is closed loop (it plans each action from the mocap target's
current pose), so its command is a correction, and the data holds
recoveries.

`ActionNoise` turns the oracle's command (the label) into the executed action:

* motion noise on the six motion dimensions (never the gripper): white
  Gaussian (`kind='gaussian'`) or an Ornstein-Uhlenbeck process
  (`kind='ou'`, temporally correlated, so the tool drifts off its path for a
  while rather than jittering in place). Both have stationary standard
  deviation `sigma` per dimension (in action units: 1 is a full step);
* levels that vary: each episode draws a multiplier of `sigma` uniformly in
  `episode_scale`, and each task segment is executed clean with probability
  `clean_fraction` (so the data also holds the oracle's own smooth motion);
* nudges: occasional larger disturbances (a push of the tool of
  `nudge_size` per step, for 3-8 steps, in a random direction), at
  `nudge_rate` per step, that the oracle then recovers from.

The executed action is clipped to [-1, 1], as the environment would clip it,
so the recorded executed action replays the episode bitwise.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Mapping

import numpy as np

KINDS = ("gaussian", "ou")
MOTION_DIMS = 6  # dx, dy, dz, droll, dpitch, dyaw; the gripper stays clean.
_NUDGE_STEPS = (3, 8)


@dataclasses.dataclass(frozen=True)
class NoiseConfig:
  """How the executed action departs from the oracle's; sigma 0: none."""

  sigma: float = 0.0
  kind: str = "ou"
  ou_theta: float = 0.5  # OU mean reversion per step; 1 is white noise.
  episode_scale: tuple[float, float] = (1.0, 1.0)
  clean_fraction: float = 0.0
  nudge_rate: float = 0.0
  nudge_size: float = 1.0
  rotation_scale: float = 0.5  # sigma of the rotation dims, relative.

  def __post_init__(self):
    object.__setattr__(self, "episode_scale", tuple(self.episode_scale))
    checks = {
        "sigma": self.sigma >= 0,
        "ou_theta": 0 < self.ou_theta <= 1,
        "episode_scale": (
            len(self.episode_scale) == 2
            and 0 <= self.episode_scale[0] <= self.episode_scale[1]
        ),
        "clean_fraction": 0 <= self.clean_fraction <= 1,
        "nudge_rate": 0 <= self.nudge_rate <= 1,
        "nudge_size": 0 <= self.nudge_size <= 1,
        "rotation_scale": self.rotation_scale >= 0,
    }
    for name, ok in checks.items():
      if not ok:
        raise ValueError(
            f"NoiseConfig.{name}: invalid value {getattr(self, name)!r}"
        )
    if self.kind not in KINDS:
      raise ValueError(
          f"NoiseConfig.kind must be one of {KINDS}, got {self.kind!r}"
      )

  @property
  def enabled(self) -> bool:
    return self.sigma > 0 or self.nudge_rate > 0

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), sort_keys=True)

  @classmethod
  def from_dict(cls, fields: Mapping[str, Any] | None) -> NoiseConfig:
    if not fields:
      return cls()
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(fields) - names)
    if unknown:
      raise ValueError(
          f"NoiseConfig: unknown fields {unknown}; valid: {sorted(names)}"
      )
    return cls(**fields)


# White noise of 0.3 on the six motion dimensions is the builders' default
# (the best of the noise ablation in docs/results.md); the correlated variant
# with varying levels, clean segments and nudges is kept for comparison.
WHITE_NOISE = NoiseConfig(sigma=0.3, kind="gaussian", rotation_scale=1.0)
OU_NOISE = NoiseConfig(
    sigma=0.3,
    kind="ou",
    ou_theta=0.5,
    episode_scale=(0.5, 1.5),
    clean_fraction=0.15,
    nudge_rate=0.005,
    nudge_size=0.8,
)
PLAY_NOISE = WHITE_NOISE  # What the dataset builders use.


class ActionNoise:
  """Label -> executed action, one step at a time (see the module doc)."""

  def __init__(self, config: NoiseConfig, rng: np.random.Generator):
    self.config = config
    self.rng = rng
    self.episode_scale = (
        rng.uniform(*config.episode_scale) if config.enabled else 0.0
    )
    self._dim_scale = np.array([1.0] * 3 + [config.rotation_scale] * 3)
    self._ou = np.zeros(MOTION_DIMS)
    self._segment_scale = self.episode_scale
    self._nudge = np.zeros(MOTION_DIMS)
    self._nudge_left = 0

  def start_segment(self) -> None:
    """A new task segment: clean with probability `clean_fraction`."""
    if not self.config.enabled:
      return
    clean = self.rng.random() < self.config.clean_fraction
    self._segment_scale = 0.0 if clean else self.episode_scale
    if clean:
      self._nudge_left = 0  # A nudge under way ends with its segment.

  @property
  def segment_scale(self) -> float:
    return float(self._segment_scale)

  def __call__(self, label: np.ndarray) -> np.ndarray:
    """float32[7] label -> float32[7] executed action in [-1, 1]."""
    label = np.asarray(label, np.float32)
    cfg = self.config
    if not cfg.enabled:
      return label
    sigma = cfg.sigma * self._segment_scale * self._dim_scale
    eps = self.rng.standard_normal(MOTION_DIMS)
    if cfg.kind == "gaussian":
      motion = sigma * eps
    else:  # Stationary std sigma for any theta.
      theta = cfg.ou_theta
      self._ou = (1 - theta) * self._ou + np.sqrt(2 * theta - theta**2) * eps
      motion = sigma * self._ou
    if (
        self._nudge_left == 0
        and self._segment_scale > 0
        and (self.rng.random() < cfg.nudge_rate)
    ):
      direction = self.rng.standard_normal(3)
      self._nudge = np.zeros(MOTION_DIMS)
      self._nudge[:3] = cfg.nudge_size * direction / np.linalg.norm(direction)
      self._nudge_left = int(
          self.rng.integers(_NUDGE_STEPS[0], _NUDGE_STEPS[1] + 1)
      )
    if self._nudge_left > 0:
      motion = motion + self._nudge
      self._nudge_left -= 1
    executed = label.astype(np.float64)
    executed[:MOTION_DIMS] += motion
    return np.clip(executed, -1.0, 1.0).astype(np.float32)
