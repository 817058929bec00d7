from __future__ import annotations

import io

import pytest
from rich.console import Console

from grader.models import FoundFile, Problem, Submission
from grader.report.console import (
    checks_tables,
    grade_view,
    penalties_table,
    selfcheck_view,
    status_text,
    submission_view,
)

from .conftest import CNN, PDF, RNN


def render(renderable, width: int = 80, color: bool = False) -> str:
    console = Console(
        record=True,
        width=width,
        color_system="truecolor" if color else None,
        file=io.StringIO(),
        force_terminal=color,
    )
    console.print(renderable)
    return console.export_text(styles=color)


def flat(text: str) -> str:
    """Rendered text with borders dropped and all whitespace collapsed, so a phrase that a
    table cell wrapped onto the next line reads whole again (when its neighbours are empty)."""
    for ch in "│╭╮╰╯─":
        text = text.replace(ch, " ")
    return " ".join(text.split())


def lines_fit(text: str, width: int = 80) -> bool:
    return all(len(line) <= width for line in text.splitlines())


def test_every_situation_renders_within_80_columns(any_grade):
    text = render(grade_view(any_grade))
    assert lines_fit(text)
    assert any_grade.assignment in text
    assert f"{any_grade.score:g}/{any_grade.max_score:g}" in text


def test_full_marks_header_checks_and_score(full):
    text = render(grade_view(full))
    assert "jd1234" in text and "hw2" in text and "jd1234_hw2.zip" in text
    assert "graded" in text
    assert "80/100" in text  # final score
    assert "80/80" in text  # raw automatic score
    assert f"{CNN}  40/40" in text and f"{RNN}  40/40" in text
    for c in full.checks:
        assert c.id in text
    assert text.count("✓ pass") == 6
    assert "Penalties" not in text and "Problems" not in text


def test_partial_shows_each_status_symbol_points_and_message(partial):
    text = render(grade_view(partial))
    for word in ("✓ pass", "~ partial", "✗ fail", "! error", "- skipped"):
        assert word in text
    assert "12.5/20" in text and "0/15" in text
    assert "expected 62006 parameters" in text
    assert "RuntimeError: size mismatch" in text
    # notebook subtotals and the score block
    assert f"{CNN}  22.5/40" in text and f"{RNN}  15/40" in text
    assert "37.5/80" in text and "32.5/100" in text


def test_penalties_problems_and_manual(partial):
    text = render(grade_view(partial))
    assert "Penalties" in text and "naming" in text and "-5%" in text
    assert "files were inside a folder named 'HW2 final (1)'" in text
    assert "Problems" in text and "rename it to hw2_cnn.ipynb" in text
    assert "To grade by hand" in text and "20 points" in text
    assert "Theory questions 1-4" in text and PDF in text


def test_penalty_points_follow_max_score(late):
    text = render(penalties_table(late.penalties, late.max_score))
    assert "late" in text and "-20%" in text and "-20" in text
    assert "26.5 hours late" in text


def test_late_header_shows_hours_and_source(late):
    text = render(grade_view(late))
    assert "26.5 h late" in text
    assert "timestamps-csv" in text
    assert "60/100" in text


def test_not_accepted_shows_reason_and_no_checks(not_accepted):
    text = render(grade_view(not_accepted))
    assert "not accepted" in text
    assert "nothing is accepted after 72 hours" in flat(text)
    assert "No checks were run" in text
    assert "untrusted" in text  # time came from zip entries
    assert "0/100" in text


def test_rejected_shows_fatal_reason_and_fix(rejected):
    text = render(grade_view(rejected))
    assert "rejected" in text and "not a zip file" in text
    assert "zip the folder again" in text
    assert "Submitted" not in text  # no lateness known


def test_missing_student(anonymous):
    text = render(grade_view(anonymous))
    assert "(unknown student)" in text
    assert "Archive.zip" in text
    assert "<netid>_hw2.zip" in text and "no student id" in text


