"""The reference definitions, in-process (trusted code only).

There is one copy of the solution code: the cells in ``nb_*.py``. This module executes
the *definition* cells of a notebook (every code cell not tagged ``data`` or ``run``) in
a fresh namespace and hands the namespace back, so tests and the grader's checks call
exactly what the full-score notebook contains::

    ns = load_solution_namespace("hw2_rnn.ipynb")
    model = ns["GRUMemory"](128)

Loading has no lasting side effects: the global RNG states of ``random``, NumPy and torch
are restored afterwards (the notebooks call ``torch.manual_seed``), and the NumPy-1 name
``np.unicode_`` used by the course's seq_classification generator is provided through a
namespace-local proxy instead of by patching NumPy.

Never import this module in the sandbox server: it is the grader's side.
"""

from __future__ import annotations

import random
import types
from typing import Any

import numpy
import torch

from ._cells import SKIP_FOR_DEFINITIONS
from .notebooks import NOTEBOOK_NAMES, cells

__all__ = ["definitions_source", "load_solution_namespace", "load_starter_namespace", "NumpyCompat"]

# NumPy-1 names the course notebooks still use, and what they became in NumPy 2.
_NUMPY1_ALIASES = {"unicode_": "str_", "string_": "bytes_", "float_": "float64", "complex_": "complex128"}


class NumpyCompat(types.ModuleType):
    """A stand-in for the ``numpy`` module that also answers the removed NumPy-1 aliases."""

    def __init__(self) -> None:
        super().__init__("numpy")

    def __getattr__(self, name: str) -> Any:
        if name in _NUMPY1_ALIASES and not hasattr(numpy, name):
            return getattr(numpy, _NUMPY1_ALIASES[name])
        return getattr(numpy, name)

    def __dir__(self) -> list[str]:
        return dir(numpy)


def _definition_cells(name: str, starter: bool) -> list[tuple[int, str]]:
    if name not in NOTEBOOK_NAMES:
        raise KeyError(f"unknown notebook {name!r}; known: {', '.join(NOTEBOOK_NAMES)}")
    out = []
    for i, cell in enumerate(cells(name)):
        if cell.kind == "code" and not (set(cell.tags) & SKIP_FOR_DEFINITIONS):
            out.append((i, cell.text(starter)))
    return out


def definitions_source(name: str, starter: bool = False) -> str:
    """The definition cells of a notebook joined into one Python source."""
    return "\n\n".join(src for _, src in _definition_cells(name, starter)) + "\n"


def _load(name: str, starter: bool) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": f"__hw2_{'starter' if starter else 'solution'}__"}
    py_state = random.getstate()
    np_state = numpy.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            for i, src in _definition_cells(name, starter):
                exec(compile(src, f"<{name} cell {i}>", "exec"), ns)
    finally:
        random.setstate(py_state)
        numpy.random.set_state(np_state)
    if ns.get("np") is numpy:
        ns["np"] = NumpyCompat()
    return ns


def load_solution_namespace(name: str) -> dict[str, Any]:
    """Execute the definitions of the full-score notebook ``name``; return the namespace."""
    return _load(name, starter=False)


def load_starter_namespace(name: str) -> dict[str, Any]:
    """Execute the definitions of the starter notebook ``name`` (stubs); return the namespace."""
    return _load(name, starter=True)
