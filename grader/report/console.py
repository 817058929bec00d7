"""Rich renderables for the terminal: one Grade, and the structural self-check.

Every function returns a renderable (Group, Table, Panel, Text) and prints nothing; the CLI
prints. Student-provided text is always wrapped in `Text` (never parsed as rich markup) and
cleaned of terminal escape codes. Every status carries a symbol and a word, so the output
reads the same without colour (`Console(color_system=None)`, `NO_COLOR`, a pipe).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from grader.models import FoundFile, Grade, Penalty, Problem, Submission

from ._common import (
    checks_by_notebook,
    clean,
    num,
    penalty_points,
    percent,
    points,
    status_style,
    status_symbol,
    student_label,
    verdict_label,
    verdict_style,
)

__all__ = [
    "grade_view",
    "header_panel",
    "checks_tables",
    "penalties_table",
    "problems_table",
    "manual_table",
    "score_table",
    "selfcheck_view",
    "submission_view",
    "status_text",
]

_BOX = box.SIMPLE_HEAD


def _t(text: object, style: str = "") -> Text:
    """Data as a Text: never interpreted as markup, escape codes removed."""
    return Text(clean(text), style=style)


def status_text(status: str) -> Text:
    """'✓ pass', '✗ fail', ... coloured; the word stays when colour is off."""
    return Text(f"{status_symbol(status)} {clean(status, keep_newlines=False)}", style=status_style(status))


def _verdict_text(grade: Grade) -> Text:
    text = Text(verdict_label(grade.verdict), style=verdict_style(grade.verdict))
    if grade.reason:
        text.append(": ")
        text.append(clean(grade.reason))
    return text


def _lateness_text(grade: Grade) -> Text | None:
    late = grade.lateness
    if late is None:
        return None
    text = Text(clean(late.submitted_at or "unknown", keep_newlines=False))
    if grade.hours_late > 0:
        text.append(f"  ({num(grade.hours_late)} h late)", style="yellow")
    else:
        text.append("  (on time)", style="green")
    source = f"time from {clean(late.source, keep_newlines=False)}"
    if not late.trusted:
        source += ", untrusted"
    text.append(f"\n{source}; deadline {clean(late.deadline, keep_newlines=False)}", style="dim")
    return text


def header_panel(grade: Grade) -> Panel:
    """Student, assignment, zip, verdict, submission time and the final score."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    grid.add_row("Student", _t(student_label(grade.student), "" if grade.student else "yellow"))
    grid.add_row("Assignment", _t(grade.assignment))
    grid.add_row("Zip", _t(grade.zip_name))
    grid.add_row("Verdict", _verdict_text(grade))
    late = _lateness_text(grade)
    if late is not None:
        grid.add_row("Submitted", late)
    score = Text(f"{points(grade.score, grade.max_score)}", style="bold")
    manual = sum(m.points for m in grade.manual)
    if manual:
        score.append(f"  (+ up to {num(manual)} graded by hand)", style="dim")
    grid.add_row("Score", score)
    return Panel(
        grid,
        title=Text(f"{clean(grade.assignment, keep_newlines=False)} · "
                   f"{clean(student_label(grade.student), keep_newlines=False)}"),
        title_align="left",
        border_style=verdict_style(grade.verdict).replace("bold ", ""),
        box=box.ROUNDED,
    )


def checks_tables(grade: Grade) -> list[Table]:
    """One table per notebook, in the order the checks came: id, status, points, message."""
    tables: list[Table] = []
    for notebook, checks in checks_by_notebook(grade):
        got = sum(c.points for c in checks)
        out_of = sum(c.max_points for c in checks)
        table = Table(
            title=Text(f"{clean(notebook, keep_newlines=False)}  {points(got, out_of)}", style="bold"),
            title_justify="left",
            box=_BOX,
            expand=True,
        )
        # ids are short and greppable: keep each on one line (fold only when a line cannot hold it)
        longest = max((len(c.id) for c in checks), default=5)
        table.add_column("Check", overflow="fold", min_width=min(longest, 24))
        table.add_column("Status", no_wrap=True, min_width=9)
        table.add_column("Points", justify="right", no_wrap=True, min_width=7)
        table.add_column("Message", overflow="fold", ratio=5)
        for c in checks:
            table.add_row(
                _t(c.id),
                status_text(c.status),
                Text(points(c.points, c.max_points), style=status_style(c.status)),
                _t(c.message),
            )
        tables.append(table)
    return tables


