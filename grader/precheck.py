"""Everything before student code runs, for one zip: intake, documents, time, penalties.

Used by `grader check` (a student's structural self-check) and by full grading, which then
runs the notebooks and adds the execution penalty (`rules.execution_penalty`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from .errors import UsageError
from .intake import open_submission
from .models import Lateness, Penalty, Problem, Submission
from .registry import Assignment
from .rules import late_penalty, lateness, naming_penalty, not_accepted_reason
from .timestamps import Extension, effective_deadline, resolve_submission_time


@dataclass(frozen=True)
class Precheck:
    submission: Submission
    lateness: Lateness
    penalties: tuple[Penalty, ...]
    notes: tuple[Problem, ...] = ()  # about time and acceptance (not about the zip's content)

    @property
    def accepted(self) -> bool:
        """Gradable: the zip could be read and it came in before the cutoff."""
        return self.submission.fatal is None and self.lateness.accepted

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.submission.problems + self.notes


def precheck(
    zip_path: Path,
    assignment: Assignment,
    scratch: Path,
    *,
    submitted_at: datetime | None = None,
    timestamps: Mapping[str, datetime] | None = None,
    extensions: Mapping[str, Extension] | None = None,
) -> Precheck:
    """Open the zip into `scratch`, check its files, place it in time, and list the penalties
    known before execution (naming, late). `timestamps` and `extensions` are keyed by
    lower-cased student id (see `timestamps.read_timestamps_csv` / `read_extensions_csv`)."""
    if submitted_at is not None and submitted_at.tzinfo is None:
        raise UsageError(f"--submitted-at: `{submitted_at.isoformat()}` has no UTC offset")
    spec = assignment.submission
    sub = open_submission(
        Path(zip_path), spec, Path(scratch), zone=assignment.deadline.tzinfo,
        wrapping_folder=spec.wrapping_folder,
    )
    deadline = effective_deadline(sub.student, assignment.deadline, extensions)
    when = resolve_submission_time(sub.student, submitted_at=submitted_at, timestamps=timestamps,
                                   newest_entry_time=sub.newest_entry_time)
    policy = assignment.penalties.late
    late = lateness(when.at, deadline, policy, when.source, when.trusted)

    notes: list[Problem] = []
    if timestamps is not None and submitted_at is None and when.source != "timestamps-csv":
        who = f"`{sub.student}`" if sub.student else "this zip (no student id)"
        used = "the newest time inside the zip (untrusted)" if when.source == "zip-entries" else "no time (on time)"
        notes.append(Problem(sub.zip_name, f"no submission time for {who} in the timestamps file; used {used}",
                             "add the student's row to the timestamps CSV, or pass --submitted-at"))
    if not late.accepted:
        notes.append(Problem(sub.zip_name, not_accepted_reason(late, policy),
                             "nothing to fix in the zip; if an extension was granted, add it to the extensions CSV"))

    penalties: list[Penalty] = []
    for p in (naming_penalty(sub, assignment.penalties), late_penalty(late, policy)):
        if p is not None:
            penalties.append(p)
    return Precheck(sub, late, tuple(penalties), tuple(notes))


def precheck_json(pc: Precheck, assignment: Assignment) -> dict[str, Any]:
    """The stable JSON of a precheck (`grader check --json`). `accepted` is False when the zip
    is unreadable (fatal: its reason is one of the problems) or came in after the cutoff."""
    return {
        "student": pc.submission.student,
        "assignment": assignment.id,
        "accepted": pc.accepted,
        "hours_late": pc.lateness.hours_late,
        "penalties": [p.to_json() for p in pc.penalties],
        "problems": [p.to_json() for p in pc.problems],
        "files": [f.to_json() for f in pc.submission.files],
    }
