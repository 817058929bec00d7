"""The TAs' hand-graded points for a batch (`batch --manual MANUAL.csv`), checked whole.

A row is `net_id,item,points[,comment]` (a header row with those names is optional);
`item` is an id of the registry's `manual:` list. Every problem (unknown student or item,
points that are not a number, below 0 or above the item's maximum, a duplicate pair, a
short row) is one line naming the file and row; all are reported together and nothing is
graded or written until the file is clean.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Iterable, Mapping

from .errors import UsageError
from .models import ManualItem, ManualScore

HEADER = ("net_id", "item", "points", "comment")


def read_manual_csv(path: Path, items: Iterable[ManualItem], students: Iterable[str]) -> dict[str, tuple[ManualScore, ...]]:
    """student -> their ManualScores, in the registry's item order. Raises UsageError listing every problem."""
    path = Path(path)
    maxima = {m.id: m.points for m in items}
    known = {s.lower() for s in students if s}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--manual {path}: cannot read it ({exc})") from None
    problems: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    out: dict[str, dict[str, ManualScore]] = {}
    rows = list(csv.reader(text.splitlines()))
    for n, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if n == 1 and [c.lower() for c in cells[:3]] == list(HEADER[:3]):
            continue
        where = f"{path.name}:{n}"
        if len(cells) < 3 or len(cells) > 4:
            problems.append(f"{where}: expected net_id,item,points[,comment], got {len(cells)} columns")
            continue
        student, item, raw = cells[0].lower(), cells[1], cells[2]
        comment = cells[3] if len(cells) == 4 else ""
        bad = False
        if student not in known:
            problems.append(f"{where}: unknown student {cells[0]!r} (no zip of that student in the batch)")
            bad = True
        if item not in maxima:
            problems.append(f"{where}: unknown item {item!r} (the registry's manual items: {', '.join(maxima) or 'none'})")
            bad = True
        try:
            points = float(raw)
            if not math.isfinite(points):
                raise ValueError
        except ValueError:
            problems.append(f"{where}: points {raw!r} is not a number")
            continue
        if item in maxima and not 0 <= points <= maxima[item]:
            problems.append(f"{where}: {points:g} points for {item!r} is outside 0..{maxima[item]:g}")
            bad = True
        key = (student, item)
        if key in seen:
            problems.append(f"{where}: duplicate of row {seen[key]} ({cells[0]}, {item})")
            continue
        seen[key] = n
        if not bad:
            out.setdefault(student, {})[item] = ManualScore(item, points, maxima[item], comment)
    if problems:
        raise UsageError("\n".join(["--manual: the file has problems; nothing was graded or written"] + problems))
    order = list(maxima)
    return {s: tuple(sorted(scores.values(), key=lambda m: order.index(m.id))) for s, scores in out.items()}


def with_manual(grade, scores: Mapping[str, tuple[ManualScore, ...]], items: Iterable[ManualItem]):
    """The grade with its TAs' points; a student without rows gets 0 for each item, said so."""
    from dataclasses import replace

    mine = scores.get((grade.student or "").lower())
    if mine is None:
        mine = tuple(ManualScore(m.id, 0.0, m.points, "no points given by the TAs yet") for m in items)
    return replace(grade, manual_scores=mine)