def penalties_table(penalties: Sequence[Penalty], max_score: float) -> Table | None:
    """Rule, percent, points it costs, reason; None when there are no penalties."""
    if not penalties:
        return None
    table = Table(title=Text("Penalties", style="bold"), title_justify="left", box=_BOX, expand=True)
    table.add_column("Rule", no_wrap=True)
    table.add_column("Percent", justify="right", no_wrap=True)
    table.add_column("Points", justify="right", no_wrap=True)
    table.add_column("Reason", overflow="fold", ratio=1)
    for p in penalties:
        table.add_row(
            _t(p.rule, "yellow"),
            Text(f"-{percent(p.percent)}", style="yellow"),
            Text(f"-{num(penalty_points(p.percent, max_score))}"),
            _t(p.reason),
        )
    return table


def problems_table(problems: Sequence[Problem], title: str = "Problems") -> Table | None:
    """File, what is wrong, how to fix it; None when there are none."""
    if not problems:
        return None
    table = Table(title=Text(title, style="bold"), title_justify="left", box=_BOX, expand=True)
    table.add_column("File", overflow="fold", ratio=2)
    table.add_column("Problem", overflow="fold", ratio=3)
    table.add_column("Fix", overflow="fold", ratio=3)
    for p in problems:
        table.add_row(_t(p.file), _t(p.message, "red"), _t(p.fix or "-", "green" if p.fix else "dim"))
    return table


def manual_table(grade: Grade) -> Table | None:
    """What a TA still grades by hand; None when nothing is."""
    if not grade.manual:
        return None
    total = sum(m.points for m in grade.manual)
    table = Table(
        title=Text(f"To grade by hand  ({num(total)} points, not in the score)", style="bold"),
        title_justify="left",
        box=_BOX,
        expand=True,
    )
    table.add_column("Item", overflow="fold", ratio=2)
    table.add_column("Points", justify="right", no_wrap=True)
    table.add_column("What", overflow="fold", ratio=4)
    table.add_column("File", overflow="fold", ratio=2)
    for m in grade.manual:
        table.add_row(_t(m.id), Text(num(m.points)), _t(m.description), _t(m.file or "-"))
    return table


def score_table(grade: Grade) -> Table:
    """Raw automatic score, penalties, final score, as the Grade states them."""
    grid = Table(
        title=Text("Score", style="bold"),
        title_justify="left",
        box=None,
        show_header=False,
        padding=(0, 2),
    )
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(justify="right", no_wrap=True)
    grid.add_column(style="dim", overflow="fold")
    grid.add_row("Raw score", points(grade.raw_score, grade.auto_max), "automatic checks")
    total = sum(p.percent for p in grade.penalties)
    if grade.penalties:
        grid.add_row(
            "Penalties",
            f"-{percent(total)}",
            f"-{num(penalty_points(total, grade.max_score))} points of {num(grade.max_score)}",
        )
    final_note = Text()
    if not grade.accepted or grade.verdict != "graded":
        final_note = _t(verdict_label(grade.verdict))
    grid.add_row(
        Text("Final score", style="bold"),
        Text(points(grade.score, grade.max_score), style=verdict_style(grade.verdict)),
        final_note,
    )
    manual = sum(m.points for m in grade.manual)
    if grade.manual_scores:
        grid.add_row("By hand", f"+{num(grade.manual_points)}", "the TAs' points (--manual)")
        grid.add_row(Text("With hand grading", style="bold"), Text(points(grade.final_score, grade.max_score),
                                                                  style="bold"), "")
    elif manual:
        grid.add_row("By hand", f"+{num(manual)}", "not included above")
    return grid


