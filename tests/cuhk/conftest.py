"""Fixtures for CUHK ELEG 5491 HW2 (problems/cuhk-eleg5491-2017-hw2.yaml).

The session's sandbox runner (tests/conftest.py); the reference zip and the starter zip
graded once each with the real registry; `grade_cifar(notebook, check_ids)` grades one bugged
notebook on a subset of the checks (planted bugs: string edits of the solution's cells, each
must apply).
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path
from typing import Any, Iterable

import nbformat
import pytest

from grader import registry
from grader.grading import Options, grade
from cuhk_eleg5491.reference.notebooks import NOTEBOOK, REPORT, ZIP_TIME, notebook, report_pdf_bytes, write_solution_zip

ROOT = Path(__file__).resolve().parent.parent.parent
REAL = ROOT / "courses" / "cuhk_eleg5491" / "cuhk-eleg5491-2017-hw2.yaml"
STUDENT = "1155012345"


@pytest.fixture(scope="session")
def cuhk() -> registry.Assignment:
    return registry.load_file(REAL)


def _grade(zip_path: Path, assignment: registry.Assignment, runner: Any) -> tuple[Any, float]:
    t0 = time.monotonic()
    g = grade(zip_path, assignment, Options(submitted_at=assignment.deadline), runner)
    return g, time.monotonic() - t0


@pytest.fixture(scope="session")
def cuhk_gradings(cuhk, runner, tmp_path_factory) -> dict[str, Any]:
    """{"reference": (Grade, seconds), "starter": (Grade, seconds)}, graded in this thread
    (test_acceptance.py asks for them before it starts its planted bugs in the background)."""
    reference = write_solution_zip(tmp_path_factory.mktemp("cuhk-ref") / f"{STUDENT}.zip")
    starter = tmp_path_factory.mktemp("cuhk-starter") / f"{STUDENT}.zip"
    with zipfile.ZipFile(starter, "w") as zf:
        zf.writestr(zipfile.ZipInfo(REPORT, date_time=ZIP_TIME), report_pdf_bytes())
        zf.writestr(zipfile.ZipInfo(NOTEBOOK, date_time=ZIP_TIME), nbformat.writes(notebook(starter=True)))
    return {"reference": _grade(reference, cuhk, runner), "starter": _grade(starter, cuhk, runner)}


@pytest.fixture(scope="session")
def cuhk_reference(cuhk_gradings):
    return cuhk_gradings["reference"]


@pytest.fixture(scope="session")
def cuhk_starter(cuhk_gradings):
    return cuhk_gradings["starter"]


def patched(edits: Iterable[tuple[str, str, str]]) -> Any:
    """The solution notebook with (cell anchor, old, new) edits; each must apply exactly once."""
    nb = notebook(starter=False)
    for anchor, old, new in edits:
        hits = [c for c in nb.cells if c.cell_type == "code" and anchor in c.source]
        assert len(hits) == 1, f"{anchor!r} is in {len(hits)} cells"
        assert hits[0].source.count(old) == 1, f"{old!r} is not once in the cell of {anchor!r}"
        hits[0].source = hits[0].source.replace(old, new)
    return nb


@pytest.fixture(scope="session")
def grade_cifar(cuhk, grade_one):
    """grade_cifar(nb, check_ids=None) -> {id: CheckResult}: the session's `grade_one`
    (cached by content; `grade_one.submit(cuhk, NOTEBOOK, nb, ids)` starts one early)."""
    return lambda nb, check_ids=None: grade_one(cuhk, NOTEBOOK, nb, check_ids).results
