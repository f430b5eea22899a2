"""Policies over a frozen encoder: embedded play, training, acting from pixels."""

import dataclasses
import json
import os
import shutil

from flax import nnx
import jax
import numpy as np
import pytest

from playlearn import manifest
from playlearn.configs import beso as beso_config
from playlearn.configs import gcbc as gcbc_config
from playlearn.configs import lmp as lmp_config
from playlearn.models import embeddings
from playlearn.data import windows
from playlearn.envs import playtable
from playlearn.evaluation import diagnostics
from playlearn.evaluation import latent
from playlearn.evaluation import suite
from playlearn.models import dynamo
from playlearn.models import gcbc
from playlearn.models import pretrained
from playlearn.models import stacked
from playlearn.policy import Policy
from playlearn.train import checkpoints
from playlearn.train import run_config
from playlearn.train import trainer


def _pixel_config(module, encoder_path, dataset_dir):
  """`module`'s debug config on the frozen encoder, short windows."""
  config = module.get_config("debug")
  config.dataset_dir = dataset_dir
  config.encoder = encoder_path
  config.data.kappa_min, config.data.kappa_max = 4, 6
  return config


@pytest.fixture(scope="module")
def encoder_path(tmp_path_factory):
  path = str(tmp_path_factory.mktemp("encoder") / "encoder")
  pretrained.save(dynamo.Model(dynamo.Config.tiny(), rngs=nnx.Rngs(0)), path)
  return path


def test_embedded_split_is_cached_per_encoder(
    encoder_path, tiny_image_dataset, tmp_path
):
  split = embeddings.embed_split(
      encoder_path, tiny_image_dataset, "train", cache_dir=str(tmp_path)
  )
  encoder = pretrained.load(encoder_path)
  width = 2 * encoder.features  # Two cameras, concatenated.
  assert split.image_sizes == {"rgb_static": 96, "rgb_gripper": 64}
  first = split.episodes[0]["steps"]
  assert first["observation"]["state"].shape == (20, width)
  assert first["action_label"].shape == (20, 7)
  # The rows are the encoder's embeddings of the episode's frames.
  from playlearn.data import reading  # pylint: disable=g-import-not-at-top

  frames = reading.EpisodeSource(tiny_image_dataset, "train")[0]["steps"]
  images = {v: frames["observation"][v] for v in encoder.config.views}
  np.testing.assert_allclose(
      first["observation"]["state"],
      embeddings.embed_frames(encoder, images),
      rtol=1e-5,
      atol=1e-5,
  )
  # The second call reads the cache: the same arrays, no encoder run.
  (cache,) = [f for f in os.listdir(tmp_path) if f.endswith(".npz")]
  again = embeddings.embed_split(
      encoder_path, tiny_image_dataset, "train", cache_dir=str(tmp_path)
  )
  assert again.image_sizes == split.image_sizes
  for a, b in zip(split.episodes, again.episodes):
    np.testing.assert_array_equal(
        a["steps"]["observation"]["state"], b["steps"]["observation"]["state"]
    )
  # Another encoder's embeddings never come from this cache.
  other = str(tmp_path / "other")
  pretrained.save(dynamo.Model(dynamo.Config.tiny(), rngs=nnx.Rngs(1)), other)
  assert embeddings.cache_name(other, tiny_image_dataset, "train") != cache
  norm = embeddings.normalization(
      split.episodes, windows.load_normalization(tiny_image_dataset)
  )
  x = np.concatenate(
      [
          norm.normalize_state(e["steps"]["observation"]["state"])
          for e in split.episodes
      ]
  )
  np.testing.assert_allclose(x.mean(0), 0.0, atol=1e-4)


