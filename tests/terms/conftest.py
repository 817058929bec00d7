"""Fixtures of the per-term acceptance tests: the session's runner and `grade_one`
(tests/conftest.py), the quick version-1 registry (quick_v1.yaml) and the version-1 notebooks of a
term, patched for planted bugs like tests/hw2's `patched`."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import pytest

from grader import registry
from tests.hw2.conftest import Edit, edited  # noqa: F401

HERE = Path(__file__).resolve().parent
V1_TERM = "nyu-dl-hw2-2022fall"  # version 1, CNN_Solution: what quick_v1.yaml extends


@lru_cache(maxsize=None)
def _notebooks(term_id: str, starter: bool) -> dict[str, Any]:
    from nyu_dl_hw2.reference.hw2.terms import notebooks

    return notebooks(term_id, starter)


def term_notebook(name: str, term_id: str = V1_TERM, starter: bool = False, edits: Iterable[Edit] = (),
                  append: Iterable[str] = ()) -> Any:
    """A copy of the term's solution (or starter) notebook with `edits` applied and `append` cells
    added; every edit must match exactly one code cell."""
    return edited(_notebooks(term_id, starter)[name], name, edits, append)


@pytest.fixture(scope="session")
def quick_v1() -> registry.Assignment:
    return registry.load_file(HERE / "quick_v1.yaml")


@pytest.fixture(scope="session")
def v1_graded(grade_one, quick_v1):
    """v1_graded(name, starter=False) -> NotebookGrade of the term's notebook (grade_one's cache:
    once per session)."""
    return lambda name, starter=False: grade_one(quick_v1, name, term_notebook(name, starter=starter))
