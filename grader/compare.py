"""Compare a student's value with the reference's, and say *why* they differ.

A wrong answer that comes from a known misconception deserves a precise message and the
partial credit the registry allows, not a bare "mismatch". The generic diagnoses need no
help from the reference (a permuted or transposed result, an index shift by one); the
problem-specific ones (a flipped kernel, the other Jacobian layout) are alternatives the
registry computes with the reference and passes in as `alternatives`.

Everything here is pure and runs in the grader's process on decoded arrays: student code
never sees the expected value, and an object whose `__eq__` lies never reaches this file
(the wire only carries plain data).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

MODES = ("allclose", "exact", "shape", "set", "sequence", "scalar")
DIAGNOSES = ("transposed", "permuted", "shifted", "flipped", "sign")


@dataclass(frozen=True)
class Tolerance:
    mode: str = "allclose"
    rtol: float = 1e-6
    atol: float = 1e-8


@dataclass(frozen=True)
class Comparison:
    ok: bool
    message: str
    diagnosis: str | None = None  # one of DIAGNOSES or a registry-declared alternative name


def as_array(value: Any) -> np.ndarray | None:
    """A decoded wire value as a float/int array, or None when it cannot be one."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return np.asarray(value)
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value)
        except (ValueError, TypeError):
            return None
        return arr if arr.dtype.kind in "biufc" else None
    return None


def describe(value: Any) -> str:
    """A short, safe description of what the student returned (never the expected value)."""
    if isinstance(value, np.ndarray):
        return f"array of shape {tuple(value.shape)} ({value.dtype})"
    if isinstance(value, dict) and "$unencodable" in value:
        return f"an object of type {value['$unencodable']}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of length {len(value)}"
    if value is None:
        return "None"
    return type(value).__name__


def compare(got: Any, expected: Any, tol: Tolerance = Tolerance(),
            alternatives: Mapping[str, Any] | None = None) -> Comparison:
    """Is `got` right? If not, which known mistake explains it?"""
    mode = tol.mode
    if mode == "set":
        return _compare_collection(got, expected, ordered=False)
    if mode == "sequence":
        return _compare_collection(got, expected, ordered=True)
    exp = as_array(expected)
    val = as_array(got)
    if exp is None:
        ok = _plain_equal(got, expected)
        return Comparison(ok, "matches" if ok else f"expected a different value, got {describe(got)}")
    if val is None:
        return Comparison(False, f"expected an array of shape {tuple(exp.shape)}, got {describe(got)}")
    if mode == "shape":
        ok = tuple(val.shape) == tuple(exp.shape)
        if ok:
            return Comparison(True, f"shape {tuple(val.shape)} as expected")
        return _wrong_shape(val, exp)
    if tuple(val.shape) != tuple(exp.shape):
        if val.size == exp.size and val.size == 1:
            val = val.reshape(exp.shape)
        else:
            diag = _diagnose(val, exp, tol, alternatives)
            if diag:
                return diag
            return _wrong_shape(val, exp)
    if _close(val, exp, tol, exact=(mode == "exact")):
        return Comparison(True, "matches the reference")
    diag = _diagnose(val, exp, tol, alternatives)
    if diag:
        return diag
    return Comparison(False, _mismatch_summary(val, exp))


