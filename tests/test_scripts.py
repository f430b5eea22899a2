"""The command-line tools run end to end on tiny settings."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(*args, timeout=300):
  env = dict(os.environ, PYTHONPATH=ROOT)
  proc = subprocess.run(
      [sys.executable, *args],
      cwd=ROOT,
      env=env,
      capture_output=True,
      text=True,
      timeout=timeout,
  )
  assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
  return proc.stdout + proc.stderr


def test_collect_then_render(tmp_path):
  data_dir = tmp_path / "data"
  out = _run(
      "scripts/collect_play.py",
      "--config=tiny",
      f"--data_dir={data_dir}",
      "--num_workers=1",
  )
  assert "train: {'shards': 1, 'records': 2}" in out
  version_dir = data_dir / "playtable_play" / "tiny" / "1.3.0"
  assert (version_dir / "statistics.json").exists()
  out = _run(
      "scripts/render_episode.py",
      f"--dataset_dir={version_dir}",
      "--episode=1",
      f"--out_dir={tmp_path / 'video'}",
  )
  assert "state difference: 0" in out, out
  assert (tmp_path / "video" / "episode.mp4").stat().st_size > 1000
  out = _run(
      "scripts/describe_dataset.py",
      f"--dataset_dir={version_dir}",
      f"--out_dir={tmp_path / 'describe'}",
  )
  summary = json.loads((tmp_path / "describe" / "segments.json").read_text())
  assert summary["steps"] == 200, summary
  assert (tmp_path / "describe" / "tasks.png").exists()


def test_collect_rejects_unknown_config(tmp_path):
  env = dict(os.environ, PYTHONPATH=ROOT)
  proc = subprocess.run(
      [
          sys.executable,
          "scripts/collect_play.py",
          "--config=huge",
          f"--data_dir={tmp_path}",
      ],
      cwd=ROOT,
      env=env,
      capture_output=True,
      text=True,
      timeout=120,
  )
  assert proc.returncode != 0
  assert "state_small" in proc.stdout + proc.stderr


def test_render_without_dataset_writes_contact_sheet(tmp_path):
  out = _run(
      "scripts/render_episode.py",
      "--seed=2",
      "--num_steps=300",
      f"--out_dir={tmp_path}",
  )
  assert (tmp_path / "tasks.png").exists(), out
  assert (tmp_path / "episode.mp4").exists()


def test_oracle_success_and_bench(tmp_path):
  _run(
      "scripts/oracle_success.py",
      "--tasks=open_drawer,press_red_button",
      "--attempts=2",
      "--workers=1",
      f"--out={tmp_path / 'oracle.json'}",
  )
  rows = json.loads((tmp_path / "oracle.json").read_text())["rows"]
  assert [r["attempts"] for r in rows] == [2, 2]
  _run(
      "scripts/bench.py",
      "--steps=60",
      "--skip_render",
      f"--out={tmp_path / 'bench.json'}",
  )
  bench = json.loads((tmp_path / "bench.json").read_text())
  for key in (
      "env_steps_per_s",
      "raw_physics_steps_per_s",
      "env_overhead",
      "play_realtime_factor",
  ):
    assert bench[key] > (-1.0 if key == "env_overhead" else 0.0), key


def test_pretrain_an_encoder_on_image_play(tmp_path):
  data_dir = tmp_path / "data"
  _run(
      "scripts/collect_play.py",
      "--config=tiny_images",
      f"--data_dir={data_dir}",
      "--num_workers=1",
  )
  version_dir = data_dir / "playtable_play" / "tiny_images" / "1.3.0"
  workdir = tmp_path / "dynamo"
  out = _run(
      "scripts/pretrain_encoder.py",
      f"--dataset_dir={version_dir}",
      f"--workdir={workdir}",
      "--steps=4",
      "--batch_size=4",
      "--window=3",
      "--encoder_width=4",
      "--probe_frames=16",
      "--log_every=2",
  )
  assert "| tool pose |" in out, out
  assert "[4/4]" in out, out
  result = json.loads((workdir / "probe.json").read_text())
  assert set(result["probe_r2"]) == {"initialised", "pretrained", "pixels"}
  assert "R^2 of the pixels (8 x 8 means)" in out, out
  assert result["frame_stride"] == 1
  assert (workdir / "curves.png").stat().st_size > 1000
  assert (workdir / "tsne.png").stat().st_size > 1000
  assert "validation frames by task segment" in out, out
  assert (workdir / "encoder" / "MANIFEST.json").exists()
  # The same frames read by an encoder trained on the simulator's state.
  state_dir = tmp_path / "state"
  out = _run(
      "scripts/pretrain_encoder.py",
      "--objective=state_regression",
      "--encoder_head=grid",
      f"--dataset_dir={version_dir}",
      f"--workdir={state_dir}",
      "--steps=2",
      "--batch_size=8",
      "--encoder_width=4",
      "--probe_frames=16",
      "--log_every=1",
  )
  assert "block_positions=" in out, out
  saved = json.loads((state_dir / "encoder" / "encoder.json").read_text())
  assert saved["objective"] == "state_regression"
  assert len(saved["config"]["target_std"]) == 44
  # Both encoders probed on the same frames, beside the pixels.
  out = _run(
      "scripts/probe_encoders.py",
      f"--dataset_dir={version_dir}",
      f"--encoders={workdir / 'encoder'},{state_dir / 'encoder'}",
      "--probe_frames=16",
      "--frame_stride=2",
      f"--out={tmp_path / 'probes.json'}",
  )
  assert "| block x |" in out, out
  assert "blocks' spread along x in the validation frames:" in out, out
  written = json.loads((tmp_path / "probes.json").read_text())
  assert len(written["block_spread_m"]["x"]) == 3
  probes = written["probe_r2"]
  assert (
      len(probes) == 3 and "block positions" in probes[str(workdir / "encoder")]
  )
  # The two saved as one encoder that reads them side by side.
  out = _run(
      "scripts/stack_encoders.py",
      f"--encoders={workdir / 'encoder'},{state_dir / 'encoder'}",
      f"--out={tmp_path / 'stacked'}",
  )
  assert "2 encoders" in out, out
  saved = json.loads((tmp_path / "stacked" / "encoder.json").read_text())
  assert saved["objective"] == "stacked"
  assert [o for o, _ in saved["config"]["parts"]] == [
      "dynamo",
      "state_regression",
  ]
  assert (
      saved["image_sizes"]
      == json.loads((workdir / "encoder" / "encoder.json").read_text())[
          "image_sizes"
      ]
  )


def test_bench_memory():
  out = _run(
      "scripts/bench_memory.py", "--dram_mb=4", "--weights_mb=1", "--repeats=1"
  )
  rates = [
      float(line.split(": ")[1].split()[0])
      for line in out.splitlines()
      if line.startswith(("read ", "copy "))
  ]
  assert len(rates) == 3 and all(r > 0 for r in rates), out


def test_camera_report(tmp_path):
  out = _run(
      "scripts/camera_report.py",
      f"--out_dir={tmp_path}",
      "--seeds=0",
      "--num_steps=41",
      "--every=20",
      "--sheet_frames=2",
  )
  assert "| red block |" in out, out
  assert (tmp_path / "contact_sheet.png").stat().st_size > 1000
  assert json.loads((tmp_path / "views.json").read_text())["states"] == 3
