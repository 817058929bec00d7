"""Hand-built Grade objects for the renderer tests: one per situation a renderer must show.

`make_grade(**overrides)` builds a fully graded HW2 submission (80 automatic points over two
notebooks, 20 manual points for the theory PDF); the fixtures below vary it.
"""

from __future__ import annotations

import dataclasses

import pytest

from grader.models import (
    CheckResult,
    FoundFile,
    Grade,
    Lateness,
    ManualItem,
    Penalty,
    Problem,
)

CNN = "hw2_cnn.ipynb"
RNN = "hw2_rnn.ipynb"
PDF = "hw2_theory.pdf"
DEADLINE = "2025-03-07T23:59:00-05:00"


def check(id, notebook, status, pts, max_pts, message="", public=False, seconds=0.5):
    return CheckResult(
        id=id,
        notebook=notebook,
        status=status,
        points=pts,
        max_points=max_pts,
        message=message,
        seconds=seconds,
        public=public,
    )


def full_checks() -> tuple[CheckResult, ...]:
    return (
        check("cnn.conv_shapes", CNN, "pass", 10, 10, "output shapes match", public=True),
        check("cnn.train_accuracy", CNN, "pass", 20, 20, "test accuracy 0.91 >= 0.85"),
        check("cnn.param_count", CNN, "pass", 10, 10, "", public=True),
        check("rnn.forward", RNN, "pass", 15, 15, "forward matches reference", public=True),
        check("rnn.gradients", RNN, "pass", 15, 15, "gradients within 1e-5"),
        check("rnn.generate", RNN, "pass", 10, 10, "sample text produced"),
    )


FILES = (
    FoundFile(CNN, "notebook", archive_name=f"jd1234_hw2/{CNN}", path=f"/tmp/s/{CNN}"),
    FoundFile(RNN, "notebook", archive_name=f"jd1234_hw2/{RNN}", path=f"/tmp/s/{RNN}"),
    FoundFile(PDF, "pdf", archive_name=f"jd1234_hw2/{PDF}", path=f"/tmp/s/{PDF}"),
)

MANUAL = (
    ManualItem("theory", 15.0, "Theory questions 1-4 (PDF)", file=PDF),
    ManualItem("rnn.discussion", 5.0, "Written discussion of the RNN samples", file=RNN),
)


def on_time() -> Lateness:
    return Lateness(
        submitted_at="2025-03-07T20:00:00-05:00",
        deadline=DEADLINE,
        hours_late=0.0,
        accepted=True,
        source="option",
        trusted=True,
    )


def make_grade(**overrides) -> Grade:
    base = dict(
        student="jd1234",
        assignment="hw2",
        zip_name="jd1234_hw2.zip",
        accepted=True,
        hours_late=0.0,
        lateness=on_time(),
        penalties=(),
        problems=(),
        files=FILES,
        checks=full_checks(),
        manual=MANUAL,
        raw_score=80.0,
        score=80.0,
        max_score=100.0,
        auto_max=80.0,
        verdict="graded",
        reason="",
        grader_version="0.1.0",
        registry_hash="r" * 16,
        submission_hash="s" * 16,
        timings=(("intake", 0.01), ("run", 12.5)),
    )
    base.update(overrides)
    return Grade(**base)


def partial_grade() -> Grade:
    checks = (
        check("cnn.conv_shapes", CNN, "pass", 10, 10, "output shapes match", public=True),
        check("cnn.train_accuracy", CNN, "partial", 12.5, 20, "test accuracy 0.78 < 0.85 (partial credit)"),
        check("cnn.param_count", CNN, "fail", 0, 10, "expected 62006 parameters, found 61000", public=True),
        check("rnn.forward", RNN, "pass", 15, 15, "forward matches reference", public=True),
        check("rnn.gradients", RNN, "error", 0, 15, "RuntimeError: size mismatch, m1: [4 x 3], m2: [5 x 3]"),
        check("rnn.generate", RNN, "skipped", 0, 10, "skipped: rnn.forward model not trained"),
    )
    return make_grade(
        student="ab5678",
        zip_name="ab5678_hw2.zip",
        checks=checks,
        raw_score=37.5,
        score=32.5,
        penalties=(Penalty("naming", 5.0, "files were inside a folder named 'HW2 final (1)'"),),
        problems=(
            Problem(CNN, "notebook found as 'HW2_CNN (1).ipynb'", "rename it to hw2_cnn.ipynb"),
        ),
    )


def late_grade() -> Grade:
    return make_grade(
        student="lt0001",
        zip_name="lt0001_hw2.zip",
        hours_late=26.5,
        lateness=Lateness(
            submitted_at="2025-03-09T02:29:00-05:00",
            deadline=DEADLINE,
            hours_late=26.5,
            accepted=True,
            source="timestamps-csv",
            trusted=True,
        ),
        penalties=(Penalty("late", 20.0, "26.5 hours late: 10% per started day"),),
        raw_score=80.0,
        score=60.0,
    )


