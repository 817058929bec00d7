"""Grades for the LMS: Brightspace's grade import and a plain Canvas/Gradescope-friendly CSV.

Brightspace (D2L "Importing grades"): a `Username` or `OrgDefinedId` column, one column
per grade item named `<Item> Points Grade`, and a last `End-of-Line Indicator` column whose
cells hold `#`. The net id is the NYU username, so `Username` is the key column. The plain
CSV has `SIS Login ID` (Canvas's column for the login) and one score column named after the
item; a TA maps the columns in Gradescope's "Import scores". The score is the final one:
automatic + the TAs' points - penalties when `--manual` was given, else the automatic score.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from grader.models import Grade

from ._common import finite, gradebook_key


def _num(x: float) -> str:
    text = f"{round(finite(x), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _score(g: Grade) -> float:
    return g.final_score if g.manual_scores else g.score


def _safe(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _write(header: list[str], rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def brightspace_csv(grades: Iterable[Grade], item: str) -> str:
    """Brightspace grade import: Username, `<item> Points Grade`, End-of-Line Indicator."""
    rows = [[_safe(g.student), _num(_score(g)), "#"] for g in sorted(grades, key=gradebook_key) if g.student]
    return _write(["Username", f"{item} Points Grade", "End-of-Line Indicator"], rows)


def plain_csv(grades: Iterable[Grade], item: str) -> str:
    """One login and one score per student (Canvas `SIS Login ID`; map it in Gradescope)."""
    rows = [[_safe(g.student), _num(_score(g))] for g in sorted(grades, key=gradebook_key) if g.student]
    return _write(["SIS Login ID", item], rows)


def theory_csv(grades: Iterable[Grade]) -> str:
    """Every student x theory item: status, suggested points, evidence (for the TAs' sheet)."""
    header = ["student", "item", "status", "points", "suggested_points", "expected", "found", "page", "note"]
    rows = []
    for g in sorted(grades, key=gradebook_key):
        if g.theory is None:
            continue
        for i in g.theory.items:
            rows.append([_safe(g.student or g.zip_name), i.id, i.status, _num(i.points),
                         "" if i.suggested_points is None else _num(i.suggested_points),
                         _safe(i.expected), _safe(" ".join(i.found.split())), "" if i.page is None else str(i.page),
                         _safe(i.note)])
    return _write(header, rows)
