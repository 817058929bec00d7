"""Shared fixtures for the HW2 (Spring 2025) registry's acceptance tests.

One sandbox runner for the whole session (``open_runner()``), the real registry
(courses/nyu_dl_hw2/nyu-dl-hw2-2025.yaml) and the quick test registry next to this file (the real
one with small training budgets, see quick.yaml), and the two expensive gradings, each
done once per session: the reference solution zip and the starter zip, both graded with
the real registry.

Planted bugs are graded one notebook at a time with ``grade_one`` (``grade_notebook``
directly, only that notebook's checks): a bugged copy of a solution notebook is written
with ``patched`` (string replacements in the solution's cell sources, or cells appended
after the original definitions: a later definition wins in a notebook).
"""

from __future__ import annotations

import copy
import os
import time
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import nbformat
import pytest

from tests.engine.conftest import Graded  # one helper for both suites

from grader import registry
from grader.grading import Options, grade, grade_notebook
from grader.models import CheckResult

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
REAL = ROOT / "courses" / "nyu_dl_hw2" / "nyu-dl-hw2-2025.yaml"
QUICK = HERE / "quick.yaml"

NOTEBOOKS = ("hw2_moe.ipynb", "hw2_cnn.ipynb", "hw2_rnn.ipynb", "seq_classification.ipynb")


# ----------------------------------------------------------------------------- notebooks


@lru_cache(maxsize=None)
def _solutions() -> dict[str, Any]:
    from nyu_dl_hw2.reference.hw2.notebooks import solution_notebooks

    return solution_notebooks()


@dataclass(frozen=True)
class Edit:
    """Replace every `old` by `new` in the one code cell that contains `cell` (default: `old`)."""

    old: str
    new: str
    cell: str | None = None


def patched(name: str, edits: Iterable[Edit] = (), append: Iterable[str] = ()) -> Any:
    """A copy of the solution notebook `name` with `edits` applied and `append` cells added.

    Every edit must match: its anchor in exactly one code cell, `old` at least once there
    (a planted bug that silently does not apply would test nothing).
    """
    return edited(_solutions()[name], name, edits, append)


def edited(notebook: Any, name: str, edits: Iterable[Edit] = (), append: Iterable[str] = ()) -> Any:
    """A copy of `notebook` with `edits` applied (each matching, as `patched` says) and
    `append` cells added: shared by every suite that plants bugs in a notebook."""
    nb = copy.deepcopy(notebook)
    for e in edits:
        anchor = e.cell if e.cell is not None else e.old
        hits = [c for c in nb.cells if c.cell_type == "code" and anchor in c.source]
        assert len(hits) == 1, f"{name}: {anchor!r} is in {len(hits)} code cells, expected 1"
        assert e.old in hits[0].source, f"{name}: {e.old!r} not in the cell of {anchor!r}"
        hits[0].source = hits[0].source.replace(e.old, e.new)
    for src in append:
        nb.cells.append(nbformat.v4.new_code_cell(src))
    return nb


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def runner():
    if os.name != "posix":  # pragma: no cover
        pytest.skip("the sandbox needs Linux")
    from grader.sandbox_runner import open_runner

    with open_runner() as r:
        yield r


@pytest.fixture(scope="session")
def real() -> registry.Assignment:
    return registry.load_file(REAL)


@pytest.fixture(scope="session")
def quick() -> registry.Assignment:
    return registry.load_file(QUICK)


def _graded(zip_path: Path, assignment: registry.Assignment, runner: Any) -> Graded:
    t0 = time.monotonic()
    g = grade(zip_path, assignment, Options(submitted_at=assignment.deadline), runner)
    return Graded(g, time.monotonic() - t0)


@pytest.fixture(scope="session")
def reference_graded(runner, real, tmp_path_factory) -> Graded:
    """The reference solution zip (write_solution_zip) graded with the real registry, once."""
    from nyu_dl_hw2.reference.hw2.notebooks import write_solution_zip

    zip_path = write_solution_zip(tmp_path_factory.mktemp("reference"))
    return _graded(zip_path, real, runner)


def write_starter_zip(folder: Path, net_id: str = "abc1234") -> Path:
    """The starter notebooks plus the theory PDF, as a student would zip them untouched."""
    from nyu_dl_hw2.reference.hw2.notebooks import DEFAULT_ZIP_TIME, SUBMISSION_FILES, THEORY_PDF, starter_notebooks, \
        theory_pdf_bytes

    entries = {THEORY_PDF: theory_pdf_bytes()}
    entries.update({n: nbformat.writes(nb).encode("utf-8") for n, nb in starter_notebooks().items()})
    path = Path(folder) / f"{net_id}.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in SUBMISSION_FILES:
            zf.writestr(zipfile.ZipInfo(name, date_time=DEFAULT_ZIP_TIME), entries[name])
    return path


@pytest.fixture(scope="session")
def starter_graded(runner, real, tmp_path_factory) -> Graded:
    """The starter zip graded with the real registry, once."""
    return _graded(write_starter_zip(tmp_path_factory.mktemp("starter")), real, runner)


@dataclass
class NotebookGrade:
    results: dict[str, CheckResult]
    executed_ok: bool
    seconds: float


@pytest.fixture(scope="session")
def grade_one(runner, tmp_path_factory):
    """grade_one(assignment, name, notebook) -> NotebookGrade: one notebook, its checks only."""
    counter = iter(range(10_000))

    def _grade(assignment: registry.Assignment, name: str, nb: Any) -> NotebookGrade:
        work = tmp_path_factory.mktemp(f"nb{next(counter)}")
        path = work / name
        path.write_text(nbformat.writes(nb), encoding="utf-8")
        rule = next(f for f in assignment.submission.files if f.name == name)
        checks = [c for c in assignment.checks if c.notebook == name]
        results, executed_ok, seconds = grade_notebook(rule, path, work, checks, assignment, Options(), runner)
        return NotebookGrade({r.id: r for r in results}, executed_ok, seconds)

    return _grade


@pytest.fixture(scope="session")
def quick_reference(grade_one, quick):
    """The solution notebooks graded with the quick registry (cached per notebook)."""
    cache: dict[str, NotebookGrade] = {}

    def _get(name: str) -> NotebookGrade:
        if name not in cache:
            cache[name] = grade_one(quick, name, patched(name))
        return cache[name]

    return _get
