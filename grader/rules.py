"""The course's penalty rules as pure functions: no I/O, no clock, no globals.

The rules a YAML's `penalties:` block sets (the numbers are the course's), e.g.
  1. a percentage for wrong naming (the zip or a required file misnamed, or extra files in the zip);
  2. a percentage for each started period late; not accepted after a cutoff;
  3. a percentage for code that cannot be executed.
Percentages are of `max_score`; deductions add up; the score floors at zero.

Lateness is measured in hours rounded *up* to the next 0.01 h (36 s), so a submission that
is late at all never shows 0.00 hours, and the penalty is computed from the number shown:
24.00 h late is one period (10%), 24.01 h is two (20%).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Iterable, Sequence

from .models import ZIP_NAME, Lateness, Penalty, Submission
from .registry import LatePolicy, Penalties

_EPS = 1e-9


def _pct(x: float) -> float:
    return round(float(x), 4)


def _fmt_pct(x: float) -> str:
    return f"{x:g}%"


def _names(items: Sequence[str], limit: int = 5) -> str:
    shown = ", ".join(f"`{n}`" for n in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --------------------------------------------------------------------------- naming


def naming_problems(sub: Submission) -> list[str]:
    """Short phrases, one per kind of naming mistake (for the penalty's reason)."""
    parts: list[str] = []
    for p in sub.problems:
        if p.code == ZIP_NAME:
            parts.append(f"zip named `{sub.zip_name}`")
            break
    misnamed: list[str] = []
    in_folder: dict[str, list[str]] = {}  # right name, but inside a folder (e.g. a penalised wrapper)
    for f in sub.files:
        if not f.present or f.exact:
            continue
        archive = f.archive_name or ""
        if archive.endswith("/" + f.name):
            in_folder.setdefault(archive[: -len(f.name)], []).append(f.name)
        else:
            misnamed.append(f"`{archive}` for `{f.name}`")
    if misnamed:
        parts.append("misnamed " + ", ".join(misnamed))
    for folder, names in in_folder.items():
        parts.append(f"inside the folder `{folder}`: " + _names(names))
    if sub.extra:
        parts.append(f"extra file{'s' if len(sub.extra) > 1 else ''} " + _names(list(sub.extra)))
    return parts


def naming_penalty(sub: Submission, penalties: Penalties) -> Penalty | None:
    """One deduction however many naming mistakes; None when the naming is right or the zip is fatal."""
    if sub.naming_ok or sub.fatal or penalties.naming_percent <= 0:
        return None
    parts = naming_problems(sub) or ["file names do not follow the rules"]
    return Penalty("naming", _pct(penalties.naming_percent), "wrong naming: " + "; ".join(parts))


# --------------------------------------------------------------------------- lateness


def hours_late(submitted_at: datetime, deadline: datetime) -> float:
    """Hours after the deadline, >= 0, rounded up to 0.01 h."""
    if submitted_at.tzinfo is None or deadline.tzinfo is None:
        raise ValueError("submission time and deadline must both carry a time zone")
    seconds = (submitted_at - deadline).total_seconds()
    if seconds <= 0:
        return 0.0
    return math.ceil(seconds / 36 - _EPS) / 100


def lateness(submitted_at: datetime | None, deadline: datetime, policy: LatePolicy, source: str,
             trusted: bool) -> Lateness:
    """Where the submission stands against its (possibly extended) deadline.

    Within `grace_minutes` of the deadline counts as on time; past the grace the hours count
    from the deadline itself. Later than `cutoff_hours`: not accepted. No time: on time.
    """
    if submitted_at is None:
        return Lateness(None, deadline.isoformat(), 0.0, True, source, trusted)
    late = hours_late(submitted_at, deadline)
    if late * 60 <= policy.grace_minutes + _EPS:
        late = 0.0
    accepted = policy.cutoff_hours is None or late <= policy.cutoff_hours + _EPS
    shown = submitted_at.astimezone(deadline.tzinfo).isoformat()
    return Lateness(shown, deadline.isoformat(), late, accepted, source, trusted)


def late_periods(hours: float, policy: LatePolicy) -> int:
    """Started periods: 0.5 h -> 1, 24 h -> 1, 24.01 h -> 2 (with 24-hour periods)."""
    if hours <= 0:
        return 0
    return max(1, math.ceil(hours / policy.period_hours - _EPS))


def late_penalty(late: Lateness, policy: LatePolicy) -> Penalty | None:
    """percent_per_period for each started period (at most 100%). None when on time or not
    accepted (a submission past the cutoff is not graded at all: `final_score` gives 0)."""
    if late.hours_late <= 0 or not late.accepted or policy.percent_per_period <= 0:
        return None
    periods = late_periods(late.hours_late, policy)
    percent = min(100.0, periods * policy.percent_per_period)
    source = f"; time from {late.source}, untrusted" if not late.trusted and late.source != "none" else ""
    reason = (f"{late.hours_late:.2f} hours late: {periods} started {policy.period_hours:g}-hour "
              f"period{'s' if periods != 1 else ''} x {_fmt_pct(policy.percent_per_period)}{source}")
    return Penalty("late", _pct(percent), reason)


def not_accepted_reason(late: Lateness, policy: LatePolicy) -> str:
    return (f"{late.hours_late:.2f} hours late: past the {policy.cutoff_hours:g}-hour cutoff, not accepted"
            if policy.cutoff_hours is not None else "not accepted")


# --------------------------------------------------------------------------- execution


def execution_penalty(failed_notebooks: Iterable[str], penalties: Penalties) -> Penalty | None:
    """One deduction for notebooks that cannot be executed; the reason names them."""
    names = list(dict.fromkeys(failed_notebooks))
    if not names or penalties.execution_percent <= 0:
        return None
    return Penalty("execution", _pct(penalties.execution_percent),
                   f"cannot be executed: {', '.join(f'`{n}`' for n in names)}")


# --------------------------------------------------------------------------- score


def total_percent(penalties: Iterable[Penalty]) -> float:
    return _pct(sum(p.percent for p in penalties))


def final_score(raw: float, penalties: Iterable[Penalty], max_score: float, accepted: bool) -> float:
    """raw - (sum of percents) * max_score / 100, floored at 0; 0 when not accepted; 4 decimals."""
    if not accepted:
        return 0.0
    deduction = sum(p.percent for p in penalties) * max_score / 100.0
    return round(max(0.0, raw - deduction), 4) + 0.0