def not_accepted_grade() -> Grade:
    return make_grade(
        student="zz9999",
        zip_name="zz9999_hw2.zip",
        accepted=False,
        hours_late=80.25,
        lateness=Lateness(
            submitted_at="2025-03-11T08:14:00-05:00",
            deadline=DEADLINE,
            hours_late=80.25,
            accepted=False,
            source="zip-entries",
            trusted=False,
        ),
        checks=(),
        raw_score=0.0,
        score=0.0,
        verdict="not-accepted",
        reason="submitted 80.25 hours late; nothing is accepted after 72 hours",
    )


def rejected_grade() -> Grade:
    return make_grade(
        student="rj4242",
        zip_name="rj4242_hw2.zip",
        lateness=None,
        files=(
            FoundFile(CNN, "notebook"),
            FoundFile(RNN, "notebook"),
            FoundFile(PDF, "pdf"),
        ),
        checks=(),
        raw_score=0.0,
        score=0.0,
        verdict="rejected",
        reason="not a zip file (bad magic number)",
        problems=(Problem("rj4242_hw2.zip", "the file is not a zip archive", "zip the folder again and resubmit"),),
    )


def anonymous_grade() -> Grade:
    """No student id could be read from the zip's name; one notebook missing."""
    checks = tuple(c for c in full_checks() if c.notebook == CNN) + (
        check("rnn.forward", RNN, "skipped", 0, 15, "notebook missing"),
        check("rnn.gradients", RNN, "skipped", 0, 15, "notebook missing"),
        check("rnn.generate", RNN, "skipped", 0, 10, "notebook missing"),
    )
    return make_grade(
        student=None,
        zip_name="Archive.zip",
        files=(FILES[0], FoundFile(RNN, "notebook"), FILES[2]),
        checks=checks,
        raw_score=40.0,
        score=40.0,
        problems=(
            Problem("Archive.zip", "no student id in the zip name", "name the zip <netid>_hw2.zip"),
            Problem(RNN, "required notebook is missing", "add hw2_rnn.ipynb at the top of the zip"),
        ),
    )


def unicode_grade() -> Grade:
    """Student-provided names with Markdown/markup/CSV-formula characters and non-ASCII text."""
    checks = (
        check("cnn.conv_shapes", CNN, "fail", 0, 10, "attendu (4, 16) — reçu (4, 8) ✗ 形状不匹配", public=True),
        check("cnn.train_accuracy", CNN, "error", 0, 20,
              "Traceback:\n\x1b[0;31mValueError\x1b[0m: ünïcödé [bold]not markup[/bold] | pipe"),
        check("cnn.param_count", CNN, "pass", 10, 10, "ok 👍"),
        check("rnn.forward", RNN, "pass", 15, 15, ""),
        check("rnn.gradients", RNN, "pass", 15, 15, ""),
        check("rnn.generate", RNN, "partial", 5, 10, "génération courte *en partie*"),
    )
    return make_grade(
        student="=José_[red]*Ñ*[/]",
        zip_name="=José_[red]*Ñ*[/]_hw2 (1).zip",
        checks=checks,
        raw_score=45.0,
        score=40.0,
        penalties=(Penalty("naming", 5.0, "zip renamed by the browser: « (1) » suffix"),),
        problems=(Problem(CNN, "cellule vide à la fin — « empty cell »", "supprimez-la"),),
    )


SITUATIONS = {
    "full": make_grade,
    "partial": partial_grade,
    "late": late_grade,
    "not_accepted": not_accepted_grade,
    "rejected": rejected_grade,
    "anonymous": anonymous_grade,
    "unicode": unicode_grade,
}


@pytest.fixture
def grade_factory():
    """The factory itself, for tests that build their own variation."""
    return make_grade


@pytest.fixture(params=sorted(SITUATIONS))
def any_grade(request) -> Grade:
    """Each situation in turn."""
    return SITUATIONS[request.param]()


@pytest.fixture
def full() -> Grade:
    return make_grade()


@pytest.fixture
def partial() -> Grade:
    return partial_grade()


@pytest.fixture
def late() -> Grade:
    return late_grade()


@pytest.fixture
def not_accepted() -> Grade:
    return not_accepted_grade()


@pytest.fixture
def rejected() -> Grade:
    return rejected_grade()


@pytest.fixture
def anonymous() -> Grade:
    return anonymous_grade()


@pytest.fixture
def weird() -> Grade:
    return unicode_grade()


@pytest.fixture
def all_grades() -> list[Grade]:
    """Every situation once, in a deliberately unsorted order."""
    return [SITUATIONS[k]() for k in ("unicode", "rejected", "full", "anonymous", "late", "partial", "not_accepted")]


def replace(grade: Grade, **changes) -> Grade:
    return dataclasses.replace(grade, **changes)
