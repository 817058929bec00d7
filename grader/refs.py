"""`package.module:attr` references, imported for real (in the grader's process only).

A leaf module: the registry's course declarations and the check kinds both resolve
references, and neither may import the other just for this.
"""

from __future__ import annotations

import importlib
from typing import Any


def import_ref(ref: str) -> Any:
    """`package.module:attr` -> the object, really imported (in the grader's process only)."""
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
