"""Tests of nyu_dl_hw2.reference.theory against torch (the references are plain numpy)."""

from __future__ import annotations

import numpy as np

RTOL = 1e-10


def as_array(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def assert_close(actual, expected, what: str = "", rtol: float = RTOL) -> None:
    """Max abs error relative to max(1, max |expected|) below rtol, shapes equal."""
    actual, expected = as_array(actual), as_array(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != expected {expected.shape}"
    if expected.size == 0:
        return
    scale = max(1.0, float(np.abs(expected).max()))
    err = float(np.abs(actual - expected).max()) / scale
    assert err < rtol, f"{what}: relative error {err:.3e} >= {rtol:.0e}"