def test_student_text_is_not_markup_and_escape_codes_are_removed(weird):
    text = render(grade_view(weird))  # "[/]" would raise MarkupError if parsed
    assert "=José_[red]*Ñ*[/]" in text
    assert "[bold]not markup[/bold]" in flat(text)
    assert "\x1b" not in text
    assert "ValueError: ünïcödé" in text
    assert "形状不匹配" in text
    assert lines_fit(text)


def test_colour_is_extra_not_required(partial):
    plain = render(grade_view(partial))
    coloured = render(grade_view(partial), color=True)
    assert "\x1b[" not in plain
    assert "\x1b[" in coloured
    assert "✗ fail" in coloured


def test_narrow_terminal_still_renders(partial):
    text = render(grade_view(partial), width=50)
    assert lines_fit(text, 50)
    assert "partial" in text


def test_checks_tables_one_per_notebook_in_check_order(partial):
    tables = checks_tables(partial)
    assert len(tables) == 2
    text = render(tables[0])
    assert text.index("cnn.conv_shapes") < text.index("cnn.train_accuracy") < text.index("cnn.param_count")


@pytest.mark.parametrize("status", ["pass", "partial", "fail", "error", "skipped", "weird"])
def test_status_text_always_has_the_word(status):
    assert status in status_text(status).plain


# --- self-check ----------------------------------------------------------------------------


def _submission(**kw) -> Submission:
    base = dict(
        zip_name="jd1234_hw2.zip",
        sha256="0" * 64,
        student="jd1234",
        files=(
            FoundFile(CNN, "notebook", archive_name=CNN),
            FoundFile(RNN, "notebook", archive_name="HW2_RNN (1).ipynb", exact=False),
            FoundFile(PDF, "pdf"),
        ),
        extra=("notes.txt",),
        litter=("__MACOSX/._hw2_cnn.ipynb",),
        problems=(
            Problem("HW2_RNN (1).ipynb", "notebook name differs", "rename it to hw2_rnn.ipynb"),
            Problem(PDF, "required PDF is missing", "export your answers to hw2_theory.pdf"),
            Problem("jd1234_hw2.zip", "zip holds a wrapping folder", "zip the files, not the folder"),
        ),
    )
    base.update(kw)
    return Submission(**base)


def test_selfcheck_lists_required_files_with_marks_and_fixes():
    text = render(submission_view(_submission()))
    assert lines_fit(text)
    assert "Self-check" in text and "jd1234_hw2.zip" in text
    assert "2/3 found" in text
    cnn_line = next(line for line in text.splitlines() if CNN in line)
    assert "✓" in cnn_line and "found" in cnn_line
    assert "~" in text and "renamed" in text and "HW2_RNN (1).ipynb" in text
    assert "✗" in text and "missing" in text
    assert "fix: rename it to hw2_rnn.ipynb" in flat(text)
    assert "fix: export your answers to hw2_theory.pdf" in flat(text)
    # a problem not tied to a required file still shows with its fix
    assert "Other problems" in text and "zip holds a wrapping folder" in text and "zip the files, not" in text
    assert "notes.txt" in text and "__MACOSX/._hw2_cnn.ipynb" in text


def test_selfcheck_fatal_and_invalid():
    sub = _submission(
        files=(FoundFile(CNN, "notebook", archive_name=CNN, valid=False, detail="not valid notebook JSON"),),
        problems=(),
        extra=(),
        litter=(),
        fatal="zip bomb: 9 GB uncompressed",
        student=None,
    )
    text = render(submission_view(sub))
    assert "Cannot grade" in text and "zip bomb" in text
    assert "unusable: not valid notebook JSON" in flat(text)
    assert "0/1 found" in text
    assert "(unknown student)" in text


def test_selfcheck_from_a_grade(partial):
    text = render(selfcheck_view(partial.files, partial.problems, zip_name=partial.zip_name, student=partial.student))
    assert "3/3 found" in text
    assert text.count("✓") == 3
