"""Content hashes of saved artifacts, so that none can rot silently.

A saved policy or a training checkpoint is a directory. `write` records the
SHA-256 and size of every file under it in `MANIFEST.json`; `verify` checks
them and raises `CorruptArtifactError` naming the first file that differs.
`atomic_write_text` writes a file beside its destination and renames it, so
that a kill leaves either the old content or the new, never half of it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile

MANIFEST = "MANIFEST.json"
_CHUNK = 1 << 20


class CorruptArtifactError(ValueError):
  """A saved file's content differs from what its manifest recorded."""


def _sha256(path: str) -> str:
  digest = hashlib.sha256()
  with open(path, "rb") as f:
    while chunk := f.read(_CHUNK):
      digest.update(chunk)
  return digest.hexdigest()


def _files(directory: str) -> list[str]:
  """Paths of every file under `directory`, relative, sorted, no manifest."""
  found = []
  for root, _, names in os.walk(directory):
    for name in names:
      rel = os.path.relpath(os.path.join(root, name), directory)
      if rel != MANIFEST:
        found.append(rel)
  return sorted(found)


def atomic_write_text(path: str, text: str) -> None:
  """Writes `text` to `path` through a temporary file and a rename."""
  directory = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(
      dir=directory, prefix=f".{os.path.basename(path)}."
  )
  try:
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would hide it from others.
    with os.fdopen(fd, "w") as f:
      f.write(text)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def write(directory: str) -> dict:
  """Records every file under `directory` in its MANIFEST.json; returns it."""
  entries = {
      rel: {
          "sha256": _sha256(os.path.join(directory, rel)),
          "bytes": os.path.getsize(os.path.join(directory, rel)),
      }
      for rel in _files(directory)
  }
  atomic_write_text(
      os.path.join(directory, MANIFEST),
      json.dumps({"files": entries}, indent=1, sort_keys=True),
  )
  return entries


def exists(directory: str) -> bool:
  return os.path.exists(os.path.join(directory, MANIFEST))


def verify(directory: str) -> None:
  """Raises CorruptArtifactError unless every file matches the manifest.

  A file missing or changed (size or hash) since `write` fails, and the
  message names it; files added beside them (a note, a video) are allowed.
  """
  path = os.path.join(directory, MANIFEST)
  try:
    with open(path) as f:
      recorded = json.load(f)["files"]
  except FileNotFoundError:
    raise CorruptArtifactError(
        f"{path} is missing: {directory} was not "
        "finished or has been altered"
    ) from None
  except (json.JSONDecodeError, KeyError, TypeError) as e:
    raise CorruptArtifactError(f"{path} is unreadable ({e})") from None
  for rel, entry in sorted(recorded.items()):
    file = os.path.join(directory, rel)
    if not os.path.exists(file):
      raise CorruptArtifactError(f"{file} is missing (listed in {path})")
    size = os.path.getsize(file)
    if size != entry["bytes"]:
      raise CorruptArtifactError(
          f"{file} has {size} bytes, {entry['bytes']} "
          f"when saved ({path}): truncated or altered"
      )
    if _sha256(file) != entry["sha256"]:
      raise CorruptArtifactError(
          f"{file} does not match its SHA-256 in "
          f"{path}: the file is corrupt"
      )


def replace_directory(staging: str, path: str) -> None:
  """Puts the finished directory `staging` at `path`, replacing one there.

  Two renames: at every moment a whole directory exists, at `path` or at its
  sibling `.<name>.old` (deleted once the new one is in place), so a kill
  never leaves half of one.
  """
  parent, name = os.path.split(os.path.abspath(path))
  previous = os.path.join(parent, f".{name}.old")
  if os.path.exists(previous):  # Left by a killed replacement.
    shutil.rmtree(previous)
  if os.path.exists(path):
    os.rename(path, previous)
  os.rename(staging, path)
  if os.path.exists(previous):
    shutil.rmtree(previous)


def write_json(path: str, data) -> None:
  """`data` as indented JSON at `path`, atomically (making its folder)."""
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  atomic_write_text(path, json.dumps(data, indent=1))
  print(f"wrote {path}")
