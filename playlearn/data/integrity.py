"""Checks that a prepared dataset is whole: every shard there and readable.

TFDS prepares a dataset in a temporary `incomplete.*` directory and renames it
into place only after every shard, dataset_info.json and statistics.json are
written, so a directory with dataset_info.json was complete when it was
written. `verify_dataset` checks that it still is, e.g.
after a copy between machines.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

import tensorflow_datasets as tfds

from playlearn.data import reading
from playlearn.data import rlds
from playlearn.data import statistics as statistics_lib
from playlearn.data.reading import CorruptShardError


def verify_dataset(
    source: Any, *, decode: bool = True
) -> dict[str, dict[str, int]]:
  """Reads every record of every shard of a prepared dataset.

  Args:
    source: the dataset version directory (holding dataset_info.json) or a
      TFDS builder.
    decode: also decode each record into an episode (finds damage that leaves
      the framing intact).

  Returns:
    {split: {'shards': count, 'records': count}}.

  Raises:
    CorruptShardError: naming the first missing, truncated or damaged shard,
      or a missing or inconsistent statistics.json. ArrayRecord chunks carry a
      hash, so any damaged byte is found. Of TFRecord files the framing and
      the record count are checked but not the CRCs (no TensorFlow here):
      damage inside a float can pass.
    FileNotFoundError: if the directory holds no complete dataset.
  """
  data_dir = reading.dataset_dir(source)
  info_path = data_dir / "dataset_info.json"
  if not info_path.exists():
    raise FileNotFoundError(
        f"{info_path} does not exist: the dataset is not (completely) prepared"
    )
  try:
    info = tfds.builder_from_directory(data_dir).info
  except Exception as e:  # pylint: disable=broad-except
    raise CorruptShardError(info_path, f"cannot be read ({e})") from e
  decoder = rlds.EpisodeDecoder(info.features) if decode else None
  summary = {}
  for split, split_info in info.splits.items():
    paths = [os.fspath(p) for p in split_info.filepaths]
    for path, expected in zip(paths, split_info.shard_lengths, strict=True):
      if info.file_format == tfds.core.FileFormat.ARRAY_RECORD:
        records = _array_record_records(path, expected)
      elif info.file_format == tfds.core.FileFormat.TFRECORD:
        records = _tfrecord_records(path, expected)
      else:
        raise ValueError(f"cannot verify {info.file_format.value} files")
      for i, record in enumerate(records):
        if decoder is not None:
          try:
            decoder(record)
          except Exception as e:  # pylint: disable=broad-except
            raise CorruptShardError(
                path, f"record {i} cannot be decoded ({e})"
            ) from e
    summary[split] = {
        "shards": len(paths),
        "records": int(sum(split_info.shard_lengths)),
    }
  _check_statistics(data_dir, summary)
  return summary


def _array_record_records(path: str, expected: int):
  reader = reading.open_array_record(path, expected)
  try:
    for i in range(expected):
      yield reading.read_record(reader, path, i)
  finally:
    reader.close()


def _tfrecord_records(path: str, expected: int):
  """TFRecord framing: uint64 length, uint32 CRC, payload, uint32 CRC."""
  if not os.path.exists(path):
    raise CorruptShardError(path, "shard file is missing")
  count = 0
  with open(path, "rb") as f:
    while header := f.read(12):
      if len(header) < 12:
        raise CorruptShardError(path, f"truncated in record {count}'s header")
      (length,) = struct.unpack("<Q", header[:8])
      payload = f.read(length)
      if len(payload) < length or len(f.read(4)) < 4:
        raise CorruptShardError(path, f"truncated in record {count}")
      count += 1
      if count > expected:
        break
      yield payload
  if count != expected:
    raise CorruptShardError(
        path,
        f"holds {'more than ' if count > expected else ''}{count} "
        f"records, dataset_info.json says {expected}",
    )


def _check_statistics(data_dir, summary):
  path = data_dir / statistics_lib.STATISTICS_FILENAME
  if not path.exists():
    # Every playlearn build writes it before the rename into place, so a
    # dataset without it was copied partly; training would fail later on it.
    raise CorruptShardError(
        path,
        "is missing: the dataset's normalisation statistics are not "
        "there (copy the whole version directory)",
    )
  try:
    splits = json.loads(path.read_text())["splits"]
  except Exception as e:  # pylint: disable=broad-except
    raise CorruptShardError(path, f"cannot be read ({e})") from e
  for split, counts in summary.items():
    if splits.get(split, {}).get("num_episodes") != counts["records"]:
      raise CorruptShardError(
          path,
          f"the statistics of split {split} do not cover its "
          f"{counts['records']} episodes",
      )
