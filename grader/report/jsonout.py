"""The `--json` output: `Grade.to_json()` serialised so the same Grade gives the same bytes.

Determinism rules (tested):
- keys sorted at every level (`sort_keys=True`); lists keep the Grade's order (checks in
  registry order, penalties in the order they were applied);
- every float rounded to 4 decimals, `-0.0` written as `0.0`, NaN/inf written as `null`
  (JSON has no such numbers; a broken number must not make the output unparsable);
- nothing from the clock: only what the Grade holds; timings only when asked for;
- ASCII only by default (`\\uXXXX` escapes), so the bytes do not depend on the terminal's
  encoding; `ensure_ascii=False` gives readable UTF-8 instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from grader.models import Grade

from ._common import gradebook_key

__all__ = ["grade_json", "grades_json", "normalise", "PLACES"]

PLACES = 4


def normalise(value: Any, places: int = PLACES) -> Any:
    """A JSON-able copy of `value` with floats rounded, tuples as lists, keys as strings."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        rounded = round(value, places)
        return 0.0 if rounded == 0 else rounded
    if isinstance(value, dict):
        return {str(k): normalise(v, places) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v, places) for v in value]
    return str(value)


def _dumps(data: Any, indent: int | None, ensure_ascii: bool) -> str:
    return json.dumps(
        data,
        sort_keys=True,
        indent=indent,
        ensure_ascii=ensure_ascii,
        allow_nan=False,
        separators=(",", ": ") if indent is not None else (",", ":"),
    )


def grade_json(
    grade: Grade,
    *,
    with_timings: bool = False,
    indent: int | None = 2,
    ensure_ascii: bool = True,
) -> str:
    """One Grade as JSON text (no trailing newline). Same Grade, same string."""
    return _dumps(normalise(grade.to_json(with_timings=with_timings)), indent, ensure_ascii)


def grades_json(
    grades: Iterable[Grade],
    *,
    with_timings: bool = False,
    indent: int | None = 2,
    ensure_ascii: bool = True,
) -> str:
    """Many Grades as one JSON array, sorted like the gradebook (student, None last, then zip)."""
    data = [normalise(g.to_json(with_timings=with_timings)) for g in sorted(grades, key=gradebook_key)]
    return _dumps(data, indent, ensure_ascii)
