"""Gradescope autograder `results.json` for one Grade.

Shape (Gradescope's documented format):

    {"score": <grade.score>, "output": <summary text>, "visibility": ..., "stdout_visibility": ...,
     "tests": [{"name", "score", "max_score", "status", "output", "visibility"}, ...]}

Choices, fixed here so the lead and the TAs know what students see:

- The top-level `score` is `grade.score`, which Gradescope uses instead of the sum of the
  tests, so the grader's own rounding, clamping at 0 and "not accepted gives 0" hold.
- One test per check, named `<notebook>: <check id>`; `status` is "passed" only for status
  "pass" (partial, fail, error and skipped are "failed", with whatever points they earned).
  A public check (`CheckResult.public`) is "visible"; the others are "after_published", so
  results of hidden checks show only once the TAs publish grades.
- Each penalty is one more test, `Penalty: <rule> (-P%)`, with a negative `score` (the
  points it costs), `max_score` 0, status "failed", always "visible", the reason as output.
  So the tests add up to the score as well (up to the clamp at 0) and the student sees why.
- The top-level `output` (always visible) holds the verdict, problems with their fixes,
  penalties and what will be graded by hand, but no check results, which would otherwise
  leak the hidden checks before publication.
- No execution time and nothing from the clock: the same Grade gives the same file, unless
  the caller passes `execution_time` (the Gradescope autograder does; batch outputs do not).
- `hidden_visibility` chooses how non-public checks show (Gradescope's `visible`, `hidden`,
  `after_due_date` or `after_published`); `notes` are extra lines for the top-level output.
  No `leaderboard` key is written: the leaderboard stays off.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from grader.models import Grade

from ._common import clean, finite, num, penalty_points, points, student_label, verdict_label
from .jsonout import normalise

__all__ = ["gradescope_results", "gradescope_json", "write_results", "summary_output"]

VISIBLE = "visible"
HIDDEN_UNTIL_PUBLISHED = "after_published"


def summary_output(grade: Grade) -> str:
    """The always-visible top-level text: verdict, score, penalties, problems, manual items."""
    lines = [
        f"{clean(grade.assignment, keep_newlines=False)}: {student_label(clean(grade.student or '', keep_newlines=False))}",
        f"Verdict: {verdict_label(grade.verdict)}" + (f": {clean(grade.reason)}" if grade.reason else ""),
        f"Automatic score: {points(grade.raw_score, grade.auto_max)}",
    ]
    if grade.penalties:
        lines.append("Penalties:")
        for p in grade.penalties:
            lines.append(
                f"  - {clean(p.rule, keep_newlines=False)} -{num(p.percent)}% "
                f"(-{num(penalty_points(p.percent, grade.max_score))} points): {clean(p.reason)}"
            )
    lines.append(f"Score: {points(grade.score, grade.max_score)}")
    if grade.problems:
        lines.append("Problems:")
        for pr in grade.problems:
            line = f"  - {clean(pr.file, keep_newlines=False)}: {clean(pr.message)}"
            if pr.fix:
                line += f" (fix: {clean(pr.fix)})"
            lines.append(line)
    if grade.manual:
        total = sum(m.points for m in grade.manual)
        lines.append(f"Graded by hand later ({num(total)} points, not included above):")
        for m in grade.manual:
            where = f" [{clean(m.file, keep_newlines=False)}]" if m.file else ""
            lines.append(f"  - {clean(m.description)} ({num(m.points)} points){where}")
    return "\n".join(lines)


def gradescope_results(
    grade: Grade,
    *,
    visibility: str = VISIBLE,
    stdout_visibility: str = "hidden",
    hidden_visibility: str = HIDDEN_UNTIL_PUBLISHED,
    execution_time: float | None = None,
    notes: Sequence[str] = (),
) -> dict[str, Any]:
    """The results.json content as a dict (floats rounded to 4 decimals)."""
    tests: list[dict[str, Any]] = []
    for c in grade.checks:
        tests.append(
            {
                "name": f"{clean(c.notebook, keep_newlines=False)}: {clean(c.id, keep_newlines=False)}",
                "score": finite(c.points),
                "max_score": finite(c.max_points),
                "status": "passed" if c.status == "pass" else "failed",
                "output": f"{c.status}" + (f": {clean(c.message)}" if c.message else ""),
                "visibility": VISIBLE if c.public else hidden_visibility,
            }
        )
    for p in grade.penalties:
        tests.append(
            {
                "name": f"Penalty: {clean(p.rule, keep_newlines=False)} (-{num(p.percent)}%)",
                "score": -penalty_points(p.percent, grade.max_score),
                "max_score": 0.0,
                "status": "failed",
                "output": clean(p.reason),
                "visibility": VISIBLE,
            }
        )
    output = summary_output(grade)
    if notes:
        output += "\n" + "\n".join(clean(n) for n in notes)
    results = {
        "score": finite(grade.score),
        "output": output,
        "visibility": visibility,
        "stdout_visibility": stdout_visibility,
        "tests": tests,
    }
    if execution_time is not None:
        results["execution_time"] = max(0, round(execution_time))  # whole seconds, as Gradescope documents
    return normalise(results)


def gradescope_json(grade: Grade, **kwargs: Any) -> str:
    """results.json text: sorted keys, indent 2, UTF-8 characters kept, trailing newline."""
    return json.dumps(gradescope_results(grade, **kwargs), sort_keys=True, indent=2, ensure_ascii=False,
                      allow_nan=False) + "\n"


def write_results(grade: Grade, path: str | os.PathLike[str], **kwargs: Any) -> Path:
    """Write results.json (UTF-8), creating its folder (on Gradescope: /autograder/results/results.json)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(gradescope_json(grade, **kwargs), encoding="utf-8")
    return path
