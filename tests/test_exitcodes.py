"""One object decides every exit status; statuses and verdicts are checked enums."""

from __future__ import annotations

import json

import pytest

from grader.errors import RegistryError, SandboxError, UsageError
from grader.exitcodes import ExitStatus, Report, clean_grade, status_of
from grader.models import CheckResult, GradeVerdict, Status
from tests.report.conftest import make_grade


def test_report_return_code_orders_internal_usage_problems_ok():
    assert Report().return_code == ExitStatus.OK == 0
    r = Report()
    r.problem(False)
    assert r.return_code == ExitStatus.OK
    r.problem()
    assert r.return_code == ExitStatus.PROBLEMS == 1
    r.error(UsageError("bad option"))
    assert r.return_code == ExitStatus.USAGE == 2
    r.error(RuntimeError("a bug"))
    assert r.return_code == ExitStatus.INTERNAL == 3


def test_errors_say_their_status_and_anything_else_is_internal():
    assert status_of(RegistryError([])) == ExitStatus.USAGE
    assert status_of(SandboxError("no sandbox")) == ExitStatus.INTERNAL
    assert status_of(KeyError("x")) == ExitStatus.INTERNAL


def test_clean_grade_needs_every_check_passed_or_skipped_in_a_self_check():
    check = lambda status: CheckResult("c", "n.ipynb", status, 0.0, 1.0)  # noqa: E731
    passed = make_grade(checks=(check("pass"),), penalties=(), problems=())
    skipped = make_grade(checks=(check("pass"), check("skipped")), penalties=(), problems=())
    assert clean_grade(passed) and not clean_grade(skipped) and clean_grade(skipped, skipped_ok=True)
    report = Report()
    report.grade(make_grade(checks=(check("error"),), penalties=(), problems=()), skipped_ok=True)
    assert report.return_code == ExitStatus.PROBLEMS


def test_statuses_and_verdicts_are_str_enums_checked_on_construction():
    c = CheckResult("c", "n.ipynb", "error", 0.0, 1.0)
    assert c.status is Status.ERROR and c.status == "error"
    assert json.dumps(c.to_json())  # plain JSON strings
    assert json.loads(json.dumps(c.to_json()))["status"] == "error"
    with pytest.raises(ValueError):
        CheckResult("c", "n.ipynb", "errror", 0.0, 1.0)
    with pytest.raises(ValueError):
        make_grade(verdict="graded!")
    assert make_grade(verdict="not-accepted").verdict is GradeVerdict.NOT_ACCEPTED


def test_a_judge_with_an_unknown_status_is_an_error_without_points():
    from grader.checks import Verdict, result_from
    from grader.schema import Check

    check = Check(id="c", notebook="n.ipynb", kind="plugin", points=2)
    r = result_from(check, Verdict(1.0, "fine", "great"), 0.0)
    assert r.status is Status.ERROR and r.points == 0 and "unknown status `great`" in r.message
    assert result_from(check, Verdict(0.5, "half"), 0.0).status is Status.PARTIAL


def test_a_grade_round_trips_through_pydantics_own_data():
    import json as _json

    from grader.models import grade_data, grade_from_data
    from tests.report.conftest import partial_grade

    from dataclasses import replace

    from grader.theory.spec import ItemResult, TheoryReport

    item = ItemResult("1.1(a)", "q", "right", "3 x 4", "3×4", 1, 2.0, 2.0, "read 3 x 4")
    g = replace(partial_grade(), theory=TheoryReport("hw2", "t.pdf", True, (item,)))
    back = grade_from_data(_json.loads(_json.dumps(grade_data(g))))
    assert back == g and back.checks[0].status is Status(g.checks[0].status)
    with pytest.raises(ValueError):
        grade_from_data({**grade_data(g), "verdict": "graded!"})
