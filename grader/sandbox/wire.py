"""The wire between the grader, the sandbox server and the sandbox child.

Never pickle. A *message* is a JSON header plus raw byte blobs::

    b"HW2W" | u32 header_len | u32 n_blobs | n_blobs x u64 blob_len | header JSON | blobs

A *value* (probe arguments, probe replies, weight snapshots) is encoded into a message
whose header is a JSON tree and whose blobs are ``.npy`` files (``np.lib.format``,
``allow_pickle=False``). The JSON tree uses these forms:

==========================  =====================================================
Python value                JSON form
==========================  =====================================================
None, bool, int, str        itself
float                       a number; nan/inf/-inf as ``{"$float": "nan"}`` etc.
list                        a list
tuple                       ``{"$tuple": [...]}``
dict                        itself (str keys), or ``{"$dict": [[k, v], ...]}`` when
                            a key starts with ``$`` (so student data never forges a
                            marker) or is an int/float/bool/None/tuple of those
numpy array / scalar        ``{"$array": i}``  (blob i; numpy scalars become 0-d arrays)
torch tensor                ``{"$array": i, "tensor": true}`` (+ ``"from_dtype"``
                            when the torch dtype had no numpy twin, e.g. bfloat16)
anything else               ``{"$unencodable": "type name", "reason": "..."}``
==========================  =====================================================

The same format serves data kept on disk (self-check bundles, `encode_tree` /
`decode_tree`) in an *exact* mode: ``$array`` holds the name the caller stored the array
under, ``"scalar": true`` / ``"torch": true`` bring back a numpy scalar / a torch tensor,
and a value the format cannot hold raises `NotExact` instead of becoming a marker.

Encoding never calls a method of an object it does not know (no ``__eq__``, ``__len__``,
``__iter__``, ``__class__`` of student objects): it dispatches on ``type(x)`` and uses
base-class methods taken at import time, so a student object cannot pretend to be
something else; it becomes an :class:`Unencodable` marker instead.

Decoding (:func:`decode_value`) is strict: size caps, nesting cap, only the forms above,
arrays only with dtype kind bool/int/uint/float/complex (no object, string, structured
or void arrays). Tensor-flagged arrays decode to :class:`TensorArray` (an ``ndarray``
subclass without extra behaviour) in the grader, or to ``torch.Tensor`` inside the
sandbox child (``tensors="torch"``).
"""

from __future__ import annotations

import io
import json
import math
import mmap
import os
import re
import struct
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np

MAGIC = b"HW2W"
_HEAD = struct.Struct("<4sII")
_json_dumps = json.dumps
_json_loads = json.loads
_os_write = os.write
_os_read = os.read
_LEN = struct.Struct("<Q")

ALLOWED_KINDS = frozenset("biufc")


class WireError(ValueError):
    """A message or value that does not follow the wire format (or breaks a cap)."""


class TooLong(WireError):
    """A length prefix longer than what the reader expects at this point of the stream."""


@dataclass(frozen=True)
class Caps:
    """Limits applied when decoding (and, for the byte totals, when encoding)."""

    max_message_bytes: int = 1 << 30  # whole message
    max_header_bytes: int = 64 << 20  # the JSON part
    max_blobs: int = 100_000
    max_array_bytes: int = 512 << 20  # one array
    max_total_array_bytes: int = 1 << 30  # all arrays of one value
    max_depth: int = 64
    max_items: int = 2_000_000  # JSON nodes in one value


DEFAULT_CAPS = Caps()


class TensorArray(np.ndarray):
    """A numpy array that was a ``torch.Tensor`` on the other side (dtype kept)."""

    def __array_finalize__(self, obj: Any) -> None:  # pragma: no cover - nothing to copy
        return None


def tensor(array: Any, dtype: Any = None) -> TensorArray:
    """Mark an array (with an optional dtype) to arrive in the sandbox as a torch tensor."""
    arr = np.array(array, dtype=dtype, copy=True)
    if arr.dtype.kind not in ALLOWED_KINDS:
        raise WireError(f"tensor dtype {arr.dtype} is not allowed on the wire")
    return arr.view(TensorArray)


