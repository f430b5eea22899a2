"""The trainer, its checkpoints and saved policies, on tiny local data."""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from playlearn import models
from playlearn.configs import beso as beso_config
from playlearn.configs import gcbc as gcbc_config
from playlearn.configs import lmp as lmp_config
from playlearn.data import windows
from playlearn.envs import playtable as playtable_env
from playlearn.policy import Policy
from playlearn.train import evaluators
from playlearn.train import run_config
from playlearn.train import trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def dataset_dir(tiny_play_dataset):
  return tiny_play_dataset


def _config(module, dataset_dir, **overrides):
  config = module.get_config("debug")
  config.dataset_dir = dataset_dir
  config.log_every = 1
  for key, value in overrides.items():
    config[key] = value
  return config


def _rows(workdir, key="loss"):
  """The metrics.jsonl rows that hold `key` (train or val/ rows)."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [r for r in map(json.loads, f) if key in r]


def _losses(workdir):
  return {r["step"]: r["loss"] for r in _rows(workdir)}


@pytest.mark.parametrize("module", [gcbc_config, lmp_config])
def test_train_then_load_policy(module, dataset_dir, tmp_path):
  config = _config(module, dataset_dir)
  config.evals.suite.every = 20  # At the end.
  config.evals.suite.tasks = "open_drawer"
  config.evals.suite.episodes_per_task = 1
  result = trainer.train_and_evaluate(config, str(tmp_path))
  assert result["step"] == 20 and np.isfinite(result["loss"])
  assert 0.0 <= result["suite/mean"] <= 1.0
  assert (tmp_path / "eval" / "20" / "results.json").exists()
  assert (tmp_path / "eval" / "20" / "open_drawer_0.mp4").exists()
  policy = Policy.load(str(tmp_path / "policy"))
  env = playtable_env.PlayTableEnv()
  obs = env.reset(seed=0).observation
  policy.reset()
  action = policy.act(obs, obs)
  assert action.shape == (7,) and np.all(np.abs(action) <= 1.0)
  batch = {"state": np.stack([obs["state"]] * 3)}
  assert policy.act(batch, batch).shape == (3, 7)
  if module is gcbc_config:  # The evaluation command on the saved policy.
    saved = str(tmp_path / "policy")
    results = _evaluate(saved, tmp_path / "eval", "--act=act_window=4")
    assert set(results["tasks"]["per_task"]) == {
        "open_drawer",
        "press_red_button",
    }
    assert results["act"] == {"act_window": "4"}
    assert results["greedy"] is True  # GCBC's own choice: the mode.
    # The policy twice, as an ensemble: the comma-separated form.
    results = _evaluate(f"{saved},{saved}", tmp_path / "ensemble")
    assert results["policy"].split(",") == [saved, saved]
    assert results["greedy"] is True


def _evaluate(policy, out_dir, *flags):
  """scripts/evaluate.py on two tasks, one episode: its results.json."""
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
  proc = subprocess.run(
      [
          sys.executable,
          "scripts/evaluate.py",
          f"--policy={policy}",
          f"--out_dir={out_dir}",
          "--tasks=open_drawer,press_red_button",
          "--episodes_per_task=1",
          "--seeds=0",
          "--chains=0",
          "--videos_per_task=0",
          *flags,
      ],
      env=env,
      cwd=ROOT,
      capture_output=True,
      text=True,
      timeout=300,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads((out_dir / "results.json").read_text())


def _train_command(dataset_dir, workdir, total_steps):
  return [
      sys.executable,
      "scripts/train.py",
      "--config=playlearn/configs/gcbc.py:debug",
      f"--config.dataset_dir={dataset_dir}",
      "--config.log_every=1",
      f"--config.total_steps={total_steps}",
      "--config.checkpoint_every=10",
      f"--workdir={workdir}",
  ]


def test_sigkill_and_resume_gives_the_same_losses(dataset_dir, tmp_path):
  env = dict(os.environ, PYTHONPATH=ROOT, JAX_PLATFORMS="cpu")
  steps = 300
  straight, killed = str(tmp_path / "straight"), str(tmp_path / "killed")
  subprocess.run(
      _train_command(dataset_dir, straight, steps),
      env=env,
      cwd=ROOT,
      check=True,
      capture_output=True,
      timeout=300,
  )
  proc = subprocess.Popen(
      _train_command(dataset_dir, killed, steps),
      env=env,
      cwd=ROOT,
      stdout=subprocess.DEVNULL,
      stderr=subprocess.DEVNULL,
  )
  checkpoints = os.path.join(killed, "checkpoints")
  deadline = time.time() + 240
  while time.time() < deadline and proc.poll() is None:
    done = (
        [int(d) for d in os.listdir(checkpoints) if d.isdigit()]
        if os.path.isdir(checkpoints)
        else []
    )
    if any(20 <= d < steps for d in done):
      break
    time.sleep(0.05)
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  with open(os.path.join(killed, "metrics.jsonl")) as f:
    logged_before_kill = len(f.readlines())
  assert logged_before_kill < steps, "the run finished before the kill"
  subprocess.run(
      _train_command(dataset_dir, killed, steps),
      env=env,
      cwd=ROOT,
      check=True,
      capture_output=True,
      timeout=300,
  )
  uninterrupted = _losses(straight)
  with open(os.path.join(killed, "metrics.jsonl")) as f:
    after = [json.loads(line) for line in f][logged_before_kill:]
  after = [r for r in after if "loss" in r]  # Not the val/ rows.
  # The second run resumed from a checkpoint (not from step 0) and every loss
  # it logged equals the uninterrupted run's at the same step.
  assert 10 <= after[0]["step"] - 1 < steps
  assert after[-1]["step"] == steps
  assert [r["loss"] for r in after] == [uninterrupted[r["step"]] for r in after]


def test_config_mismatch_fails_before_compiling(dataset_dir, tmp_path):
  config = _config(gcbc_config, dataset_dir, obs_dim=41)
  with pytest.raises(ValueError, match="obs_dim=41.*obs_dim=42"):
    trainer.train_and_evaluate(config, str(tmp_path))
  config = _config(gcbc_config, dataset_dir)
  config.model.hidden = 3
  with pytest.raises(ValueError, match="unknown fields \\['hidden'\\]"):
    trainer.train_and_evaluate(config, str(tmp_path))


def test_microbatches_give_the_batch_gradient():
  """GCBC's loss is a mean over steps and draws no randomness: on windows all
  valid to the same length, 4 slices taken one after the other give the
  gradient of the whole batch, and so the same update."""
  from playlearn.bench import train_bench
  from playlearn.train import mesh as mesh_lib

  batch = train_bench.synthetic_batch(8, 5)
  mesh = mesh_lib.make_mesh()
  params = {}
  for k in (1, 4):
    config = gcbc_config.get_config("debug")
    config.microbatches = k
    model = train_bench.model_for(config)
    _, state, step_fn = trainer.make_train_state(config, model, mesh)
    state, metrics = step_fn(state, batch, jax.random.key(0), 0)
    params[k] = (jax.tree.leaves(state.train), float(metrics["loss"]))
  for a, b in zip(params[1][0], params[4][0]):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
  assert params[1][1] == pytest.approx(params[4][1], rel=1e-5)


def test_microbatches_must_divide_the_batch(dataset_dir, tmp_path):
  config = _config(gcbc_config, dataset_dir, microbatches=3)
  with pytest.raises(
      ValueError, match="microbatches.*divide data.batch_size=8"
  ):
    trainer.train_and_evaluate(config, str(tmp_path))


def test_non_finite_loss_stops_and_keeps_checkpoint(
    dataset_dir, tmp_path, monkeypatch
):
  real_loss = models.gcbc.loss

  def exploding_loss(model, batch, rng, step):
    loss, metrics = real_loss(model, batch, rng, step)
    return jnp.where(step >= 12, jnp.nan, loss), metrics

  monkeypatch.setattr(models.gcbc, "loss", exploding_loss)
  with pytest.raises(trainer.NonFiniteLossError, match="at step 13"):
    trainer.train_and_evaluate(_config(gcbc_config, dataset_dir), str(tmp_path))
  assert sorted(os.listdir(tmp_path / "checkpoints"))[-1] == "10"


def test_logs_period_means_and_validation_loss(dataset_dir, tmp_path):
  trainer.train_and_evaluate(
      _config(gcbc_config, dataset_dir), str(tmp_path / "each")
  )
  trainer.train_and_evaluate(
      _config(gcbc_config, dataset_dir, log_every=5), str(tmp_path / "five")
  )
  per_step = _losses(tmp_path / "each")
  logged = _rows(tmp_path / "five")
  assert [r["step"] for r in logged] == [5, 10, 15, 20]
  for r in logged:
    window = [per_step[s] for s in range(r["step"] - 4, r["step"] + 1)]
    assert r["loss"] == pytest.approx(np.mean(window), rel=1e-5)
  val = _rows(tmp_path / "five", "val/nll")
  assert [r["step"] for r in val] == [10, 20]  # debug: evals.val.every=10
  assert all(np.isfinite(r["val/loss"]) for r in val)
  assert val[0]["val/nll"] != val[1]["val/nll"]  # The weights moved.


def test_obs_noise_touches_valid_observations_only():
  rng = np.random.default_rng(0)
  mask = np.ones((64, 8), np.float32)
  mask[:, 5:] = 0.0
  batch = {
      "obs": rng.normal(size=(64, 8, 6)).astype(np.float32) * mask[..., None],
      "goal": rng.normal(size=(64, 6)).astype(np.float32),
      "actions": rng.normal(size=(64, 8, 7)).astype(np.float32),
      "mask": mask,
  }
  noisy = trainer.add_obs_noise(batch, jax.random.key(0), 0.1)
  delta = np.asarray(noisy["obs"]) - batch["obs"]
  assert np.all(delta[:, 5:] == 0.0)  # Padding stays zero.
  assert np.std(delta[:, :5]) == pytest.approx(0.1, rel=0.05)
  for key in ("goal", "actions", "mask"):
    np.testing.assert_array_equal(noisy[key], batch[key])


def test_obs_noise_changes_training_and_only_when_on(dataset_dir, tmp_path):
  def losses(name, **data):
    config = _config(gcbc_config, dataset_dir, total_steps=5)
    config.evals.val.every = 0
    config.data.update(data)
    trainer.train_and_evaluate(config, str(tmp_path / name))
    return _losses(tmp_path / name)

  off, zero, on = (
      losses("off"),
      losses("zero", obs_noise=0.0),
      losses("on", obs_noise=0.5),
  )
  assert off == zero  # 0 is off: the same rng stream, the same losses.
  assert off[1] != on[1]


def test_goal_dropout_changes_training_not_validation(dataset_dir, tmp_path):
  """Training sees goals with the robot hidden; validation the whole goals,
  as the suite gives them."""

  def run(name, dropout):
    config = _config(gcbc_config, dataset_dir, total_steps=3)
    config.evals.val.every = 3
    config.data.goal_dropout = dropout
    trainer.train_and_evaluate(config, str(tmp_path / name))
    return config, _losses(tmp_path / name)

  config, off = run("off", 0.0)
  _, on = run("on", 1.0)
  assert off[1] != on[1]
  for dropout in (0.0, 1.0):
    window_config = windows.WindowConfig(
        kappa_min=config.data.kappa_min,
        kappa_max=config.data.kappa_max,
        goal_dropout=dropout,
    )
    (batch,) = evaluators.validation_batches(
        config, 1, window_config, windows.load_normalization(dataset_dir)
    )
    if not dropout:
      whole = batch["goal"]
    np.testing.assert_array_equal(batch["goal"], whole)


def test_resuming_under_another_config_fails(dataset_dir, tmp_path):
  trainer.train_and_evaluate(_config(gcbc_config, dataset_dir), str(tmp_path))
  saved = (tmp_path / "config.json").read_text()
  changed = _config(gcbc_config, dataset_dir)
  changed.optimizer.lr = 0.5
  with pytest.raises(
      ValueError,
      match="another config \\(optimizer.lr: "
      "0.0001 in the saved run, 0.5 now\\)",
  ):
    trainer.train_and_evaluate(changed, str(tmp_path))
  assert (tmp_path / "config.json").read_text() == saved
  # Logging cadence may change: the finished run resumes and ends at once.
  result = trainer.train_and_evaluate(
      _config(gcbc_config, dataset_dir, log_every=4), str(tmp_path)
  )
  assert result["step"] == 20


@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_resumes_checkpoints_of_the_layout_before_train_state(
    dataset_dir, tmp_path, capsys, ema_decay
):
  """A step-10 checkpoint rewritten as older versions wrote it (the bare
  train state, or the pair (train, ema)) resumes to the same losses."""
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

  from playlearn.train import checkpoints  # pylint: disable=g-import-not-at-top

  config = _config(gcbc_config, dataset_dir, ema_decay=ema_decay)
  new, old = tmp_path / "new", tmp_path / "old"
  trainer.train_and_evaluate(config, str(new))
  with ocp.StandardCheckpointer() as checkpointer:
    state = checkpointer.restore(str(new / "checkpoints" / "10" / "state"))
  data = json.loads(
      (new / "checkpoints" / "10" / "data" / "metadata").read_text()
  )
  legacy = (state["train"], state["ema"]) if ema_decay else state["train"]
  mgr = checkpoints.manager(str(old), 3, 10)
  checkpoints.save(mgr, 10, legacy, data)
  checkpoints.seal(mgr)
  (old / "config.json").write_text((new / "config.json").read_text())
  capsys.readouterr()
  trainer.train_and_evaluate(config, str(old))
  assert "resumed from checkpoint at step 10" in capsys.readouterr().out
  want = _losses(new)
  assert _losses(old) == {k: want[k] for k in range(11, 21)}


def test_evaluators_are_checked_by_name_before_any_work(dataset_dir, tmp_path):
  cases = [
      (("evals", "val", "type"), "bogus", "evals.val.type='bogus': valid: "),
      (("evals", "val", "every"), -1, "evals.val.every=-1: must be an int"),
      (
          ("evals", "suite", "tasks"),
          "open_drawer,fly",
          "unknown tasks \\['fly'\\]",
      ),
      (("evals", "suite", "episodes_per_task"), 0, "must be an integer >= 1"),
  ]
  for path, value, message in cases:
    config = _config(gcbc_config, dataset_dir)
    config.evals.suite.every = 10
    node = config
    for key in path[:-1]:
      node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValueError, match=message):
      trainer.train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()
  # An evaluator switched off is checked all the same: its task names come
  # from a module that loads no simulator (evaluation.task_names).
  config = _config(gcbc_config, dataset_dir)
  config.evals.suite.every, config.evals.suite.tasks = 0, "fly"
  with pytest.raises(ValueError, match="unknown tasks \\['fly'\\]"):
    evaluators.check(config)
  config.evals.suite.type = "bogus"
  with pytest.raises(ValueError, match="evals.suite.type='bogus'"):
    evaluators.check(config)
  config = _config(gcbc_config, dataset_dir)
  config.evals.val.extra = 1
  with pytest.raises(ValueError, match="evals.val has no field"):
    run_config.validate_config(config)
  config = _config(gcbc_config, dataset_dir, val_every=5)
  with pytest.raises(ValueError, match="val_every is now config.evals.val"):
    run_config.validate_config(config)


def test_two_evaluators_of_one_type_log_under_their_names(
    dataset_dir, tmp_path
):
  config = _config(gcbc_config, dataset_dir)
  config.evals.often = dict(type="validation", every=5, batches=1)
  result = trainer.train_and_evaluate(config, str(tmp_path))
  often = _rows(tmp_path, "often/loss")
  assert [r["step"] for r in often] == [5, 10, 15, 20]
  assert [r["step"] for r in _rows(tmp_path, "val/loss")] == [10, 20]
  assert np.isfinite(result["often/loss"])


def test_runs_on_several_fake_devices(dataset_dir, tmp_path):
  code = (
      "from playlearn.configs import gcbc; from playlearn.train import trainer\n"
      "import jax; assert jax.device_count() == 4, jax.devices()\n"
      "c = gcbc.get_config('debug'); c.total_steps = 4\n"
      f"c.dataset_dir = {dataset_dir!r}\n"
      f"print(trainer.train_and_evaluate(c, {str(tmp_path)!r}))\n"
  )
  env = dict(
      os.environ,
      PYTHONPATH=ROOT,
      JAX_PLATFORMS="cpu",
      XLA_FLAGS="--xla_force_host_platform_device_count=4",
  )
  proc = subprocess.run(
      [sys.executable, "-c", code],
      env=env,
      cwd=ROOT,
      capture_output=True,
      text=True,
      timeout=300,
  )
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "'step': 4" in proc.stdout


def test_two_hosts_train_like_one(dataset_dir, tmp_path):
  """Two processes joined by jax.distributed (CPU, gloo), each cutting half of
  every global batch, log the losses of one process with the whole batch."""
  with socket.socket() as s:  # A free port for the coordinator.
    s.bind(("localhost", 0))
    port = s.getsockname()[1]
  env = dict(
      os.environ,
      PYTHONPATH=ROOT,
      JAX_PLATFORMS="cpu",
      JAX_CPU_COLLECTIVES_IMPLEMENTATION="gloo",
  )
  single, multi = tmp_path / "single", tmp_path / "multi"
  subprocess.run(
      _train_command(dataset_dir, single, 12),
      env=env,
      cwd=ROOT,
      check=True,
      capture_output=True,
      timeout=300,
  )
  hosts = [
      subprocess.Popen(
          _train_command(dataset_dir, multi, 12)
          + [
              "--distributed",
              f"--coordinator_address=localhost:{port}",
              "--num_processes=2",
              f"--process_id={i}",
          ],
          env=env,
          cwd=ROOT,
          stdout=subprocess.PIPE,
          stderr=subprocess.STDOUT,
          text=True,
      )
      for i in range(2)
  ]
  for host in hosts:
    output, _ = host.communicate(timeout=300)
    assert host.returncode == 0, output[-3000:]
  one, two = _losses(single), _losses(multi)
  assert sorted(two) == list(range(1, 13))  # Only host 0 logs.
  for step, loss in one.items():
    assert two[step] == pytest.approx(loss, rel=1e-5)
  assert (multi / "policy" / "policy.json").exists()


def test_model_fields_are_settable_and_default_to_the_method():
  config = lmp_config.get_config()
  config.lock()  # As config_flags leaves it: only existing fields are set.
  assert run_config.model_config(config) == models.lmp.Config()
  config.model.latent = 16
  config.model.policy.head = "mse"
  config.model.policy.encoder = (32, 32)
  config.tiny_model = True
  got = run_config.model_config(config)
  tiny = models.lmp.Config.tiny()
  assert got.latent == 16 and got.recognition == tiny.recognition
  assert got.policy.head == "mse" and got.policy.encoder == (32, 32)
  assert got.policy.rnn == tiny.policy.rnn


@pytest.mark.parametrize("module", [gcbc_config, lmp_config, beso_config])
def test_every_config_variant_gives_a_model_config(module):
  from playlearn.configs import common  # pylint: disable=g-import-not-at-top

  base = module.get_config()
  for name in common.VARIANTS:
    config = module.get_config(name)
    assert config.method == base.method
    assert config.total_steps > 0 and config.data.batch_size > 0
    assert isinstance(
        run_config.model_config(config), models.get(base.method).Config
    )
  with pytest.raises(ValueError, match="'fast'.*valid: cpu, debug, demo"):
    module.get_config("fast")


def test_cpu_variants_pick_the_heads_and_network_that_learn_on_a_cpu():
  assert run_config.model_config(gcbc_config.get_config("cpu")).head == "mse"
  lmp = run_config.model_config(lmp_config.get_config("cpu"))
  assert lmp.policy.head == "mse" and lmp.kl_warmup_steps > 0
  assert run_config.model_config(beso_config.get_config("cpu")).network == "mlp"
  # The full-size configs keep the papers' choices.
  assert run_config.model_config(gcbc_config.get_config()).head == "logistic"
  assert (
      run_config.model_config(beso_config.get_config()).network == "transformer"
  )


def test_train_step_and_policy_act_trace_once(
    dataset_dir, tmp_path, monkeypatch
):
  """No retracing: every train step and every action reuse one compilation."""
  traces = {"loss": 0, "act": 0}
  real_loss, real_act = models.gcbc.loss, models.gcbc.act

  def counted_loss(*args, **kwargs):
    traces["loss"] += 1
    return real_loss(*args, **kwargs)

  def counted_act(*args, **kwargs):
    traces["act"] += 1
    return real_act(*args, **kwargs)

  monkeypatch.setattr(models.gcbc, "loss", counted_loss)
  monkeypatch.setattr(models.gcbc, "act", counted_act)
  config = _config(gcbc_config, dataset_dir)
  config.evals.val.every = 0
  trainer.train_and_evaluate(config, str(tmp_path))
  assert config.total_steps == 20 and traces["loss"] == 1
  policy = Policy.load(str(tmp_path / "policy"))
  obs = {
      "state": np.zeros(playtable_env.STATE_DIM, np.float32),
      "target": np.zeros(playtable_env.TARGET_DIM, np.float32),
  }
  goal = {"state": np.ones(playtable_env.STATE_DIM, np.float32)}
  for _ in range(5):
    policy.act(obs, goal)
  policy.reset()
  policy.act(obs, goal)
  assert traces["act"] == 1
