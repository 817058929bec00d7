from __future__ import annotations

import pytest

from grader.report.feedback import feedback_markdown, md_escape

from .conftest import CNN


def test_full_marks(full):
    md = feedback_markdown(full)
    assert md.startswith("# hw2 feedback: jd1234\n")
    assert "**Score:** **80/100**" in md
    assert "**Automatic checks:** 80/80" in md
    assert md.count("✓ **pass**") == 6
    assert "## Penalties" not in md and "## Problems to fix" not in md
    assert "## Graded by hand" in md and "Theory questions 1-4 (PDF): 15 points" in md
    assert md.endswith("\n") and not md.endswith("\n\n")


def test_partial_lists_failures_with_messages_penalties_and_fixes(partial):
    md = feedback_markdown(partial)
    assert "### hw2\\_cnn.ipynb (22.5/40)" in md
    assert "- ✗ **fail** `cnn.param_count` (0/10): expected 62006 parameters, found 61000" in md
    assert "- ! **error** `rnn.gradients` (0/15): RuntimeError: size mismatch" in md
    assert "~ **partial** `cnn.train_accuracy` (12.5/20)" in md
    assert "- **naming** -5% (-5 points): files were inside a folder named 'HW2 final (1)'" in md
    assert "  - Fix: rename it to hw2_cnn.ipynb" in md
    assert "**Penalties:** -5% (-5 points)" in md


def test_late(late):
    md = feedback_markdown(late)
    assert "(26.5 hours late)" in md and "late** -20% (-20 points)" in md


def test_not_accepted_and_rejected(not_accepted, rejected):
    md = feedback_markdown(not_accepted)
    assert "**Verdict:** not accepted: submitted 80.25 hours late" in md
    assert "No checks were run" in md
    md = feedback_markdown(rejected)
    assert "**Verdict:** rejected: not a zip file" in md
    assert "Fix: zip the folder again and resubmit" in md


def test_missing_student(anonymous):
    md = feedback_markdown(anonymous)
    assert md.startswith("# hw2 feedback: (student id not found)")
    assert "Archive.zip" in md


def test_student_names_escaped_messages_as_given(weird):
    md = feedback_markdown(weird)
    assert "=José\\_\\[red\\]\\*Ñ\\*\\[/\\]" in md
    assert "\\_hw2 \\(1\\).zip" in md
    assert "génération courte *en partie*" in md  # grader text: as given
    assert "\x1b" not in md
    # a multi-line message stays inside its list item
    assert "Traceback:\n  ValueError: ünïcödé [bold]not markup[/bold] | pipe" in md


@pytest.mark.parametrize(
    "raw, escaped",
    [
        ("a_b*c", "a\\_b\\*c"),
        ("[x](http://e)", "\\[x\\]\\(http://e\\)"),
        ("<img src=x>", "\\<img src=x\\>"),
        ("a\nb", "a b"),
        ("`tick`", "\\`tick\\`"),
        ("back\\slash", "back\\\\slash"),
        ("plain-name.zip", "plain-name.zip"),
    ],
)
def test_md_escape(raw, escaped):
    assert md_escape(raw) == escaped


def test_check_id_with_backtick_stays_code(grade_factory):
    from .conftest import check

    g = grade_factory(checks=(check("odd`id", CNN, "pass", 1, 1),))
    assert "``odd`id``" in feedback_markdown(g)


def test_deterministic(any_grade):
    assert feedback_markdown(any_grade) == feedback_markdown(any_grade)
