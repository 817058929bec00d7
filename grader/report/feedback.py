"""Markdown feedback for the student: what passed, what failed and why, what it cost.

Messages, reasons and fixes are written by the grader and rendered as given (only terminal
escape codes are removed, and continuation lines are indented so they stay inside their
list item). Names that come from the student (student id, zip name, file names found in the
zip) are escaped with `md_escape`, so `*`, `_`, `[`, `<` and friends show literally and
cannot inject links or HTML.
"""

from __future__ import annotations

import re

from grader.models import Grade

from ._common import (
    checks_by_notebook,
    clean,
    num,
    penalty_points,
    points,
    status_symbol,
    verdict_label,
)

__all__ = ["feedback_markdown", "md_escape"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~&])")


def md_escape(text: object) -> str:
    """`text` on one line with Markdown's special characters backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text, keep_newlines=False))


def _block(text: str, indent: str = "  ") -> str:
    """Grader text as given; later lines indented so a list item stays one item."""
    lines = clean(text).split("\n")
    return ("\n" + indent).join(lines)


def _code(text: str) -> str:
    """Inline code that survives backticks inside the text."""
    text = clean(text, keep_newlines=False)
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _theory_section(report) -> list[str]:
    """The theory pre-check: what the key could check, as suggestions (the TA decides)."""
    out = ["## Theory answers checked against the key", ""]
    if not report.has_text:
        out += [f"{_block(report.reason)}", ""]
        return out
    out.append("Suggested points only: a TA reviews every answer. Prose answers are graded by hand.")
    out.append("")
    for i in report.items:
        if i.status == "by-hand":
            continue
        pts = "" if i.suggested_points is None else f" ({points(i.suggested_points, i.points)})"
        line = f"- {_code(i.id)} **{i.status}**{pts}: expected {_code(i.expected)}"
        if i.found:
            line += f"; read on page {i.page}: {_code(i.found)}" if i.page else f"; read {_code(i.found)}"
        if i.note:
            line += f" ({_block(i.note)})"
        out.append(line)
    out.append("")
    return out


def feedback_markdown(grade: Grade) -> str:
    """The feedback document (ends with one newline)."""
    out: list[str] = []
    who = md_escape(grade.student) if grade.student else "(student id not found)"
    out.append(f"# {md_escape(grade.assignment)} feedback: {who}")
    out.append("")
    out.append(f"- **Submission:** {md_escape(grade.zip_name)}")
    verdict = verdict_label(grade.verdict)
    if grade.reason:
        verdict += f": {_block(grade.reason)}"
    out.append(f"- **Verdict:** {verdict}")
    if grade.lateness is not None and grade.lateness.submitted_at:
        when = clean(grade.lateness.submitted_at, keep_newlines=False)
        late = f"{num(grade.hours_late)} hours late" if grade.hours_late > 0 else "on time"
        out.append(f"- **Submitted:** {when} ({late})")
    out.append(f"- **Automatic checks:** {points(grade.raw_score, grade.auto_max)}")
    if grade.penalties:
        total = sum(p.percent for p in grade.penalties)
        out.append(f"- **Penalties:** -{num(total)}% (-{num(penalty_points(total, grade.max_score))} points)")
    out.append(f"- **Score:** **{points(grade.score, grade.max_score)}**")
    manual_total = sum(m.points for m in grade.manual)
    if manual_total:
        out.append(f"- **Graded by hand:** up to {num(manual_total)} more points (see below)")
    out.append("")

    groups = checks_by_notebook(grade)
    if groups:
        out.append("## Automatic checks")
        out.append("")
        for notebook, checks in groups:
            got = sum(c.points for c in checks)
            out.append(f"### {md_escape(notebook)} ({points(got, sum(c.max_points for c in checks))})")
            out.append("")
            for c in checks:
                line = f"- {status_symbol(c.status)} **{c.status}** {_code(c.id)} ({points(c.points, c.max_points)})"
                if c.message:
                    line += f": {_block(c.message)}"
                out.append(line)
            out.append("")
    elif grade.verdict != "graded":
        out.append("## Automatic checks")
        out.append("")
        out.append(f"No checks were run: {_block(grade.reason) or verdict_label(grade.verdict)}")
        out.append("")

    if grade.penalties:
        out.append("## Penalties")
        out.append("")
        for p in grade.penalties:
            cost = num(penalty_points(p.percent, grade.max_score))
            out.append(f"- **{md_escape(p.rule)}** -{num(p.percent)}% (-{cost} points): {_block(p.reason)}")
        out.append("")

    if grade.problems:
        out.append("## Problems to fix")
        out.append("")
        for pr in grade.problems:
            line = f"- {md_escape(pr.file)}: {_block(pr.message)}"
            if pr.fix:
                line += f"\n  - Fix: {_block(pr.fix, '    ')}"
            out.append(line)
        out.append("")

    if grade.manual_scores:
        out.append("## Graded by hand")
        out.append("")
        for m in grade.manual_scores:
            line = f"- {_code(m.id)}: {num(m.points)}/{num(m.max_points)}"
            if m.comment:
                line += f": {_block(m.comment)}"
            out.append(line)
        out.append("")
        out.append(f"**Final score (automatic + by hand - penalties): {points(grade.final_score, grade.max_score)}**")
        out.append("")
    elif grade.manual:
        out.append("## Graded by hand")
        out.append("")
        out.append(f"These {num(manual_total)} points are not in the score above; a TA grades them.")
        out.append("")
        for m in grade.manual:
            where = f" ({md_escape(m.file)})" if m.file else ""
            out.append(f"- {_block(m.description)}: {num(m.points)} points{where}")
        out.append("")

    if grade.theory is not None:
        out.extend(_theory_section(grade.theory))

    return "\n".join(out).rstrip("\n") + "\n"
