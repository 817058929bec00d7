"""Private reference of tests/scale/mini.yaml (shipped with --references, hidden from student code)."""

from __future__ import annotations

from typing import Any

import numpy as np


def double(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64) * 2


def square(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=np.float64) ** 2


def vector_case(rng: np.random.Generator) -> dict[str, Any]:
    return {"args": [rng.normal(size=4).round(3).tolist()]}