def _plain_equal(got: Any, expected: Any) -> bool:
    if type(got) is not type(expected) and not (
        isinstance(got, (int, float)) and isinstance(expected, (int, float))
        and not isinstance(got, bool) and not isinstance(expected, bool)
    ):
        return False
    if isinstance(expected, float):
        return math.isclose(float(got), expected, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(expected, (list, tuple)):
        return len(got) == len(expected) and all(_plain_equal(a, b) for a, b in zip(got, expected))
    if isinstance(expected, dict):
        return set(got) == set(expected) and all(_plain_equal(got[k], expected[k]) for k in expected)
    return bool(got == expected) if isinstance(expected, (str, int, type(None))) else False


def _compare_collection(got: Any, expected: Any, ordered: bool) -> Comparison:
    if not isinstance(got, (list, tuple)):
        return Comparison(False, f"expected a list, got {describe(got)}")
    g = [_hashable(x) for x in got]
    e = [_hashable(x) for x in expected]
    if ordered:
        ok = g == e
        if not ok and sorted(map(repr, g)) == sorted(map(repr, e)):
            return Comparison(False, "right elements in the wrong order", "permuted")
    else:
        ok = sorted(map(repr, g)) == sorted(map(repr, e))
    return Comparison(ok, "matches" if ok else f"{len(set(map(repr, g)) ^ set(map(repr, e)))} elements differ")


def _hashable(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        return tuple(x.ravel().tolist())
    if isinstance(x, list):
        return tuple(_hashable(v) for v in x)
    return x


def _close(a: np.ndarray, b: np.ndarray, tol: Tolerance, exact: bool = False) -> bool:
    if a.shape != b.shape:
        return False
    if exact:
        return bool(np.array_equal(a, b))
    try:
        a = a.astype(np.complex128 if np.iscomplexobj(a) or np.iscomplexobj(b) else np.float64)
        b = b.astype(a.dtype)
    except (TypeError, ValueError):
        return False
    if not np.all(np.isfinite(a) == np.isfinite(b)):
        return False
    return bool(np.allclose(a, b, rtol=tol.rtol, atol=tol.atol, equal_nan=True))


def _wrong_shape(val: np.ndarray, exp: np.ndarray) -> Comparison:
    if sorted(val.shape) == sorted(exp.shape):
        return Comparison(False, f"shape {tuple(val.shape)} is a permutation of the expected {tuple(exp.shape)}",
                          "permuted")
    return Comparison(False, f"wrong shape: got {tuple(val.shape)}, expected {tuple(exp.shape)}")


def _mismatch_summary(val: np.ndarray, exp: np.ndarray) -> str:
    try:
        diff = np.abs(val.astype(np.float64) - exp.astype(np.float64))
        bad = int(np.sum(~np.isclose(val, exp)))
        return f"values differ from the reference in {bad} of {exp.size} entries (largest difference {float(np.nanmax(diff)):.3g})"
    except (TypeError, ValueError):
        return "values differ from the reference"


def _diagnose(val: np.ndarray, exp: np.ndarray, tol: Tolerance,
              alternatives: Mapping[str, Any] | None) -> Comparison | None:
    # Registry-declared alternatives first: they are the precise, problem-specific ones.
    for name, alt in (alternatives or {}).items():
        alt_arr = as_array(alt)
        if alt_arr is not None and tuple(alt_arr.shape) == tuple(val.shape) and _close(val, alt_arr, tol):
            return Comparison(False, _ALT_MESSAGES.get(name, f"matches the known mistake `{name}`"), name)
    # The other Jacobian layout: output and input axes swapped as two blocks.
    if val.size == exp.size:
        for split in range(1, exp.ndim):
            front, back = exp.shape[:split], exp.shape[split:]
            swapped = np.transpose(exp, tuple(range(split, exp.ndim)) + tuple(range(split)))
            if tuple(val.shape) == tuple(back) + tuple(front) and _close(val, swapped, tol):
                return Comparison(False, _ALT_MESSAGES["transposed"], "transposed")
    # A permutation of axes (a transposed matrix, the other Jacobian layout, NCHW vs NHWC).
    if val.ndim == exp.ndim and val.ndim >= 2 and val.ndim <= 6:
        for perm in itertools.permutations(range(val.ndim)):
            if perm == tuple(range(val.ndim)):
                continue
            if tuple(val.shape[p] for p in perm) != tuple(exp.shape[i] for i in range(exp.ndim)):
                continue
            if _close(np.transpose(val, perm), exp, tol):
                name = "transposed" if _is_block_swap(perm) else "permuted"
                return Comparison(False, _ALT_MESSAGES[name] + f" (axes {perm})", name)
    if val.shape == exp.shape and exp.size > 1:
        # Off by one along one axis (1-based vs 0-based indexing).
        for axis in range(exp.ndim):
            if exp.shape[axis] < 2:
                continue
            for shift in (1, -1):
                a = np.take(val, range(max(shift, 0), exp.shape[axis] + min(shift, 0)), axis=axis)
                b = np.take(exp, range(max(-shift, 0), exp.shape[axis] + min(-shift, 0)), axis=axis)
                if a.size and _close(a, b, tol) and not _close(val, exp, tol):
                    return Comparison(False, _ALT_MESSAGES["shifted"] + f" (axis {axis}, by {shift:+d})", "shifted")
        if _close(-val, exp, tol):
            return Comparison(False, _ALT_MESSAGES["sign"], "sign")
    return None


def _is_block_swap(perm: tuple[int, ...]) -> bool:
    n = len(perm)
    return any(perm == tuple(range(k, n)) + tuple(range(k)) for k in range(1, n))


_ALT_MESSAGES = {
    "transposed": "the values are right but transposed: the other layout (numerator vs denominator)",
    "permuted": "the values are right but the axes are in another order",
    "shifted": "the values are shifted by one index (0-based vs 1-based?)",
    "flipped": "this is a true convolution (flipped kernel), but the layer computes a cross-correlation",
    "denominator": "this is the Jacobian in denominator layout; the assignment asks for numerator layout",
    "sign": "the values have the wrong sign",
}


def partial_credit(comparison: Comparison, partial: Mapping[str, float]) -> float:
    """Fraction of the points a comparison earns: 1 if right, the registry's share for a diagnosis."""
    if comparison.ok:
        return 1.0
    if comparison.diagnosis and comparison.diagnosis in partial:
        return float(partial[comparison.diagnosis])
    return 0.0

