"""The cell record the notebook modules (``nb_*.py``) are written in.

A notebook is a list of ``Cell``. A cell holds the solution's source and, for cells the
student has to write, the starter's stub (``starter``); cells without a ``starter`` are
the same in both notebooks. ``tags`` end up in the cell's ``metadata.tags``:

* ``provided``: course code the student must not change (our re-write of it: the
  integrity check compares with the course's handout, ``--starters``, or judges this
  code's behaviour, courses/nyu_dl_hw2/reference/hw2/provided.py; ``provided_sources()`` lists it);
* ``student``: a cell with TODOs the student fills in;
* ``data``: downloads or loads the course's data set (skipped when only definitions are
  wanted: the grader brings its own data);
* ``run``: trains or evaluates (skipped when only definitions are wanted).

Cells tagged neither ``data`` nor ``run`` only import, define functions and classes, and
set small constants: executing them is cheap and side-effect free. That is what
``solutions.load_solution_namespace`` does.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

PROVIDED = "provided"
STUDENT = "student"
DATA = "data"
RUN = "run"

SKIP_FOR_DEFINITIONS = frozenset({DATA, RUN})


@dataclass(frozen=True)
class Cell:
    kind: str  # "markdown" | "code"
    source: str
    starter: str | None = None
    tags: tuple[str, ...] = ()

    def text(self, starter: bool) -> str:
        if starter and self.starter is not None:
            return self.starter
        return self.source


def md(text: str) -> Cell:
    return Cell("markdown", textwrap.dedent(text).strip("\n"))


def code(source: str, *tags: str, starter: str | None = None) -> Cell:
    src = textwrap.dedent(source).strip("\n")
    st = textwrap.dedent(starter).strip("\n") if starter is not None else None
    return Cell("code", src, st, tuple(tags))
