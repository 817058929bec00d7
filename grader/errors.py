"""Typed errors. The CLI turns each into one clear line and an exit status.

Errors about a *submission* (a broken zip, a crashing notebook) are not raised this far:
they become verdicts inside the submission's Grade, so a batch never stops for one student.
These exceptions are for the grader's own inputs: options, registry files, folders.
"""

from __future__ import annotations

from dataclasses import dataclass

from .exitcodes import ExitStatus


class GraderError(Exception):
    """Base of every error the CLI reports as one line."""

    exit_code = ExitStatus.USAGE

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class UsageError(GraderError):
    """A command-line input is wrong (missing file, bad time, unknown option value)."""

    exit_code = ExitStatus.USAGE


@dataclass(frozen=True)
class RegistryProblem:
    """One thing wrong in a problem file, said so a TA can fix it without reading Python."""

    file: str
    key: str
    problem: str
    fix: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.key}: {self.problem}"
        return f"{text} ({self.fix})" if self.fix else text


class RegistryError(GraderError):
    """A problem file is invalid. Carries every problem found, each naming file, line, key, fix."""

    exit_code = ExitStatus.USAGE

    def __init__(self, problems: "list[RegistryProblem] | tuple[RegistryProblem, ...]"):
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems) or "invalid registry")


class UnknownAssignmentError(GraderError):
    exit_code = ExitStatus.USAGE

    def __init__(self, wanted: str, known: list[str]):
        super().__init__(f"unknown assignment {wanted!r}; known: {', '.join(sorted(known)) or '(none)'}")
        self.wanted = wanted
        self.known = known


class SandboxError(GraderError):
    """The sandbox itself (not the student's code) failed: the grader cannot run safely."""

    exit_code = ExitStatus.INTERNAL
