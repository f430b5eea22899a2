"""RLDS episodes on disk: the TFDS feature spec and episode <-> record.

An episode in memory is the play generator's contract
(`playlearn.play.episodes`), all numpy:

  {'steps': {'observation': {'state': float32[T, D],
                             'rgb_static': uint8[T, S, S, 3],    (optional)
                             'rgb_gripper': uint8[T, G, G, 3]},  (optional)
             'action': float32[T, 7] (executed),
             'action_label': float32[T, 7] (what to learn), 'reward': float32[T],
             'discount': float32[T], 'is_first': bool[T], 'is_last': bool[T],
             'is_terminal': bool[T], 'language_instruction': object[T] (str)},
   'episode_metadata': {name: int | str}}

On disk it is one TFDS record per episode in RLDS form (Open X-Embodiment,
Octo): `steps` is a `tfds.features.Dataset`, so `tfds.load(...)` yields nested
`tf.data.Dataset`s as the RLDS tools expect. Images are raw uint8 tensors
compressed with zlib rather than `tfds.features.Image`, whose PNG encoding needs
TensorFlow: building must work without it. `EpisodeDecoder` needs neither
TensorFlow nor the builder code: it parses a record with the features read back
from `features.json` and returns exactly the arrays the generator produced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import functools
from typing import Any

import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import example_parser

STEP_KEYS = (
    "observation",
    "action",
    "action_label",
    "reward",
    "discount",
    "is_first",
    "is_last",
    "is_terminal",
    "language_instruction",
)
ACTION_DIM = 7


def episode_features(
    *,
    state_dim: int,
    metadata: Mapping[str, tfds.features.FeatureConnector],
    image_shapes: Mapping[str, tuple[int, int, int]] | None = None,
    action_dim: int = ACTION_DIM,
    target_dim: int = 0,
) -> tfds.features.FeaturesDict:
  """The RLDS feature spec of one episode.

  Args:
    state_dim: D of `observation/state` float32[D].
    metadata: `episode_metadata` features, e.g. {'seed': Scalar(int64)}.
    image_shapes: observation name -> (H, W, 3) of each camera; stored as
      zlib-compressed uint8.
    action_dim: actions are float32[action_dim] in [-1, 1].
    target_dim: with 6, `observation/target` float32[6] (from version
      1.2.0 of the PlayTable datasets); 0 for none.
  """
  observation = {
      "state": tfds.features.Tensor(
          shape=(state_dim,),
          dtype=np.float32,
          doc="Low-dimensional simulator state.",
      )
  }
  if target_dim:
    observation["target"] = tfds.features.Tensor(
        shape=(target_dim,),
        dtype=np.float32,
        doc="Commanded tool pose (the mocap target that actions move): "
        "position and rotation from the home pose, as the state's tool "
        "pose.",
    )
  for name, shape in (image_shapes or {}).items():
    observation[name] = tfds.features.Tensor(
        shape=tuple(shape),
        dtype=np.uint8,
        encoding=tfds.features.Encoding.ZLIB,
        doc=f"Camera image {name}, RGB.",
    )
  steps = tfds.features.Dataset(
      {
          "observation": tfds.features.FeaturesDict(observation),
          "action": tfds.features.Tensor(
              shape=(action_dim,),
              dtype=np.float32,
              doc="End-effector command in [-1, 1], as executed: replaying it "
              "from the reset seed reproduces the episode.",
          ),
          "action_label": tfds.features.Tensor(
              shape=(action_dim,),
              dtype=np.float32,
              doc="The scripted oracle's command at this state, the label a "
              "policy learns; `action` is this plus the injected noise.",
          ),
          "reward": tfds.features.Scalar(dtype=np.float32),
          "discount": tfds.features.Scalar(dtype=np.float32),
          "is_first": tfds.features.Scalar(dtype=np.bool_),
          "is_last": tfds.features.Scalar(dtype=np.bool_),
          "is_terminal": tfds.features.Scalar(dtype=np.bool_),
          "language_instruction": tfds.features.Text(
              doc="Words of the task done at this step; empty between tasks."
          ),
      }
  )
  return tfds.features.FeaturesDict(
      {
          "steps": steps,
          "episode_metadata": tfds.features.FeaturesDict(dict(metadata)),
      }
  )


ACTION_FIELDS = {"label": "action_label", "executed": "action"}


def step_actions(steps: Mapping[str, Any], which: str = "label") -> np.ndarray:
  """The [T, 7] actions of stored steps: 'label' (what a policy learns: the
  oracle's command) or 'executed' (what was sent to the environment).

  Datasets of version 1.0.0 have no `action_label`: their play had no noise,
  so the executed action was the label.
  """
  if which not in ACTION_FIELDS:
    raise ValueError(
        f"actions must be one of {sorted(ACTION_FIELDS)}, got {which!r}"
    )
  key = ACTION_FIELDS[which]
  if key not in steps:
    key = "action"
  return np.asarray(steps[key], np.float32)


def to_example(
    episode: Mapping[str, Any], metadata_keys: Iterable[str]
) -> dict:
  """Generator episode -> the example that `FeaturesDict.encode_example` takes.

  `episode_metadata` must have exactly `metadata_keys`: a field the spec does
  not know would otherwise be dropped without a word.
  """
  steps = episode["steps"]
  example_steps = {
      key: steps[key] for key in STEP_KEYS if key != "language_instruction"
  }
  example_steps["language_instruction"] = [
      str(s) for s in steps["language_instruction"]
  ]
  meta = episode["episode_metadata"]
  if set(meta) != set(metadata_keys):
    raise ValueError(
        f"episode_metadata has keys {sorted(meta)}, the dataset's features "
        f"{sorted(metadata_keys)}: update the metadata spec"
    )
  return {"steps": example_steps, "episode_metadata": dict(meta)}


class EpisodeDecoder:
  """Serialized records (tf.train.Example bytes) -> generator-contract episodes.

  Parses a whole episode at once, so `steps` come back as stacked arrays rather
  than as the per-step Python objects of `tfds.data_source`'s decoding.
  Picklable (Grain workers).
  """

  def __init__(self, features: tfds.features.FeaturesDict):
    self.features = features

  def __getstate__(self):
    return {"features": self.features.to_json()}

  def __setstate__(self, state):
    self.features = tfds.features.FeatureConnector.from_json(state["features"])

  @functools.cached_property
  def _parser(self) -> example_parser.ExampleParserNp:
    return example_parser.ExampleParserNp(self.features.get_serialized_info())

  def __call__(self, record: bytes) -> dict:
    parsed = self._parser.parse_example(record)
    steps = _decode(self.features["steps"].feature, parsed["steps"])
    _check_lengths(steps, len(steps["is_first"]))
    meta = _decode(
        self.features["episode_metadata"], parsed["episode_metadata"]
    )
    meta = {
        k: v.item() if isinstance(v, np.ndarray) and not v.ndim else v
        for k, v in meta.items()
    }
    return {"steps": steps, "episode_metadata": meta}


def _decode(feature, value):
  """Decodes a nest of stacked step values [T, ...] or of metadata scalars."""
  if isinstance(feature, tfds.features.FeaturesDict):
    return {k: _decode(feature[k], value[k]) for k in feature.keys()}
  if isinstance(feature, tfds.features.Text):
    if isinstance(value, np.ndarray):
      return np.array([v.decode() for v in value.reshape(-1)], dtype=object)
    return value.decode() if isinstance(value, bytes) else value
  value = np.asarray(value)
  if value.dtype == object and value.ndim:  # Encoded: one blob per step.
    if not len(value):
      return np.zeros((0,) + feature.shape, feature.np_dtype)
    return np.stack([feature.decode_example_np(v) for v in value])
  if value.ndim == 0:
    return value.astype(feature.np_dtype)
  return value.reshape((-1,) + tuple(feature.shape)).astype(
      feature.np_dtype, copy=False
  )


def _check_lengths(steps, num_steps):
  for key, value in steps.items():
    if isinstance(value, dict):
      _check_lengths(value, num_steps)
    elif len(value) != num_steps:
      raise ValueError(
          f"steps/{key} has {len(value)} entries, is_first has {num_steps}"
      )
