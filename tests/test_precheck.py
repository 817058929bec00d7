"""precheck: one zip end to end before any code runs, and its JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from grader.errors import UsageError
from grader.models import Penalty
from grader.precheck import Precheck, precheck, precheck_json
from grader.registry import load
from grader.rules import execution_penalty, final_score
from grader.timestamps import Extension

try:
    from zipfactory import RawEntry, make_submission, raw_zip, tree, valid_entries
except ImportError:  # pragma: no cover
    from tests.zipfactory import RawEntry, make_submission, raw_zip, tree, valid_entries

NY = ZoneInfo("America/New_York")
KEYS = {"student", "assignment", "accepted", "hours_late", "penalties", "problems", "files"}


@pytest.fixture(scope="module")
def hw2():
    return load("nyu-dl-hw2-2025")


def run(tmp_path, zip_path, assignment, **kw) -> Precheck:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    before = tree(tmp_path)
    pc = precheck(zip_path, assignment, scratch, **kw)
    assert {p for p in tree(tmp_path) - before if not p.startswith("scratch/")} == set()
    return pc


def after_deadline(hw2, hours):
    return hw2.deadline + timedelta(hours=hours)


def test_clean_submission_on_time(tmp_path, hw2):
    pc = run(tmp_path, make_submission(tmp_path / "in"), hw2)
    out = precheck_json(pc, hw2)
    assert set(out) == KEYS
    assert out["student"] == "abc1234" and out["assignment"] == "nyu-dl-hw2-2025"
    assert out["accepted"] is True and out["hours_late"] == 0.0
    assert out["penalties"] == [] and out["problems"] == []
    assert [f["name"] for f in out["files"]] == [f.name for f in hw2.submission.files]
    assert all(f["present"] and f["valid"] and f["exact"] for f in out["files"])
    # zip times are naive: read in the deadline's zone, untrusted
    assert pc.lateness.submitted_at == "2025-02-25T12:00:00-05:00"
    assert (pc.lateness.source, pc.lateness.trusted) == ("zip-entries", False)
    json.dumps(out)


def test_misnamed_and_thirty_hours_late_is_thirty_percent(tmp_path, hw2):
    z = make_submission(tmp_path / "in", rename={"hw2_cnn.ipynb": "HW2_CNN.ipynb"})
    pc = run(tmp_path, z, hw2, submitted_at=after_deadline(hw2, 30))
    assert [(p.rule, p.percent) for p in pc.penalties] == [("naming", 10.0), ("late", 20.0)]
    assert pc.penalties[0].reason == "wrong naming: misnamed `HW2_CNN.ipynb` for `hw2_cnn.ipynb`"
    assert pc.lateness.hours_late == 30.0 and pc.lateness.source == "option" and pc.lateness.trusted
    assert final_score(80.0, pc.penalties, hw2.max_score, pc.accepted) == 50.0
    fixes = [p["fix"] for p in precheck_json(pc, hw2)["problems"]]
    assert fixes == ["rename `HW2_CNN.ipynb` to `hw2_cnn.ipynb`"]


def test_execution_penalty_adds_later(tmp_path, hw2):
    pc = run(tmp_path, make_submission(tmp_path / "in", extra={"test.py": "x"}), hw2)
    penalties = pc.penalties + (execution_penalty(["hw2_moe.ipynb"], hw2.penalties),)
    assert [p.percent for p in penalties] == [10.0, 20.0]
    assert final_score(100.0, penalties, 100.0, pc.accepted) == 70.0


def test_ninety_seven_hours_is_not_accepted(tmp_path, hw2):
    pc = run(tmp_path, make_submission(tmp_path / "in"), hw2, submitted_at=after_deadline(hw2, 97))
    out = precheck_json(pc, hw2)
    assert out["accepted"] is False and out["hours_late"] == 97.0
    assert out["penalties"] == []
    assert out["problems"][-1]["message"] == "97.00 hours late: past the 96-hour cutoff, not accepted"
    assert final_score(100.0, pc.penalties, 100.0, pc.accepted) == 0.0


def test_timestamps_csv_beats_zip_times(tmp_path, hw2):
    times = {"abc1234": after_deadline(hw2, 0.5)}
    pc = run(tmp_path, make_submission(tmp_path / "in"), hw2, timestamps=times)
    assert (pc.lateness.source, pc.lateness.trusted, pc.lateness.hours_late) == ("timestamps-csv", True, 0.5)
    assert pc.penalties == (Penalty("late", 10.0, "0.50 hours late: 1 started 24-hour period x 10%"),)


def test_student_missing_from_timestamps_falls_back_with_a_note(tmp_path, hw2):
    pc = run(tmp_path, make_submission(tmp_path / "in"), hw2, timestamps={"zz999": after_deadline(hw2, 1)})
    assert pc.lateness.source == "zip-entries" and not pc.lateness.trusted
    assert pc.notes[0].message == ("no submission time for `abc1234` in the timestamps file; "
                                   "used the newest time inside the zip (untrusted)")
    assert pc.notes[0].fix


def test_zip_entry_times_after_the_deadline_are_late_but_untrusted(tmp_path, hw2):
    z = make_submission(tmp_path / "in", date_time=(2025, 2, 27, 10, 0, 0))
    pc = run(tmp_path, z, hw2)
    assert pc.lateness.hours_late == 34.02
    assert pc.penalties[0].reason.endswith("; time from zip-entries, untrusted")


def test_extension_moves_the_deadline(tmp_path, hw2):
    ext = {"abc1234": Extension("abc1234", extra_hours=48)}
    pc = run(tmp_path, make_submission(tmp_path / "in"), hw2, submitted_at=after_deadline(hw2, 50),
             extensions=ext)
    assert pc.lateness.deadline == "2025-02-27T23:59:00-05:00"
    assert pc.lateness.hours_late == 2.0
    assert [p.percent for p in pc.penalties] == [10.0]


def test_naive_submitted_at_is_a_usage_error(tmp_path, hw2):
    with pytest.raises(UsageError):
        precheck(make_submission(tmp_path / "in"), hw2, tmp_path, submitted_at=datetime(2025, 2, 26))


def test_fatal_zip(tmp_path, hw2):
    z = raw_zip(tmp_path / "in" / "abc1234.zip", valid_entries() + [RawEntry("../evil", b"x")])
    pc = run(tmp_path, z, hw2)
    out = precheck_json(pc, hw2)
    assert out["accepted"] is False
    assert out["files"] == [] and out["penalties"] == []
    assert out["problems"] == [{"file": "abc1234.zip",
                                "message": "path traversal: entry `../evil` points outside the zip",
                                "fix": "zip the files with relative names"}]
    assert not any((tmp_path / "scratch").iterdir())


def test_every_problem_has_a_fix(tmp_path, hw2):
    z = make_submission(tmp_path / "in", name="HW2 final.zip", omit=["hw2_rnn.ipynb"], folder="stuff",
                        rename={"hw2_cnn.ipynb": "hw2_cnn (1).ipynb"}, extra={"test.py": "x", "old.zip": b"PK"},
                        litter=True)
    pc = run(tmp_path, z, hw2, submitted_at=after_deadline(hw2, 200))
    out = precheck_json(pc, hw2)
    assert out["student"] is None
    assert out["problems"] and all(p["fix"] for p in out["problems"])
    assert json.loads(json.dumps(out, sort_keys=True)) == out


def test_json_is_deterministic(tmp_path, hw2):
    z = make_submission(tmp_path / "in", extra={"b.py": "x", "a.py": "y"})
    a = precheck_json(run(tmp_path, z, hw2), hw2)
    (tmp_path / "scratch2").mkdir()
    b = precheck_json(precheck(z, hw2, tmp_path / "scratch2"), hw2)
    assert json.dumps(a, sort_keys=False) == json.dumps(b, sort_keys=False)
    assert [p["file"] for p in a["problems"]] == ["a.py", "b.py"]