def test_a_split_embedded_now_keeps_its_frames_on_request(
    encoder_path, tiny_image_dataset, tmp_path
):
  from playlearn.data import frames  # pylint: disable=g-import-not-at-top

  split = embeddings.embed_split(
      encoder_path,
      tiny_image_dataset,
      "train",
      cache_dir=str(tmp_path),
      proprio=True,
      keep_images=True,
  )
  # The frames decoded for the embeddings, in the rows' order: what a
  # policy training its encoder would otherwise decode a second time.
  expected = frames.read_images(
      tiny_image_dataset, "train", ("rgb_static", "rgb_gripper")
  )
  rows = sum(len(e["steps"]["observation"]["state"]) for e in split.episodes)
  for view, images in expected.items():
    assert len(images) == rows
    np.testing.assert_array_equal(split.images[view], images)
  # From the cache there are none to keep (the caller reads them), and
  # without keep_images none are kept.
  cached = embeddings.embed_split(
      encoder_path,
      tiny_image_dataset,
      "train",
      cache_dir=str(tmp_path),
      keep_images=True,
  )
  assert cached.images is None
  plain = embeddings.embed_split(encoder_path, tiny_image_dataset, "train")
  assert plain.images is None
  # The frames of either: kept, or read from the dataset.
  for embedded in (split, cached):
    got = embeddings.frames_of(
        embedded, tiny_image_dataset, "train", tuple(expected)
    )
    for view, images in expected.items():
      np.testing.assert_array_equal(got[view], images)


def test_a_state_dataset_is_refused_naming_the_cameras(
    encoder_path, tiny_play_dataset
):
  with pytest.raises(ValueError, match=r"no \['rgb_static', 'rgb_gripper'\]"):
    embeddings.embed_split(encoder_path, tiny_play_dataset, "train")


def test_config_checks_the_encoder(encoder_path, tiny_image_dataset):
  config = gcbc_config.get_config("debug")
  config.dataset_dir = tiny_image_dataset
  config.encoder = encoder_path + "_missing"
  with pytest.raises(ValueError, match="config.encoder="):
    run_config.validate_config(config)
  config.encoder = encoder_path
  config.data.features = "relative"
  with pytest.raises(ValueError, match="config.data.features="):
    run_config.validate_config(config)
  config.data.features = "raw"
  config.data.image_shift = 4  # Only a trained encoder sees shifted images.
  with pytest.raises(ValueError, match="config.data.image_shift=4"):
    run_config.validate_config(config)
  config.data.image_shift, config.encoder = 0, ""
  config.train_encoder = True
  with pytest.raises(ValueError, match="config.train_encoder=True: needs"):
    run_config.validate_config(config)


