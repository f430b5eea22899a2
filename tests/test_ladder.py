"""The sanity ladder end to end on tiny settings (one rung-1 row)."""

import json

from playlearn.experiments import ladder


def test_rung_one_builds_trains_evaluates_and_writes(tmp_path):
  cfg = ladder.LadderConfig(
      demos_per_task=2,
      train_steps=2,
      batch_size=4,
      episodes_per_task=1,
      seeds=(0,),
      tiny_model=True,
  )
  lines = []
  rows = ladder.run(
      str(tmp_path),
      rungs=(1,),
      cfg=cfg,
      rung1_tasks=("press_red_button",),
      progress=lines.append,
  )
  assert [r["what"] for r in rows] == [
      "press_red_button, 2 demos, clean",
      "press_red_button, 2 demos, recovery",
  ]
  for row in rows:
    assert row["episodes"] == 1 and 0 <= row["successes"] <= 1
    lo, hi = row["wilson95"]
    assert 0 <= lo <= row["mean"] <= hi <= 1
  saved = json.loads((tmp_path / "ladder.json").read_text())
  assert len(saved["rows"]) == 2 and len(lines) == 2
  # The recovery demonstrations were built with noise, the clean ones not.
  table = ladder.format_rows(rows)
  assert table.count("\n") == 3 and "recovery" in table
