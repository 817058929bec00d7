"""The theory answer key, as a table a TA can print and as JSON."""

from __future__ import annotations

from typing import Any, Iterable

from rich.table import Table
from rich.text import Text


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(_value_text(v) for v in value)
    return str(value)


def key_json(assignment_id: str, answers: Iterable[Any]) -> dict[str, Any]:
    out = []
    for a in answers:
        item: dict[str, Any] = {"id": a.id, "question": a.question, "value": a.value}
        if a.shape is not None:
            item["shape"] = list(a.shape)
        out.append(item)
    return {"assignment": assignment_id, "answers": out}


def key_table(assignment: Any, answers: Iterable[Any]) -> Table:
    title = f"Answer key: {assignment.id}" + (f" ({assignment.term})" if getattr(assignment, "term", "") else "")
    table = Table(title=title, show_lines=True, expand=False)
    table.add_column("id", no_wrap=True, style="bold")
    table.add_column("question", ratio=2)
    table.add_column("answer", ratio=3)
    table.add_column("shape", no_wrap=True)
    for a in answers:
        shape = " x ".join(str(s) for s in a.shape) if a.shape is not None else ""
        # Text, not markup: formulas such as x[c, 2(i-1)+k] would read as rich style tags.
        table.add_row(Text(a.id), Text(a.question), Text(_value_text(a.value)), Text(shape))
    return table
