"""The import graph of playlearn/: every arrow points down, and no cycles.

Read from the source (ast), not by importing, so that a lazy import inside a
function counts as much as one at the top of a file.
"""

import ast
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "playlearn"
)

# Bottom to top: a package may import those before it, never those after.
# The root package (`playlearn/__init__.py`) is the public API above all.
LAYERS = (
    (
        "console",
        "gym_registration",
        "hardware",
        "manifest",
        "timing",
    ),  # Leaves: no playlearn imports.
    ("envs",),  # MuJoCo scene, tasks, dm_env/gymnasium.
    ("play",),  # Oracle, play agent, episodes.
    ("data",),  # Reading: RLDS, windows, features, Grain.
    ("datasets",),  # Writing: generation workers, encoding, Beam.
    ("diffusion",),
    ("models",),
    ("configs",),
    ("policy",),  # Saved policies: models + normalisation.
    ("evaluation",),  # Task suite, chains, diagnostics: policies.
    ("train",),  # Trainer (may evaluate in the loop).
    ("experiments",),  # Joins datasets, train and evaluation.
    ("bench",),  # Speed measurements of everything.
)
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def _modules():
  """{module name: set of playlearn modules it imports}."""
  graph = {}
  for root, _, files in os.walk(ROOT):
    for file in files:
      if not file.endswith(".py"):
        continue
      path = os.path.join(root, file)
      rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3]
      name = rel.replace(os.sep, ".").removesuffix(".__init__")
      imports = set()
      for node in ast.walk(ast.parse(open(path).read(), path)):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and (node.module.split(".")[0] == "playlearn")
        ):
          for alias in node.names:  # `from playlearn.x import y`: y or x.y.
            imports.add(f"{node.module}.{alias.name}")
        elif isinstance(node, ast.Import):
          imports |= {
              a.name for a in node.names if a.name.split(".")[0] == "playlearn"
          }
      graph[name] = imports
  # Resolve `from package import name` to the module it names, when it is one.
  return {
      m: {i if i in graph else i.rsplit(".", 1)[0] for i in imports}
      for m, imports in graph.items()
  }


def _package(module: str) -> str:
  parts = module.split(".")
  return parts[1] if len(parts) > 1 else "playlearn"


def test_every_package_has_a_layer():
  packages = {_package(m) for m in _modules()} - {"playlearn"}
  assert packages <= set(RANK), (
      f"packages without a layer in tests/test_imports.py: "
      f"{sorted(packages - set(RANK))}"
  )


def test_every_import_arrow_points_down():
  upward = []
  for module, imports in sorted(_modules().items()):
    here = _package(module)
    if here == "playlearn":
      continue  # The public API re-exports from every layer.
    for target in sorted(imports):
      there = _package(target)
      if there == "playlearn":
        upward.append(f"{module} -> {target} (the root package)")
      elif there != here and RANK[there] > RANK[here]:
        upward.append(f"{module} -> {target}")
  assert not upward, "upward imports:\n  " + "\n  ".join(upward)


def test_no_import_cycles():
  graph = _modules()
  state, stack, cycles = {}, [], []

  def visit(module):
    state[module] = "open"
    stack.append(module)
    for target in sorted(graph.get(module, ())):
      if target not in graph:
        continue
      if state.get(target) == "open":
        cycles.append(" -> ".join(stack[stack.index(target) :] + [target]))
      elif target not in state:
        visit(target)
    stack.pop()
    state[module] = "done"

  for module in sorted(graph):
    if module not in state:
      visit(module)
  assert not cycles, "import cycles:\n  " + "\n  ".join(cycles)


@pytest.mark.parametrize("size_limit", [500])
def test_no_module_is_long_without_saying_why(size_limit):
  long = []
  for root, _, files in os.walk(ROOT):
    for file in files:
      if file.endswith(".py"):
        path = os.path.join(root, file)
        text = open(path).read()
        if text.count("\n") > size_limit and "Longer than" not in text[:3000]:
          long.append(f"{os.path.relpath(path, ROOT)}: {text.count(chr(10))}")
  assert not long, (
      f"modules over {size_limit} lines whose docstring does "
      f"not say why ('Longer than ...'): {long}"
  )


def test_importing_a_model_loads_no_simulator():
  # `import playlearn` registers the gymnasium id without importing the
  # environment; the names it exports load MuJoCo on first use.
  code = (
      "import sys, playlearn.models.gcbc, gymnasium\n"
      # Nor does the trainer, or the benchmark against PyTorch: both run on
      # accelerator hosts without MuJoCo; checking a config's suite task
      # names (playlearn.evaluation.task_names) needs no simulator either.
      "import playlearn.train.trainer, playlearn.bench.vs_torch\n"
      "from playlearn.train import evaluators\n"
      "from playlearn.configs import gcbc\n"
      "config = gcbc.get_config()\n"
      "assert config.evals.suite.every > 0\n"
      "evaluators.check(config)\n"
      "config.evals.suite.tasks = 'open_drawer, lift_red_block'\n"
      "evaluators.check(config)\n"
      "config.evals.suite.tasks = 'open_drawer,fly'\n"
      "try:\n"
      "  evaluators.check(config)\n"
      "  raise AssertionError('unknown task accepted')\n"
      "except ValueError as e:\n"
      "  assert \"unknown tasks ['fly']\" in str(e), e\n"
      "assert 'mujoco' not in sys.modules, 'mujoco loaded'\n"
      "assert 'playlearn/PlayTable-v0' in gymnasium.envs.registry\n"
      "playlearn.EnvConfig\n"
      "assert 'mujoco' in sys.modules\n"
  )
  proc = subprocess.run(
      [sys.executable, "-c", code],
      cwd=os.path.dirname(ROOT),
      capture_output=True,
      text=True,
      timeout=120,
  )
  assert proc.returncode == 0, proc.stderr[-2000:]