def grade_view(grade: Grade) -> Group:
    """Everything about one graded submission, top to bottom."""
    parts: list[RenderableType] = [header_panel(grade)]
    tables = checks_tables(grade)
    if tables:
        parts.extend(tables)
    else:
        reason = clean(grade.reason) or verdict_label(grade.verdict)
        parts.append(Text(f"No checks were run: {reason}\n", style="yellow"))
    for extra in (
        penalties_table(grade.penalties, grade.max_score),
        problems_table(grade.problems),
        manual_table(grade),
    ):
        if extra is not None:
            parts.append(extra)
    if grade.theory is not None:
        from .theory_view import theory_table

        parts.append(theory_table(grade.theory))
    parts.append(score_table(grade))
    return Group(*parts)


# --- structural self-check -----------------------------------------------------------------


def _file_state(f: FoundFile) -> tuple[str, str, str]:
    """(symbol, word, style) for one required file."""
    if not f.present:
        return "✗", "missing", "bold red"
    if not f.valid:
        return "✗", "unusable", "bold red"
    if not f.exact:
        return "~", "renamed", "yellow"
    return "✓", "found", "bold green"


def _fixes_for(f: FoundFile, problems: Sequence[Problem]) -> list[Problem]:
    names = {f.name}
    if f.archive_name:
        names.add(f.archive_name)
    return [p for p in problems if p.file in names]


def selfcheck_view(
    files: Sequence[FoundFile],
    problems: Sequence[Problem] = (),
    *,
    zip_name: str | None = None,
    student: str | None = None,
    extra: Iterable[str] = (),
    litter: Iterable[str] = (),
    fatal: str | None = None,
) -> Group:
    """Required files vs what the zip holds, each with ✓/~/✗ and the fix when one is known.

    Works from a Submission (see `submission_view`) or a Grade's `files` and `problems`.
    """
    parts: list[RenderableType] = []
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")
    if zip_name is not None:
        head.add_row("Zip", _t(zip_name))
    head.add_row("Student", _t(student_label(student), "" if student else "yellow"))
    found = sum(1 for f in files if f.present and f.valid)
    head.add_row("Required files", Text(f"{found}/{len(files)} found", style="green" if found == len(files) else "red"))
    if fatal:
        head.add_row("Cannot grade", _t(fatal, "bold red"))
    parts.append(Panel(head, title="Self-check", title_align="left", box=box.ROUNDED))

    if files:
        table = Table(title=Text("Required files", style="bold"), title_justify="left", box=_BOX, expand=True)
        table.add_column("", no_wrap=True)
        table.add_column("Required", overflow="fold", ratio=3)
        table.add_column("Found as", overflow="fold", ratio=3)
        table.add_column("Status / fix", overflow="fold", ratio=4)
        for f in files:
            symbol, word, style = _file_state(f)
            note = Text(word, style=style)
            if f.detail:
                note.append(f": {clean(f.detail)}")
            for p in _fixes_for(f, problems):
                if p.fix:
                    note.append("\nfix: ", style="bold")
                    note.append(clean(p.fix), style="green")
            table.add_row(Text(symbol, style=style), _t(f.name), _t(f.archive_name or "-"), note)
        parts.append(table)

    matched = {id(p) for f in files for p in _fixes_for(f, problems)}
    rest = [p for p in problems if id(p) not in matched]
    others = problems_table(rest, title="Other problems")
    if others is not None:
        parts.append(others)
    for title, names in (("Extra files (they cost the naming penalty: remove them)", list(extra)), ("Litter (remove before submitting)", list(litter))):
        if names:
            parts.append(Text(title, style="bold"))
            parts.append(_t("\n".join(f"  {clean(n, keep_newlines=False)}" for n in names)))
    return Group(*parts)


def submission_view(sub: Submission) -> Group:
    """The self-check view of an intake result."""
    return selfcheck_view(
        sub.files,
        sub.problems,
        zip_name=sub.zip_name,
        student=sub.student,
        extra=sub.extra,
        litter=sub.litter,
        fatal=sub.fatal,
    )
