"""Gradescope's `submission_metadata.json` as the grader's time, student and extension.

Documented fields used (https://gradescope-autograders.readthedocs.io/en/latest/submission_metadata/):
`created_at` (the submission time), `assignment.due_date`, and per user `email` and, when
Gradescope sends it, `users[].assignment.due_date` (that student's own due date, i.e. an
extension). The registry's deadline stays the rule: an extension granted on Gradescope is
carried over as the hours by which the student's due date passes the assignment's. A file
that is missing, unreadable or partial gives what it can and says what it could not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..registry import SubmissionSpec


@dataclass(frozen=True)
class SubmissionMeta:
    submitted_at: datetime | None  # aware; None: not known
    student: str | None  # the net id from the first user's email, when it fits the zip pattern
    extension_hours: float  # > 0 when the student's own due date is later than the assignment's
    notes: tuple[str, ...]  # what could not be read, for the top-level output


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def read_metadata(path: Path, spec: SubmissionSpec) -> SubmissionMeta:
    """Never raises: a bad file is a note, and the grade goes on without what it lacked."""
    if not path.is_file():
        return SubmissionMeta(None, None, 0.0, (f"no {path.name}: submission time not known, graded as on time",))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return SubmissionMeta(None, None, 0.0, (f"{path.name} unreadable ({type(exc).__name__}): "
                                                "submission time not known, graded as on time",))
    if not isinstance(data, dict):
        data = {}
    notes: list[str] = []
    submitted = _time(data.get("created_at"))
    if submitted is None:
        notes.append(f"{path.name} has no valid `created_at`: submission time not known, graded as on time")

    users = data.get("users") if isinstance(data.get("users"), list) else []
    user = users[0] if users and isinstance(users[0], dict) else {}
    email = user.get("email") if isinstance(user.get("email"), str) else ""
    local = email.split("@", 1)[0].strip().lower()
    student = local if local and spec.match_zip_name(f"{local}.zip") else None
    if student is None:
        notes.append("the student's net id is not known from Gradescope's metadata (email "
                     f"`{email or '-'}`): the zip name rule is not applied")

    hours = 0.0
    assignment = data.get("assignment") if isinstance(data.get("assignment"), dict) else {}
    own = user.get("assignment") if isinstance(user.get("assignment"), dict) else {}
    due, own_due = _time(assignment.get("due_date")), _time(own.get("due_date"))
    if due is not None and own_due is not None and own_due > due:
        hours = (own_due - due).total_seconds() / 3600.0
    return SubmissionMeta(submitted, student, hours, tuple(notes))
