"""What the theory checker is told (ItemSpec) and what it answers (ItemResult, TheoryReport).

The engine knows no course: a course's key builder describes each question as an
ItemSpec, naming the kind of answer it expects (`dims`, `shape`, `formula`, `numbers`,
`prose`, `figure`) and the expected value in plain data. The results are frozen and
JSON-able; `TheoryReport.to_json()` is the `grader theory --json` contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

Kind = Literal["dims", "shape", "formula", "numbers", "prose", "figure"]
ItemStatus = Literal["right", "wrong", "not-found", "by-hand"]
CHECKABLE: frozenset[str] = frozenset({"dims", "shape", "formula", "numbers"})


@dataclass(frozen=True)
class Alternative:
    """Another accepted form of the answer (e.g. the other Jacobian layout), with its credit."""

    expected: Any
    name: str
    credit: float = 1.0


@dataclass(frozen=True)
class ItemSpec:
    """One question of a key, as the checker needs it.

    - `id` is the label as the course's text numbers it ("1.1(c)(ii)", "1.3(4)"): the
      locator splits it into a section ("1.1") and parts ("c", "ii").
    - `expected`: dims / shape: a list of sizes (ints or symbol names: ["m", "n"]);
      formula: an expression in the `variables` (sympy syntax, floor/ceil allowed);
      numbers: a list of numbers, each found within `tolerance` (relative).
    - `given`: values the question itself states (the input size, the kernel): a candidate
      equal to one of them is never taken for the answer.
    - `alternatives`: other accepted expected values, each with a credit fraction.
    - `permuted_credit`: a shape with the expected sizes in another axis order.
    - `variables`: formula symbol -> aliases students write for it ("H_K": ["HK", "K_H"]);
      `ranges`: symbol -> [low, high] for the random evaluation points.
    - `also`: a second formula (the other axis) reported when found.
    - `hand_part`: what of a checkable question is still graded by hand ("the expression").
    - `subject`: a regex for what a shape is of (`∂f/∂W` in `∂f/∂W ∈ R^{...}`): candidates
      preceded by it are preferred over the other shapes of the passage.
    """

    id: str
    question: str
    kind: str
    expected: Any = None
    points: float = 0.0
    given: tuple[Any, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    permuted_credit: float = 0.5
    variables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    also: str = ""
    tolerance: float = 0.02
    hand_part: str = ""
    shown: str = ""  # the expected answer as people write it ("3 x 4", "R^{1 x 2}")
    subject: str = ""  # regex the text just before a candidate matches when it answers this question


@dataclass(frozen=True)
class ItemResult:
    id: str
    question: str
    status: str  # one of ItemStatus
    expected: str
    found: str
    page: int | None
    points: float
    suggested_points: float | None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "status": self.status, "expected": self.expected,
                "found": self.found, "page": self.page, "points": self.points,
                "suggested_points": self.suggested_points, "note": self.note}


@dataclass(frozen=True)
class TheoryReport:
    """Every item of one PDF. `reason` says once why nothing could be read (scan, broken file);
    JSON keeps the contract's keys only, so there each item's note carries it."""

    assignment: str
    file: str
    has_text: bool
    items: tuple[ItemResult, ...]
    reason: str = ""

    @property
    def suggested_total(self) -> float:
        return round(sum(i.suggested_points or 0.0 for i in self.items), 4)

    @property
    def max_points(self) -> float:
        return round(sum(i.points for i in self.items), 4)

    def to_json(self) -> dict[str, Any]:
        return {"assignment": self.assignment, "file": self.file, "has_text": self.has_text,
                "items": [i.to_json() for i in self.items], "suggested_total": self.suggested_total,
                "max_points": self.max_points}


def report_from_json(data: Mapping[str, Any]) -> TheoryReport:
    """Rebuild a report from `to_json()` (the batch cache reads grades back)."""
    items = tuple(ItemResult(**i) for i in data["items"])
    reason = items[0].note if items and not data["has_text"] else ""
    return TheoryReport(assignment=data["assignment"], file=data["file"], has_text=data["has_text"],
                        items=items, reason=reason)
