"""Exit statuses, one meaning each, so scripts and CI can rely on them."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    OK = 0  # graded/checked, nothing to report
    PROBLEMS = 1  # the submission has problems (lost points, penalties, missing files)
    USAGE = 2  # wrong options, unknown assignment, invalid registry file
    INTERNAL = 3  # the grader itself could not work (the sandbox would not start)
