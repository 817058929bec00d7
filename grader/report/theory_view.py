"""The theory pre-grading report: a table for the TA, one row per question."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text

from grader.theory.spec import TheoryReport

from ._common import num

STATUS = {"right": ("✓ right", "bold green"), "wrong": ("✗ wrong", "bold red"),
          "not-found": ("? not found", "yellow"), "by-hand": ("✎ by hand", "cyan")}


def theory_table(report: TheoryReport) -> Group:
    title = f"Theory: {report.file} ({report.assignment})"
    parts: list = []
    if not report.has_text:
        parts.append(Text(f"{report.file}: {report.reason}", style="bold yellow"))
    table = Table(title=title, show_lines=True)
    for col in ("id", "status", "points", "expected", "found (page)", "note"):
        table.add_column(col, no_wrap=col in ("id", "status", "points"))
    for i in report.items:
        label, style = STATUS.get(i.status, (i.status, ""))
        pts = "-" if i.suggested_points is None else f"{num(i.suggested_points)}/{num(i.points)}"
        found = (f"p.{i.page}: " if i.page else "") + i.found
        note = "" if not report.has_text else i.note  # the one reason is said above, once
        table.add_row(Text(i.id), Text(label, style=style), Text(pts), Text(i.expected), Text(found), Text(note))
    parts.append(table)
    checked = [i for i in report.items if i.suggested_points is not None]
    by_hand = sum(i.points for i in report.items if i.suggested_points is None)
    parts.append(Text(f"suggested {num(report.suggested_total)} of {num(sum(i.points for i in checked))} checkable "
                      f"points; {num(by_hand)} of {num(report.max_points)} points by hand"))
    return Group(*parts)