def is_tensor(value: Any) -> bool:
    return isinstance(value, TensorArray)


@dataclass(frozen=True)
class Unencodable:
    """Stands for a value the sandbox could not (or would not) send: its type name only."""

    type_name: str
    reason: str = ""

    def plain_data(self) -> dict[str, Any]:
        """What judges see (`grader.plain`): the type name, never the sandbox's reason."""
        return {"$unencodable": self.type_name}

    def to_json(self) -> dict[str, Any]:
        out = {"$unencodable": self.type_name}
        if self.reason:
            out["reason"] = self.reason
        return out


# ---------------------------------------------------------------------------------------
# messages


def pack_message(header: Any, blobs: Sequence[bytes] = ()) -> bytes:
    head = _json_dumps(header, allow_nan=False, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    parts = [_HEAD.pack(MAGIC, len(head), len(blobs))]
    parts.extend(_LEN.pack(len(b)) for b in blobs)
    parts.append(head)
    parts.extend(blobs)
    return b"".join(parts)


def _reject_constant(name: str) -> Any:
    raise WireError(f"non-standard JSON constant {name}")


def unpack_message(data: bytes | memoryview, caps: Caps = DEFAULT_CAPS, copy: bool = True) -> tuple[Any, list[Any]]:
    """Split a message into (header, blobs). Checks every length against `caps`.
    ``copy=False``: the blobs are memoryviews into `data` (no copy on the heap)."""
    mv = memoryview(data)
    if len(mv) > caps.max_message_bytes:
        raise WireError(f"message of {len(mv)} bytes is over the cap of {caps.max_message_bytes}")
    if len(mv) < _HEAD.size:
        raise WireError("message too short")
    magic, head_len, n_blobs = _HEAD.unpack_from(mv, 0)
    if magic != MAGIC:
        raise WireError("bad magic (not a wire message)")
    if head_len > caps.max_header_bytes:
        raise WireError(f"header of {head_len} bytes is over the cap")
    if n_blobs > caps.max_blobs:
        raise WireError(f"{n_blobs} blobs is over the cap")
    pos = _HEAD.size
    if len(mv) < pos + n_blobs * _LEN.size + head_len:
        raise WireError("message truncated")
    lens = [_LEN.unpack_from(mv, pos + i * _LEN.size)[0] for i in range(n_blobs)]
    pos += n_blobs * _LEN.size
    if pos + head_len + sum(lens) != len(mv):
        raise WireError("message length does not match its parts")
    try:
        header = _json_loads(bytes(mv[pos : pos + head_len]).decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise WireError(f"bad JSON header: {exc}") from None
    pos += head_len
    blobs: list[Any] = []
    for n in lens:
        blobs.append(bytes(mv[pos : pos + n]) if copy else mv[pos : pos + n])
        pos += n
    return header, blobs


class MessageReader:
    """Incremental reader for a stream of length-prefixed messages (u64 length + message).

    ``limit``, when given, is asked for the longest acceptable message each time a length
    prefix arrives (before the message's bytes are buffered), so what a reader keeps is
    bounded by what its side expects, never by what the writer announces."""

    def __init__(self, caps: Caps = DEFAULT_CAPS, limit: Callable[[], int] | None = None):
        self.caps = caps
        self.limit = limit
        self._buf = bytearray()

    def feed(self, chunk: bytes) -> list[tuple[Any, list[bytes]]]:
        """Add `chunk`; return every message it completes."""
        self.add(chunk)
        out = []
        while (msg := self.next()) is not None:
            out.append(msg)
        return out

    def add(self, chunk: bytes) -> None:
        self._buf += chunk

    def next(self) -> tuple[Any, list[bytes]] | None:
        """The next complete message, or None. ``limit`` is asked here, one message at a
        time, so it sees the state left by the messages before."""
        if len(self._buf) < _LEN.size:
            return None
        (n,) = _LEN.unpack_from(self._buf, 0)
        if n > self.caps.max_message_bytes:
            raise WireError(f"incoming message of {n} bytes is over the cap")
        if self.limit is not None and n > self.limit():
            raise TooLong(f"a message of {n} bytes announced, longer than anything expected now")
        if len(self._buf) < _LEN.size + n:
            return None
        msg = bytes(self._buf[_LEN.size : _LEN.size + n])
        del self._buf[: _LEN.size + n]
        return unpack_message(msg, self.caps)

    @property
    def pending(self) -> int:
        return len(self._buf)


def frame(message: bytes) -> bytes:
    """Length-prefix a packed message for a stream."""
    return _LEN.pack(len(message)) + message


def length_prefix(n: int) -> bytes:
    return _LEN.pack(n)


def write_all(fd: int, data: bytes) -> None:
    mv = memoryview(data)
    while mv:
        n = _os_write(fd, mv)
        mv = mv[n:]


def read_exact(fd: int, n: int) -> bytes:
    parts = []
    while n > 0:
        chunk = _os_read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("stream closed")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def read_frame(fd: int, caps: Caps = DEFAULT_CAPS) -> bytes:
    """Blocking read of one length-prefixed message from `fd`, still packed."""
    (n,) = _LEN.unpack(read_exact(fd, _LEN.size))
    if n > caps.max_message_bytes:
        raise WireError(f"incoming message of {n} bytes is over the cap")
    return read_exact(fd, n)


def read_message(fd: int, caps: Caps = DEFAULT_CAPS) -> tuple[Any, list[bytes]]:
    """Blocking read of one length-prefixed message from `fd`."""
    return unpack_message(read_frame(fd, caps), caps)


def read_message_unforked(fd: int, caps: Caps = DEFAULT_CAPS) -> tuple[Any, list[memoryview]]:
    """Blocking read of one length-prefixed message into an anonymous mapping that forks do
    not inherit (``MADV_DONTFORK``); the blobs are memoryviews into it. The sandbox server
    reads jobs this way, so the probe arguments it holds are not in the memory of the
    children it forks (student code could scan its own memory); only the header is parsed
    onto the heap. The mapping is freed with the last view."""
    (n,) = _LEN.unpack(read_exact(fd, _LEN.size))
    if n > caps.max_message_bytes:
        raise WireError(f"incoming message of {n} bytes is over the cap")
    mm = mmap.mmap(-1, max(1, n))
    mm.madvise(mmap.MADV_DONTFORK)
    mv = memoryview(mm)[:n]
    pos = 0
    while pos < n:
        got = os.readv(fd, [mv[pos:]])
        if not got:
            raise EOFError("stream closed")
        pos += got
    return unpack_message(mv, caps, copy=False)


def send_message(fd: int, header: Any, blobs: Sequence[bytes] = ()) -> None:
    write_all(fd, frame(pack_message(header, blobs)))


# ---------------------------------------------------------------------------------------
# values: encoding (runs in the sandbox child, and in the grader for probe arguments)

# Base-class methods taken at import time, before any student code can patch anything.
_int_int = int.__int__
_float_float = float.__float__
_str_str = str.__str__
_list_iter = list.__iter__
_tuple_iter = tuple.__iter__
_dict_items = dict.items
_nd_view = np.ndarray.view
_nd_copy = np.ndarray.copy
_isfinite = math.isfinite
_write_array = np.lib.format.write_array
_np_generic = np.generic
_np_ndarray = np.ndarray
_type = type
_issubclass = issubclass
_len = len
_type_qualname = type.__dict__["__qualname__"].__get__
_type_module = type.__dict__["__module__"].__get__


def _repr_type(t: type) -> str:
    """`module.QualName` of a type, read from the C slots (a metaclass cannot fake it)."""
    try:
        mod = _type_module(t)
        name = _type_qualname(t)
        text = f"{mod}.{name}" if _type(mod) is str and mod != "builtins" else str(name)
        return text if _type(text) is str else "?"
    except Exception:  # noqa: BLE001
        return "?"

_torch_refs: dict[str, Any] | None = None


def _torch() -> dict[str, Any] | None:
    """References into torch, taken once (at import of the sandbox harness, see child.py)."""
    global _torch_refs
    if _torch_refs is None:
        try:
            import torch
        except Exception:  # pragma: no cover - torch is always here
            _torch_refs = {}
            return None
        _torch_refs = {
            "Tensor": torch.Tensor,
            "detach": torch.Tensor.detach,
            "cpu": torch.Tensor.cpu,
            "to": torch.Tensor.to,
            "numpy": torch.Tensor.numpy,
            "contiguous": torch.Tensor.contiguous,
            "resolve_conj": torch.Tensor.resolve_conj,
            "resolve_neg": torch.Tensor.resolve_neg,
            "to_dense": torch.Tensor.to_dense,
            "no_subclass": torch._C.DisableTorchFunctionSubclass,
            "float32": torch.float32,
            "strided": torch.strided,
            "from_numpy": torch.from_numpy,
            "numpy_ok": {
                torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
                torch.float16, torch.float32, torch.float64, torch.complex64, torch.complex128,
                getattr(torch, "uint16", None), getattr(torch, "uint32", None), getattr(torch, "uint64", None),
            } - {None},
            "float_like": {torch.bfloat16} | {d for d in (getattr(torch, n, None) for n in (
                "float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz")) if d is not None},
        }
    return _torch_refs or None


class _Encoder:
    """`store` set: the exact mode of `encode_tree` (arrays go to `store`, which names them;
    numpy scalars and torch tensors are flagged so they come back as such; a value the
    format cannot hold raises `NotExact` instead of becoming a marker)."""

    def __init__(self, caps: Caps, store: Callable[[np.ndarray], str] | None = None):
        self.caps = caps
        self.store = store
        self.blobs: list[bytes] = []
        self.total = 0
        self.items = 0

    def unencodable(self, t: type, reason: str = "") -> Any:
        if self.store is not None:
            raise NotExact(f"a value of type {_repr_type(t)}" + (f" ({reason})" if reason else ""))
        return {"$unencodable": _repr_type(t), "reason": reason} if reason else {"$unencodable": _repr_type(t)}

    def array_blob(self, arr: np.ndarray) -> int:
        if arr.dtype.kind not in ALLOWED_KINDS or arr.dtype.fields is not None or arr.dtype.hasobject:
            raise _Skip(f"array dtype {arr.dtype} is not sent")
        if arr.nbytes > self.caps.max_array_bytes:
            raise _Skip(f"array of {arr.nbytes} bytes is over the cap of {self.caps.max_array_bytes}")
        self.total += arr.nbytes
        if self.total > self.caps.max_total_array_bytes:
            raise WireError(f"arrays of this value exceed {self.caps.max_total_array_bytes} bytes in total")
        if self.store is not None:
            return self.store(arr)
        buf = io.BytesIO()
        _write_array(buf, arr, allow_pickle=False)
        self.blobs.append(buf.getvalue())
        return _len(self.blobs) - 1

    def value(self, x: Any, depth: int) -> Any:
        self.items += 1
        if self.items > self.caps.max_items:
            raise WireError("value has too many items")
        if depth > self.caps.max_depth:
            return self.unencodable(_type(x), "nested too deep")
        t = _type(x)
        try:
            if x is None or t is bool:
                return x
            if t is str:
                return x
            if t is int:
                str(x)  # raises ValueError for ints over the digit limit
                return x
            if t is float:
                return x if _isfinite(x) else {"$float": repr(x)}
            if t is list:
                return [self.value(v, depth + 1) for v in _list_iter(x)]
            if t is tuple:
                return {"$tuple": [self.value(v, depth + 1) for v in _tuple_iter(x)]}
            if t is dict:
                return self.mapping(x, depth)
            if t is TensorArray:  # the grader marked it: arrives as a torch tensor
                return {"$array": self.array_blob(_nd_copy(_nd_view(x, _np_ndarray))), "tensor": True}
            if _issubclass(t, _np_ndarray):
                base = _nd_view(x, _np_ndarray)
                return {"$array": self.array_blob(_nd_copy(base))}
            if _issubclass(t, _np_generic):
                out = {"$array": self.array_blob(np.asarray(x).reshape(()).copy())}
                if self.store is not None:
                    out["scalar"] = True
                return out
            tr = _torch()
            if tr is not None and _issubclass(t, tr["Tensor"]):
                out = self.tensor(x, tr)
                if self.store is not None:
                    out["torch"] = out.pop("tensor")
                return out
            # subclasses of plain types: send the base value (namedtuple -> tuple, IntEnum -> int)
            if _issubclass(t, bool):  # pragma: no cover - bool cannot be subclassed
                return bool(x)
            if _issubclass(t, int):
                v = _int_int(x)
                str(v)
                return v
            if _issubclass(t, float):
                v = _float_float(x)
                return v if _isfinite(v) else {"$float": repr(v)}
            if _issubclass(t, str):
                return _str_str(x)
            if _issubclass(t, tuple):
                return {"$tuple": [self.value(v, depth + 1) for v in _tuple_iter(x)]}
            if _issubclass(t, list):
                return [self.value(v, depth + 1) for v in _list_iter(x)]
            if _issubclass(t, dict):
                return self.mapping(x, depth)
        except _Skip as skip:
            return self.unencodable(t, str(skip))
        except WireError:
            raise
        except Exception as exc:  # noqa: BLE001 - anything odd becomes a marker, never a crash
            return self.unencodable(t, f"{_type(exc).__name__} while encoding")
        return self.unencodable(t)

    def mapping(self, x: Any, depth: int) -> Any:
        items = list(_dict_items(x))
        if all(_type(k) is str and not k.startswith("$") for k, _ in items):
            return {k: self.value(v, depth + 1) for k, v in items}
        if not all(_key_ok(k) for k, _ in items):
            raise _Skip("dict with keys other than str/int/float/bool/None/tuples of them")
        return {"$dict": [[self.value(k, depth + 1), self.value(v, depth + 1)] for k, v in items]}

    def tensor(self, x: Any, tr: dict[str, Any]) -> Any:
        with tr["no_subclass"]():
            t = tr["detach"](x)
            if t.layout != tr["strided"]:
                t = tr["to_dense"](t)
            if t.device.type != "cpu":
                t = tr["cpu"](t)
            t = tr["resolve_neg"](tr["resolve_conj"](t))
            out: dict[str, Any] = {}
            if t.dtype in tr["float_like"]:
                out["from_dtype"] = str(t.dtype).replace("torch.", "")
                t = tr["to"](t, tr["float32"])
            elif t.dtype not in tr["numpy_ok"]:
                raise _Skip(f"tensor dtype {t.dtype} is not sent")
            arr = np.array(tr["numpy"](tr["contiguous"](t)), copy=True)
        out["$array"] = self.array_blob(_nd_view(arr, _np_ndarray))
        out["tensor"] = True
        return out


class _Skip(Exception):
    pass


def _key_ok(k: Any, depth: int = 0) -> bool:
    t = _type(k)
    if k is None or t in (str, int, float, bool):
        return True
    return t is tuple and depth < 4 and all(_key_ok(v, depth + 1) for v in _tuple_iter(k))


def encode_value(value: Any, caps: Caps = DEFAULT_CAPS) -> bytes:
    """Encode `value` into one message (see the module docstring). Raises WireError only
    when a cap on the whole value is broken; odd objects become markers."""
    enc = _Encoder(caps)
    tree = enc.value(value, 0)
    return pack_message(tree, enc.blobs)


# ---------------------------------------------------------------------------------------
# values: decoding (strict)


# The header numpy writes for a plain array (format 1.0), read by a pattern instead of
# `ast.literal_eval` (numpy's way: ~2 ms an array; a CNN's exported program has hundreds).
# Stricter than numpy's reader; anything else still goes through numpy's.
_NPY_HEADER = re.compile(rb"\{'descr': '([<>|=][a-z][0-9]{1,2})', 'fortran_order': (True|False), "
                         rb"'shape': \(((?:[0-9]{1,12}, )*(?:[0-9]{1,12},?)?)\), \} *\n")


def _fast_array(blob: bytes) -> np.ndarray | None:
    """The array of a format-1.0 .npy blob with a plain header, or None (use numpy's reader)."""
    if len(blob) < 10 or blob[6:8] != b"\x01\x00":
        return None
    end = 10 + int.from_bytes(blob[8:10], "little")
    m = _NPY_HEADER.fullmatch(blob, 10, end)
    if m is None:
        return None
    try:
        dt = np.dtype(m.group(1).decode())
    except TypeError:
        return None
    shape = tuple(int(v) for v in m.group(3).split(b",") if v.strip())
    count = 1
    for v in shape:
        count *= v
    if dt.hasobject or len(blob) - end != count * dt.itemsize:
        return None
    flat = np.frombuffer(blob, dtype=dt, count=count, offset=end).copy()  # its own, writable memory
    return flat.reshape(shape[::-1]).transpose() if m.group(2) == b"True" else flat.reshape(shape)


def _read_array(blob: bytes, caps: Caps) -> np.ndarray:
    if len(blob) > caps.max_array_bytes + 4096:
        raise WireError("array blob over the cap")
    if not blob.startswith(b"\x93NUMPY"):
        raise WireError("array blob is not an .npy file")
    try:
        arr = _fast_array(blob)
        if arr is None:
            arr = np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any parse problem is a wire error
        raise WireError(f"bad array blob: {type(exc).__name__}: {exc}") from None
    if type(arr) is not np.ndarray:  # pragma: no cover - read_array returns base arrays
        raise WireError("array blob did not decode to an ndarray")
    dt = arr.dtype
    if dt.kind not in ALLOWED_KINDS or dt.fields is not None or dt.hasobject or dt.subdtype is not None:
        raise WireError(f"array dtype {dt} is not allowed")
    return arr


class _Decoder:
    """`load` set: the exact mode of `decode_tree` (arrays by the names `store` gave)."""

    def __init__(self, blobs: list[bytes], caps: Caps, tensors: str, load: Callable[[str], np.ndarray] | None = None):
        self.blobs = blobs
        self.caps = caps
        self.tensors = tensors
        self.load = load
        self.items = 0
        self.total = 0
        self.used: set[int] = set()

    def value(self, x: Any, depth: int) -> Any:
        self.items += 1
        if self.items > self.caps.max_items:
            raise WireError("value has too many items")
        if depth > self.caps.max_depth + 2:
            raise WireError("value nested too deep")
        t = type(x)
        if x is None or t in (bool, int, str):
            return x
        if t is float:
            if not math.isfinite(x):  # pragma: no cover - json.loads rejects these already
                raise WireError("raw non-finite float")
            return x
        if t is list:
            return [self.value(v, depth + 1) for v in x]
        if t is dict:
            return self.marker(x, depth)
        raise WireError(f"unexpected JSON node {t.__name__}")  # pragma: no cover

    def marker(self, x: dict, depth: int) -> Any:
        keys = set(x)
        dollar = [k for k in keys if k.startswith("$")]
        if not dollar:
            return {k: self.value(v, depth + 1) for k, v in x.items()}
        if len(dollar) != 1:
            raise WireError(f"ambiguous marker keys {sorted(dollar)}")
        (m,) = dollar
        if m == "$float":
            if keys != {"$float"} or x[m] not in ("nan", "inf", "-inf"):
                raise WireError("bad $float")
            return float(x[m])
        if m == "$tuple":
            if keys != {"$tuple"} or type(x[m]) is not list:
                raise WireError("bad $tuple")
            return tuple(self.value(v, depth + 1) for v in x[m])
        if m == "$dict":
            if keys != {"$dict"} or type(x[m]) is not list:
                raise WireError("bad $dict")
            out = {}
            for pair in x[m]:
                if type(pair) is not list or len(pair) != 2:
                    raise WireError("bad $dict item")
                key = self.value(pair[0], depth + 1)
                if not _key_ok(key):
                    raise WireError("bad $dict key")
                out[key] = self.value(pair[1], depth + 1)
            return out
        if m == "$unencodable":
            if not keys <= {"$unencodable", "reason"} or type(x[m]) is not str or type(x.get("reason", "")) is not str:
                raise WireError("bad $unencodable")
            return Unencodable(x[m][:300], x.get("reason", "")[:300])
        if m == "$array":
            exact = {"scalar", "torch"} if self.load is not None else set()
            if not keys <= {"$array", "tensor", "from_dtype"} | exact:
                raise WireError("bad $array keys")
            i = x[m]
            if self.load is not None:
                arr = self.load(i) if type(i) is str else None
                if type(arr) is not np.ndarray or arr.dtype.kind not in ALLOWED_KINDS or arr.dtype.fields is not None:
                    raise WireError("bad $array name")
                arr = arr.copy()  # a caller may change what it gets
                if x.get("scalar") is True:
                    return arr[()]
                if x.get("torch") is True:
                    import torch

                    return torch.from_numpy(arr)
            elif type(i) is not int or not 0 <= i < len(self.blobs) or i in self.used:
                raise WireError("bad $array index")
            else:
                self.used.add(i)
                arr = _read_array(self.blobs[i], self.caps)
            self.total += arr.nbytes
            if self.total > self.caps.max_total_array_bytes:
                raise WireError("arrays over the total cap")
            is_tensor_ = x.get("tensor", False)
            if type(is_tensor_) is not bool:
                raise WireError("bad tensor flag")
            if not is_tensor_:
                return arr
            if self.tensors == "torch":
                import torch

                if not arr.flags.writeable:
                    arr = arr.copy()
                return torch.from_numpy(arr)
            return arr.view(TensorArray)
        raise WireError(f"unknown marker {m!r}")


def decode_value(message: bytes, caps: Caps = DEFAULT_CAPS, tensors: str = "array") -> Any:
    """Decode a value message strictly. `tensors`: "array" (TensorArray) or "torch"."""
    header, blobs = unpack_message(message, caps)
    return decode_parts(header, blobs, caps, tensors)


def decode_parts(header: Any, blobs: list[bytes], caps: Caps = DEFAULT_CAPS, tensors: str = "array") -> Any:
    dec = _Decoder(blobs, caps, tensors)
    return dec.value(header, 0)


class NotExact(WireError):
    """`encode_tree`: a value the format cannot hold exactly."""


def encode_tree(value: Any, store: Callable[[np.ndarray], str], caps: Caps = DEFAULT_CAPS) -> Any:
    """The exact mode of the value format, for data kept on disk (self-check bundles): the
    JSON tree of `value` with each array handed to `store` (which returns its name);
    numpy scalars and torch tensors come back as such from `decode_tree`. Raises
    `NotExact` for anything the format cannot hold, never a marker."""
    return _Encoder(caps, store).value(value, 0)


def decode_tree(tree: Any, load: Callable[[str], np.ndarray], caps: Caps = DEFAULT_CAPS) -> Any:
    """The inverse of `encode_tree`; `load(name)` gives back a stored array (copied here)."""
    return _Decoder([], caps, "array", load).value(tree, 0)


def to_plain(value: Any) -> Any:
    """A JSON-able view of a decoded value (arrays as nested lists with their dtype)."""
    if isinstance(value, Unencodable):
        return value.to_json()
    if isinstance(value, np.ndarray):
        out = {"dtype": str(value.dtype), "shape": list(value.shape)}
        if value.size <= 64:
            out["data"] = _plain_list(value.tolist())
        if isinstance(value, TensorArray):
            out["tensor"] = True
        return out
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    return value


def _plain_list(v: Any) -> Any:
    if isinstance(v, list):
        return [_plain_list(i) for i in v]
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    if isinstance(v, complex):
        return [v.real, v.imag]
    return v


def iter_arrays(value: Any) -> Iterable[np.ndarray]:
    """All arrays inside a decoded value (handy for size accounting)."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from iter_arrays(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from iter_arrays(v)
