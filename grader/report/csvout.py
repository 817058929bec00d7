"""The gradebook: `grades.csv`, one row per submission.

Columns, in this order:
    student, zip, verdict, <one column per notebook, sorted by name>,
    penalty_percent, penalties, raw_score, score, max_score, reason,
    theory_suggested, manual_points, final_score

- `theory_suggested`: the points `grader theory` suggests for the theory PDF (empty when the
  assignment has no key); `manual_points`: the TAs' points from `batch --manual` and
  `final_score` = raw_score + manual_points - penalties (both empty without `--manual`);
- notebook columns are the union of the notebooks of all grades' checks, sorted, so the same
  batch always gives the same header; a cell holds that notebook's points, or is empty when
  the submission has no checks for it (rejected, not accepted);
- `penalties` is a short text: `rule -P%: reason` joined by `; `;
- numbers are rounded to 4 decimals and written without trailing zeros (`37.5`, `80`);
- rows are sorted by student (case-insensitively; no student last), then zip name;
- text cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`,
  tab or CR) get a leading `'` when `safe=True` (the default): student ids and zip names
  come from students.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from grader.models import Grade

from ._common import clean, finite, gradebook_key

__all__ = ["FIXED_BEFORE", "FIXED_AFTER", "notebook_columns", "gradebook_header", "gradebook_rows",
           "gradebook_csv", "write_gradebook"]

FIXED_BEFORE = ("student", "zip", "verdict")
FIXED_AFTER = ("penalty_percent", "penalties", "raw_score", "score", "max_score", "reason",
               "theory_suggested", "manual_points", "final_score")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _num(x: float) -> str:
    text = f"{round(finite(x), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(value: object, safe: bool) -> str:
    s = clean(value, keep_newlines=False)
    if safe and s.startswith(_FORMULA_START):
        s = "'" + s
    return s


def notebook_columns(grades: Iterable[Grade]) -> list[str]:
    """Every notebook any check belongs to, sorted (the header's middle part)."""
    return sorted({c.notebook for g in grades for c in g.checks})


def gradebook_header(notebooks: Sequence[str]) -> list[str]:
    """The header row. A notebook named like a fixed column is prefixed with `notebook:`."""
    fixed = set(FIXED_BEFORE) | set(FIXED_AFTER)
    middle = [f"notebook:{n}" if n in fixed else n for n in notebooks]
    return [*FIXED_BEFORE, *middle, *FIXED_AFTER]


def penalties_text(grade: Grade) -> str:
    return "; ".join(f"{p.rule} -{_num(p.percent)}%: {clean(p.reason, keep_newlines=False)}" for p in grade.penalties)


def gradebook_rows(grades: Iterable[Grade], *, safe: bool = True) -> tuple[list[str], list[list[str]]]:
    """(header, rows), rows in gradebook order, every cell a string."""
    grades = sorted(grades, key=gradebook_key)
    notebooks = notebook_columns(grades)
    header = gradebook_header(notebooks)
    rows: list[list[str]] = []
    for g in grades:
        per_nb: dict[str, float] = {}
        for c in g.checks:
            per_nb[c.notebook] = per_nb.get(c.notebook, 0.0) + finite(c.points)
        rows.append(
            [
                _text(g.student or "", safe),
                _text(g.zip_name, safe),
                _text(g.verdict, safe),
                *[_num(per_nb[n]) if n in per_nb else "" for n in notebooks],
                _num(sum(finite(p.percent) for p in g.penalties)),
                _text(penalties_text(g), safe),
                _num(g.raw_score),
                _num(g.score),
                _num(g.max_score),
                _text(g.reason, safe),
                _num(g.theory.suggested_total) if g.theory is not None else "",
                _num(g.manual_points) if g.manual_scores else "",
                _num(g.final_score) if g.manual_scores else "",
            ]
        )
    return header, rows


def _write(grades: Iterable[Grade], out: TextIO, safe: bool) -> None:
    header, rows = gradebook_rows(grades, safe=safe)
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    writer.writerows(rows)


def gradebook_csv(grades: Iterable[Grade], *, safe: bool = True) -> str:
    """The whole CSV as text ('\\n' line ends)."""
    buf = io.StringIO()
    _write(grades, buf, safe)
    return buf.getvalue()


def write_gradebook(grades: Iterable[Grade], path: str | os.PathLike[str], *, safe: bool = True) -> Path:
    """Write `grades.csv` (UTF-8, '\\n' line ends) atomically: a temp file, then a rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        _write(grades, f, safe)
    os.replace(tmp, path)
    return path