def test_train_save_and_act_from_pixels(
    encoder_path, tiny_image_dataset, tmp_path, monkeypatch
):
  config = _pixel_config(gcbc_config, encoder_path, tiny_image_dataset)
  result = trainer.train_and_evaluate(config, str(tmp_path))
  assert result["step"] == config.total_steps
  assert np.isfinite(result["val/loss"])
  policy = Policy.load(str(tmp_path / "policy"))
  assert policy.image_sizes == {"rgb_static": 96, "rgb_gripper": 64}
  env = suite.env_for(policy)  # Renders the cameras the policy reads.
  obs = env.reset(seed=0).observation
  policy.reset()
  action = policy.act(obs, obs)
  assert action.shape == (7,) and np.all(np.abs(action) <= 1.0)
  batch = {v: np.stack([obs[v]] * 2) for v in ("rgb_static", "rgb_gripper")}
  assert policy.act(batch, batch).shape == (2, 7)
  # The same weights and encoder after a reload act the same.
  twin = Policy.load(str(tmp_path / "policy"))
  policy.reset()
  np.testing.assert_allclose(
      twin.act(obs, obs), policy.act(obs, obs), atol=1e-5
  )
  # New frames are embedded anew (the last embeddings of an observation
  # and of a goal are kept only while the same images come back); the same
  # frames twice in a row are embedded once.
  other = env.reset(seed=1).observation
  views = policy.encoder.config.views
  expected = [
      embeddings.embed_frames(policy.encoder, {v: f[v][None] for v in views})
      for f in (other, obs)
  ]
  calls = []
  embed = embeddings.embed
  monkeypatch.setattr(
      embeddings, "embed", lambda *a: calls.append(1) or embed(*a)
  )
  for what in ("obs", "goal"):
    for k in (0, 0, 1, 1, 0):
      frame = (other, obs)[k]
      np.testing.assert_allclose(
          policy.observed(frame, what)["state"], expected[k][0], atol=1e-5
      )
  assert len(calls) == 2 * 3
  state_only = playtable.PlayTableEnv().reset(seed=0).observation
  with pytest.raises(ValueError, match=r"obs has no \['rgb_static'"):
    policy.act(state_only, obs)
  small = dict(obs, rgb_static=obs["rgb_static"][:48, :48])
  with pytest.raises(ValueError, match="trained on 96x96"):
    policy.act(small, obs)
  # The diagnostics read the cameras too: held-out windows, closed loop.
  figures = diagnostics.diagnose(
      policy, tiny_image_dataset, split="train", num_windows=3, length=4
  )
  assert len(figures["corr"]) == 7 and np.isfinite(figures["goal_use"])
  drift = diagnostics.closed_loop_drift(
      policy, ("open_drawer",), episodes_per_task=1, steps=2
  )
  assert 0 <= drift["tasks"]["open_drawer"]["share_beyond"] <= 1
  results = suite.evaluate_tasks(
      policy,
      ["press_red_button"],
      episodes_per_task=1,
      videos_per_task=0,
      max_steps=5,
  )
  assert len(results["tasks"]["press_red_button"]["successes"]) == 1


def test_proprio_beside_the_embeddings(
    encoder_path, tiny_image_dataset, tmp_path
):
  cache_dir = str(tmp_path / "cache")
  plain = embeddings.embed_split(
      encoder_path, tiny_image_dataset, "train", cache_dir=cache_dir
  )
  # A cache written before proprio (no 'proprio' array) is embedded again.
  (name,) = os.listdir(cache_dir)
  with np.load(os.path.join(cache_dir, name)) as arrays:
    old = {k: v for k, v in arrays.items() if k != "proprio"}
  np.savez(os.path.join(cache_dir, name), **old)
  split = embeddings.embed_split(
      encoder_path,
      tiny_image_dataset,
      "train",
      cache_dir=cache_dir,
      proprio=True,
  )
  from playlearn.data import reading  # pylint: disable=g-import-not-at-top

  raw = reading.EpisodeSource(tiny_image_dataset, "train")[0]["steps"]
  state = split.episodes[0]["steps"]["observation"]["state"]
  width = plain.episodes[0]["steps"]["observation"]["state"].shape[-1]
  assert state.shape[-1] == 14 + width
  np.testing.assert_array_equal(
      state[:, :14], raw["observation"]["state"][:, :14]
  )
  # Trained with it, the policy reads the robot's state from the env's.
  config = _pixel_config(gcbc_config, encoder_path, tiny_image_dataset)
  config.data.proprio = True
  trainer.train_and_evaluate(config, str(tmp_path / "run"))
  policy = Policy.load(str(tmp_path / "run" / "policy"))
  assert policy.proprio
  # A policy saved in the earlier layout (robot's state last) is refused.
  old_dir = str(tmp_path / "old_layout")
  shutil.copytree(str(tmp_path / "run" / "policy"), old_dir)
  description = os.path.join(old_dir, "policy.json")
  with open(description) as f:
    saved = json.load(f)
  with open(description, "w") as f:
    json.dump(dict(saved, proprio=True), f)
  manifest.write(old_dir)
  with pytest.raises(ValueError, match="proprio=True, a row layout"):
    Policy.load(old_dir)
  obs = suite.env_for(policy).reset(seed=0).observation
  seen = policy.observed(obs)["state"]
  np.testing.assert_array_equal(seen[:14], obs["state"][:14])
  assert policy.act(obs, obs).shape == (7,)
  no_state = {k: v for k, v in obs.items() if k != "state"}
  with pytest.raises(ValueError, match="goal has no 'state'"):
    policy.act(obs, no_state)
  # Goals 'scene' hide the goal's robot state (its normalised columns 0),
  # also with the encoder trained: the batches carry the proprio.
  config.data.goals = "scene"
  config.train_encoder, config.total_steps = True, 4
  result = trainer.train_and_evaluate(config, str(tmp_path / "trained"))
  assert np.isfinite(result["loss"]) and np.isfinite(result["val/loss"])
  trained = Policy.load(str(tmp_path / "trained" / "policy"))
  assert trained.proprio and trained.act(obs, obs).shape == (7,)
  goal = trained.normalization.normalize_goal(trained.observed(obs)["state"])
  np.testing.assert_array_equal(goal[:14], 0.0)
  assert np.any(goal[14:] != 0.0)
  config.data.proprio = False
  with pytest.raises(ValueError, match="config.data.goals='scene': must be"):
    run_config.validate_config(config)
  config.data.goals, config.data.goal_dropout = "full", 0.5
  with pytest.raises(ValueError, match="goal_dropout=0.5: must be 0 with"):
    run_config.validate_config(config)
  config.data.goals = "full"
  config.data.proprio, config.encoder, config.train_encoder = True, "", False
  with pytest.raises(ValueError, match="config.data.proprio=True: adds"):
    run_config.validate_config(config)


