"""Smoke test of the learning-stack benchmark (playlearn/bench/train_bench.py).

Tiny models, small batches, short measurements: this checks that the figures
exist and are sane, not how fast anything is. LMP's train step is not timed
here (its tiny step alone takes ~8 s to compile on a 2-core CPU; it is trained
in test_train.py); its `Policy.act` is.
"""

from flax import nnx
import numpy as np
import pytest

from playlearn import models
from playlearn.bench import train_bench


def _assert_positive(figures, keys):
  for key in keys:
    assert key in figures, (key, sorted(figures))
    assert np.isfinite(figures[key]) and figures[key] > 0, (key, figures[key])


def test_measure_gcbc():
  results = train_bench.measure(
      ("gcbc",), seconds=1.0, batch_size=8, window=8, calls=20, tiny=True
  )
  assert list(results) == ["gcbc"]
  train = results["gcbc"]["train"]
  _assert_positive(
      train,
      [
          "steps_per_s",
          "examples_per_s",
          "step_ms_median",
          "first_call_s",
          "num_params",
          "steps",
      ],
  )
  assert train["compile_s"] >= 0
  assert (train["batch_size"], train["window"]) == (8, 8)
  assert train["examples_per_s"] == 8 * train["steps_per_s"]
  assert set(results["gcbc"]["act"]) == {"batch_1", "batch_64"}
  table = train_bench.table(results)
  assert table.splitlines()[2].startswith("| gcbc |")


def test_act_latency_lmp():
  act = train_bench.act_latency("lmp", batch_sizes=(4,), calls=20, tiny=True)
  assert set(act) == {"batch_4"}
  for figures in act.values():
    _assert_positive(
        figures, ["median_ms", "p90_ms", "first_call_s", "actions_per_s"]
    )
    assert figures["p90_ms"] >= figures["median_ms"]


def test_num_params_counts_gcbc_tiny_by_hand():
  model = models.gcbc.Model(
      models.gcbc.Config.tiny(),
      train_bench.OBS_DIM,
      train_bench.ACTION_DIM,
      rngs=nnx.Rngs(0),
  )
  # encoder Linear(42 + 42 -> 8):           84*8 + 8    =  680
  # GRUCell(8 -> 8): dense_i 8*24 + 24, dense_h 8*24    =  408
  # logistic head Linear(8 -> 3*7*2 = 42):  8*42 + 42   =  378
  assert train_bench.num_params(model) == 680 + 408 + 378


def test_unknown_method_lists_valid_ones():
  with pytest.raises(KeyError, match="gcbc"):
    train_bench.train_step("nope", tiny=True, seconds=0.1)
