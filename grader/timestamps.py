"""When was it submitted, and by when was it due? Times from options, LMS exports and zips.

Priority for the submission time (`resolve_submission_time`):
  1. `--submitted-at`: ISO 8601 *with* an offset (a naive time is a UsageError: "23:59" in
     which zone?);
  2. a timestamps CSV exported from the LMS (student id, time);
  3. only when neither is given: the newest entry time inside the zip, marked untrusted
     (`source="zip-entries"`, `trusted=False`): students control those times.

CSV files (timestamps and extensions) are read with these rules:
  * an optional header row; the id column is the first present of `net_id`, `netid`,
    `email`, `username`, `login`, `user`, `student`, `student_id`, `sid`, `id`
    (case-insensitive, spaces read as `_`); the time column the first of `submitted_at`,
    `submitted`, `submission_time`, `submission_date`, `timestamp`, `time`, `date`...;
    other columns are ignored; without a header the first two columns are id and value;
  * ids are compared lower-cased; an email's local part is the id (`ABC1234@nyu.edu` ->
    `abc1234`);
  * times are ISO 8601 (`2025-02-26T01:30:00-05:00`, `2025-02-26 01:30`, `...Z`) or the US
    forms `02/26/2025 01:30 AM`, `02/26/2025 13:30[:00]`; a time without an offset is read
    in the deadline's zone (the zone the course runs in; pass it as `zone`);
  * blank lines and lines starting with `#` are skipped, and so are timestamp rows with an
    empty time (LMS exports list students who did not submit); a UTF-8 BOM is fine;
  * a row that cannot be read is a UsageError naming the file and the line.
  * timestamps: a student listed twice keeps the *latest* time (the last submission is
    the one graded); extensions: a student listed twice is an error.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Iterator, Mapping

from .errors import UsageError

# header names, compared lower-cased with spaces and hyphens read as underscores
# (in order of preference: an NYU email's local part is the net id; a bare `id` may be a number)
ID_COLUMNS = ("net_id", "netid", "email", "email_address", "username", "user_name", "login", "user", "student",
              "student_id", "studentid", "sid", "id")
TIME_COLUMNS = ("submitted_at", "submitted", "submission_time", "submission_date", "timestamp", "time",
                "submitted_on", "date_submitted", "last_submission", "date", "datetime")
DEADLINE_COLUMNS = ("new_deadline", "deadline", "due", "due_at", "until")
HOURS_COLUMNS = ("extra_hours", "hours", "extension_hours")
US_FORMATS = ("%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")


@dataclass(frozen=True)
class Extension:
    """A per-student extension: a new deadline, or hours added to the assignment's."""

    student: str
    new_deadline: datetime | None = None
    extra_hours: float = 0.0

    def apply(self, deadline: datetime) -> datetime:
        if self.new_deadline is not None:
            return self.new_deadline
        return deadline + timedelta(hours=self.extra_hours)


@dataclass(frozen=True)
class SubmissionTime:
    at: datetime | None
    source: str  # "option" | "timestamps-csv" | "zip-entries" | "none"
    trusted: bool


# --------------------------------------------------------------------------- parsing


def parse_time(text: str, zone: tzinfo | None) -> datetime:
    """ISO 8601 or a US form; naive results get `zone` (ValueError when zone is None)."""
    s = text.strip()
    when: datetime | None = None
    try:
        when = datetime.fromisoformat(s)
    except ValueError:
        for fmt in US_FORMATS:
            try:
                when = datetime.strptime(s, fmt)
                break
            except ValueError:
                continue
    if when is None:
        raise ValueError(f"`{s}` is not a date and time (write e.g. 2025-02-25T23:59:00-05:00)")
    if when.tzinfo is None:
        if zone is None:
            raise ValueError(f"`{s}` has no UTC offset (write e.g. 2025-02-25T23:59:00-05:00)")
        when = when.replace(tzinfo=zone)
    return when


def parse_submitted_at(text: str) -> datetime:
    """The `--submitted-at` option: ISO 8601 with an offset, else UsageError."""
    s = text.strip()
    try:
        when = datetime.fromisoformat(s)
    except ValueError:
        raise UsageError(f"--submitted-at: `{s}` is not an ISO 8601 time; write e.g. 2025-02-26T01:30:00-05:00") from None
    if when.tzinfo is None:
        raise UsageError(f"--submitted-at: `{s}` has no UTC offset; write e.g. {s}-05:00 (New York, winter) or {s}Z")
    return when


def normalise_id(raw: str) -> str:
    s = raw.strip().lower()
    if "@" in s:
        s = s.split("@", 1)[0]
    return s


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read: {exc}") from None
    reader = csv.reader(text.splitlines())
    try:
        for row in reader:
            line = reader.line_num
            cells = [c.strip() for c in row]
            if not any(cells) or cells[0].startswith("#"):
                continue
            yield line, cells
    except csv.Error as exc:
        raise UsageError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from None


def _column_name(cell: str) -> str:
    return "_".join(cell.strip().lower().replace("-", " ").split())


def _find(header: list[str], names: tuple[str, ...]) -> int | None:
    lowered = [_column_name(h) for h in header]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    return None


