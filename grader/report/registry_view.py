"""An assignment as the registry defines it: files, rules, checks and points."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text


def assignment_json(a: Any) -> dict[str, Any]:
    p = a.penalties
    return {
        "id": a.id, "title": a.title, "course": a.course, "term": a.term, "source": a.source,
        "max_score": a.max_score, "auto_max": a.auto_max, "deadline": a.deadline.isoformat(),
        "zip_pattern": a.submission.zip_pattern, "zip_example": a.submission.zip_example,
        "files": [{"name": f.name, "kind": f.kind, "mode": f.mode if f.kind == "notebook" else None,
                   "execution_penalty": f.execution_penalty} for f in a.submission.files],
        "penalties": {"naming_percent": p.naming_percent, "late_percent_per_period": p.late.percent_per_period,
                      "late_period_hours": p.late.period_hours, "late_cutoff_hours": p.late.cutoff_hours,
                      "execution_percent": p.execution_percent},
        "checks": [{"id": c.id, "notebook": c.notebook, "kind": c.kind, "points": c.points, "public": c.public,
                    "description": c.description} for c in a.checks],
        "manual": [{"id": m.id, "points": m.points, "description": m.description, "file": m.file} for m in a.manual],
        "registry_hash": a.registry_hash,
    }


def assignment_view(a: Any) -> Group:
    head = Text.assemble((f"{a.id}", "bold"), f"  {a.title}  {a.term}\n",
                         f"deadline {a.deadline.isoformat()}   zip {a.submission.zip_example or a.submission.zip_pattern}"
                         f"   max score {a.max_score:g} ({a.auto_max:g} automatic)")
    files = Table(title="Required files")
    for col in ("file", "kind", "run mode", "execution penalty"):
        files.add_column(col)
    for f in a.submission.files:
        files.add_row(f.name, f.kind, f.mode if f.kind == "notebook" else "", "yes" if f.execution_penalty else "")
    p = a.penalties
    rules = Text(f"Penalties (percent of {a.max_score:g}): naming {p.naming_percent:g}%, late "
                 f"{p.late.percent_per_period:g}% per started {p.late.period_hours:g} h"
                 + (f", not accepted after {p.late.cutoff_hours:g} h" if p.late.cutoff_hours is not None else "")
                 + f", non-executable code {p.execution_percent:g}%")
    checks = Table(title="Checks")
    for col in ("id", "notebook", "kind", "points", "public", "description"):
        checks.add_column(col)
    for c in a.checks:
        checks.add_row(Text(c.id), c.notebook, c.kind, f"{c.points:g}", "yes" if c.public else "", Text(c.description))
    parts: list[Any] = [head, files, rules, checks]
    if a.manual:
        manual = Table(title="Graded by hand")
        for col in ("id", "points", "file", "description"):
            manual.add_column(col)
        for m in a.manual:
            manual.add_row(Text(m.id), f"{m.points:g}", m.file or "", Text(m.description))
        parts.append(manual)
    return Group(*parts)
