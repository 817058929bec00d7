"""The notebooks of every NYU term of HW2: which versions a term hands out, and its
solution and starter writers (course content: the registry's `solution:` / `starter:`).

A term is a choice among the notebook versions the facts describe
(/work/shared/hw2-terms.md §3): the CNN class name (``CNN`` or ``CNN_Solution``), the RNN
notebook (version 1, ``nb_rnn_v1``, or version 2, ``nb_rnn``), the seq notebook (the
class notebook ``08-seq_classification.ipynb`` or the inlined ``seq_classification.ipynb``)
and whether it has the MoE notebook. Everything else is shared, so a term adds no code.

The class notebook ``08-seq_classification.ipynb`` (with its ``res/`` helpers) is written by
``nb_seq_class`` (the same Section 8 as the inlined notebook; the task generator imported from
``res/``). A solution zip of a class-notebook term carries no ``res/``: the grader supplies it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat

from . import nb_cnn, nb_moe, nb_rnn, nb_rnn_v1, nb_seq, nb_seq_class
from ._cells import Cell
from .notebooks import _build, _write_notebooks, write_solution_zip

CLASS_SEQ = "08-seq_classification.ipynb"
INLINED_SEQ = nb_seq.NAME  # seq_classification.ipynb


@dataclass(frozen=True)
class Term:
    """The notebook versions one term hands out (see the module docstring)."""

    id: str
    cnn_class: str  # "CNN" | "CNN_Solution"
    rnn: int  # 1 | 2
    seq: str | None  # CLASS_SEQ | INLINED_SEQ | None (no seq notebook)
    moe: bool
    zip_time: tuple[int, int, int, int, int, int]  # inside the term's deadline


TERMS = {t.id: t for t in (
    Term("nyu-dl-hw2-2021", "CNN", 1, None, False, (2021, 3, 10, 12, 0, 0)),
    Term("nyu-dl-hw2-2022", "CNN_Solution", 1, CLASS_SEQ, False, (2022, 3, 3, 12, 0, 0)),
    Term("nyu-dl-hw2-2022fall", "CNN_Solution", 1, CLASS_SEQ, False, (2022, 10, 12, 12, 0, 0)),
    Term("nyu-dl-hw2-2024", "CNN_Solution", 1, CLASS_SEQ, True, (2024, 3, 1, 12, 0, 0)),
    Term("nyu-dl-hw2-2024fall", "CNN", 2, INLINED_SEQ, False, (2024, 10, 5, 12, 0, 0)),
    Term("nyu-dl-hw2-2025", "CNN", 2, INLINED_SEQ, True, (2025, 2, 20, 12, 0, 0)),
    Term("nyu-dl-hw2-2025fall", "CNN_Solution", 1, CLASS_SEQ, False, (2025, 10, 4, 12, 0, 0)),
)}

# `CNN(`, `CNN.forward` and `` `CNN` `` (class line, calls, stub messages, the markdown); never "CNNs".
_CNN_NAME = re.compile(r"\bCNN\b(?=[(`.])")


def _renamed(cells: list[Cell], cnn_class: str) -> list[Cell]:
    if cnn_class == "CNN":
        return list(cells)
    def sub(text: str | None) -> str | None:
        return None if text is None else _CNN_NAME.sub(cnn_class, text)
    return [replace(c, source=sub(c.source), starter=sub(c.starter)) for c in cells]


def class_seq_cells() -> list[Cell]:
    """The class seq notebook's cells (``nb_seq_class``: Section 8 as in the inlined notebook,
    the task generator imported from ``res/``)."""
    return list(nb_seq_class.CELLS)


def notebook_cells(term: Term) -> dict[str, list[Cell]]:
    """Submission name -> cells, in the order the term's PDF lists the notebooks."""
    out: dict[str, list[Cell]] = {}
    if term.moe:
        out[nb_moe.NAME] = list(nb_moe.CELLS)
    out[nb_cnn.NAME] = _renamed(nb_cnn.CELLS, term.cnn_class)
    out[nb_rnn.NAME] = list((nb_rnn_v1 if term.rnn == 1 else nb_rnn).CELLS)
    if term.seq == CLASS_SEQ:
        out[CLASS_SEQ] = class_seq_cells()
    elif term.seq == INLINED_SEQ:
        out[INLINED_SEQ] = list(nb_seq.CELLS)
    return out


def notebooks(term_id: str, starter: bool) -> dict[str, nbformat.NotebookNode]:
    term = TERMS[term_id]
    return {name: _build(name, starter, cells) for name, cells in notebook_cells(term).items()}


def write_term_solution_zip(term_id: str, out_zip: Path, net_id: str = "abc1234") -> Path:
    """A full-score submission of the term: its notebooks and the theory PDF."""
    return write_solution_zip(out_zip, net_id, TERMS[term_id].zip_time, notebooks(term_id, starter=False))


def write_term_starters(term_id: str, out_dir: Path) -> list[Path]:
    """The term's starter notebooks (handout-like: every interface, the student parts stubbed),
    with the class notebook's ``res/`` helpers beside it for the terms that use it."""
    written = _write_notebooks(notebooks(term_id, starter=True), out_dir)
    if TERMS[term_id].seq == CLASS_SEQ:
        nb_seq_class.write_support(Path(out_dir))
    return written


def _writers(term_id: str):
    def solution(out_zip: Path, net_id: str = "abc1234") -> Path:
        return write_term_solution_zip(term_id, out_zip, net_id)

    def starter(out_dir: Path) -> list[Path]:
        return write_term_starters(term_id, out_dir)

    solution.__doc__ = f"`grader solution {term_id}`: see write_term_solution_zip."
    starter.__doc__ = f"`grader starter {term_id}`: see write_term_starters."
    return solution, starter


# The registry names these (`solution: nyu_dl_hw2.reference.hw2.terms:solution_2022fall`).
solution_2021, starter_2021 = _writers("nyu-dl-hw2-2021")
solution_2022, starter_2022 = _writers("nyu-dl-hw2-2022")
solution_2022fall, starter_2022fall = _writers("nyu-dl-hw2-2022fall")
solution_2024, starter_2024 = _writers("nyu-dl-hw2-2024")
solution_2024fall, starter_2024fall = _writers("nyu-dl-hw2-2024fall")
solution_2025fall, starter_2025fall = _writers("nyu-dl-hw2-2025fall")
