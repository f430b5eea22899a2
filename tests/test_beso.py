"""Unit tests of BESO (playlearn.models.beso) and of the trainer's EMA of the weights.

The generic method contract (parameter count, padding, Adam, act shapes) is in
test_models.py; here are what only BESO has: sub-windows, the observation
window kept while acting, guidance, and the EMA weights it is evaluated with.
"""

import dataclasses
import functools
import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import nnx

from playlearn.configs import beso as beso_config
from playlearn.data import windows
from playlearn.models import beso
from playlearn.policy import Policy
from playlearn.train import run_config
from playlearn.train import trainer

OBS_DIM, ACTION_DIM = 5, 7


@functools.cache
def _split_model(**changes):
  config = dataclasses.replace(beso.Config.tiny(), **changes)
  return nnx.split(
      nnx.jit(
          lambda: beso.Model(config, OBS_DIM, ACTION_DIM, rngs=nnx.Rngs(0))
      )()
  )


def _model(**changes):
  return nnx.merge(*_split_model(**changes))


_act = nnx.jit(beso.act, static_argnames="greedy")


def _context(n=3, seed=0):
  k = jax.random.split(jax.random.key(seed), 2)
  return beso.Context(
      obs=jax.random.normal(k[0], (n, 2, OBS_DIM)),
      valid=jnp.ones((n, 2), bool),
      goal=jax.random.normal(k[1], (n, OBS_DIM)),
      drop=jnp.zeros((n,), bool),
  )


def test_sub_windows_end_at_a_valid_step_and_mask_what_precedes_or_follows():
  config = dataclasses.replace(
      beso.Config.tiny(), obs_window=3, chunk=2, samples_per_window=16
  )
  b, t_max = 3, 6
  lengths = jnp.array([6, 3, 1])
  steps = jnp.arange(t_max, dtype=jnp.float32)
  # obs[b, t] = (100 b + t, ...) and actions[b, t] = (100 b + t, ...): values name their step.
  stamp = 100 * jnp.arange(b)[:, None] + steps
  mask = (steps < lengths[:, None]).astype(jnp.float32)
  batch = {
      "obs": jnp.repeat(stamp[..., None], OBS_DIM, -1),
      "actions": jnp.repeat(stamp[..., None], ACTION_DIM, -1) * mask[..., None],
      "goal": jnp.repeat(
          jnp.arange(b, dtype=jnp.float32)[:, None], OBS_DIM, -1
      ),
      "mask": mask,
  }
  x0, loss_mask, context = jax.jit(beso.training_samples, static_argnums=0)(
      config, batch, jax.random.key(0)
  )
  assert x0.shape == loss_mask.shape == (b * 16, 3, 2 * ACTION_DIM)
  for i in range(b * 16):
    window = i // 16
    valid = np.asarray(context.valid[i])
    first = 3 - valid.sum()
    assert np.all(valid[first:]) and not np.any(
        valid[:first]
    )  # A suffix, as in act.
    stamps = np.asarray(context.obs[i, first:, 0]) - 100 * window
    t = stamps[-1]
    assert 0 <= t < lengths[window]
    np.testing.assert_array_equal(stamps, np.arange(t - len(stamps) + 1, t + 1))
    chunk = np.asarray(x0[i].reshape(3, 2, ACTION_DIM)[..., 0])
    chunk_mask = np.asarray(loss_mask[i].reshape(3, 2, ACTION_DIM)[..., 0])
    for p in range(3):
      for c in range(2):
        step = t - 2 + p + c
        inside = bool(valid[p]) and step < lengths[window]
        assert chunk_mask[p, c] == inside
        assert chunk[p, c] == (100 * window + step if inside else 0.0)
    np.testing.assert_array_equal(context.goal[i], window)


def test_act_keeps_the_window_and_ignores_the_padding_before_the_episode():
  model = _model()  # obs_window 2.
  goal = jnp.zeros((2, OBS_DIM))
  state = beso.initial_state(model, 2)
  first, state_1 = _act(
      model,
      jnp.full((2, OBS_DIM), 1.0),
      goal,
      jax.random.key(0),
      state,
      greedy=True,
  )
  garbage = dict(state, obs=jnp.full_like(state["obs"], 50.0))
  same, _ = _act(
      model,
      jnp.full((2, OBS_DIM), 1.0),
      goal,
      jax.random.key(0),
      garbage,
      greedy=True,
  )
  np.testing.assert_array_equal(
      first, same
  )  # Step 0: only the newest observation counts.
  _, state_2 = _act(
      model, jnp.full((2, OBS_DIM), 2.0), goal, jax.random.key(1), state_1
  )
  np.testing.assert_array_equal(state_2["obs"][:, :, 0], [[1.0, 2.0]] * 2)
  assert int(state_2["step"]) == 2
  # From step 1 on, the older observation is part of the context.
  a, _ = _act(
      model,
      jnp.full((2, OBS_DIM), 3.0),
      goal,
      jax.random.key(0),
      state_2,
      greedy=True,
  )
  b, _ = _act(
      model,
      jnp.full((2, OBS_DIM), 3.0),
      goal,
      jax.random.key(0),
      dict(state_2, obs=state_2["obs"].at[:, -1].set(-4.0)),
      greedy=True,
  )
  assert not np.allclose(a, b)


