"""Small formatting helpers shared by the renderers. They format; they decide nothing."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from grader.models import CheckResult, Grade

# Check statuses as shown to people: a symbol that survives without colour, the word, a style.
STATUS_STYLE: dict[str, tuple[str, str]] = {
    "pass": ("✓", "bold green"),
    "partial": ("~", "yellow"),
    "fail": ("✗", "bold red"),
    "error": ("!", "bold magenta"),
    "skipped": ("-", "dim"),
}

VERDICT_STYLE: dict[str, str] = {
    "graded": "bold green",
    "not-accepted": "bold yellow",
    "rejected": "bold red",
}

VERDICT_LABEL: dict[str, str] = {
    "graded": "graded",
    "not-accepted": "not accepted",
    "rejected": "rejected",
}

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def status_symbol(status: str) -> str:
    return STATUS_STYLE.get(status, ("?", ""))[0]


def status_style(status: str) -> str:
    return STATUS_STYLE.get(status, ("?", "bold"))[1]


def verdict_label(verdict: str) -> str:
    return VERDICT_LABEL.get(verdict, verdict)


def verdict_style(verdict: str) -> str:
    return VERDICT_STYLE.get(verdict, "bold")


def clean(text: object, *, keep_newlines: bool = True) -> str:
    """Text safe to show in a terminal or a document.

    Removes ANSI escape sequences (IPython tracebacks carry colour codes) and replaces
    other control characters by U+FFFD; keeps tabs and, when asked, newlines.
    """
    s = "" if text is None else str(text)
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = _ANSI.sub("", s)
    s = _CONTROL.sub("\ufffd", s)
    if not keep_newlines:
        s = " ".join(s.split("\n"))
    return s


def finite(x: float) -> float:
    """x, or 0.0 when it is NaN or infinite (so a broken number never crashes a report)."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) else 0.0


def num(x: float, places: int = 2) -> str:
    """A number for people: rounded to `places`, without trailing zeros ('10', '7.5', '3.33')."""
    x = round(finite(x), places)
    text = f"{x:.{places}f}".rstrip("0").rstrip(".") if places > 0 else f"{x:.0f}"
    return "0" if text in ("-0", "") else text


def points(got: float, out_of: float) -> str:
    return f"{num(got)}/{num(out_of)}"


def percent(x: float) -> str:
    return f"{num(x)}%"


def penalty_points(percent_value: float, max_score: float) -> float:
    """What a penalty of `percent_value` costs in points (the rule written in Grade's docstring)."""
    return finite(percent_value) * finite(max_score) / 100.0


def notebooks_in_order(checks: Iterable[CheckResult]) -> list[str]:
    """Notebook names in the order their first check appears (the registry's order)."""
    seen: dict[str, None] = {}
    for c in checks:
        seen.setdefault(c.notebook, None)
    return list(seen)


def checks_by_notebook(grade: Grade) -> list[tuple[str, list[CheckResult]]]:
    groups: dict[str, list[CheckResult]] = {}
    for c in grade.checks:
        groups.setdefault(c.notebook, []).append(c)
    return list(groups.items())


def student_label(student: str | None) -> str:
    return student if student else "(unknown student)"


def gradebook_key(grade: Grade) -> tuple:
    """Gradebook order: by student (case-insensitively, then exactly), no student last, then zip."""
    s = grade.student or ""
    return (grade.student is None, s.casefold(), s, grade.zip_name)
