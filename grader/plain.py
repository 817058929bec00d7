"""Plain data: the one place that turns frozen registry values into JSON-able ones and back.

Registry values are frozen all the way down (read-only mappings, tuples) so that an
`Assignment` cannot be changed by a check; JSON, YAML and the kinds' own code want dicts
and lists. Sandbox values pass through too: arrays stay arrays (a `TensorArray` view
becomes a plain `ndarray`), and an object with a `plain_data()` method (the sandbox's
`Unencodable`: `{"$unencodable": type name}`) becomes what it returns, so judges see plain
numbers and plain markers only.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

import numpy as np


def freeze(value: Any) -> Any:
    """Plain data to read-only mappings and tuples (what the registry's dataclasses hold)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


_SCALARS = frozenset({str, int, float, bool, type(None)})


def plain(value: Any, keep_tuples: bool = False) -> Any:
    """Frozen or sandbox data to dicts and lists (tuples too, unless `keep_tuples`).

    `keep_tuples=True` is for values handed to judges, where a tuple the student returned
    must stay a tuple; registry data (YAML has no tuples) goes to JSON with lists.
    """
    if type(value) in _SCALARS:  # most of a reply's items: skip the ABC checks below (the slow part)
        return value
    if isinstance(value, Mapping):
        return {k: plain(v, keep_tuples) for k, v in value.items()}
    if isinstance(value, tuple):
        items = [plain(v, keep_tuples) for v in value]
        return tuple(items) if keep_tuples else items
    if isinstance(value, list):
        return [plain(v, keep_tuples) for v in value]
    if isinstance(value, np.ndarray):
        return np.asarray(value)  # drop a subclass view (TensorArray): plain numbers from here on
    as_plain = getattr(type(value), "plain_data", None)  # e.g. the sandbox's `Unencodable` marker
    if callable(as_plain):
        return as_plain(value)
    return value
