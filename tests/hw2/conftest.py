"""Shared fixtures for the HW2 (Spring 2025) registry's acceptance tests.

The session's fixtures are in tests/conftest.py: the sandbox runner, `grade_one`, the real
registry (`real`: courses/nyu_dl_hw2/nyu-dl-hw2-2025.yaml) and its two expensive gradings,
done once per session and shared with tests/terms: the reference solution zip
(`reference_graded`) and the starter zip (`starter_graded`). Here: the quick test registry
next to this file (the real one with small training budgets, see quick.yaml), the zip and
notebook writers.

Planted bugs are graded one notebook at a time with ``grade_one`` (``grade_notebook``
directly, only that notebook's checks; cached by content): a bugged copy of a solution notebook is written
with ``patched`` (string replacements in the solution's cell sources, or cells appended
after the original definitions: a later definition wins in a notebook).
"""

from __future__ import annotations

import copy
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import nbformat
import pytest

from grader import registry

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
def quick() -> registry.Assignment:
    return registry.load_file(QUICK)


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
def quick_reference(grade_one, quick):
    """quick_reference(name): the solution notebook graded with the quick registry (grade_one's
    cache: once per session)."""
    return lambda name: grade_one(quick, name, patched(name))
