"""A PNG histogram of a batch's scores, headless and deterministic.

Uses matplotlib's object API (`matplotlib.figure.Figure` rendered by the Agg canvas), never
pyplot: no global backend switch, no figure left open in a long batch, no display needed
whatever MPLBACKEND says. PNG metadata carries no date, and "Software" is removed, so the
same grades on the same matplotlib give the same bytes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from grader.models import Grade

from ._common import finite, num
from .summary import BUCKETS, bucket_index

__all__ = ["histogram_png"]


def histogram_png(
    grades: Iterable[Grade],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    dpi: int = 100,
) -> Path:
    """Draw the score distribution into `path` (a .png) and return the path.

    When every grade has the same max_score, bars are in points (tenths of it); otherwise in
    percent of each grade's max_score. Buckets are the ones `summary` uses.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    grades = list(grades)
    maxima = {finite(g.max_score) for g in grades}
    common = maxima.pop() if len(maxima) == 1 else None
    counts = [0] * BUCKETS
    for g in grades:
        counts[bucket_index(g.score, g.max_score)] += 1

    if common is not None and common > 0:
        width = common / BUCKETS
        unit = f"score (points out of {num(common)})"
    else:
        width = 100 / BUCKETS
        unit = "score (% of max score)"
    lefts = [i * width for i in range(BUCKETS)]

    fig = Figure(figsize=(6.4, 4.0), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar(lefts, counts, width=width, align="edge", color="#4C72B0", edgecolor="white")
    ax.set_xlim(0, width * BUCKETS)
    ax.set_xticks([width * i for i in range(BUCKETS + 1)])
    ax.set_xticklabels([num(width * i, 1) for i in range(BUCKETS + 1)])
    ax.set_xlabel(unit)
    ax.set_ylabel("submissions")
    top = max(counts, default=0)
    ax.set_ylim(0, max(1, top) * 1.15)
    ax.yaxis.get_major_locator().set_params(integer=True)
    for left, c in zip(lefts, counts):
        if c:
            ax.text(left + width / 2, c, str(c), ha="center", va="bottom", fontsize=8)
    ax.set_title(title if title is not None else f"Score distribution ({len(grades)} submissions)")
    fig.tight_layout()

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png", metadata={"Software": None})
    return path