def test_a_stacked_encoder_trains_and_acts_with_its_policy(
    tiny_image_dataset, tmp_path
):
  """Two encoders saved as one (`stacked`): a policy trains them with it
  and acts with both from the env's cameras."""
  parts = [dynamo.Model(dynamo.Config.tiny(), rngs=nnx.Rngs(i)) for i in (1, 2)]
  model = stacked.Model(stacked.Config.of(parts), rngs=nnx.Rngs(0))
  stacked.copy_weights(model, parts)
  path = str(tmp_path / "stacked")
  pretrained.save(model, path)
  config = _pixel_config(gcbc_config, path, tiny_image_dataset)
  config.train_encoder, config.total_steps = True, 2
  trainer.train_and_evaluate(config, str(tmp_path / "run"))
  policy = Policy.load(str(tmp_path / "run" / "policy"))
  assert isinstance(policy.encoder, stacked.Model)
  obs = suite.env_for(policy).reset(seed=0).observation
  assert policy.act(obs, obs).shape == (7,)


@pytest.mark.parametrize("module", [lmp_config, beso_config])
def test_every_method_takes_the_encoder(
    module, encoder_path, tiny_image_dataset, tmp_path
):
  config = _pixel_config(module, encoder_path, tiny_image_dataset)
  config.data.proprio = module is lmp_config  # Both ways, one run each.
  trainer.train_and_evaluate(config, str(tmp_path))
  policy = Policy.load(str(tmp_path / "policy"))
  obs = suite.env_for(policy).reset(seed=0).observation
  assert policy.act(obs, obs).shape == (7,)
  if module is lmp_config:  # Its plans on held-out windows of embeddings.
    errors = latent.plan_errors(
        str(tmp_path / "policy"),
        tiny_image_dataset,
        split="train",
        num_windows=4,
        kappa=(4, 6),
        goal_horizon=2,
    )["action_sq_error"]
    assert sorted(errors) == sorted(latent.PLAN_SOURCES)
    assert all(np.isfinite(list(errors.values())))


