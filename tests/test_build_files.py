"""The Bazel BUILD files stay in step with the tree.

Every .py file under playlearn/, scripts/, datasets/ and tests/ is in the srcs
of exactly one target, and every file a target lists exists. Bazel is not
needed: each BUILD file is run as Python with stand-ins for the rules it may
call. The conventions (see the top-level BUILD):

  * py_library "playlearn": every playlearn/**/*.py;
  * one py_library per dataset folder, datasets/<name>/, named <name>;
  * one py_binary per scripts/<name>.py, named <name>;
  * one py_test per tests/test_<name>.py, named test_<name>; conftest.py and
    other helpers in a testonly py_library;
  * explicit lists only: glob() would hide a forgotten file from this test.

When this test fails, its message says which lines to add to or remove from
BUILD.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
COVERED = ("playlearn", "scripts", "datasets", "tests")
BUILD_NAMES = ("BUILD", "BUILD.bazel")
# Not part of the source tree: virtualenvs, outputs, Bazel's own links.
_PRUNE = {"__pycache__", "out", "build", "dist", "node_modules"}


@dataclasses.dataclass(frozen=True)
class Target:
  kind: str
  name: str
  package: str  # The BUILD file's folder, relative to ROOT ('' at the top).
  srcs: tuple[str, ...]  # Relative to ROOT.
  deps: tuple[str, ...]
  build_file: str

  @property
  def label(self) -> str:
    return f"//{self.package}:{self.name}"


def _walk(top: pathlib.Path):
  for folder, dirs, files in os.walk(top):
    dirs[:] = sorted(
        d
        for d in dirs
        if not d.startswith((".", "bazel-"))
        and d not in _PRUNE
        and not d.endswith(".egg-info")
    )
    yield pathlib.Path(folder), files


def _build_files() -> list[pathlib.Path]:
  return [
      folder / name
      for folder, files in _walk(ROOT)
      for name in BUILD_NAMES
      if name in files
  ]


def _python_files() -> set[str]:
  found = set()
  for top in COVERED:
    for folder, files in _walk(ROOT / top):
      found.update(
          (folder / f).relative_to(ROOT).as_posix()
          for f in files
          if f.endswith(".py")
      )
  return found


def _no_glob(*args, **kwargs):
  del args, kwargs
  raise ValueError(
      "glob() is not allowed in BUILD files: list the files, so "
      "that tests/test_build_files.py can check them."
  )


def _parse(build_file: pathlib.Path) -> list[Target]:
  package = build_file.parent.relative_to(ROOT).as_posix()
  package = "" if package == "." else package
  targets = []

  def rule(kind):
    def record(name, srcs=(), deps=(), **kwargs):
      del kwargs  # main, testonly, visibility, data...: not checked here.
      srcs = tuple(f"{package}/{s}" if package else s for s in srcs)
      targets.append(
          Target(
              kind,
              name,
              package,
              srcs,
              tuple(deps),
              build_file.relative_to(ROOT).as_posix(),
          )
      )

    return record

  def ignore(*args, **kwargs):
    del args, kwargs

  namespace = {
      "load": ignore,
      "package": ignore,
      "exports_files": ignore,
      "licenses": ignore,
      "glob": _no_glob,
      "requirement": lambda name: f"@pypi//{name}",
      "py_library": rule("py_library"),
      "py_binary": rule("py_binary"),
      "py_test": rule("py_test"),
      "filegroup": rule("filegroup"),
  }
  code = compile(build_file.read_text(), str(build_file), "exec")
  exec(code, {"__builtins__": {}}, namespace)  # pylint: disable=exec-used
  return targets


@pytest.fixture(scope="module")
def targets() -> list[Target]:
  build_files = _build_files()
  assert build_files, f"no BUILD file under {ROOT}"
  return [t for b in build_files for t in _parse(b)]


def _suggestion(path: str) -> str:
  """The BUILD line that would list `path`, following the conventions."""
  parts = pathlib.PurePosixPath(path)
  stem = parts.stem
  if parts.parts[0] == "playlearn":
    return f'add "{path}" to the srcs of py_library(name = "playlearn")'
  if parts.parts[0] == "scripts":
    return (
        f'py_binary(name = "{stem}", srcs = ["{path}"], '
        'deps = [":playlearn"])'
    )
  if parts.parts[0] == "tests" and stem.startswith("test_"):
    return (
        f'py_test(name = "{stem}", srcs = ["{path}"], '
        'deps = [":playlearn", ":test_helpers"])'
    )
  if parts.parts[0] == "tests":
    return f'add "{path}" to the srcs of py_library(name = "test_helpers")'
  if parts.parts[0] == "datasets" and len(parts.parts) > 2:
    return f'add "{path}" to the srcs of py_library(name = "{parts.parts[1]}")'
  return f'add "{path}" to the srcs of a py_library'


def test_every_python_file_is_in_exactly_one_target(targets):
  listed = collections.defaultdict(list)
  for target in targets:
    for src in target.srcs:
      listed[src].append(target.label)
  missing = sorted(_python_files() - set(listed))
  repeated = {
      src: labels for src, labels in sorted(listed.items()) if len(labels) > 1
  }
  lines = []
  if missing:
    lines.append("Not in any BUILD target (add them):")
    lines += [f"  {path}: {_suggestion(path)}" for path in missing]
  if repeated:
    lines.append("In more than one target (keep one):")
    lines += [
        f"  {path}: {', '.join(labels)}" for path, labels in repeated.items()
    ]
  if lines:
    pytest.fail("\n".join(lines), pytrace=False)


def test_every_listed_file_exists(targets):
  absent = [
      f"  {src} (in {t.label}, {t.build_file})"
      for t in targets
      for src in t.srcs
      if not (ROOT / src).is_file()
  ]
  if absent:
    pytest.fail(
        "Listed in BUILD but not in the tree (remove them):\n"
        + "\n".join(absent),
        pytrace=False,
    )


def test_sources_stay_inside_their_package(targets):
  """Bazel forbids listing a file that lies under another BUILD file."""
  packages = {b.parent.relative_to(ROOT).as_posix() for b in _build_files()}
  crossing = []
  for target in targets:
    for src in target.srcs:
      folder = pathlib.PurePosixPath(src).parent
      while folder.as_posix() not in (".", target.package or "."):
        if folder.as_posix() in packages:
          crossing.append(
              f"  {src} (in {target.label}) lies in package //{folder}"
          )
          break
        folder = folder.parent
  if crossing:
    pytest.fail(
        "\n".join(["Sources in another package:"] + crossing), pytrace=False
    )


def test_scripts_and_tests_have_their_own_target(targets):
  by_src = collections.defaultdict(list)
  for target in targets:
    for src in target.srcs:
      by_src[src].append(target)
  wrong = []
  for path in sorted(_python_files()):
    top, stem = path.split("/")[0], pathlib.PurePosixPath(path).stem
    expected = None
    if top == "scripts" and path.count("/") == 1:
      expected = "py_binary"
    elif top == "tests" and stem.startswith("test_"):
      expected = "py_test"
    if expected is None:
      continue
    for target in by_src.get(path, []):
      if target.kind != expected or target.name != stem:
        wrong.append(
            f"  {path} is in {target.kind} {target.label}; expected "
            f'{expected}(name = "{stem}")'
        )
  if wrong:
    pytest.fail("\n".join(["Wrong target for:"] + wrong), pytrace=False)


def test_names_are_unique_and_local_deps_exist(targets):
  labels = collections.Counter(t.label for t in targets)
  repeated = sorted(label for label, n in labels.items() if n > 1)
  assert not repeated, f"Target names used twice: {repeated}"
  problems = []
  for target in targets:
    for dep in target.deps:
      if dep.startswith("@"):
        continue  # Third-party: setup.py, not Bazel, is the source of truth.
      label = f"//{target.package}{dep}" if dep.startswith(":") else dep
      if label not in labels:
        problems.append(f"  {target.label} depends on unknown {dep}")
  if problems:
    pytest.fail("\n".join(["Unknown deps:"] + problems), pytrace=False)
