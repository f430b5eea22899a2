"""The encoder trained to read the simulator's state (privileged labels)."""

import dataclasses
import json

import jax.numpy as jnp
import numpy as np
import pytest

from playlearn.data import frames
from playlearn.envs import playtable
from playlearn.experiments import pretrain
from playlearn.models import dynamo
from playlearn.models import pretrained
from playlearn.models import state_regression

_BLOCK_X = playtable.STATE_LAYOUT["blocks"].start  # The first block's x.


def test_its_state_indices_are_the_environments():
  layout = playtable.STATE_LAYOUT
  assert state_regression.STATE_DIM == playtable.STATE_DIM
  assert state_regression._ARM == (
      layout["arm_qpos"].start,
      layout["arm_qpos"].stop,
  )
  assert state_regression._BLOCKS == layout["blocks"].start
  assert layout["blocks"].stop == state_regression._BLOCKS + 18
  groups = state_regression._GROUPS
  assert sum(size for _, size in groups) == state_regression.NUM_TARGETS


def test_targets_drop_the_arm_and_turn_block_angles_into_sine_and_cosine():
  state = np.zeros((2, playtable.STATE_DIM), np.float32)
  state[1, playtable.STATE_LAYOUT["arm_qpos"]] = 1.0  # Not a target.
  state[:, _BLOCK_X + 5] = [np.pi, -np.pi]  # The same yaw, wrapped.
  t = state_regression.targets(state)
  assert t.shape == (2, state_regression.NUM_TARGETS)
  np.testing.assert_allclose(t[0], t[1], atol=1e-6)
  np.testing.assert_allclose(
      state_regression.targets(jnp.asarray(state)), t, atol=1e-6
  )


def test_config_refuses_scales_of_the_wrong_size_and_the_pixels_encoder():
  with pytest.raises(ValueError, match="target_mean holds 3 numbers"):
    state_regression.Config(target_mean=(0.0, 1.0, 2.0))
  with pytest.raises(ValueError, match="pixels encoder has no weights"):
    state_regression.Config(encoder="pixels", encoder_head="keypoints")


def _episode(n, seed):
  """Frames whose brightness is the first block's x; the rest of the state
  is still, so every target can be read from the image."""
  level = np.random.default_rng(seed).uniform(0, 1, n).astype(np.float32)
  state = np.zeros((n, playtable.STATE_DIM), np.float32)
  state[:, _BLOCK_X] = level
  images = np.broadcast_to(
      (level * 255).astype(np.uint8)[:, None, None, None], (n, 16, 16, 3)
  )
  return {"images": {"cam": np.array(images)}, "state": state}


def test_it_learns_to_read_the_state_and_saves_its_scales(tmp_path):
  train, val = (
      frames.FrameWindows([_episode(64, s)], window=1, views=("cam",))
      for s in (0, 1)
  )
  config = dataclasses.replace(state_regression.Config.tiny(), views=("cam",))
  result = pretrain.run(
      train,
      val,
      pretrain.PretrainConfig(
          model=config, steps=150, batch_size=32, lr=3e-3, log_every=10
      ),
      str(tmp_path),
  )
  history = [json.loads(line) for line in open(tmp_path / "metrics.jsonl")]
  losses = [
      row["block_positions"] for row in history if "block_positions" in row
  ]
  assert losses[-1] < 0.2 * losses[0], losses
  assert {"tool", "fixtures", "block_angles"} <= set(history[-1])
  assert result["probe_r2"]["pretrained"]["block positions"] > 0.9
  model = pretrained.load(str(tmp_path / "encoder"))
  assert isinstance(model, state_regression.Model)
  # The scales were fitted from the training frames and saved with it.
  mean = np.asarray(model.config.target_mean)
  x = state_regression.targets(train.state)
  np.testing.assert_allclose(mean, x.mean(0), rtol=1e-5, atol=1e-6)
  one = np.zeros(playtable.STATE_DIM)
  one[_BLOCK_X] = 1.0
  (k,) = np.flatnonzero(
      state_regression.targets(one) != state_regression.targets(0 * one)
  )
  images = {"cam": train.images["cam"][:4]}
  scaled = np.asarray(model(images))
  predicted_x = scaled[:, k] * model.config.target_std[k] + mean[k]
  np.testing.assert_allclose(predicted_x, train.state[:4, _BLOCK_X], atol=0.15)
  assert np.asarray(dynamo.embed(model, images)).shape == (4, 32)
