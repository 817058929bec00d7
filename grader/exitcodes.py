"""Exit statuses, one meaning each, and the one object that decides them.

Scripts and CI read the status, so every command decides it the same way: it tells a
`Report` what happened (a grade, a file that failed, an error) and exits with
`report.return_code`, as black's `report.py` does. Nothing else picks a number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class ExitStatus(IntEnum):
    OK = 0  # graded/checked, nothing to report
    PROBLEMS = 1  # the submission has problems (lost points, penalties, missing files)
    USAGE = 2  # wrong options, unknown assignment, invalid registry file
    INTERNAL = 3  # the grader itself could not work (the sandbox would not start)


def status_of(exc: BaseException) -> ExitStatus:
    """A raised error's status: a `GraderError` says its own (usage or internal); anything
    else is a fault of the grader."""
    code = getattr(exc, "exit_code", None)
    return ExitStatus(code) if code in tuple(ExitStatus) else ExitStatus.INTERNAL


def clean_grade(grade: Any, skipped_ok: bool = False) -> bool:
    """Nothing to report: graded, no penalty, no problem, every check passed (or, for a
    student's self-check, skipped because it is not part of it)."""
    fine = ("pass", "skipped") if skipped_ok else ("pass",)
    return (grade.verdict == "graded" and not grade.penalties and not grade.problems
            and all(c.status in fine for c in grade.checks))


@dataclass
class Report:
    """What one command found; `return_code` is the exit status."""

    problems: int = 0  # submissions, files or answers with something to fix
    usage_errors: int = 0
    internal_errors: int = 0

    def problem(self, found: bool = True) -> None:
        self.problems += int(bool(found))

    def grade(self, grade: Any, skipped_ok: bool = False) -> None:
        self.problem(not clean_grade(grade, skipped_ok))

    def error(self, exc: BaseException) -> None:
        if status_of(exc) == ExitStatus.USAGE:
            self.usage_errors += 1
        else:
            self.internal_errors += 1

    @property
    def return_code(self) -> ExitStatus:
        if self.internal_errors:
            return ExitStatus.INTERNAL
        if self.usage_errors:
            return ExitStatus.USAGE
        return ExitStatus.PROBLEMS if self.problems else ExitStatus.OK
