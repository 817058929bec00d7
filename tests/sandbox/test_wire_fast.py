"""The wire's fast .npy reader (a strict header pattern instead of numpy's literal_eval)
must give exactly numpy's arrays, and leave every odd or inconsistent blob to numpy's reader
or to a WireError."""

from __future__ import annotations

import io

import numpy as np
import pytest

from grader.sandbox.wire import DEFAULT_CAPS, WireError, _fast_array, _read_array


def npy(a: np.ndarray, version=None) -> bytes:
    b = io.BytesIO()
    np.lib.format.write_array(b, a, allow_pickle=False, version=version)
    return b.getvalue()


RNG = np.random.default_rng(0)
ARRAYS = [np.zeros((3, 4), np.float32), np.array(5, np.int64), RNG.random(7) > 0.5,
          np.asfortranarray(RNG.random((2, 3))), np.zeros((0, 3), np.float16), RNG.random((2, 3, 4)).astype(">f4"),
          np.arange(12, dtype=np.uint8).reshape(3, 4), (RNG.random((3, 2)) + 1j).astype(np.complex128)]


@pytest.mark.parametrize("a", ARRAYS, ids=lambda a: f"{a.dtype.str}{a.shape}")
def test_same_array_as_numpy(a):
    blob = npy(a)
    got, want = _fast_array(blob), np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
    assert got is not None
    assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
    assert got.flags.writeable and got.flags.f_contiguous == want.flags.f_contiguous
    assert np.array_equal(_fast_array(memoryview(blob)), want)  # the server hands memoryviews


def test_inconsistent_or_unusual_blobs_are_not_read_fast():
    blob = npy(np.zeros(4))
    assert _fast_array(blob[:-1]) is None  # too short for its shape
    assert _fast_array(blob + b"x") is None  # too long
    assert _fast_array(blob.replace(b"'shape': (4,)", b"'shape': (5,)")) is None
    assert _fast_array(npy(np.zeros(4), version=(2, 0))) is None  # other format versions: numpy's reader
    with pytest.raises(WireError):
        _read_array(blob[:-1], DEFAULT_CAPS)  # and numpy's reader refuses it