def _layout(path: Path, line: int, first: list[str], value_names: tuple[str, ...], *more: tuple[str, ...]):
    """(is_header, id column, value columns...) from the first row."""
    id_col = _find(first, ID_COLUMNS)
    cols = [_find(first, value_names)] + [_find(first, names) for names in more]
    if id_col is not None and any(c is not None for c in cols):
        return True, id_col, cols
    lowered = {_column_name(c) for c in first}
    if lowered & set(ID_COLUMNS + value_names + sum(more, ())):
        wanted = " or ".join(f"`{n}`" for n in (value_names[0],) + tuple(m[0] for m in more))
        raise UsageError(f"{path}:{line}: the header needs a student id column (e.g. `net_id`) and {wanted}")
    return False, 0, [1] + [None] * len(more)


def read_timestamps_csv(path: Path, zone: tzinfo) -> dict[str, datetime]:
    """{lower-cased student id: submission time} from an LMS export (latest time per student)."""
    path = Path(path)
    out: dict[str, datetime] = {}
    layout = None
    for line, cells in _rows(path):
        if layout is None:
            layout = _layout(path, line, cells, TIME_COLUMNS)
            if layout[0]:
                continue
        _, id_col, (time_col, *_) = layout
        if max(id_col, time_col) >= len(cells):
            raise UsageError(f"{path}:{line}: expected a student id and a time, got {len(cells)} column(s)")
        sid = normalise_id(cells[id_col])
        if not sid:
            raise UsageError(f"{path}:{line}: empty student id")
        if not cells[time_col]:
            continue  # listed without a time: no submission (LMS exports list every student)
        try:
            when = parse_time(cells[time_col], zone)
        except ValueError as exc:
            raise UsageError(f"{path}:{line}: {exc}") from None
        if sid not in out or when > out[sid]:
            out[sid] = when
    return out


def read_extensions_csv(path: Path, deadline: datetime) -> dict[str, Extension]:
    """{lower-cased student id: Extension}. Each row gives `new_deadline` (ISO; naive read in
    the deadline's zone) or `extra_hours` (a positive number). Without a header, the second
    column is hours when it is a number, else a deadline. An extension may not end before
    the assignment's deadline."""
    path = Path(path)
    zone = deadline.tzinfo
    out: dict[str, Extension] = {}
    first_line: dict[str, int] = {}
    layout = None
    for line, cells in _rows(path):
        if layout is None:
            layout = _layout(path, line, cells, DEADLINE_COLUMNS, HOURS_COLUMNS)
            if layout[0]:
                continue
        is_header, id_col, (dl_col, hours_col) = layout
        need = max(c for c in (id_col, dl_col, hours_col) if c is not None)
        cells = cells + [""] * (need + 1 - len(cells))
        sid = normalise_id(cells[id_col])
        if not sid:
            raise UsageError(f"{path}:{line}: empty student id")
        dl_text = cells[dl_col].strip() if dl_col is not None else ""
        hours_text = cells[hours_col].strip() if hours_col is not None else ""
        if not is_header and dl_text:  # headerless: the value is hours or a deadline
            try:
                float(dl_text)
                hours_text, dl_text = dl_text, ""
            except ValueError:
                pass
        if bool(dl_text) == bool(hours_text):
            raise UsageError(f"{path}:{line}: give either a new deadline or extra hours for `{sid}`, not "
                             f"{'both' if dl_text else 'neither'}")
        if dl_text:
            try:
                new = parse_time(dl_text, zone)
            except ValueError as exc:
                raise UsageError(f"{path}:{line}: {exc}") from None
            if new < deadline:
                raise UsageError(f"{path}:{line}: the new deadline {new.isoformat()} for `{sid}` is before the "
                                 f"assignment's deadline {deadline.isoformat()}")
            ext = Extension(sid, new_deadline=new)
        else:
            try:
                hours = float(hours_text)
            except ValueError:
                raise UsageError(f"{path}:{line}: `{hours_text}` is not a number of hours") from None
            if not math.isfinite(hours) or hours < 0:
                raise UsageError(f"{path}:{line}: extra hours must be a number >= 0, not `{hours_text}`")
            ext = Extension(sid, extra_hours=hours)
        if sid in out:
            raise UsageError(f"{path}:{line}: a second extension for `{sid}` (the first is on line {first_line[sid]})")
        out[sid] = ext
        first_line[sid] = line
    return out


# --------------------------------------------------------------------------- resolution


def effective_deadline(student: str | None, deadline: datetime,
                       extensions: Mapping[str, Extension] | None) -> datetime:
    if student and extensions:
        ext = extensions.get(normalise_id(student))
        if ext is not None:
            return ext.apply(deadline)
    return deadline


def resolve_submission_time(student: str | None, *, submitted_at: datetime | None = None,
                            timestamps: Mapping[str, datetime] | None = None,
                            newest_entry_time: str | None = None) -> SubmissionTime:
    """Option > timestamps CSV > newest zip entry (untrusted) > none."""
    if submitted_at is not None:
        if submitted_at.tzinfo is None:
            raise UsageError(f"--submitted-at: `{submitted_at.isoformat()}` has no UTC offset")
        return SubmissionTime(submitted_at, "option", True)
    if timestamps is not None and student:
        when = timestamps.get(normalise_id(student))
        if when is not None:
            if when.tzinfo is None:
                raise UsageError(f"timestamps: the time for `{student}` has no UTC offset")
            return SubmissionTime(when, "timestamps-csv", True)
    if newest_entry_time:
        try:
            when = datetime.fromisoformat(newest_entry_time)
        except ValueError:
            when = None
        if when is not None and when.tzinfo is not None:
            return SubmissionTime(when, "zip-entries", False)
    return SubmissionTime(None, "none", False)
