"""Batch summary over many Grades: counts, score statistics, a text histogram, the checks
that failed most. `summarize` computes numbers from what the Grades say (no scoring);
`summary_view` turns them into a rich renderable; `summary_text` into plain text.

Statistics are over the final `score` of every submission in the batch (not-accepted and
rejected ones count with the score their Grade holds, normally 0); `mean_graded` is the mean
over verdict "graded" only. The distribution buckets are tenths of each grade's own
`max_score` (0-10%, 10-20%, ..., 90-100%; a full score falls in the last bucket), so a batch
that mixes assignments still makes sense.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from grader.models import Grade

from ._common import clean, finite, num

__all__ = ["Bucket", "FailedCheck", "Summary", "summarize", "summary_view", "summary_text", "bucket_index"]

BUCKETS = 10


@dataclass(frozen=True)
class Bucket:
    low: float  # percent of max_score, inclusive
    high: float  # percent, exclusive (inclusive for the last bucket)
    count: int

    @property
    def label(self) -> str:
        return f"{num(self.low)}-{num(self.high)}%"


@dataclass(frozen=True)
class FailedCheck:
    id: str
    notebook: str
    failed: int
    errors: int

    @property
    def total(self) -> int:
        return self.failed + self.errors


@dataclass(frozen=True)
class Summary:
    count: int
    graded: int
    not_accepted: int
    rejected: int
    other: int  # verdicts this module does not know
    mean: float | None
    median: float | None
    min: float | None
    max: float | None
    mean_graded: float | None
    max_score: float | None  # the common max_score, or None when grades disagree or there are none
    buckets: tuple[Bucket, ...]
    failed_most: tuple[FailedCheck, ...]


def bucket_index(score: float, max_score: float, buckets: int = BUCKETS) -> int:
    """Which tenth (of `buckets`) of max_score a score falls in; out-of-range scores are clamped."""
    if finite(max_score) <= 0:
        return 0
    frac = finite(score) / max_score
    return min(buckets - 1, max(0, int(frac * buckets + 1e-9)))


def summarize(grades: Iterable[Grade], *, top: int = 10) -> Summary:
    grades = list(grades)
    verdicts = Counter(g.verdict for g in grades)
    scores = [finite(g.score) for g in grades]
    graded_scores = [finite(g.score) for g in grades if g.verdict == "graded"]
    maxima = {finite(g.max_score) for g in grades}

    counts = [0] * BUCKETS
    for g in grades:
        counts[bucket_index(g.score, g.max_score)] += 1
    step = 100 / BUCKETS
    buckets = tuple(Bucket(i * step, (i + 1) * step, counts[i]) for i in range(BUCKETS))

    failed: Counter[tuple[str, str]] = Counter()
    errors: Counter[tuple[str, str]] = Counter()
    for g in grades:
        for c in g.checks:
            if c.status == "fail":
                failed[(c.id, c.notebook)] += 1
            elif c.status == "error":
                errors[(c.id, c.notebook)] += 1
    keys = set(failed) | set(errors)
    ranked = sorted(keys, key=lambda k: (-(failed[k] + errors[k]), k[0], k[1]))
    failed_most = tuple(FailedCheck(k[0], k[1], failed[k], errors[k]) for k in ranked[: max(0, top)])

    known = verdicts["graded"] + verdicts["not-accepted"] + verdicts["rejected"]
    return Summary(
        count=len(grades),
        graded=verdicts["graded"],
        not_accepted=verdicts["not-accepted"],
        rejected=verdicts["rejected"],
        other=len(grades) - known,
        mean=statistics.fmean(scores) if scores else None,
        median=statistics.median(scores) if scores else None,
        min=min(scores) if scores else None,
        max=max(scores) if scores else None,
        mean_graded=statistics.fmean(graded_scores) if graded_scores else None,
        max_score=maxima.pop() if len(maxima) == 1 else None,
        buckets=buckets,
        failed_most=failed_most,
    )


def _opt(x: float | None) -> str:
    return "-" if x is None else num(x)


def _bar(count: int, biggest: int, width: int) -> str:
    if biggest <= 0 or count <= 0:
        return ""
    return "█" * max(1, round(count / biggest * width))


def _stat_rows(s: Summary) -> list[tuple[str, str]]:
    out_of = f" / {num(s.max_score)}" if s.max_score is not None else ""
    rows = [
        ("Submissions", str(s.count)),
        ("Graded", str(s.graded)),
        ("Not accepted", str(s.not_accepted)),
        ("Rejected", str(s.rejected)),
    ]
    if s.other:
        rows.append(("Other verdicts", str(s.other)))
    rows += [
        ("Mean", _opt(s.mean) + out_of),
        ("Median", _opt(s.median) + out_of),
        ("Min", _opt(s.min) + out_of),
        ("Max", _opt(s.max) + out_of),
        ("Mean (graded only)", _opt(s.mean_graded) + out_of),
    ]
    return rows


def summary_view(summary: Summary | Sequence[Grade], *, bar_width: int = 30) -> Group:
    """Counts and statistics, the distribution as bars, and the checks that failed most."""
    s = summary if isinstance(summary, Summary) else summarize(summary)
    stats = Table(title=Text("Batch summary", style="bold"), title_justify="left", box=box.SIMPLE_HEAD,
                  show_header=False)
    stats.add_column(style="bold", no_wrap=True)
    stats.add_column(justify="right", no_wrap=True)
    for k, v in _stat_rows(s):
        stats.add_row(k, v)

    dist = Table(title=Text("Distribution (% of max score)", style="bold"), title_justify="left",
                 box=box.SIMPLE_HEAD)
    dist.add_column("Range", no_wrap=True)
    dist.add_column("Count", justify="right", no_wrap=True)
    dist.add_column("", no_wrap=True, style="cyan")
    biggest = max((b.count for b in s.buckets), default=0)
    for b in s.buckets:
        dist.add_row(b.label, str(b.count), _bar(b.count, biggest, bar_width))

    parts = [stats, dist]
    if s.failed_most:
        worst = Table(title=Text("Checks failed most", style="bold"), title_justify="left", box=box.SIMPLE_HEAD)
        worst.add_column("Check", overflow="fold")
        worst.add_column("Notebook", overflow="fold")
        worst.add_column("Failed", justify="right", no_wrap=True)
        worst.add_column("Errors", justify="right", no_wrap=True)
        worst.add_column("Total", justify="right", no_wrap=True, style="bold")
        for f in s.failed_most:
            worst.add_row(Text(clean(f.id)), Text(clean(f.notebook)), str(f.failed), str(f.errors), str(f.total))
        parts.append(worst)
    else:
        parts.append(Text("No check failed or errored.", style="green"))
    return Group(*parts)


def summary_text(summary: Summary | Sequence[Grade], *, bar_width: int = 30) -> str:
    """The same summary as plain text (for a file next to grades.csv)."""
    s = summary if isinstance(summary, Summary) else summarize(summary)
    lines = ["Batch summary"]
    rows = _stat_rows(s)
    w = max(len(k) for k, _ in rows)
    lines += [f"  {k.ljust(w)}  {v}" for k, v in rows]
    lines.append("")
    lines.append("Distribution (% of max score)")
    biggest = max((b.count for b in s.buckets), default=0)
    lw = max(len(b.label) for b in s.buckets)
    cw = max(len(str(b.count)) for b in s.buckets)
    for b in s.buckets:
        lines.append(f"  {b.label.rjust(lw)}  {str(b.count).rjust(cw)}  {_bar(b.count, biggest, bar_width)}".rstrip())
    lines.append("")
    if s.failed_most:
        lines.append("Checks failed most (failed + errors)")
        for f in s.failed_most:
            lines.append(f"  {f.total:>4}  {clean(f.id, keep_newlines=False)} ({clean(f.notebook, keep_newlines=False)}):"
                         f" {f.failed} failed, {f.errors} errors")
    else:
        lines.append("No check failed or errored.")
    return "\n".join(lines) + "\n"
