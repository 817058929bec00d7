"""What a course's theory-key builder returns, and the error it raises for a bad `theory:`
block. The engine renders `Answer`s (`grader key`) and turns `KeyConfigError` into a registry
problem with file and line; what the answers are is the course's business."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class KeyConfigError(ValueError):
    """A bad value in a `theory:` block. `key` is the dotted path inside the block."""

    def __init__(self, key: str, problem: str, fix: str = ""):
        text = f"{key or 'theory'}: {problem}"
        if fix:
            text += f" ({fix})"
        super().__init__(text)
        self.key = key
        self.problem = problem
        self.fix = fix


@dataclass(frozen=True)
class Answer:
    """One question's worked answer.

    `value` is JSON-able: a number, a list of numbers, or a formula string (1-based indices,
    as the course writes them). `shape` is the full shape of the tensor the question asks
    about (None for symbolic sizes); for a Jacobian `blocks` splits it into its two groups
    of axes, in the order the term's layout writes them, e.g. ((1, 5), (1, 7, 3)).
    `dimension` is how the course writes the space ("R^{1 x 5}", "R^{m x m}"). `slot` is
    the term-independent name of the question (a key of SLOTS).
    """

    id: str
    question: str
    value: Any
    shape: tuple[int, ...] | None = None
    blocks: tuple[tuple[int, ...], ...] | None = None
    dimension: str = ""
    notes: str = ""
    slot: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slot": self.slot,
            "question": self.question,
            "value": self.value,
            "shape": list(self.shape) if self.shape is not None else None,
            "blocks": [list(b) for b in self.blocks] if self.blocks is not None else None,
            "dimension": self.dimension,
            "notes": self.notes,
        }
