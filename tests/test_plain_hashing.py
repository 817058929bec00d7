"""The one plain-data helper and the one value hasher."""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType

import numpy as np
import pytest

from grader.hashing import digest
from grader.plain import freeze, plain
from grader.sandbox.wire import TensorArray, Unencodable, tensor


def test_freeze_and_plain_are_inverse_on_registry_data():
    data = {"a": [1, {"b": [2.5, "x"]}], "c": None}
    frozen = freeze(data)
    assert isinstance(frozen, MappingProxyType) and frozen["a"] == (1, MappingProxyType({"b": (2.5, "x")}))
    assert plain(frozen) == data


def test_plain_keeps_judge_values_plain_but_tuples_when_asked():
    value = {"t": (1, tensor(np.ones(2))), "u": Unencodable("Liar", "a reason")}
    out = plain(value, keep_tuples=True)
    assert isinstance(out["t"], tuple) and type(out["t"][1]) is np.ndarray and not isinstance(out["t"][1], TensorArray)
    assert out["u"] == {"$unencodable": "Liar"}  # the type name only, never the sandbox's reason
    assert isinstance(plain(value)["t"], list)


def test_digest_is_canonical_and_refuses_what_it_cannot_see():
    assert digest({"a": 1, "b": [1, 2]}) == digest({"b": (1, 2), "a": 1})  # order, list/tuple
    assert digest(1) != digest(1.0) != digest(True)
    assert digest(np.float64(2.5)) == digest(2.5)
    assert digest(np.zeros(3, np.float32)) != digest(np.zeros(3, np.float64)) != digest(np.zeros((3, 1)))
    assert digest(np.zeros(2)) != digest(tensor(np.zeros(2)))  # arrives as a tensor: another request
    assert digest(np.random.default_rng(1)) != digest(np.random.default_rng(2))
    assert digest(dt.date(2025, 2, 25)) != digest("2025-02-25")
    assert digest("ab", "c") != digest("a", "bc")
    with pytest.raises(TypeError):
        digest(object())


def test_digest_values_are_stable():
    # registry hashes and batch cache keys are digests: a faster `_feed` must give the same hex
    import datetime

    import numpy as np

    from grader.hashing import digest

    v = {"probe": "call", "args": [None, True, 0, -3, 1.0, 0.5, "x", "", b"ab", np.float64(1.0), np.int32(3),
                                   (1, [2.0, "a"]), {"b": 1, "a": {"c": (2,)}}, np.arange(6.).reshape(2, 3), {1, 2},
                                   datetime.date(2025, 1, 2)]}
    assert digest(v) == "42c21e18e6766329f776e96460957035eb22321b79a8e0ed842dd57285bdf331"
    assert digest("call", [1, 2], 1.5, "s", None, False) == \
        "b7184e294e5a4202ef82ebbe715b7c0b89495958aa0279af3a4f32f6d6aebe4b"
    assert digest(1) != digest(1.0) != digest(True) and digest([1]) == digest((1,))
