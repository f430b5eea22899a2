"""The notebooks run top to bottom with tiny parameters, in a temporary dir."""

import os

import nbclient
import nbformat
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = os.path.join(ROOT, "notebooks")

QUICKSTART_PARAMETERS = """\
CONFIG = 'tiny'
TOTAL_STEPS = 4
EPISODES = 1
TASKS = ['press_red_button']
VIDEO_STEPS = 5
OUT_DIR = 'quickstart'
"""


def _execute(name: str, parameters: str, cwd: str) -> nbformat.NotebookNode:
  """Runs notebook `name` in `cwd` with its `parameters` cell replaced."""
  nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
  tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
  assert len(tagged) == 1, f"{name}: want one cell tagged 'parameters'"
  tagged[0].source = parameters
  client = nbclient.NotebookClient(
      nb,
      kernel_name="python3",
      timeout=300,
      resources={"metadata": {"path": cwd}},
  )
  client.execute()  # raises CellExecutionError naming the failing cell
  return nb


def _printed(nb: nbformat.NotebookNode) -> str:
  """Everything the notebook's code cells printed."""
  return "".join(
      o.get("text", "")
      for c in nb.cells
      if c.cell_type == "code"
      for o in c.get("outputs", [])
  )


@pytest.fixture(autouse=True)
def kernel_environment(monkeypatch):
  """The kernel inherits this environment: find the working tree even when
  playlearn is not installed, and keep JAX off accelerators."""
  path = os.environ.get("PYTHONPATH")
  monkeypatch.setenv("PYTHONPATH", ROOT + (os.pathsep + path if path else ""))
  monkeypatch.setenv("JAX_PLATFORMS", "cpu")


def test_quickstart(tmp_path):
  nb = _execute("01_quickstart.ipynb", QUICKSTART_PARAMETERS, str(tmp_path))
  out = tmp_path / "quickstart"
  dataset = out / "data" / "playtable_play" / "tiny" / "1.3.0"
  assert (dataset / "dataset_info.json").is_file()
  assert (dataset / "statistics.json").is_file()
  assert (out / "gcbc" / "policy" / "policy.json").is_file()
  assert (out / "gcbc" / "metrics.jsonl").is_file()
  video = out / "policy.mp4"
  assert video.is_file() and video.stat().st_size > 1000
  text = _printed(nb)
  assert "| `press_red_button` |" in text  # the evaluation table


BESO_PARAMETERS = """\
CONFIG = 'tiny'
VARIANT = 'debug'
TOTAL_STEPS = 4
NUM_SAMPLES = 64
SAMPLERS = ['ddim', 'heun']
SWEEP_STEPS = [3]
LATENCY_CALLS = 2
TASKS = ['press_red_button']
EPISODES = 1
STEP_BUDGET = 5
OUT_DIR = 'beso'
"""


def test_beso(tmp_path):
  nb = _execute("02_beso.ipynb", BESO_PARAMETERS, str(tmp_path))
  out = tmp_path / "beso"
  assert (out / "beso" / "policy" / "policy.json").is_file()
  assert (out / "beso" / "metrics.jsonl").is_file()
  plot = out / "action_distribution.png"
  assert plot.is_file() and plot.stat().st_size > 10_000
  video = out / "videos" / "press_red_button_0.mp4"
  assert video.is_file() and video.stat().st_size > 1000
  text = _printed(nb)
  assert "| goal-free |" in text  # the statistics of the sampled actions
  assert "| ddim | 3 | 3 |" in text and "| heun | 3 | 5 |" in text
  assert "| `press_red_button` |" in text  # the evaluation table


PIXELS_PARAMETERS = """\
CONFIG = 'tiny_images'
OBJECTIVE = 'act_jepa'
PRETRAIN_STEPS = 2
ENCODER_WIDTH = 4
WINDOW = 3
PROBE_FRAMES = 16
POLICY_STEPS = 4
TASKS = ['press_red_button']
EPISODES = 1
STEP_BUDGET = 5
OUT_DIR = 'pixels'
"""


def test_pixels(tmp_path):
  nb = _execute("03_pixels_jepa.ipynb", PIXELS_PARAMETERS, str(tmp_path))
  out = tmp_path / "pixels"
  assert (out / "dynamo" / "encoder" / "MANIFEST.json").is_file()
  assert (out / "dynamo" / "probe.json").is_file()
  policy = out / "gcbc_pixels" / "policy"
  assert (policy / "encoder" / "encoder.json").is_file()
  video = out / "pixel_policy.mp4"
  assert video.is_file() and video.stat().st_size > 1000
  text = _printed(nb)
  assert "| tool pose |" in text  # the probe table
  assert "| `press_red_button` |" in text  # the evaluation table
