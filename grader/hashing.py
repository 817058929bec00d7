"""The one value hasher: a canonical SHA-256 of plain data, arrays and random generators.

Used wherever two values must be recognised as the same: the registry hash (part of every
Grade), identical probe requests run once (`grading`), model tokens (`checks.module`),
the recorded reference calls of a self-check bundle (`bundle.call_key`) and the batch
cache key. Canonical means: mapping order does not count, lists and tuples are alike (a
JSON round trip must not change a key), numpy scalars count as numbers, an int is not
the float of the same value, an array is its class, dtype, shape and bytes (a tensor-marked
array arrives as a torch tensor, a plain one as numpy: not the same request), and a numpy
`Generator` is its bit generator's state. A value of any other type is a `TypeError`:
a key that silently ignored part of its input would make two different things equal.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np


def digest(*values: Any) -> str:
    """Hex SHA-256 of `values` (see the module docstring for what counts)."""
    h = hashlib.sha256()
    for value in values:
        _feed(h, value)
    return h.hexdigest()


def _feed(h: Any, value: Any) -> None:
    t = type(value)
    if t is str:  # the common exact types first, as the branches below would take them
        data = value.encode()
        h.update(b"S%d:" % len(data) + data)
    elif t is int or t is float:
        h.update(f"{t.__name__[0]}{value!r};".encode())
    elif t is bool or value is None:
        h.update(f"C{value!r};".encode())
    elif t is list or t is tuple:
        h.update(b"[")
        for v in value:
            _feed(h, v)
        h.update(b"]")
    else:
        _feed_other(h, value)


def _feed_other(h: Any, value: Any) -> None:
    if isinstance(value, np.generic):  # before float: np.float64 is a float whose repr differs
        _feed(h, value.item())
    elif value is None or isinstance(value, bool):
        h.update(f"C{value!r};".encode())
    elif isinstance(value, (int, float)):
        h.update(f"{type(value).__name__[0]}{value!r};".encode())
    elif isinstance(value, str):
        data = value.encode()
        h.update(b"S%d:" % len(data) + data)
    elif isinstance(value, bytes):
        h.update(b"B%d:" % len(value) + value)
    elif isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError(f"an array of dtype {value.dtype}")
        h.update(f"A{type(value).__name__}{value.dtype.str}{value.shape}".encode())
        h.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, np.random.Generator):
        h.update(b"R" + json.dumps(value.bit_generator.state, sort_keys=True).encode())
    elif isinstance(value, Mapping):
        h.update(b"{")
        for k in sorted(value, key=repr):
            _feed(h, k)
            _feed(h, value[k])
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for v in value:
            _feed(h, v)
        h.update(b"]")
    elif isinstance(value, (set, frozenset)):
        _feed(h, sorted(value, key=repr))
    elif isinstance(value, (_dt.date, _dt.time)):  # YAML reads unquoted timestamps as these
        h.update(f"T{value.isoformat()};".encode())
    else:
        raise TypeError(f"a value of type {type(value).__name__}")


def files_digest(paths: Iterable[Path], root: Path | None = None) -> str:
    """Hex SHA-256 of files: each one's name (relative to `root` when given) and bytes, in
    sorted order. A file that cannot be read counts as its name and the error."""
    h = hashlib.sha256()
    for path in sorted(set(paths)):
        name = str(path.relative_to(root)) if root is not None and path.is_relative_to(root) else str(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            data = f"unreadable: {exc.strerror}".encode()
        _feed(h, name)
        _feed(h, hashlib.sha256(data).digest())
    return h.hexdigest()