def test_act_executes_a_chunk_open_loop_then_samples_again():
  model = _model(chunk=3, execute=3)
  goal = jnp.zeros((2, OBS_DIM))
  state = beso.initial_state(model, 2)
  actions, chunks = [], []
  for t in range(4):
    obs = jnp.full((2, OBS_DIM), float(t))
    action, state = _act(model, obs, goal, jax.random.key(t), state)
    actions.append(action)
    chunks.append(state["chunk"])
  # Steps 0-2 execute the chunk sampled at step 0, in order; step 3 samples
  # a new one (fresh noise and a new window).
  for t in range(3):
    np.testing.assert_array_equal(chunks[t], chunks[0])
    np.testing.assert_allclose(actions[t], jnp.clip(chunks[0][:, t], -1.0, 1.0))
  assert not np.allclose(chunks[3], chunks[0])
  np.testing.assert_allclose(actions[3], jnp.clip(chunks[3][:, 0], -1.0, 1.0))
  assert int(state["step"]) == 4
  np.testing.assert_array_equal(state["obs"][:, :, 0], [[2.0, 3.0]] * 2)


def test_averaged_acting_is_the_mean_of_independent_samples():
  one, averaged = _model(), _model(average=256)
  obs = jax.random.normal(jax.random.key(0), (2, OBS_DIM))
  state = beso.initial_state(one, 2)

  def actions(model):
    return [_act(model, obs, obs, jax.random.key(s), state)[0] for s in (1, 2)]

  means, singles = actions(averaged), actions(one)
  # Two means of 256 samples agree far better than two single samples do.
  mean_gap = float(jnp.abs(means[0] - means[1]).max())
  single_gap = float(jnp.abs(singles[0] - singles[1]).max())
  assert mean_gap < 0.25 * single_gap, (mean_gap, single_gap)


def test_execute_longer_than_the_chunk_is_refused():
  with pytest.raises(ValueError, match="execute"):
    dataclasses.replace(beso.Config.tiny(), chunk=2, execute=3)


def test_greedy_acting_ignores_rng_and_sampling_does_not():
  model = _model()
  obs = jax.random.normal(jax.random.key(0), (3, OBS_DIM))
  state = beso.initial_state(model, 3)

  def action(seed, greedy):
    return _act(model, obs, obs, jax.random.key(seed), state, greedy=greedy)[0]

  np.testing.assert_array_equal(action(1, True), action(2, True))
  assert not np.allclose(action(1, False), action(2, False))
  np.testing.assert_array_equal(action(1, False), action(1, False))


def test_guidance_extrapolates_from_the_unconditional_denoiser():
  model = _model()  # cond_drop_prob 0.1: a null goal is learned.
  context = _context()
  x = jax.random.normal(jax.random.key(1), (3, 2, ACTION_DIM))
  sigma = jnp.float32(0.3)

  @nnx.jit
  def denoised(model, context):
    return model.denoiser(context)(x, sigma)

  cond = denoised(model, context)
  uncond = denoised(model, context._replace(drop=jnp.ones(3, bool)))
  assert not np.allclose(cond, uncond)
  # lambda = 1 (the default) is the conditional denoiser, lambda = 0 the
  # unconditional one, lambda = 3 gives uncond + 3 (cond - uncond).
  np.testing.assert_allclose(denoised(model, context), cond, atol=1e-6)
  model.config = dataclasses.replace(model.config, guidance=0.0)
  np.testing.assert_allclose(denoised(model, context), uncond, atol=1e-6)
  model.config = dataclasses.replace(model.config, guidance=3.0)
  np.testing.assert_allclose(
      denoised(model, context), uncond + 3 * (cond - uncond), atol=1e-5
  )
  # The goal-free policy is the unconditional denoiser, whatever the goal.
  free = beso.goal_free(model)
  state = beso.initial_state(free, 3)
  actions = [
      _act(
          free, context.obs[:, -1], goal, jax.random.key(0), state, greedy=True
      )[0]
      for goal in (context.goal, -context.goal)
  ]
  np.testing.assert_array_equal(actions[0], actions[1])
  assert model.config.guidance == 3.0  # The original is unchanged.


