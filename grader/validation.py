"""A registry file's self-test: its own reference solution must score full marks.

A check that the reference cannot pass is a broken check (a wrong tolerance, a budget too
small for this machine); better to find that before a single student is graded.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from .checks.base import resolve
from .registry import Assignment


def self_test(assignment: Assignment, runner_factory=None) -> tuple[bool, list[str]]:
    """Grade the registry's `solution` and report every check that is not full marks."""
    if not assignment.solution:
        return True, ["no `solution:` in the registry: self-test skipped"]
    from .grading import Options, grade
    from .sandbox_runner import open_runner

    with tempfile.TemporaryDirectory(prefix="grader-selftest-") as tmp:
        student = (assignment.submission.zip_example or "abc1234.zip").removesuffix(".zip")
        zip_path = Path(tmp) / f"{student}.zip"
        resolve(assignment.solution)(zip_path, student)
        factory = runner_factory or open_runner
        with factory() as runner:
            g = grade(zip_path, assignment, Options(submitted_at=assignment.deadline), runner)
    lines = []
    ok = True
    for c in g.checks:
        if c.points < c.max_points:
            ok = False
            lines.append(f"FAIL {c.id}: {c.points:g}/{c.max_points:g}: {c.message}")
    if g.penalties:
        ok = False
        lines += [f"FAIL penalty {p.rule}: {p.reason}" for p in g.penalties]
    lines.append(f"reference solution: {g.raw_score:g}/{g.auto_max:g} automatic points"
                 + (" (full marks)" if ok else ""))
    return ok, lines
