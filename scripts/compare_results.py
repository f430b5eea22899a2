r"""One table and one bar chart comparing evaluated policies.

  python scripts/compare_results.py \
      --results=GCBC=out/eval/gcbc/results.json,LMP=out/eval/lmp/results.json \
      --out_dir=out/compare

Inputs are `scripts/evaluate.py` outputs. Writes `<out_dir>/comparison.md`
(per-task success, averages, perturbed starts, chains; and, for runs
evaluated on the same episodes, a paired count with McNemar's exact p) and
`<out_dir>/comparison.png` (per-task bars with the spread over seeds), and
prints the table. With --workdirs (name=training workdir) also
`<out_dir>/training_<key>.png` ('/' in a key becomes '_'): the training
curves of --curve_keys.
"""

import os

from absl import app
from absl import flags

from playlearn.evaluation import report

_RESULTS = flags.DEFINE_list(
    "results",
    None,
    "name=path/to/results.json, one per policy (a name holds neither ',', "
    "the list's separator, nor '=').",
    required=True,
)
_OUT_DIR = flags.DEFINE_string("out_dir", "out/compare", "Output directory.")
_WORKDIRS = flags.DEFINE_list(
    "workdirs", [], "name=training workdir, for training-curve plots."
)
_CURVE_KEYS = flags.DEFINE_list(
    "curve_keys", ["nll"], "metrics.jsonl keys to plot."
)


def _named(items: list[str], flag: str) -> dict[str, str]:
  named = {}
  for item in items:
    name, sep, path = item.partition("=")
    if not sep or not name or not path:
      raise app.UsageError(f"--{flag} item {item!r} is not name=path")
    named[name] = path
  return named


def main(argv):
  del argv
  results = report.load(_named(_RESULTS.value, "results"))
  workdirs = _named(_WORKDIRS.value, "workdirs")
  os.makedirs(_OUT_DIR.value, exist_ok=True)
  text = report.table(results)
  pairs = report.paired(results)
  if pairs:
    text += "\n\nEpisode by episode (runs on the same episodes):\n\n" + pairs
  with open(os.path.join(_OUT_DIR.value, "comparison.md"), "w") as f:
    f.write(text + "\n")
  report.plot(results, os.path.join(_OUT_DIR.value, "comparison.png"))
  for key in _CURVE_KEYS.value if workdirs else []:
    report.plot_curves(
        workdirs,
        key,
        os.path.join(_OUT_DIR.value, f"training_{key.replace('/', '_')}.png"),
    )
  print(text)
  print(f"\nwrote {_OUT_DIR.value}/comparison.md and comparison.png")


if __name__ == "__main__":
  app.run(main)