def test_guidance_without_a_null_goal_is_refused():
  beso.Config(
      cond_drop_prob=0.0
  )  # C-BESO: guidance 1, the plain conditional denoiser.
  for guidance in (0.0, 2.0):
    with pytest.raises(
        ValueError, match=f"guidance={guidance} needs a null goal"
    ):
      beso.Config(cond_drop_prob=0.0, guidance=guidance)


def _short_and_padded(steps, seed):
  """A batch of 2 windows of `steps` valid steps, and the same padded with 3
  steps of garbage (9s) past the mask."""
  k = jax.random.split(jax.random.key(seed), 3)
  short = {
      "obs": jax.random.normal(k[0], (2, steps, OBS_DIM)),
      "actions": jnp.tanh(jax.random.normal(k[1], (2, steps, ACTION_DIM))),
      "goal": jax.random.normal(k[2], (2, OBS_DIM)),
      "mask": jnp.ones((2, steps)),
  }
  pad = lambda x: jnp.pad(
      x, ((0, 0), (0, 3)) + ((0, 0),) * (x.ndim - 2), constant_values=9.0
  )
  padded = {
      **short,
      "obs": pad(short["obs"]),
      "actions": pad(short["actions"]),
      "mask": jnp.pad(short["mask"], ((0, 0), (0, 3))),
  }
  return short, padded


def test_mlp_network_loss_ignores_padding_and_acts():
  model = _model(network="mlp")
  short, padded = _short_and_padded(steps=4, seed=0)
  loss = nnx.jit(lambda m, b: beso.loss(m, b, jax.random.key(5), 0)[0])
  np.testing.assert_allclose(loss(model, padded), loss(model, short), rtol=1e-6)
  action, _ = _act(
      model,
      short["obs"][:, 0],
      short["goal"],
      jax.random.key(0),
      beso.initial_state(model, 2),
  )
  assert action.shape == (2, ACTION_DIM) and jnp.all(jnp.abs(action) <= 1)


def test_gru_network_is_causal_and_blind_to_the_steps_before_the_window():
  model = _model(network="gru", obs_window=4)
  k = jax.random.split(jax.random.key(4), 3)
  context = beso.Context(
      obs=jax.random.normal(k[0], (2, 4, OBS_DIM)),
      valid=jnp.ones((2, 4), bool),
      goal=jax.random.normal(k[1], (2, OBS_DIM)),
      drop=jnp.zeros((2,), bool),
  )
  x = jax.random.normal(k[2], (2, 4, ACTION_DIM))
  c_noise = jnp.array([[0.1, -0.2, 0.3, 0.0], [0.5, 0.5, -1.0, 0.2]])
  out = model.score(x, c_noise, context)
  # A later observation or action cannot change an earlier step's output.
  later = context._replace(obs=context.obs.at[:, 2:].add(3.0))
  changed = model.score(x.at[:, 2:].add(1.0), c_noise, later)
  np.testing.assert_allclose(changed[:, :2], out[:, :2], rtol=1e-6)
  assert not np.allclose(changed[:, 2:], out[:, 2:])
  # Steps marked invalid before the window (as act's before step 0) count for
  # nothing: the last two steps alone give the same outputs there.
  masked = context._replace(
      obs=context.obs.at[:, :2].set(50.0),
      valid=jnp.array([[False, False, True, True]] * 2),
  )
  alone = context._replace(obs=context.obs[:, 2:], valid=jnp.ones((2, 2), bool))
  np.testing.assert_allclose(
      model.score(x, c_noise, masked)[:, 2:],
      model.score(x[:, 2:], c_noise[:, 2:], alone),
      rtol=1e-5,
  )


def test_gru_loss_takes_every_valid_step_and_ignores_padding():
  model = _model(network="gru", obs_window=4, chunk=2)
  short, padded = _short_and_padded(steps=5, seed=6)
  loss = nnx.jit(lambda m, b: beso.loss(m, b, jax.random.key(5), 0)[0])
  ref = loss(model, short)
  np.testing.assert_allclose(loss(model, padded), ref, rtol=1e-6)
  # Each step's action (here the second, in no sub-window's newest place) is a target.
  moved = dict(short, actions=short["actions"].at[:, 1].add(0.5))
  assert abs(float(loss(model, moved)) - float(ref)) > 1e-4
  x0, mask, context = beso.whole_windows(
      model.config, padded, jax.random.key(0)
  )
  assert x0.shape == mask.shape == (2, 8, 2 * ACTION_DIM)
  # The chunk of step 4 (the last valid) has one valid action of two.
  np.testing.assert_array_equal(mask[0, 4], [1] * ACTION_DIM + [0] * ACTION_DIM)
  np.testing.assert_array_equal(context.valid[0], [True] * 5 + [False] * 3)


