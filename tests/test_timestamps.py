"""Submission times and extensions: options, LMS CSV exports, zip entry times."""

from __future__ import annotations

import zipfile
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from grader.errors import UsageError
from grader.intake import newest_entry_time
from grader.timestamps import (Extension, effective_deadline, parse_submitted_at, parse_time,
                               read_extensions_csv, read_timestamps_csv, resolve_submission_time)

try:
    from zipfactory import RawEntry, ntfs_extra, raw_zip, ut_extra
except ImportError:  # pragma: no cover
    from tests.zipfactory import RawEntry, ntfs_extra, raw_zip, ut_extra

NY = ZoneInfo("America/New_York")
DEADLINE = datetime(2025, 2, 25, 23, 59, tzinfo=NY)


def csv_file(tmp_path, text, name="times.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# --------------------------------------------------------------------------- --submitted-at


def test_submitted_at_with_offset():
    assert parse_submitted_at("2025-02-26T01:30:00-05:00") == datetime(2025, 2, 26, 1, 30, tzinfo=NY)
    assert parse_submitted_at("2025-02-26T06:30:00Z") == datetime(2025, 2, 26, 6, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["2025-02-26T01:30:00", "2025-02-26 01:30", "yesterday", ""])
def test_submitted_at_naive_or_bad_is_a_usage_error(text):
    with pytest.raises(UsageError) as err:
        parse_submitted_at(text)
    assert err.value.message.startswith("--submitted-at:")


# --------------------------------------------------------------------------- timestamps CSV


def test_timestamps_csv_with_header(tmp_path):
    p = csv_file(tmp_path, "Net ID,Name,Submitted At\nABC1234,Ann,2025-02-26T01:30:00-05:00\n"
                           "xy99,Bob,2025-02-25 20:00\n\n# a comment\ndef5@nyu.edu,Cy,02/27/2025 11:15 PM\n")
    times = read_timestamps_csv(p, NY)
    assert times == {
        "abc1234": datetime(2025, 2, 26, 1, 30, tzinfo=NY),
        "xy99": datetime(2025, 2, 25, 20, 0, tzinfo=NY),  # naive: read in the deadline's zone
        "def5": datetime(2025, 2, 27, 23, 15, tzinfo=NY),
    }


@pytest.mark.parametrize("header", ["net_id,submitted_at", "student,timestamp", "sid,time", "email,Timestamp",
                                    "\ufeffnetid,submission_time", "Username,Date Submitted"])
def test_timestamps_header_names(tmp_path, header):
    p = csv_file(tmp_path, f"{header}\nabc1234,2025-02-26T01:30:00-05:00\n")
    assert read_timestamps_csv(p, NY) == {"abc1234": datetime(2025, 2, 26, 1, 30, tzinfo=NY)}


def test_timestamps_without_header(tmp_path):
    p = csv_file(tmp_path, "abc1234,2025-02-26T06:30:00Z\n")
    assert read_timestamps_csv(p, NY)["abc1234"] == datetime(2025, 2, 26, 1, 30, tzinfo=NY)


def test_naive_csv_times_follow_daylight_saving(tmp_path):
    p = csv_file(tmp_path, "net_id,time\na1,2025-03-10 12:00\n")
    assert read_timestamps_csv(p, NY)["a1"].isoformat() == "2025-03-10T12:00:00-04:00"


def test_rows_without_a_time_are_skipped(tmp_path):
    p = csv_file(tmp_path, "net_id,time\na1,\nb2,2025-02-25 20:00\n")
    assert set(read_timestamps_csv(p, NY)) == {"b2"}


def test_duplicate_student_keeps_the_latest(tmp_path):
    p = csv_file(tmp_path, "net_id,time\na1,2025-02-25 20:00\na1,2025-02-26 02:00\na1,2025-02-24 10:00\n")
    assert read_timestamps_csv(p, NY)["a1"] == datetime(2025, 2, 26, 2, 0, tzinfo=NY)


@pytest.mark.parametrize("text, where, what", [
    ("net_id,time\na1,not a time\n", ":2:", "is not a date and time"),
    ("net_id,time\na1,2025-02-25 20:00\nb2\n", ":3:", "expected a student id and a time"),
    ("net_id,time\n,2025-02-25 20:00\n", ":2:", "empty student id"),
    ("net_id,when\na1,2025-02-25 20:00\n", ":1:", "the header needs"),
])
def test_bad_timestamp_rows_name_file_and_line(tmp_path, text, where, what):
    p = csv_file(tmp_path, text)
    with pytest.raises(UsageError) as err:
        read_timestamps_csv(p, NY)
    assert err.value.message.startswith(f"{p}{where}")
    assert what in err.value.message


def test_missing_csv_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        read_timestamps_csv(tmp_path / "nope.csv", NY)


# --------------------------------------------------------------------------- extensions


def test_extensions_csv(tmp_path):
    p = csv_file(tmp_path, "net_id,new_deadline,extra_hours\nabc1234,2025-03-01 23:59,\nXY99,,48\n")
    ext = read_extensions_csv(p, DEADLINE)
    assert ext["abc1234"] == Extension("abc1234", new_deadline=datetime(2025, 3, 1, 23, 59, tzinfo=NY))
    assert ext["xy99"] == Extension("xy99", extra_hours=48.0)
    assert effective_deadline("ABC1234", DEADLINE, ext) == datetime(2025, 3, 1, 23, 59, tzinfo=NY)
    assert effective_deadline("xy99", DEADLINE, ext) == DEADLINE + timedelta(hours=48)
    assert effective_deadline("zz1", DEADLINE, ext) == DEADLINE
    assert effective_deadline(None, DEADLINE, ext) == DEADLINE


def test_extensions_without_header(tmp_path):
    p = csv_file(tmp_path, "a1,24\nb2,2025-03-02T12:00:00-05:00\n")
    ext = read_extensions_csv(p, DEADLINE)
    assert ext["a1"].extra_hours == 24.0 and ext["b2"].new_deadline == datetime(2025, 3, 2, 12, tzinfo=NY)


@pytest.mark.parametrize("rows, where, what", [
    ("a1,2025-03-01 23:59,24\n", ":2:", "not both"),
    ("a1,,\n", ":2:", "not neither"),
    ("a1,,-5\n", ":2:", "extra hours must be a number >= 0"),
    ("a1,,lots\n", ":2:", "is not a number of hours"),
    ("a1,2025-02-20 10:00,\n", ":2:", "is before the assignment's deadline"),
    ("a1,,24\nA1,,48\n", ":3:", "a second extension for `a1` (the first is on line 2)"),
])
def test_bad_extension_rows(tmp_path, rows, where, what):
    p = csv_file(tmp_path, "net_id,new_deadline,extra_hours\n" + rows)
    with pytest.raises(UsageError) as err:
        read_extensions_csv(p, DEADLINE)
    assert err.value.message.startswith(f"{p}{where}") and what in err.value.message


# --------------------------------------------------------------------------- priority


def test_priority_option_then_csv_then_zip():
    opt = datetime(2025, 2, 26, 1, 0, tzinfo=NY)
    csv_time = datetime(2025, 2, 27, 1, 0, tzinfo=NY)
    zip_time = "2025-02-25T10:00:00-05:00"
    table = {"abc1234": csv_time}
    t = resolve_submission_time("abc1234", submitted_at=opt, timestamps=table, newest_entry_time=zip_time)
    assert (t.at, t.source, t.trusted) == (opt, "option", True)
    t = resolve_submission_time("ABC1234", timestamps=table, newest_entry_time=zip_time)
    assert (t.at, t.source, t.trusted) == (csv_time, "timestamps-csv", True)
    t = resolve_submission_time("zz9", timestamps=table, newest_entry_time=zip_time)
    assert (t.at.isoformat(), t.source, t.trusted) == (zip_time, "zip-entries", False)
    t = resolve_submission_time(None)
    assert (t.at, t.source, t.trusted) == (None, "none", False)
    with pytest.raises(UsageError):
        resolve_submission_time("a", submitted_at=datetime(2025, 2, 26))


def test_parse_time_needs_a_zone_for_naive_times():
    with pytest.raises(ValueError):
        parse_time("2025-02-26 10:00", None)


# --------------------------------------------------------------------------- zip entry times


def test_zip_times_dos_ut_and_ntfs(tmp_path):
    utc_noon = int(datetime(2025, 2, 27, 12, 0, tzinfo=timezone.utc).timestamp())
    z = raw_zip(tmp_path / "t.zip", [
        RawEntry("a.txt", b"a", date_time=(2025, 2, 25, 10, 0, 0)),
        RawEntry("dir/", b"", date_time=(2030, 1, 1, 0, 0, 0)),  # directories do not count
    ])
    with zipfile.ZipFile(z) as zf:
        assert newest_entry_time(zf.infolist(), NY).isoformat() == "2025-02-25T10:00:00-05:00"
    for extra in (ut_extra(utc_noon), ntfs_extra(utc_noon)):
        z = raw_zip(tmp_path / "t.zip", [RawEntry("a.txt", b"a", date_time=(2025, 2, 25, 10, 0, 0)),
                                         RawEntry("b.txt", b"b", date_time=(2025, 2, 20, 10, 0, 0), extra=extra)])
        with zipfile.ZipFile(z) as zf:
            assert newest_entry_time(zf.infolist(), NY).isoformat() == "2025-02-27T07:00:00-05:00"
    z = raw_zip(tmp_path / "t.zip", [RawEntry("a.txt", b"a", date_time=(1980, 1, 1, 0, 0, 0))])
    with zipfile.ZipFile(z) as zf:
        assert newest_entry_time(zf.infolist(), NY) is None  # the DOS epoch means "no time"
