"""What code decides a grade, as one hash: part of the batch cache key.

A grade depends on more than the zip, the registry data and the version string: on the
grader's own source (check kinds, comparisons, the sandbox's probes) and on the course's
code (references, judges, generators) and YAML files. Editing any of them must regrade,
so the cache key holds `code_digest(assignment)`:

- every `.py` file of the `grader` package (imported or not: the sandbox server runs
  some of them in another process);
- every module *imported in this process* whose file lies in a course root: the folder of
  each top-level package the registry names in a `package.module:function` reference,
  and the `--references` folders. Every named module is imported first (loading the
  registry already did for most), so its own imports count too; a module that a judge
  imports only inside a function body counts once it has run in this process;
- the assignment's YAML file and the files it `extends`;
- every `.py` and `.yaml` file of the assignment's course package (its sandbox probes and
  `course.yaml` are never imported here).

Files are hashed by their bytes (`hashing.files_digest`), never by their times.
"""

from __future__ import annotations

import functools
import importlib
import sys
from pathlib import Path
from typing import Any, Iterable

from .extends import extends_chain
from .hashing import digest, files_digest
from .plain import plain
from .schema import REFERENCE, Assignment

GRADER_ROOT = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def grader_digest() -> str:
    """All of the grader's own Python source (computed once per process)."""
    return files_digest(GRADER_ROOT.rglob("*.py"), GRADER_ROOT.parent)


def references_in(value: Any) -> set[str]:
    """Every `package.module:function` string anywhere in registry data."""
    if isinstance(value, str):
        return {value} if REFERENCE.fullmatch(value) else set()
    if isinstance(value, dict):
        return set().union(*(references_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(references_in(v) for v in value)) if value else set()
    return set()


def course_roots(assignment: Assignment, extra: Iterable[str] = ()) -> list[Path]:
    """Folders whose imported modules are course code: those of the registry's top-level
    packages (already imported by the registry's validation) and `extra` folders."""
    refs = references_in(plain([c.params for c in assignment.checks])) | {
        r for r in (assignment.solution, assignment.starter) if r}
    roots: list[Path] = [Path(p).resolve() for p in extra]
    for top in sorted({r.partition(":")[0].split(".")[0] for r in refs}):
        module = sys.modules.get(top)
        paths = list(getattr(module, "__path__", None) or [])  # a package: its folder(s)
        if not paths and getattr(module, "__file__", None):
            paths = [str(Path(module.__file__).parent)]  # a top-level module: its folder
        roots += [Path(p).resolve() for p in paths]
    return [r for r in dict.fromkeys(roots) if r != GRADER_ROOT]


def _import_named(assignment: Assignment) -> None:
    """Import every module the registry names (validation did for most; this makes sure
    of the rest): their files, and what they import, are then in `sys.modules`."""
    for ref in sorted(references_in(plain([c.params for c in assignment.checks]))):
        try:
            importlib.import_module(ref.partition(":")[0])
        except Exception:  # noqa: BLE001 - grading reports a broken reference; the key just goes on
            pass


def course_files(assignment: Assignment, extra: Iterable[str] = ()) -> set[Path]:
    _import_named(assignment)
    roots = course_roots(assignment, extra)
    files: set[Path] = set()
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if not name or not name.endswith(".py"):
            continue
        path = Path(name).resolve()
        if any(path.is_relative_to(root) for root in roots) and not path.is_relative_to(GRADER_ROOT):
            files.add(path)
    if assignment.source and Path(assignment.source).is_file():
        files.update(extends_chain(Path(assignment.source)))
        files.update(_package_files(assignment.source))
    return files


def _package_files(source: str) -> set[Path]:
    """Every Python and YAML file of the assignment's course package (when it has one): its
    probes run in the sandbox server, never in this process, and its `course.yaml` names the
    judges, so neither shows up among the imported modules."""
    from .courses import course_of

    course = course_of(source)
    if course is None:
        return set()
    return {p.resolve() for pattern in ("*.py", "*.yaml") for p in Path(course.folder).rglob(pattern)
            if "__pycache__" not in p.parts}


def code_digest(assignment: Assignment, extra: Iterable[str] = ()) -> str:
    """The grader's source + the course's imported modules and YAML files."""
    return digest(grader_digest(), files_digest(course_files(assignment, extra)))
