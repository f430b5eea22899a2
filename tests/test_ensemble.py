"""Ensembles of saved policies: the mean action, one embedding per frame."""

from flax import nnx
import numpy as np
import pytest

from playlearn.data import windows
from playlearn.evaluation import ensemble
from playlearn.models import dynamo
from playlearn.models import embeddings
from playlearn.models import gcbc
from playlearn.models import pretrained
from playlearn.policy import Policy

SIZES = {"rgb_static": 96, "rgb_gripper": 64}


def _policy(seed, obs_dim, **pixels):
  """A tiny GCBC policy with its own random weights, identity normalisation."""
  model = gcbc.Model(gcbc.Config.tiny(), obs_dim, 7, rngs=nnx.Rngs(seed))
  normalization = windows.Normalization(
      np.zeros(obs_dim, np.float32),
      np.ones(obs_dim, np.float32),
      np.zeros(7, np.float32),
      np.ones(7, np.float32),
  )
  return Policy("gcbc", model, normalization, **pixels)


def _rollout(policy, observations, goal):
  policy.reset()
  return np.stack([policy.act(o, goal) for o in observations])


def test_the_ensemble_acts_the_mean_of_its_members():
  rng = np.random.default_rng(0)
  states = rng.normal(size=(4, 2, 20)).astype(np.float32)
  observations = [{"state": s} for s in states]
  goal = {"state": rng.normal(size=(2, 20)).astype(np.float32)}
  members = [_policy(seed, 20) for seed in (0, 1, 2)]
  alone = [_rollout(m, observations, goal) for m in members]
  both = ensemble.Ensemble(members)
  together = _rollout(both, observations, goal)
  assert together.shape == (4, 2, 7)
  # Step by step, each member carrying its own recurrent state.
  np.testing.assert_allclose(together, np.mean(alone, axis=0), atol=1e-6)
  assert not np.allclose(together, alone[0], atol=1e-3)
  # `reset` forgets the past: the same episode again acts the same.
  np.testing.assert_allclose(_rollout(both, observations, goal), together)
  assert both.greedy  # GCBC members take the mode.


def test_members_on_one_encoder_embed_each_frame_once(tmp_path, monkeypatch):
  path = str(tmp_path / "encoder")
  pretrained.save(dynamo.Model(dynamo.Config.tiny(), rngs=nnx.Rngs(0)), path)
  other_path = str(tmp_path / "other")
  pretrained.save(
      dynamo.Model(dynamo.Config.tiny(), rngs=nnx.Rngs(1)), other_path
  )
  rng = np.random.default_rng(0)
  frame = {
      v: rng.integers(0, 256, (s, s, 3), dtype=np.uint8)
      for v, s in SIZES.items()
  }
  goal = {v: 255 - x for v, x in frame.items()}
  dim = embeddings.embed_frames(
      pretrained.load(path), {v: x[None] for v, x in frame.items()}
  ).shape[-1]

  def member(seed, encoder_path=path):
    # Each member loads its own copy of the encoder, as Policy.load does.
    return _policy(
        seed,
        dim,
        encoder=pretrained.load(encoder_path),
        image_sizes=SIZES,
    )

  expected = np.mean(
      [_rollout(member(s), [frame] * 3, goal) for s in (0, 1)], axis=0
  )
  calls = []
  embed = embeddings.embed
  monkeypatch.setattr(
      embeddings, "embed", lambda *a: calls.append(1) or embed(*a)
  )
  shared = ensemble.Ensemble([member(0), member(1)])
  np.testing.assert_allclose(
      _rollout(shared, [frame] * 3, goal), expected, atol=1e-5
  )
  assert len(calls) == 2  # The observation once and the goal once.
  # A member on other weights embeds for itself.
  calls.clear()
  _rollout(ensemble.Ensemble([member(0), member(1, other_path)]), [frame], goal)
  assert len(calls) == 4


def test_members_that_read_other_cameras_are_refused(tmp_path):
  path = str(tmp_path / "encoder")
  pretrained.save(dynamo.Model(dynamo.Config.tiny(), rngs=nnx.Rngs(0)), path)
  pixels = _policy(0, 8, encoder=pretrained.load(path), image_sizes=SIZES)
  with pytest.raises(ValueError, match="member 1 reads cameras None"):
    ensemble.Ensemble([pixels, _policy(1, 8)])
  with pytest.raises(ValueError, match="at least one policy"):
    ensemble.Ensemble([])
