"""Random access to the episodes of an ArrayRecord dataset, without TensorFlow.

`EpisodeSource(dir, split)` is a Grain `RandomAccessDataSource` (`len`, `[i]`)
whose elements are whole episodes as stacked numpy arrays, exactly as the
generator made them (see `playlearn.data.rlds`). It needs the dataset's files
only (dataset_info.json, features.json, the shards), not the builder code, and
it fails loudly: a missing, truncated or corrupted shard raises
`CorruptShardError` naming the file. (The ArrayRecord library itself reports a
truncated file as holding no records, and a corrupted chunk without the file.)
"""

from __future__ import annotations

import bisect
import dataclasses
import os
import threading
from typing import Any

from array_record.python import array_record_module
from etils import epath
import tensorflow_datasets as tfds

from playlearn.data import rlds

_RANDOM_ACCESS = "readahead_buffer_size:0,max_parallelism:0"


class CorruptShardError(OSError):
  """A shard is missing, truncated, corrupted or disagrees with its dataset."""

  def __init__(self, path: str | os.PathLike, problem: str):
    self.path = os.fspath(path)
    super().__init__(f"{self.path}: {problem}")


@dataclasses.dataclass(frozen=True)
class Shard:
  """One shard file and the records of it that a split reads."""

  path: str
  num_records: int  # As dataset_info.json records it.
  skip: int = 0
  take: int = -1  # -1: to the end.

  @property
  def num_read(self) -> int:
    end = self.num_records if self.take < 0 else self.skip + self.take
    return end - self.skip


def split_shards(info: tfds.core.DatasetInfo, split: str) -> list[Shard]:
  """The shards of `split` (any TFDS split string, e.g. 'train[:10]')."""
  return [
      Shard(os.fspath(fi.filename), fi.examples_in_shard, fi.skip, fi.take)
      for fi in info.splits[split].file_instructions
  ]


def dataset_dir(source: Any) -> epath.Path:
  """A dataset version directory from a directory or a TFDS builder."""
  return epath.Path(getattr(source, "data_dir", source))


def open_array_record(path: str, num_records: int):
  """Opens a shard for random access; checks its number of records."""
  if not os.path.exists(path):
    raise CorruptShardError(path, "shard file is missing")
  try:
    reader = array_record_module.ArrayRecordReader(path, _RANDOM_ACCESS)
  except Exception as e:  # pylint: disable=broad-except
    raise CorruptShardError(path, f"cannot be opened ({e})") from e
  if not reader.ok():
    raise CorruptShardError(
        path, "cannot be read: the file is truncated or its index is corrupted"
    )
  if reader.num_records() != num_records:
    raise CorruptShardError(
        path,
        f"holds {reader.num_records()} records, "
        f"dataset_info.json says {num_records}",
    )
  return reader


def read_record(reader, path: str, index: int) -> bytes:
  try:
    return reader.read([index])[0]
  except Exception as e:  # pylint: disable=broad-except
    raise CorruptShardError(path, f"record {index} is corrupted ({e})") from e


class EpisodeSource:
  """The episodes of one split of an ArrayRecord dataset; picklable, threadsafe.

  `source[i]` -> episode (see `playlearn.data.rlds`); `source.record(i)` -> the
  serialized record and where it is stored.
  """

  def __init__(self, source: Any, split: str = "train"):
    """`source`: a dataset version directory or a TFDS builder."""
    self.data_dir = dataset_dir(source)
    info = tfds.builder_from_directory(self.data_dir).info
    if info.file_format != tfds.core.FileFormat.ARRAY_RECORD:
      raise ValueError(
          f"{self.data_dir} is stored as {info.file_format.value}; "
          "EpisodeSource reads ArrayRecord (read it with tfds.load instead)"
      )
    self.split = split
    self.shards = split_shards(info, split)
    self._starts = []
    total = 0
    for shard in self.shards:
      self._starts.append(total)
      total += shard.num_read
    self._len = total
    self.decode = rlds.EpisodeDecoder(info.features)
    self._readers: dict[int, Any] = {}
    self._lock = threading.Lock()

  def __getstate__(self):
    state = dict(self.__dict__)
    state["_readers"], state["_lock"] = {}, None
    return state

  def __setstate__(self, state):
    self.__dict__.update(state)
    self._lock = threading.Lock()

  def __len__(self) -> int:
    return self._len

  def __repr__(self) -> str:
    return (
        f"EpisodeSource({os.fspath(self.data_dir)!r}, "
        f"split={self.split!r}, len={self._len})"
    )

  def record(self, index: int) -> tuple[Shard, int, bytes]:
    """(shard, index in the shard, serialized record) of episode `index`."""
    if not -self._len <= index < self._len:
      raise IndexError(f"episode {index} out of range for {self._len}")
    index %= self._len
    k = bisect.bisect_right(self._starts, index) - 1
    shard = self.shards[k]
    local = shard.skip + index - self._starts[k]
    with self._lock:
      reader = self._readers.get(k)
      if reader is None:
        reader = open_array_record(shard.path, shard.num_records)
        self._readers[k] = reader
      return shard, local, read_record(reader, shard.path, local)

  def __getitem__(self, index: int) -> dict:
    shard, local, data = self.record(int(index))
    try:
      return self.decode(data)
    except Exception as e:  # pylint: disable=broad-except
      raise CorruptShardError(
          shard.path, f"record {local} cannot be decoded ({e})"
      ) from e