def test_a_policy_on_the_pixels_encoder_with_a_std_floor(
    tiny_image_dataset, tmp_path
):
  # The weightless encoder (each camera's pixels over a 3 x 3 grid), saved
  # untrained as `pretrain_encoder.py --encoder=pixels --steps=0` does.
  path = str(tmp_path / "pixels")
  cfg = dynamo.Config(
      encoder="pixels", encoder_cells=3, window=3, width=16, layers=1, heads=2
  )
  pretrained.save(dynamo.Model(cfg, rngs=nnx.Rngs(0)), path)
  config = _pixel_config(gcbc_config, path, tiny_image_dataset)
  config.data.std_floor = 0.05
  trainer.train_and_evaluate(config, str(tmp_path / "run"))
  policy = Policy.load(str(tmp_path / "run" / "policy"))
  std = policy.normalization.state_std
  assert std.shape == (2 * 3 * 3 * 3,)
  # Cells that hardly change in play are divided by the floor, not by
  # their own spread.
  assert std.min() == pytest.approx(0.05) and std.max() > 0.05
  obs = suite.env_for(policy).reset(seed=0).observation
  assert policy.act(obs, obs).shape == (7,)


def test_the_encoder_trains_with_the_policy(
    encoder_path, tiny_image_dataset, tmp_path
):
  # First a policy on the frozen encoder; then both fine-tuned from it.
  config = _pixel_config(gcbc_config, encoder_path, tiny_image_dataset)
  config.evals.val.every = 0
  trainer.train_and_evaluate(config, str(tmp_path / "frozen"))
  first = str(tmp_path / "frozen" / "policy")
  config.evals.val.every = 10
  config.init_policy = first
  config.train_encoder = True
  config.data.image_shift = 4
  # The run starts from the frozen run's weights.
  store = trainer.make_data(config, str(tmp_path))[0]
  model = gcbc.Model(
      run_config.model_config(config), store.state_dim, 7, rngs=nnx.Rngs(9)
  )
  checkpoints.initialise_from(
      config, model, store.normalization, pretrained.load(encoder_path)
  )
  saved = Policy.load(first)
  jax.tree.map(
      np.testing.assert_array_equal,
      nnx.state(model, nnx.Param),
      nnx.state(saved.model, nnx.Param),
  )
  other = pretrained.load(encoder_path)
  other.encoders["rgb_static"].out.bias[...] += 1.0
  with pytest.raises(ValueError, match="acts with another encoder"):
    checkpoints.initialise_from(config, model, store.normalization, other)
  shifted = dataclasses.replace(
      store.normalization, state_mean=store.normalization.state_mean + 1
  )
  with pytest.raises(ValueError, match="state_mean differs"):
    checkpoints.initialise_from(config, model, shifted, other)
  config.method = "lmp"
  with pytest.raises(ValueError, match="is a gcbc policy; this run trains lmp"):
    checkpoints.initialise_from(config, model, store.normalization, other)
  config.method = "gcbc"
  result = trainer.train_and_evaluate(config, str(tmp_path))
  assert result["step"] == config.total_steps
  assert np.isfinite(result["loss"]) and np.isfinite(result["val/loss"])
  policy = Policy.load(str(tmp_path / "policy"))
  obs = suite.env_for(policy).reset(seed=0).observation
  assert policy.act(obs, obs).shape == (7,)
  # The saved policy carries the trained encoder: its embeddings moved away
  # from the frozen one's (the gradient reached the convolutions).
  frozen = pretrained.load(encoder_path)
  views = frozen.config.views
  images = {v: obs[v][None] for v in views}
  moved = embeddings.embed_frames(policy.encoder, images)
  assert moved.shape == embeddings.embed_frames(frozen, images).shape
  assert not np.allclose(moved, embeddings.embed_frames(frozen, images))
  for view in views:
    trained = nnx.state(policy.encoder.encoders[view], nnx.Param)
    initial = nnx.state(frozen.encoders[view], nnx.Param)
    changed = jax.tree.map(lambda a, b: not np.allclose(a, b), trained, initial)
    assert all(jax.tree.leaves(changed)), view
