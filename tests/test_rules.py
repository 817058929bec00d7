"""The course's penalty rules, with the numbers from the Spring 2025 text."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from grader.models import ZIP_NAME, FoundFile, Penalty, Problem, Submission
from grader.registry import LatePolicy, Penalties
from grader.rules import (execution_penalty, final_score, hours_late, late_penalty, late_periods, lateness,
                          naming_penalty, total_percent)

NY = ZoneInfo("America/New_York")
DEADLINE = datetime(2025, 2, 25, 23, 59, tzinfo=NY)
POLICY = LatePolicy()  # 10% per started 24 h, cutoff 96 h
PEN = Penalties()


def late_by(hours: float = 0.0, seconds: float = 0.0, policy: LatePolicy = POLICY, trusted: bool = True):
    when = DEADLINE + timedelta(hours=hours, seconds=seconds)
    return lateness(when, DEADLINE, policy, "option" if trusted else "zip-entries", trusted)


def sub(**kw) -> Submission:
    base = dict(zip_name="abc1234.zip", sha256="0" * 64, student="abc1234",
                files=(FoundFile("hw2_cnn.ipynb", "notebook", "hw2_cnn.ipynb", "/s/hw2_cnn.ipynb"),))
    base.update(kw)
    return Submission(**base)


# --------------------------------------------------------------------------- lateness


@pytest.mark.parametrize("hours, shown, percent", [
    (0, 0.0, None),
    (-5, 0.0, None),
    (0.5, 0.5, 10.0),
    (24, 24.0, 10.0),
    (24.01, 24.01, 20.0),
    (30, 30.0, 20.0),
    (48, 48.0, 20.0),
    (72.5, 72.5, 40.0),
    (96, 96.0, 40.0),
])
def test_late_penalty_per_started_day(hours, shown, percent):
    late = late_by(hours)
    assert late.hours_late == shown
    assert late.accepted
    p = late_penalty(late, POLICY)
    assert (p.percent if p else None) == percent
    if p:
        assert p.rule == "late"


def test_thirty_hours_late_is_twenty_percent():
    p = late_penalty(late_by(30), POLICY)
    assert p == Penalty("late", 20.0, "30.00 hours late: 2 started 24-hour periods x 10%")


def test_one_second_past_a_period_starts_the_next():
    late = late_by(24, seconds=1)
    assert late.hours_late == 24.01
    assert late_penalty(late, POLICY).percent == 20.0
    assert late_by(0, seconds=1).hours_late == 0.01  # late at all never shows 0.00


@pytest.mark.parametrize("hours", [96.01, 97, 200])
def test_past_the_cutoff_is_not_accepted(hours):
    late = late_by(hours)
    assert not late.accepted
    assert late_penalty(late, POLICY) is None
    assert final_score(45.0, [], 100, late.accepted) == 0.0


def test_ninety_seven_hours_not_accepted_score_zero():
    late = late_by(97)
    assert (late.hours_late, late.accepted) == (97.0, False)
    assert final_score(100.0, [p for p in [late_penalty(late, POLICY)] if p], 100, late.accepted) == 0


def test_lateness_fields():
    late = lateness(datetime(2025, 2, 27, 6, 0, tzinfo=ZoneInfo("UTC")), DEADLINE, POLICY, "timestamps-csv", True)
    assert late.submitted_at == "2025-02-27T01:00:00-05:00"  # shown in the deadline's zone
    assert late.deadline == "2025-02-25T23:59:00-05:00"
    assert late.hours_late == 25.02
    assert (late.source, late.trusted, late.accepted) == ("timestamps-csv", True, True)


def test_no_time_is_on_time():
    late = lateness(None, DEADLINE, POLICY, "none", False)
    assert (late.submitted_at, late.hours_late, late.accepted) == (None, 0.0, True)
    assert late_penalty(late, POLICY) is None


def test_grace_minutes():
    policy = LatePolicy(grace_minutes=15)
    assert late_by(0.25, policy=policy).hours_late == 0.0
    late = late_by(0.26, policy=policy)
    assert late.hours_late == 0.26  # past the grace, counted from the deadline
    assert late_penalty(late, policy).percent == 10.0


def test_no_cutoff_caps_at_hundred_percent():
    policy = LatePolicy(cutoff_hours=None)
    late = late_by(24 * 20, policy=policy)
    assert late.accepted
    assert late_penalty(late, policy).percent == 100.0


def test_untrusted_time_is_said():
    p = late_penalty(late_by(1, trusted=False), POLICY)
    assert p.reason == "1.00 hours late: 1 started 24-hour period x 10%; time from zip-entries, untrusted"


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        hours_late(datetime(2025, 2, 26), DEADLINE)


def test_late_periods():
    assert [late_periods(h, POLICY) for h in (0, 0.01, 23.99, 24, 24.01, 95.99, 96)] == [0, 1, 1, 1, 2, 4, 4]


# --------------------------------------------------------------------------- naming


def test_naming_ok_means_no_penalty():
    assert naming_penalty(sub(), PEN) is None


def test_naming_penalty_is_one_deduction_listing_everything():
    s = sub(files=(FoundFile("hw2_cnn.ipynb", "notebook", "HW2_CNN.ipynb", "/s/hw2_cnn.ipynb", exact=False),),
            extra=("test.py", "notes.txt"), naming_ok=False, zip_name="HW2.zip",
            problems=(Problem("HW2.zip", "the zip is named `HW2.zip`", "rename the zip to `<net_id>.zip`", code=ZIP_NAME),))
    p = naming_penalty(s, PEN)
    assert p == Penalty("naming", 10.0, "wrong naming: zip named `HW2.zip`; misnamed `HW2_CNN.ipynb` for "
                                        "`hw2_cnn.ipynb`; extra files `test.py`, `notes.txt`")


def test_naming_penalty_for_a_fatal_zip_is_none():
    assert naming_penalty(sub(naming_ok=False, fatal="not a readable zip file"), PEN) is None


def test_naming_penalty_percent_comes_from_the_registry():
    assert naming_penalty(sub(naming_ok=False, extra=("a",)), Penalties(naming_percent=5)).percent == 5.0
    assert naming_penalty(sub(naming_ok=False, extra=("a",)), Penalties(naming_percent=0)) is None


# --------------------------------------------------------------------------- execution


def test_execution_penalty_names_the_notebooks():
    p = execution_penalty(["hw2_moe.ipynb", "seq_classification.ipynb", "hw2_moe.ipynb"], PEN)
    assert p == Penalty("execution", 20.0, "cannot be executed: `hw2_moe.ipynb`, `seq_classification.ipynb`")
    assert execution_penalty([], PEN) is None


# --------------------------------------------------------------------------- score


def test_misnamed_and_thirty_hours_late_is_thirty_percent():
    s = sub(extra=("test.py",), naming_ok=False)
    penalties = [naming_penalty(s, PEN), late_penalty(late_by(30), POLICY)]
    assert total_percent(penalties) == 30.0
    assert final_score(90.0, penalties, 100.0, True) == 60.0
    assert final_score(50.0, penalties, 60.0, True) == 32.0  # 30% of 60 = 18 points


def test_all_three_penalties_add_up():
    penalties = [Penalty("naming", 10, ""), Penalty("late", 20, ""), Penalty("execution", 20, "")]
    assert final_score(100, penalties, 100, True) == 50.0


def test_score_floors_at_zero_and_rounds():
    assert final_score(10, [Penalty("late", 40, "")], 100, True) == 0.0
    assert final_score(33.333333333, [], 100, True) == 33.3333
    assert final_score(50, [Penalty("naming", 10, "")], 60, False) == 0.0
