"""The wire: pickle-free, strict, never calls student methods."""

from __future__ import annotations

import io
import math
import pickle
import struct

import numpy as np
import pytest
import torch

from grader.sandbox import wire
from grader.sandbox.wire import TensorArray, Unencodable, WireError, decode_value, encode_value


def roundtrip(value, **kw):
    return decode_value(encode_value(value), **kw)


def test_plain_values_roundtrip():
    value = {"a": 1, "b": [True, None, "x", 2.5], "c": {"d": -3}}
    assert roundtrip(value) == value


def test_non_finite_floats_are_explicit():
    out = roundtrip([float("nan"), float("inf"), float("-inf"), 1.0])
    assert math.isnan(out[0]) and out[1] == math.inf and out[2] == -math.inf and out[3] == 1.0
    header, _ = wire.unpack_message(encode_value(float("nan")))
    assert header == {"$float": "nan"}


def test_tuples_and_dollar_keys_survive():
    out = roundtrip((1, (2, 3), {"$ref": "x", "plain": 1}))
    assert out == (1, (2, 3), {"$ref": "x", "plain": 1})
    assert isinstance(out[1], tuple)


def test_non_string_keys():
    value = {0: "a", (1, "b"): None, None: 2.5, True: [1]}
    assert roundtrip(value) == value
    assert isinstance(roundtrip({object(): 1}), Unencodable)
    with pytest.raises(WireError):
        decode_value(wire.pack_message({"$dict": [[[1, 2], 3]]}, []))  # a list is not a key


def test_arrays_keep_dtype_and_tensors_are_flagged():
    a = np.arange(6, dtype=np.int16).reshape(2, 3)
    t = torch.arange(4, dtype=torch.float64)
    out = roundtrip({"a": a, "t": t, "s": np.float32(1.5), "b": torch.tensor([True, False])})
    assert type(out["a"]) is np.ndarray and out["a"].dtype == np.int16 and (out["a"] == a).all()
    assert isinstance(out["t"], TensorArray) and out["t"].dtype == np.float64
    assert out["s"].shape == () and out["s"].dtype == np.float32
    assert out["b"].dtype == np.bool_


def test_bfloat16_and_grad_tensors():
    t = torch.ones(3, requires_grad=True) * 2
    out = roundtrip([t, torch.ones(2, dtype=torch.bfloat16)])
    assert out[0].tolist() == [2.0, 2.0, 2.0]
    assert out[1].dtype == np.float32
    header, _ = wire.unpack_message(encode_value(torch.ones(2, dtype=torch.bfloat16)))
    assert header["from_dtype"] == "bfloat16"


def test_tensor_marker_arrives_as_torch_tensor():
    out = roundtrip({"x": wire.tensor([[1, 2]], "float32")}, tensors="torch")
    assert isinstance(out["x"], torch.Tensor) and out["x"].dtype == torch.float32


def test_unknown_objects_become_markers_without_calling_them():
    calls = []

    class Liar:
        def __eq__(self, other):
            calls.append("eq")
            return True

        def __len__(self):
            calls.append("len")
            return 3

        @property
        def __class__(self):  # pretends to be an ndarray
            return np.ndarray

    out = roundtrip({"v": Liar(), "f": lambda: 1, "m": torch.nn.Linear(2, 2)})
    assert isinstance(out["v"], Unencodable) and out["v"].type_name.endswith("Liar")
    assert isinstance(out["f"], Unencodable)
    assert isinstance(out["m"], Unencodable) and "Linear" in out["m"].type_name
    assert calls == []


def test_subclasses_of_plain_types_send_their_base_value():
    class Evil(float):
        def __eq__(self, other):
            return True

    class Pair(tuple):
        pass

    out = roundtrip([Evil(2.0), Pair((1, 2))])
    assert type(out[0]) is float and out[0] == 2.0
    assert out[1] == (1, 2)


def test_ndarray_subclass_loses_its_methods():
    class Always(np.ndarray):
        def __eq__(self, other):
            return np.ones(self.shape, bool)

    a = np.zeros(3).view(Always)
    out = roundtrip(a)
    assert type(out) is np.ndarray and not (out == 1).all()


def test_object_and_string_arrays_are_not_sent():
    out = roundtrip([np.array([object()], dtype=object), np.array(["a"])])
    assert all(isinstance(v, Unencodable) for v in out)


def _array_message(arr_bytes: bytes) -> bytes:
    return wire.pack_message({"$array": 0}, [arr_bytes])


def test_decoder_rejects_pickled_object_arrays():
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(WireError):
        decode_value(_array_message(buf.getvalue()))


def test_decoder_rejects_raw_pickle_and_garbage():
    with pytest.raises(WireError):
        decode_value(pickle.dumps({"a": 1}))
    with pytest.raises(WireError):
        decode_value(_array_message(pickle.dumps(np.zeros(3))))
    with pytest.raises(WireError):
        decode_value(wire.pack_message({"$array": 5}, []))
    with pytest.raises(WireError):
        decode_value(wire.pack_message({"$mystery": 1}, []))
    with pytest.raises(WireError):
        decode_value(b"HW2W" + struct.pack("<II", 10, 0) + b"{}")


def test_decoder_rejects_string_and_structured_dtypes():
    for arr in (np.array(["abc"]), np.zeros(2, dtype=[("a", "i4"), ("b", "f4")])):
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arr, allow_pickle=False)
        with pytest.raises(WireError):
            decode_value(_array_message(buf.getvalue()))


def test_caps_are_enforced():
    small = wire.Caps(max_array_bytes=100, max_total_array_bytes=100)
    with pytest.raises(WireError):
        decode_value(encode_value(np.zeros(1000)), caps=small)
    assert isinstance(decode_value(encode_value(np.zeros(1000), caps=small)), Unencodable)
    deep: list = []
    cur = deep
    for _ in range(200):
        cur.append([])
        cur = cur[0]
    out = roundtrip(deep)  # too deep becomes a marker, not a crash
    assert out is not None


def test_message_reader_handles_split_streams():
    msgs = [wire.frame(wire.pack_message({"n": i}, [b"x" * i])) for i in range(5)]
    stream = b"".join(msgs)
    reader = wire.MessageReader()
    got = []
    for i in range(0, len(stream), 7):
        got.extend(reader.feed(stream[i:i + 7]))
    assert [h["n"] for h, _ in got] == list(range(5))
    assert [len(b[0]) for _, b in got] == list(range(5))
