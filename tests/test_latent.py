"""The latent plan t-SNE: windows inside task segments, q(z|tau), a PNG."""

import importlib.util
import json
import os
import sys

from absl import flags
from flax import nnx
import numpy as np
import pytest

from playlearn import models
from playlearn.configs import lmp as lmp_config
from playlearn.data import reading
from playlearn.data import windows
from playlearn.evaluation import latent
from playlearn.play import episodes
from playlearn.policy import Policy
from playlearn.train import trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WINDOW = 8  # Tiny episodes have 100 steps.


@pytest.fixture(scope="module")
def dataset_dir(tiny_play_dataset):
  return tiny_play_dataset


@pytest.fixture(scope="module")
def policy_dir(dataset_dir, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("lmp")
  config = lmp_config.get_config("debug")
  config.dataset_dir = dataset_dir
  config.total_steps = 5
  trainer.train_and_evaluate(config, str(workdir))
  return str(workdir / "policy")


def test_segment_windows_lie_inside_segments():
  segments = [
      {"task": "open_drawer", "start": 2, "end": 12, "success": True},
      {
          "task": "lift_red_block",
          "start": 12,
          "end": 15,
          "success": False,
      },  # Shorter than a window: no window.
      {"task": "turn_on_lamp", "start": 20, "end": 28, "success": False},
  ]  # Exactly one window.
  episode = {"episode_metadata": {"segments": json.dumps(segments)}}
  starts, tasks = latent.segment_windows(episode, WINDOW)
  # open_drawer: starts 2..4 (4 + 8 = 12 = end); turn_on_lamp: 20 only.
  np.testing.assert_array_equal(starts, [2, 3, 4, 20])
  assert tasks == ["open_drawer"] * 3 + ["turn_on_lamp"]


def test_plan_embeddings_and_plot(dataset_dir, policy_dir, tmp_path):
  z, labels = latent.plan_embeddings(
      policy_dir, dataset_dir, split="train", window=WINDOW, max_windows=2000
  )
  policy = Policy.load(policy_dir)
  latent_dim = models.lmp.Config.tiny().latent
  assert z.shape == (len(labels), latent_dim) and z.dtype == np.float32
  assert len(labels) > 10 and np.all(np.isfinite(z))
  assert set(labels) <= set(episodes.TASKS)

  # The first window, by hand: the first long-enough segment of episode 0,
  # normalised with the policy's statistics, through q(z|tau) unbatched.
  episode = reading.EpisodeSource(dataset_dir, "train")[0]
  starts, tasks = latent.segment_windows(episode, WINDOW)
  rows = slice(starts[0], starts[0] + WINDOW)
  norm = policy.normalization
  obs = norm.normalize_state(episode["steps"]["observation"]["state"][rows])
  act = norm.normalize_action(episode["steps"]["action"][rows])
  mean, _ = policy._model.recognize(
      obs[None],
      act[None],  # pylint: disable=protected-access
      np.ones((1, WINDOW), np.float32),
  )
  np.testing.assert_allclose(z[0], mean[0], rtol=1e-5, atol=1e-5)
  assert labels[0] == tasks[0]

  # A seeded subset: the same windows for a seed, at most max_windows.
  z5, labels5 = latent.plan_embeddings(
      policy, dataset_dir, split="train", window=WINDOW, max_windows=5, seed=1
  )
  assert z5.shape == (5, latent_dim) and len(labels5) == 5
  assert any(np.allclose(z5[0], row, atol=1e-5) for row in z)

  png = tmp_path / "latents.png"
  xy = latent.tsne_plot(z, labels, png, perplexity=30)
  assert xy.shape == (len(labels), 2) and np.all(np.isfinite(xy))
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert png.stat().st_size > 5000


def test_plan_errors_by_plan_source(dataset_dir, policy_dir):
  result = latent.plan_errors(
      policy_dir,
      dataset_dir,
      split="train",
      num_windows=24,
      kappa=(8, 12),
      goal_horizon=4,
  )
  errors = result["action_sq_error"]
  assert set(errors) == set(latent.PLAN_SOURCES) and result["num_windows"] == 24
  assert all(np.isfinite(e) and e > 0 for e in errors.values())
  assert len(set(errors.values())) == 4  # The plan changes the actions.
  assert result["proposal_distance_in_std"] > 0
  # The zero plan by hand: the same windows, the policy network with z = 0.
  policy = Policy.load(policy_dir)
  config = windows.WindowConfig(kappa_min=8, kappa_max=12, goal_horizon=4)
  source = reading.EpisodeSource(dataset_dir, "train")
  store = windows.WindowStore(
      (source[i] for i in range(len(source))), policy.normalization, config
  )
  ids = np.sort(
      np.random.default_rng(0).choice(store.num_windows, 24, replace=False)
  )
  b = store.batch(ids, seed=0, epoch=0)
  z = np.zeros((24, models.lmp.Config.tiny().latent), np.float32)
  model = policy.model
  predicted = model.policy(
      b["obs"], np.concatenate([b["goal"], z], -1), b["mask"]
  ).mode()
  want = (((predicted - b["actions"]) ** 2).sum(-1) * b["mask"]).sum()
  np.testing.assert_allclose(errors["zero"], want / b["mask"].sum(), rtol=1e-4)


def test_plan_embeddings_rejects_gcbc(dataset_dir):
  gcbc = models.get("gcbc")
  model = gcbc.Model(gcbc.Config.tiny(), 42, 7, rngs=nnx.Rngs(0))
  policy = Policy("gcbc", model, _identity_normalization(42))
  with pytest.raises(ValueError, match="only 'lmp'"):
    latent.plan_embeddings(policy, dataset_dir, split="train", window=WINDOW)


def test_tsne_without_scikit_learn_names_it(monkeypatch, tmp_path):
  monkeypatch.setitem(sys.modules, "sklearn", None)  # import fails
  with pytest.raises(ImportError, match="scikit-learn"):
    latent.tsne_plot(np.zeros((4, 2)), ["a"] * 4, tmp_path / "x.png")


def test_plot_latents_script(dataset_dir, policy_dir, tmp_path):
  # In-process (a subprocess would pay ~10 s of imports and compiles again).
  spec = importlib.util.spec_from_file_location(
      "plot_latents", os.path.join(ROOT, "scripts", "plot_latents.py")
  )
  script = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(script)
  out = tmp_path / "plot" / "latents.png"
  flags.FLAGS(
      [
          "plot_latents",
          f"--policy={policy_dir}",
          f"--dataset_dir={dataset_dir}",
          "--split=validation",
          f"--window={WINDOW}",
          f"--out={out}",
      ]
  )
  try:
    script.main([])
  finally:
    flags.FLAGS.unparse_flags()
  assert out.stat().st_size > 1000
  saved = np.load(out.with_suffix(".npz"))
  assert saved["z"].shape[0] == saved["xy"].shape[0] == len(saved["labels"])


def _identity_normalization(dim):
  return windows.Normalization(
      np.zeros(dim, np.float32),
      np.ones(dim, np.float32),
      np.zeros(7, np.float32),
      np.ones(7, np.float32),
  )
