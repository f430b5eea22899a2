"""Side-by-side reports of evaluated policies (scripts/compare_results.py)."""

import json
import os
import subprocess
import sys

import pytest

from playlearn.evaluation import report

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _result(rates, perturbed=None, chains=None):
  """A scripts/evaluate.py-shaped result with the given per-task means."""
  r = {
      "tasks": {
          "per_task": {t: {"mean": m, "std": 0.05} for t, m in rates.items()},
          "mean": sum(rates.values()) / len(rates),
          "std": 0.01,
      }
  }
  if perturbed is not None:
    r["perturbed"] = {"mean": perturbed, "std": 0.02}
  if chains is not None:
    r["chains"] = {"success_rates": chains, "avg_len": sum(chains)}
  return r


def test_table_rows_columns_and_missing_parts():
  results = {
      "A": _result(
          {"open_drawer": 0.5, "lift_red_cube": 0.25},
          perturbed=0.4,
          chains=[0.8, 0.5, 0.2, 0.1, 0.0],
      ),
      "B": _result({"open_drawer": 1.0, "lift_red_cube": 0.0}),
  }
  text = report.table(results).splitlines()
  assert text[0] == "| task | A | B |"
  assert text[2] == "| `open_drawer` | 50.0 ± 5.0 | 100.0 ± 5.0 |"
  assert text[4] == "| **average** | **37.5 ± 1.0** | **50.0 ± 1.0** |"
  assert text[5] == "| average, perturbed start | 40.0 ± 2.0 | – |"
  assert text[6] == "| chains: 1+ of 5 done | 80% | – |"
  assert text[-1] == "| chains: average length | 1.60 | – |"


def _episodes(successes, starts, seed=0, task="open_drawer"):
  """A result whose one run holds these episodes (per-episode lists)."""
  r = _result({task: sum(successes) / len(successes)})
  r["tasks"]["runs"] = [
      {
          "config": {"seed": seed},
          "tasks": {task: {"successes": successes, "reset_seeds": starts}},
      }
  ]
  return r


def test_runs_on_the_same_episodes_are_paired():
  starts = list(range(100, 108))
  results = {
      "A": _episodes([True] * 6 + [False] * 2, starts),
      "B": _episodes([True] * 2 + [False] * 6, starts),
      "other starts": _episodes([True] * 8, list(range(8))),
      "other seed": _episodes([True] * 8, starts, seed=1),
      "no episodes": _result({"open_drawer": 0.5}),
  }
  lines = report.paired(results).splitlines()
  # Only A and B share their episodes: 2 both, 4 only A, none only B, 2
  # neither; all 4 discordant episodes for A: p = 2 / 2**4.
  assert lines[2:] == ["| A | B | 8 | 2 | 4 | 0 | 2 | 0.125 |"]
  assert report.paired({"A": results["A"], "C": results["other seed"]}) == ""
  old = _episodes([True], [1])
  del old["tasks"]["runs"][0]["tasks"]["open_drawer"]["reset_seeds"]
  assert report.episodes(old) == {}  # Saved without per-episode lists.
  assert report.mcnemar_p(0, 0) == 1.0
  assert report.mcnemar_p(3, 3) == 1.0
  assert report.mcnemar_p(6, 0) == report.mcnemar_p(0, 6) == 2 / 2**6


def test_different_tasks_do_not_compare():
  with pytest.raises(ValueError, match="B was evaluated on other tasks"):
    report.table(
        {
            "A": _result({"open_drawer": 0.5}),
            "B": _result({"close_drawer": 0.5}),
        }
    )


def test_load_names_a_file_that_is_not_a_result(tmp_path):
  path = tmp_path / "r.json"
  path.write_text(json.dumps({"mean": 0.5}))
  with pytest.raises(ValueError, match="r.json \\(X\\) is not a scripts/"):
    report.load({"X": str(path)})


def test_script_writes_table_and_png(tmp_path):
  run = tmp_path / "run"  # A training workdir with a val/ metric.
  run.mkdir()
  (run / "metrics.jsonl").write_text(json.dumps({"step": 1, "val/nll": 2.0}))
  for name, rate in (("a", 0.2), ("b", 0.6)):
    (tmp_path / f"{name}.json").write_text(
        json.dumps(_result({"open_drawer": rate, "close_drawer": rate}))
    )
  out = tmp_path / "out"
  proc = subprocess.run(
      [
          sys.executable,
          "scripts/compare_results.py",
          f"--results=GCBC={tmp_path / 'a.json'},LMP={tmp_path / 'b.json'}",
          f"--workdirs=GCBC={run}",
          "--curve_keys=val/nll",
          f"--out_dir={out}",
      ],
      cwd=ROOT,
      capture_output=True,
      text=True,
      timeout=120,
      env=dict(os.environ, PYTHONPATH=ROOT),
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "| **average** | **20.0 ± 1.0** | **60.0 ± 1.0** |" in proc.stdout
  assert (out / "comparison.md").read_text().startswith("| task | GCBC | LMP |")
  assert (out / "comparison.png").read_bytes()[:4] == b"\x89PNG"
  assert (out / "training_val_nll.png").read_bytes()[:4] == b"\x89PNG"
  bad = subprocess.run(
      [sys.executable, "scripts/compare_results.py", "--results=nopath"],
      cwd=ROOT,
      capture_output=True,
      text=True,
      timeout=120,
      env=dict(os.environ, PYTHONPATH=ROOT),
  )
  assert bad.returncode != 0
  assert "--results item 'nopath' is not name=path" in bad.stderr


def test_training_curves_from_metrics_jsonl(tmp_path):
  run = tmp_path / "run"
  run.mkdir()
  rows = [{"step": s, "nll": 10.0 - s} for s in (1, 2, 3)]
  rows.append({"step": 3, "nll": 5.0})  # A resumed run logs step 3 again.
  (run / "metrics.jsonl").write_text(
      "".join(json.dumps(r) + "\n" for r in rows)
  )
  series = report.read_metrics(str(run))
  assert series["nll"].tolist() == [[1, 9.0], [2, 8.0], [3, 5.0]]
  report.plot_curves({"A": str(run)}, "nll", str(tmp_path / "c.png"), smooth=2)
  assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"
  with pytest.raises(KeyError, match="has no 'kl'; it has \\['nll'\\]"):
    report.plot_curves({"A": str(run)}, "kl", str(tmp_path / "d.png"))


@pytest.mark.parametrize(
    "num_tasks,num_runs", [(19, 1), (19, 5), (3, 8), (40, 8)]
)
def test_task_rows_cover_every_task_once_within_the_row_width(
    num_tasks, num_runs
):
  rows = report.task_rows(num_tasks, num_runs)
  assert [j for row in rows for j in row] == list(range(num_tasks))
  widest = max(len(row) for row in rows)
  assert min(len(row) for row in rows) >= widest - 1  # Even rows.
  inches = report._BAR_INCHES * (num_runs + 1) * widest
  assert inches <= report._MAX_ROW_INCHES or widest == 1
  # One row when the tasks fit it: 19 tasks of one run do, of five do not.
  assert (len(rows) == 1) == (
      report._BAR_INCHES * (num_runs + 1) * num_tasks <= report._MAX_ROW_INCHES
  )
