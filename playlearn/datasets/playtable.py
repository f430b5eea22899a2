"""What the PlayTable dataset builders (`datasets/playtable_*`) share: the
writing side of the datasets (`playlearn.data` only reads).

The call into the play generator, the jobs (one per episode), local and Apache
Beam generation, and the statistics written at build time.

This lives in the library rather than in `datasets/` because worker processes
and Beam workers import the function they run by module name, and `tfds build`
imports a builder file under a temporary `sys.path` entry that workers lack.
Longer than 500 lines because the worker protocol below stays: with
`multiprocessing` or `concurrent.futures`, spawn re-imports the caller's
`__main__` (TensorFlow under `tfds build`) and fork breaks MuJoCo's OpenGL,
so the workers are fresh interpreters that speak a small framed protocol.

Generation:
  * Locally (the default), episodes are made by worker processes mapped in
    order over the jobs, so the output is the same for any number of workers.
    They are fresh Python interpreters rather than multiprocessing's: MuJoCo
    and OpenGL are not fork-safe, and spawn re-imports the caller's `__main__`
    (the `tfds` command imports TensorFlow), while rendering crashes a process
    that has imported TensorFlow. Workers: the builder's `num_workers`, else
    the environment variable PLAYLEARN_NUM_WORKERS, else `os.cpu_count()`.
    With one worker (and no TensorFlow loaded when rendering) episodes are made
    in the calling process. The main process encodes and writes every record
    (about 10,000 state-only or 700 image steps/s), which bounds the speed-up
    on many cores; past that, use Beam.
  * With a Beam runner (`tfds build --beam_pipeline_options=...` or
    `DownloadConfig(beam_runner=...)`) `_generate_examples` returns a Beam
    `PTransform` instead and TFDS writes the shards from the pipeline, on any
    runner, so generation scales past one machine.

Worker protocol (`serve_jobs`, `_map_in_processes`), plain bytes over pipes:
  * Jobs, to the worker's stdin: one line of JSON per job,
    `dataclasses.asdict(EpisodeJob)` (`encode_job`, `decode_job`).
  * Replies, from the worker's original stdout (whatever the worker prints
    goes to its stderr), one frame per job and in job order: 1 status byte,
    the payload's length as 8 bytes little-endian, the payload.
      status 0: the episode as `.npz` bytes (`encode_episode`): what the
                generator returned, bit for bit; the main process turns it into
                the record and its statistics, as `make_example` does.
      status 1: the worker's traceback, UTF-8.
    A stream that ends before a whole frame means the worker died.
  Only plain arrays are read back: `np.load` refuses object arrays by default,
  so a reply cannot run code in the main process.

Statistics (`playlearn.data.statistics`) of every split are computed in the
same pass: each episode is summarised (in the main process, or on a Beam
worker) and the summaries are merged (in the main process, or by a Beam
`CombineGlobally`). They are written to `statistics.json` inside the directory
that TFDS fills and then renames, so a dataset never appears without them, and
a failed build leaves neither.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
import contextlib
import dataclasses
import io
import json
import operator
import os
import struct
import subprocess
import sys
import traceback
from typing import Any

from etils import epath
import numpy as np
import tensorflow_datasets as tfds
from tensorflow_datasets.core import shuffle as tfds_shuffle

from playlearn.data import rlds
from playlearn.data import statistics as statistics_lib
from playlearn.envs import playtable as playtable_env
from playlearn.envs import scene
from playlearn.play import episodes
from playlearn.play import noise as noise_lib

NUM_WORKERS_ENV = "PLAYLEARN_NUM_WORKERS"
CONTROL_HZ = scene.CONTROL_HZ
METADATA = {
    "episode_id": tfds.features.Text(doc="Unique id, e.g. 'play-17'."),
    "seed": tfds.features.Scalar(
        dtype=np.int64, doc="Seed the generator was called with."
    ),
    "reset_seed": tfds.features.Scalar(
        dtype=np.int64,
        doc="Seed of the environment reset; replaying the "
        "actions from it reproduces the episode.",
    ),
    "kind": tfds.features.Text(doc="'play' or 'demo'."),
    "task": tfds.features.Text(doc="Task of a demonstration; empty for play."),
    "segments": tfds.features.Text(
        doc="JSON list of the task segments {task, start, end, success}; "
        "not for learners."
    ),
    "scene_version": tfds.features.Text(),
    "generator_version": tfds.features.Text(),
    "noise": tfds.features.Text(
        doc="JSON NoiseConfig of the executed actions "
        "(playlearn.play.noise); sigma 0 and nudge_rate 0: none."
    ),
}
_ENVS: dict[tuple, playtable_env.PlayTableEnv] = {}  # One per process.
_WORKER = "from playlearn.datasets import playtable; playtable.serve_jobs()"
_EPISODE, _ERROR = 0, 1  # Reply frame status bytes.
_FRAME_HEADER = struct.Struct("<BQ")  # Status, payload length.
_LAYOUT = "__layout__"  # The .npz entry that lists the episode's leaves.
# TFDS's prefix of a version directory under construction.
_INCOMPLETE_PREFIX = tfds.core.constants.INCOMPLETE_PREFIX
_SCALARS = {"str": str, "int": int, "float": float, "bool": bool}


@dataclasses.dataclass(frozen=True)
class EpisodeJob:
  """All it takes to generate one episode, record `index` of its split."""

  index: int
  kind: str  # 'play' or 'demo'
  seed: int
  num_steps: int | None = None  # play only
  task: str | None = None  # demo only
  images: bool = False
  static_size: int = 96
  gripper_size: int = 64
  noise: dict | None = None  # NoiseConfig fields; None: no noise.
  task_weights: dict | None = None  # Play only: task -> weight; None: all 1.


def generate_episode(job: EpisodeJob) -> dict:
  """The one place where the dataset builders call the play generator.

  Returns the generator's episode (see `playlearn.data.rlds`) with
  `episode_metadata['task']` added.
  """
  if job.images and "tensorflow" in sys.modules:
    raise RuntimeError(
        "cannot render in a process that has imported TensorFlow (MuJoCo's GL "
        "rendering crashes): generate image episodes in worker processes (as "
        "the dataset builders do), or with Beam's DirectRunner use "
        "direct_running_mode=multi_processing"
    )
  env_key = (job.images, job.static_size, job.gripper_size)
  if env_key not in _ENVS:  # Building the scene and a GL context takes time.
    _ENVS[env_key] = playtable_env.PlayTableEnv(
        playtable_env.EnvConfig(
            images=job.images,
            static_size=job.static_size,
            gripper_size=job.gripper_size,
        )
    )
  kwargs: dict[str, Any] = dict(
      images=job.images,
      static_size=job.static_size,
      gripper_size=job.gripper_size,
      env=_ENVS[env_key],
      noise=noise_lib.NoiseConfig.from_dict(job.noise),
  )
  if job.kind == "play":
    kwargs["num_steps"] = job.num_steps
    kwargs["task_weights"] = job.task_weights
  else:
    kwargs["task"] = job.task
  episode = episodes.generate_episode(job.kind, job.seed, **kwargs)
  episode["episode_metadata"] = {
      **episode["episode_metadata"],
      "task": job.task or "",
  }
  return episode


def task_names() -> list[str]:
  """The tasks that demonstrations are generated for, in a fixed order."""
  return list(episodes.TASKS)


def state_dim() -> int:
  return episodes.STATE_DIM


def make_example(
    job: EpisodeJob,
) -> tuple[int, dict, statistics_lib.StatisticsAccumulator]:
  """One job -> (record key, TFDS example, the episode's statistics)."""
  return _example(job, generate_episode(job))


def _example(
    job: EpisodeJob, episode: dict
) -> tuple[int, dict, statistics_lib.StatisticsAccumulator]:
  acc = statistics_lib.StatisticsAccumulator().add_episode(
      statistics_lib.episode_fields(episode), key=job.index
  )
  return job.index, rlds.to_example(episode, METADATA), acc


def make_examples(
    jobs: Sequence[EpisodeJob], num_workers: int
) -> Iterator[Any]:
  """`map(make_example, jobs)` in order, on worker processes.

  In this process when one worker is asked for and it is safe (rendering next
  to TensorFlow is not).
  """
  num_workers = max(1, min(num_workers, len(jobs)))
  renders = any(job.images for job in jobs)
  if num_workers == 1 and not (renders and "tensorflow" in sys.modules):
    return map(make_example, jobs)
  return _map_in_processes(jobs, num_workers)


def encode_job(job: EpisodeJob) -> bytes:
  """A job as one line of JSON (the worker protocol, see the module doc)."""
  return (
      json.dumps(dataclasses.asdict(job), default=_json_scalar) + "\n"
  ).encode()


def decode_job(line: bytes) -> EpisodeJob:
  return EpisodeJob(**json.loads(line))


def _json_scalar(value):
  if isinstance(value, np.generic):  # E.g. a seed computed with numpy.
    return value.item()
  raise TypeError(f"{type(value).__name__} {value!r} is not JSON serializable")


def encode_episode(episode: Mapping[str, Any]) -> bytes:
  """Generator episode -> `.npz` bytes; `decode_episode` gives it back exactly.

  Entries are the leaves, named by their path of keys joined with '/' (e.g.
  'steps/observation/state'). Object arrays of str become fixed-width unicode
  arrays and Python or numpy scalars 0-d arrays; the entry `__layout__` (JSON
  [[path, kind], ...], in dict order) says which, so dtypes, Python types and
  key order come back as they were.

  Raises:
    TypeError: for a leaf other than a numeric, bool or str array, an object
      array of str, or a str, int, float, bool or numpy scalar.
    ValueError: for a key that is empty, holds '/' or is not a str, or a str
      that ends in NUL (fixed-width unicode arrays drop those).
  """
  arrays: dict[str, np.ndarray] = {}
  layout: list[tuple[str, str]] = []

  def flatten(nest: Mapping[str, Any], prefix: str):
    for key, value in nest.items():
      if not isinstance(key, str) or not key or "/" in key:
        raise ValueError(
            f"cannot encode key {key!r} under {prefix or '/'}: "
            "keys must be non-empty str without '/'"
        )
      path = prefix + key
      if isinstance(value, Mapping):
        if not value:
          layout.append((path, "dict"))
        flatten(value, path + "/")
      else:
        kind, arrays[path] = _encode_leaf(path, value)
        layout.append((path, kind))

  flatten(episode, "")
  if _LAYOUT in arrays:
    raise ValueError(f"cannot encode an episode with a top-level {_LAYOUT!r}")
  arrays[_LAYOUT] = np.asarray(json.dumps(layout))
  buffer = io.BytesIO()
  np.savez(buffer, **arrays)
  return buffer.getvalue()


def _encode_leaf(path: str, value: Any) -> tuple[str, np.ndarray]:
  if isinstance(value, np.ndarray) and not value.dtype.hasobject:
    return "array", value
  if isinstance(value, np.generic) and not value.dtype.hasobject:
    return "numpy_scalar", np.asarray(value)
  if isinstance(value, np.ndarray) and value.dtype == object:
    kind, strings, dtype = "str_array", list(value.flat), str
    if not all(isinstance(s, str) for s in strings):
      raise TypeError(f"{path}: an object array must hold only str")
  elif type(value) in _SCALARS.values():
    kind = type(value).__name__
    strings = [value] if kind == "str" else []
    dtype = np.int64 if kind == "int" else None  # Beyond int64: OverflowError.
  else:
    raise TypeError(f"{path}: cannot encode a {type(value).__name__}")
  if any(s.endswith("\0") for s in strings):
    raise ValueError(f"{path}: a str ends in NUL, which would be lost")
  return kind, np.asarray(value, dtype)


def decode_episode(data: bytes) -> dict:
  """`encode_episode` output -> the episode, with the same types and bits."""
  episode: dict[str, Any] = {}
  with np.load(io.BytesIO(data)) as npz:  # Object arrays raise ValueError.
    for path, kind in json.loads(npz[_LAYOUT].item()):
      *parents, name = path.split("/")
      node = episode
      for parent in parents:
        node = node.setdefault(parent, {})
      if kind == "dict":
        node[name] = {}
        continue
      value = npz[path]
      if kind == "array":
        node[name] = value
      elif kind == "str_array":
        node[name] = value.astype(object)  # Of Python str.
      elif kind == "numpy_scalar":
        node[name] = value[()]
      elif kind in _SCALARS:
        node[name] = _SCALARS[kind](value.item())
      else:
        raise ValueError(f"{path}: unknown kind {kind!r}")
  return episode


def serve_jobs() -> None:
  """A worker process's loop: job lines on stdin -> reply frames on stdout.

  The replies (see the module doc) go to the original stdout; whatever else
  is printed goes to stderr.
  """
  replies = os.fdopen(os.dup(1), "wb")
  os.dup2(2, 1)
  while line := sys.stdin.buffer.readline():
    try:
      status, payload = _EPISODE, encode_episode(
          generate_episode(decode_job(line))
      )
    except Exception:  # pylint: disable=broad-except
      status = _ERROR
      payload = traceback.format_exc().encode("utf-8", "backslashreplace")
    _write_frame(replies, status, payload)


def _write_frame(stream, status: int, payload: bytes) -> None:
  stream.write(_FRAME_HEADER.pack(status, len(payload)))
  stream.write(payload)
  stream.flush()


def _read_frame(stream) -> tuple[int, bytearray]:
  """(status, payload); EOFError if the stream ends before a whole frame."""
  status, length = _FRAME_HEADER.unpack(
      _read_exactly(stream, _FRAME_HEADER.size)
  )
  return status, _read_exactly(stream, length)


def _read_exactly(stream, size: int) -> bytearray:
  data, done = bytearray(size), 0
  with memoryview(data) as view:
    while done < size:
      count = stream.readinto(view[done:])
      if not count:
        raise EOFError(f"stream ended after {done} of {size} bytes")
      done += count
  return data


def _map_in_processes(
    jobs: Sequence[EpisodeJob], num_workers: int
) -> Iterator[Any]:
  """Job i goes to worker i % num_workers; at most 2 jobs per worker in flight.

  So finished episodes never pile up in memory when writing is slower than
  generating.
  """
  env = dict(os.environ)  # Workers import playlearn from where we did.
  package_root = epath.Path(__file__).parents[2]
  env["PYTHONPATH"] = os.pathsep.join(
      filter(None, [os.fspath(package_root), env.get("PYTHONPATH")])
  )
  workers = [
      subprocess.Popen(
          [sys.executable, "-c", _WORKER],
          env=env,
          stdin=subprocess.PIPE,
          stdout=subprocess.PIPE,
      )
      for _ in range(num_workers)
  ]

  def died(worker, job):
    return RuntimeError(
        f"worker process {worker.pid} died (exit code "
        f"{worker.wait()}) generating {job}"
    )

  num_sent, finished = 0, False
  try:
    for i, job in enumerate(jobs):
      while num_sent < min(i + 2 * num_workers, len(jobs)):
        worker = workers[num_sent % num_workers]
        try:
          worker.stdin.write(encode_job(jobs[num_sent]))
          worker.stdin.flush()
        except BrokenPipeError:
          raise died(worker, jobs[num_sent]) from None
        num_sent += 1
      worker = workers[i % num_workers]
      try:
        status, payload = _read_frame(worker.stdout)
      except EOFError:
        raise died(worker, job) from None
      if status == _ERROR:
        raise RuntimeError(
            f"generating {job} failed in worker process {worker.pid}:\n"
            + payload.decode("utf-8", "replace")
        )
      if status != _EPISODE:
        raise RuntimeError(
            f"worker process {worker.pid} replied with unknown "
            f"status {status} to {job}"
        )
      yield _example(job, decode_episode(payload))
    finished = True
  finally:
    for worker in workers:
      if not finished:
        worker.kill()  # It may be generating an episode nobody will read.
      try:
        worker.stdin.close()  # A finished worker exits.
      except OSError:
        pass
    for worker in workers:
      worker.wait()
      worker.stdout.close()


def default_num_workers() -> int:
  return int(os.environ.get(NUM_WORKERS_ENV) or os.cpu_count() or 1)


@dataclasses.dataclass(kw_only=True)
class EpisodeConfig(tfds.core.BuilderConfig):
  """Builder config fields shared by the PlayTable datasets."""

  images: bool = False
  static_size: int = 96
  gripper_size: int = 64
  # Perturbation of the executed actions (playlearn.play.noise).
  noise: noise_lib.NoiseConfig = noise_lib.NoiseConfig()
  # Play only: (task, weight) pairs on the play agent's odds of choosing a
  # task (playlearn.play.episodes.play_episode); the others weigh 1.
  task_weights: tuple[tuple[str, float], ...] = ()

  def noise_fields(self) -> dict | None:
    """The noise as an `EpisodeJob` carries it (None: no noise)."""
    if not self.noise.enabled:
      return None
    return dataclasses.asdict(self.noise)


def episode_features(config: EpisodeConfig) -> tfds.features.FeaturesDict:
  shapes = {}
  if config.images:
    shapes = {
        "rgb_static": (config.static_size, config.static_size, 3),
        "rgb_gripper": (config.gripper_size, config.gripper_size, 3),
    }
  return rlds.episode_features(
      state_dim=state_dim(),
      metadata=METADATA,
      image_shapes=shapes,
      target_dim=playtable_env.TARGET_DIM,
  )


class EpisodeBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """A TFDS builder whose records are generated episodes, one per job.

  Subclasses define `VERSION`, `BUILDER_CONFIGS`, `_info` and `split_jobs`.
  Files are ArrayRecord unless `file_format` says otherwise (e.g. 'tfrecord'
  for tf.data readers): they read without TensorFlow.
  """

  def __init__(
      self,
      *,
      num_workers: int | None = None,
      file_format: str | None = None,
      **kwargs,
  ):
    super().__init__(file_format=file_format, **kwargs)
    # Copies of a builder (Beam's) are made from its constructor arguments.
    self._original_state.update(
        num_workers=num_workers, file_format=file_format
    )
    self.num_workers = num_workers or default_num_workers()
    if (
        file_format is None
        and not (self.data_path / "dataset_info.json").exists()
    ):
      self.info.set_file_format("array_record", override=True)
    self._use_beam = False
    self._accumulators: dict[str, statistics_lib.StatisticsAccumulator] = {}

  def split_jobs(self) -> dict[str, list[EpisodeJob]]:
    """split name -> the jobs of its records, in record order."""
    raise NotImplementedError

  def download_and_prepare(self, **kwargs):
    # TFDS removes its `incomplete.*` directory when a build fails, but a
    # killed build leaves it behind for good.
    remove_stale_incomplete(self.data_path)
    super().download_and_prepare(**kwargs)

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing is downloaded.
    return {
        split: self._generate_examples(split=split, jobs=jobs)
        for split, jobs in self.split_jobs().items()
        if jobs
    }

  def _generate_examples(self, split: str, jobs: Sequence[EpisodeJob]):
    if self._use_beam:
      return _beam_examples(
          split, jobs, self.data_path / _partial_statistics_name(split)
      )
    return self._generate_locally(split, jobs)

  def _generate_locally(self, split, jobs):
    acc = self._accumulators[split] = statistics_lib.StatisticsAccumulator()
    for key, example, episode_acc in make_examples(jobs, self.num_workers):
      acc.merge(episode_acc)  # Before the yield: covers what is written.
      yield key, example

  def _download_and_prepare(self, dl_manager, download_config):
    # self.data_path is TFDS's temporary directory here, renamed into place
    # after this returns.
    self._use_beam = (
        download_config.beam_runner is not None
        or download_config.beam_options is not None
    )
    self._accumulators = {}
    with in_memory_shuffle():
      super()._download_and_prepare(dl_manager, download_config)
    by_split = {
        split: acc.result() for split, acc in self._accumulators.items()
    }
    for split in self.info.splits.keys():
      partial = self.data_path / _partial_statistics_name(split)
      if partial.exists():  # Written by the Beam pipeline.
        by_split[split] = json.loads(partial.read_text())["splits"][split]
        partial.unlink()
    if by_split:
      statistics_lib.save_statistics(
          self.data_path / statistics_lib.STATISTICS_FILENAME,
          by_split,
          dataset=self.info.full_name,
          reservoir_size=statistics_lib.RESERVOIR_SIZE,
          reservoir_seed=statistics_lib.RESERVOIR_SEED,
      )


@contextlib.contextmanager
def in_memory_shuffle() -> Iterator[None]:
  """Keeps TFDS's shuffle buffer in memory however large a split is.

  Past 1 GB (TFDS's `MAX_MEM_BUFFER_SIZE`) TFDS moves the buffer to bucket
  files written through `tf.io.gfile`, importing TensorFlow, which building
  must not need: at 1 GB of `images_full` that import crashed the build
  (a segfault beside MuJoCo's GL libraries). A split is held in memory once
  anyway, as the bytes it writes (3 hours of images: about 1.1 GB).
  """
  saved = tfds_shuffle.MAX_MEM_BUFFER_SIZE
  tfds_shuffle.MAX_MEM_BUFFER_SIZE = sys.maxsize
  try:
    yield
  finally:
    tfds_shuffle.MAX_MEM_BUFFER_SIZE = saved


def remove_stale_incomplete(version_dir: epath.PathLike) -> list[str]:
  """Removes the `incomplete.*` siblings of `version_dir`; returns their names.

  TFDS builds each version in `<config>/incomplete.<random>_<version>` and
  renames it into place when done, so these are left by killed builds (of any
  version). Finished version directories are never touched. Assumes that no
  other process is building a version of the same config right now.
  """
  parent = epath.Path(version_dir).parent
  if not parent.exists():
    return []
  stale = sorted(
      p
      for p in parent.iterdir()
      if p.name.startswith(_INCOMPLETE_PREFIX) and p.is_dir()
  )
  for path in stale:
    path.rmtree()
  names = [p.name for p in stale]
  if names:
    print(
        f"removed {len(names)} directories left by killed builds from "
        f"{parent}: {', '.join(names)}",
        flush=True,
    )
  return names


def _partial_statistics_name(split: str) -> str:
  return f"{split}-{statistics_lib.STATISTICS_FILENAME}.partial"


def _write_split_statistics(
    acc: statistics_lib.StatisticsAccumulator, path: str, split: str
):
  epath.Path(path).write_text(
      json.dumps(statistics_lib.to_json({split: acc.result()}))
  )


def _beam_examples(
    split: str, jobs: Sequence[EpisodeJob], statistics_path: epath.Path
):
  """`_generate_locally` for Beam: a PTransform yielding (key, example)."""
  beam = tfds.core.lazy_imports.apache_beam

  @beam.ptransform_fn
  def generate(pbegin):
    made = (
        pbegin
        | "Jobs" >> beam.Create(list(jobs))
        | "Spread" >> beam.Reshuffle()  # Over the workers.
        | "Generate" >> beam.Map(make_example)
    )
    _ = (
        made
        | "Summaries" >> beam.Map(operator.itemgetter(2))
        | "Merge" >> beam.CombineGlobally(statistics_lib.merge_all)
        | "Write"
        >> beam.Map(
            _write_split_statistics,
            path=os.fspath(statistics_path),
            split=split,
        )
    )
    return made | "Examples" >> beam.Map(operator.itemgetter(0, 1))

  return generate()


def builder_class(
    name: str, datasets_dir: str | os.PathLike | None = None
) -> type[EpisodeBuilder]:
  """Imports `<datasets_dir>/<name>/<name>_dataset_builder.py` as `tfds build`.

  The class is not registered under `name`, so this can be called any number
  of times. Reading a prepared dataset needs no builder class: use its
  directory, or its name with `tfds.data_source(name, data_dir=...)`.
  `datasets_dir` defaults to the `datasets/` folder of the source checkout.
  """
  if datasets_dir is None:
    datasets_dir = epath.Path(__file__).parents[2] / "datasets"
  with tfds.core.utils.add_sys_path(os.fspath(datasets_dir)):
    return tfds.core.community.builder_cls_from_module(
        f"{name}.{name}_dataset_builder"
    )