def test_goal_tokens_and_attention_dropout_only_in_training():
  model = _model(goal_tokens=3, attention_dropout=0.5)
  context, c_noise = _context(), jnp.zeros((3,))
  x = jax.random.normal(jax.random.key(1), (3, 2, ACTION_DIM))
  assert model.network.position.shape[0] == 1 + 3 + 2 * 2
  model.train()
  a, b = (model.score(x, c_noise, context, nnx.Rngs(dropout=k)) for k in (1, 2))
  assert not np.allclose(a, b)  # Dropout draws from the rngs.
  model.eval()
  a, b = (model.score(x, c_noise, context, nnx.Rngs(dropout=k)) for k in (1, 2))
  np.testing.assert_array_equal(a, b)
  np.testing.assert_array_equal(a, model.score(x, c_noise, context))


def test_policy_save_and_load_give_the_same_actions(tmp_path):
  normalization = windows.Normalization(
      np.full(OBS_DIM, 0.5, np.float32),
      np.full(OBS_DIM, 2.0, np.float32),
      np.zeros(ACTION_DIM, np.float32),
      np.ones(ACTION_DIM, np.float32),
  )
  obs = [
      {
          "state": np.random.default_rng(i)
          .normal(size=(2, OBS_DIM))
          .astype(np.float32)
      }
      for i in range(3)
  ]

  def rollout(policy):
    policy.reset()
    return np.stack([policy.act(o, obs[0]) for o in obs])

  # Sampled, not greedy: the same seed must give the same noise, and the same window.
  saved = Policy("beso", _model(), normalization, seed=3, greedy=False)
  before = rollout(saved)
  saved.save(str(tmp_path / "policy"))
  after = rollout(Policy.load(str(tmp_path / "policy"), seed=3, greedy=False))
  np.testing.assert_array_equal(before, after)
  assert before.shape == (3, 2, ACTION_DIM)
  # Not told, a BESO policy samples (beso.ACTS_GREEDY): another seed, other noise.
  default = Policy.load(str(tmp_path / "policy"), seed=3)
  assert not default.greedy
  np.testing.assert_array_equal(rollout(default), before)
  other = rollout(Policy.load(str(tmp_path / "policy"), seed=4))
  assert not np.allclose(other, before)


# ---------------------------------------------------------------- the trainer's EMA


def test_every_config_variant_gives_the_reference_the_mlp_or_the_tiny_model():
  from playlearn.configs import common  # pylint: disable=g-import-not-at-top

  mlp = beso.Config(network="mlp", width=256, layers=4)
  wants = {
      None: beso.Config(),
      "debug": beso.Config.tiny(),
      "cpu": mlp,
      "demo": mlp,
  }
  assert set(wants) == {None, *common.VARIANTS}
  for name, want in wants.items():
    config = beso_config.get_config(name)
    assert run_config.model_config(config) == want
    assert config.ema_decay == 0.999
    assert config.optimizer.lr == (3e-4 if name == "cpu" else 1e-4)
  config = beso_config.get_config("cpu")
  config.model.sampler = "heun"  # Every model field is overridable.
  assert run_config.model_config(config).sampler == "heun"


def _restore(path):
  with ocp.StandardCheckpointer() as checkpointer:
    return checkpointer.restore(str(path))


def _losses(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [(r["step"], r["loss"]) for r in map(json.loads, f) if "loss" in r]


def test_trainer_acts_with_the_ema_and_resumes_it_exactly(
    tiny_play_dataset, tmp_path
):
  config = beso_config.get_config(
      "debug"
  )  # 20 steps, checkpoints at 10 and 20.
  config.dataset_dir = tiny_play_dataset
  config.log_every = 1
  assert config.ema_decay == 0.999
  trainer.train_and_evaluate(config, str(tmp_path))
  saved = _restore(tmp_path / "policy" / "params")
  restored = _restore(tmp_path / "checkpoints" / "20" / "state")
  train_state, ema = restored["train"], restored["ema"]  # A TrainState.
  leaves = jax.tree.leaves
  # The policy holds the EMA (checkpointed beside the train state), not the raw weights.
  for a, b in zip(leaves(saved), leaves(ema), strict=True):
    np.testing.assert_array_equal(a, b)
  assert not all(
      np.allclose(a, b) for a, b in zip(leaves(saved), leaves(train_state["0"]))
  )
  # Resuming from step 10 (as after a crash) repeats the losses and ends on the same EMA.
  # A crash before the end leaves neither step 20 nor final_metrics.json.
  shutil.rmtree(tmp_path / "checkpoints" / "20")
  os.remove(tmp_path / "final_metrics.json")
  trainer.train_and_evaluate(config, str(tmp_path))
  losses = _losses(tmp_path)
  assert [s for s, _ in losses] == list(range(1, 21)) + list(range(11, 21))
  assert losses[20:] == losses[10:20]
  for a, b in zip(
      leaves(_restore(tmp_path / "policy" / "params")),
      leaves(saved),
      strict=True,
  ):
    np.testing.assert_array_equal(a, b)
