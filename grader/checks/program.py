"""A student module's forward as *data*, rebuilt and run in the grader's own process.

Why: the sandbox child runs the harness in the same process as student code, so any fact it
computes there (module counts, "a residual was found") can be rewritten by a class body or a
cell. The child therefore also sends the module's forward as a program (made by
``torch.export``, or by an ``aten`` trace when export fails: see
``grader.sandbox.probes.export``), and the grader

1. decodes it here from plain data only (:func:`decode`): every call must name an op of
   :data:`ALLOWED_OPS` (pure tensor math, resolved strictly as
   ``torch.ops.aten.<op>.<overload>``), arguments are numbers, short strings, dtypes, node
   and constant references; sizes and counts are capped. Nothing is unpickled, imported or
   evaluated;
2. runs it on the ``meta`` device first (shapes only, no memory, no arithmetic) to refuse
   tensors or multiply-adds beyond :data:`CAPS` before anything real is allocated;
3. runs it for real on the inputs the child ran the model on and on *hidden* inputs the
   child received only after it had sent the program (:meth:`Program.run`), and compares
   with what the child said the live module returned (:func:`agree`);
4. counts structure from the program's ops (:func:`structure`): calls per op, and skip
   connections found by :func:`grader.sandbox.probes.graph.find_skips` on the program's
   dataflow, counting only nodes that reach the output (dead branches earn nothing).

What that proves: the structure counted is that of a program the grader ran itself and that
reproduces what the notebook's process said the model computes, on inputs it could not
know in advance. It does not prove the child reported the live module's outputs honestly
(nothing from that process can); it makes a forged structure as costly as writing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

FORMAT = "aten-program/1"

# Pure tensor math only: no I/O (``from_file``), no storage tricks (``set_``, ``resize_``,
# ``as_strided``), no randomness (dropout only with ``train=False``), no data-dependent
# shapes (``nonzero``, ``item``): the meta pass must know every size in advance.
ALLOWED_OPS = frozenset("""
add add_ sub sub_ rsub mul mul_ div div_ true_divide floor_divide neg neg_ abs pow sqrt rsqrt exp exp_ log
log_ log1p expm1 log2 square reciprocal floor ceil round trunc sign clamp clamp_ clamp_min clamp_max clip
minimum maximum fmod remainder where lerp addcmul addcdiv sin cos tan atan atan2 erf erfc
eq ne gt ge lt le logical_not logical_and logical_or logical_xor isnan isinf isfinite bitwise_not
bitwise_and bitwise_or
sum mean amax amin max min prod std var var_mean std_mean norm linalg_vector_norm frobenius_norm logsumexp
argmax argmin cumsum cumprod any all sort argsort topk
view reshape _unsafe_view flatten unflatten permute transpose transpose_ t contiguous clone expand expand_as
repeat squeeze squeeze_ unsqueeze unsqueeze_ cat concat concatenate stack hstack vstack split split_with_sizes
unsafe_split tensor_split chunk unbind narrow slice select index_select gather index masked_fill masked_fill_
scatter scatter_add index_put flip roll movedim detach alias view_as reshape_as tile repeat_interleave
diagonal tril triu one_hot constant_pad_nd pad reflection_pad1d reflection_pad2d replication_pad1d
replication_pad2d upsample_nearest1d upsample_nearest2d upsample_bilinear2d pixel_shuffle pixel_unshuffle
lift_fresh lift_fresh_copy _to_copy to type_as copy copy_ fill fill_ zero_ zeros zeros_like ones ones_like full
full_like empty empty_like arange linspace scalar_tensor new_zeros new_ones new_full new_empty
conv1d conv2d conv3d convolution _convolution conv_transpose1d conv_transpose2d conv_transpose3d
linear addmm mm bmm matmul baddbmm einsum dot mv outer
batch_norm native_batch_norm _native_batch_norm_legit _native_batch_norm_legit_no_training
_native_batch_norm_legit_functional layer_norm native_layer_norm group_norm native_group_norm instance_norm
max_pool1d max_pool2d max_pool3d max_pool1d_with_indices max_pool2d_with_indices max_pool3d_with_indices
avg_pool1d avg_pool2d avg_pool3d adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d
_adaptive_avg_pool2d adaptive_max_pool1d adaptive_max_pool2d
relu relu_ relu6 leaky_relu leaky_relu_ elu elu_ gelu gelu_ silu silu_ sigmoid sigmoid_ tanh tanh_ hardtanh
hardtanh_ prelu _prelu_kernel mish softplus hardswish hardsigmoid log_sigmoid log_sigmoid_forward threshold
threshold_ glu selu celu softmax _softmax log_softmax _log_softmax
dropout feature_dropout alpha_dropout feature_alpha_dropout
embedding gru lstm rnn_tanh rnn_relu gru_cell lstm_cell rnn_tanh_cell rnn_relu_cell
_assert_tensor_metadata
""".split())
RANDOM_WHEN_TRAINING = frozenset({"dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"})
NO_OUTPUT = frozenset({"_assert_tensor_metadata"})

# Op groups the registry's ``expect.count.of`` / ``expect.uses`` name (generic words only).
OP_GROUPS: dict[str, frozenset[str]] = {
    "conv": frozenset({"conv1d", "conv2d", "conv3d", "convolution", "_convolution", "conv_transpose1d",
                       "conv_transpose2d", "conv_transpose3d"}),
    "batchnorm": frozenset({"batch_norm", "native_batch_norm", "_native_batch_norm_legit",
                            "_native_batch_norm_legit_no_training", "_native_batch_norm_legit_functional"}),
    "pooling": frozenset({"max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices",
                          "max_pool2d_with_indices", "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d",
                          "avg_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
                          "_adaptive_avg_pool2d", "adaptive_max_pool1d", "adaptive_max_pool2d"}),
    "activation": frozenset({"relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "elu", "elu_", "gelu", "gelu_",
                             "silu", "silu_", "sigmoid", "sigmoid_", "tanh", "tanh_", "hardtanh", "hardtanh_",
                             "prelu", "_prelu_kernel", "mish", "softplus", "hardswish", "hardsigmoid",
                             "log_sigmoid", "log_sigmoid_forward", "threshold", "threshold_", "glu", "selu",
                             "celu"}),
    # a matrix product counts as a linear layer only when one operand is a weight (made from
    # constants alone): attention's ``q @ k.T`` is not a layer
    "linear": frozenset({"linear", "addmm", "mm", "bmm", "matmul", "baddbmm", "einsum", "mv"}),
    "recurrent": frozenset({"gru", "lstm", "rnn_tanh", "rnn_relu", "gru_cell", "lstm_cell", "rnn_tanh_cell",
                            "rnn_relu_cell"}),
    "gru": frozenset({"gru", "gru_cell"}),
    "lstm": frozenset({"lstm", "lstm_cell"}),
    "dropout": frozenset({"dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"}),
}
NEEDS_WEIGHT = frozenset({"linear"})
# ops that make a "module call" on a dataflow path (for skip detection), and those that are layers
PATH_OPS = frozenset().union(*(OP_GROUPS[g] for g in ("conv", "batchnorm", "pooling", "activation", "linear",
                                                      "recurrent")))
LAYER_OPS = OP_GROUPS["conv"] | OP_GROUPS["linear"] | OP_GROUPS["recurrent"]


@dataclass(frozen=True)
class Caps:
    """Bounds on what a program may ask the grader to hold or compute."""

    max_nodes: int = 20_000
    max_constant_elements: int = 64 << 20  # all weights together (256 MiB as float32)
    max_tensor_elements: int = 128 << 20  # any one intermediate (512 MiB as float32)
    max_live_elements: int = 512 << 20  # intermediates alive at the same time
    max_multiply_adds: float = 2e10  # conv/matmul work of one run (~10 s on one core)
    max_string: int = 64
    max_arg_items: int = 10_000


CAPS = Caps()


class ProgramError(ValueError):
    """The program breaks a rule (an op off the allowlist, a size over a cap): one clear line."""


@dataclass(frozen=True)
class Node:
    op: str  # "input" | "const" | "call" | "getitem"
    target: str = ""  # aten op name for "call" (e.g. "conv2d")
    overload: str = ""
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    index: int = 0  # input position ("input"), item ("getitem")
    source: int = -1  # the node a getitem reads
    name: str = ""  # constant name


@dataclass(frozen=True)
class Program:
    nodes: tuple[Node, ...]
    constants: Mapping[str, np.ndarray]
    output: Any  # nested lists of {"$node": i}
    how: str  # "export" | "trace"
    note: str = ""  # why the child fell back to a trace

    def run(self, inputs: Sequence[Any], caps: Caps = CAPS) -> tuple[list[Any], list[Any]]:
        """(flat outputs as tensors, value of every node). Runs on meta first to check caps."""
        import torch

        _check_shapes(self, inputs, caps)
        with torch.no_grad():
            return _execute(self, inputs, "cpu")


# --------------------------------------------------------------------------- decoding

_OVERLOAD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
           "complex64")
_MEMORY_FORMATS = ("contiguous_format", "channels_last", "preserve_format", "channels_last_3d")


def decode(data: Any, caps: Caps = CAPS) -> Program:
    """Plain data from the wire -> a :class:`Program`, or :class:`ProgramError`."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise ProgramError("not a program in the expected format")
    raw_nodes = data.get("nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise ProgramError("the program has no nodes")
    if len(raw_nodes) > caps.max_nodes:
        raise ProgramError(f"the program has {len(raw_nodes)} nodes (at most {caps.max_nodes})")
    constants = data.get("constants") or {}
    if not isinstance(constants, Mapping):
        raise ProgramError("constants are not a mapping")
    total = 0
    consts: dict[str, np.ndarray] = {}
    for name, arr in constants.items():
        if not isinstance(name, str) or not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biufc":
            raise ProgramError(f"constant {str(name)[:40]!r} is not a numeric array")
        total += arr.size
        consts[name] = np.asarray(arr)
    if total > caps.max_constant_elements:
        raise ProgramError(f"the program's weights hold {total:,} numbers (at most {caps.max_constant_elements:,})")
    budget = [caps.max_arg_items]
    nodes: list[Node] = []
    for i, raw in enumerate(raw_nodes):
        if not isinstance(raw, Mapping):
            raise ProgramError(f"node {i} is not an object")
        op = raw.get("op")
        if op == "input":
            nodes.append(Node("input", index=_int(raw.get("index"), f"node {i} index")))
        elif op == "const":
            name = raw.get("name")
            if name not in consts:
                raise ProgramError(f"node {i} names an unknown constant")
            nodes.append(Node("const", name=name))
        elif op == "getitem":
            src = _int(raw.get("source"), f"node {i} source")
            if not 0 <= src < i:
                raise ProgramError(f"node {i} reads a node that does not come before it")
            nodes.append(Node("getitem", source=src, index=_int(raw.get("index"), f"node {i} index")))
        elif op == "call":
            target = raw.get("target")
            if not isinstance(target, str) or target.count(".") != 2:
                raise ProgramError(f"node {i}: a call needs a target 'aten.<op>.<overload>'")
            ns, name, overload = target.split(".")
            if ns != "aten" or name not in ALLOWED_OPS:
                raise ProgramError(f"node {i} calls {target[:80]!r}, which is not on the grader's allowlist")
            if not _OVERLOAD.match(overload):
                raise ProgramError(f"node {i}: bad overload name")
            args = _arg(raw.get("args", []), i, budget, caps)
            kwargs = _arg(raw.get("kwargs", {}), i, budget, caps)
            if not isinstance(args, tuple) or not isinstance(kwargs, dict):
                raise ProgramError(f"node {i}: args must be a list and kwargs an object")
            if "out" in kwargs:
                raise ProgramError(f"node {i}: out= arguments are not allowed")
            nodes.append(Node("call", target=name, overload=overload, args=args, kwargs=kwargs))
        else:
            raise ProgramError(f"node {i} has an unknown kind {str(op)[:20]!r}")
    for i, n in enumerate(nodes):
        for ref in _refs((n.args, n.kwargs)):
            if not 0 <= ref < i:
                raise ProgramError(f"node {i} uses node {ref}, which does not come before it")
    output = _arg(data.get("output"), len(nodes), budget, caps)
    if not list(_refs(output)):
        raise ProgramError("the program's output uses no node")
    if any(not 0 <= r < len(nodes) for r in _refs(output)):
        raise ProgramError("the program's output names an unknown node")
    how = data.get("how") if data.get("how") in ("export", "trace") else "trace"
    note = data.get("note") if isinstance(data.get("note"), str) else ""
    return Program(tuple(nodes), consts, output, how, note[:300])


def _int(v: Any, what: str) -> int:
    if type(v) is not int or not -(1 << 40) < v < (1 << 40):
        raise ProgramError(f"{what} is not an integer")
    return v


class _Ref:
    """A decoded reference (kept apart from plain data so a student string cannot forge one)."""

    __slots__ = ("kind", "value")

    def __init__(self, kind: str, value: Any):
        self.kind, self.value = kind, value


def _arg(v: Any, i: int, budget: list[int], caps: Caps, depth: int = 0) -> Any:
    budget[0] -= 1
    if budget[0] < 0 or depth > 8:
        raise ProgramError("the program's arguments are too large or too deep")
    t = type(v)
    if v is None or t in (bool, int, float):
        return v
    if t is str:
        if len(v) > caps.max_string:
            raise ProgramError(f"node {i}: a string argument is too long")
        return v
    if t in (list, tuple):
        return tuple(_arg(x, i, budget, caps, depth + 1) for x in v)
    if isinstance(v, Mapping):
        if len(v) == 1:
            (k, x), = v.items()
            if k == "$node":
                return _Ref("node", _int(x, f"node {i} reference"))
            if k == "$dtype":
                if x not in _DTYPES:
                    raise ProgramError(f"node {i}: unknown dtype {str(x)[:20]!r}")
                return _Ref("dtype", x)
            if k == "$device":
                return _Ref("device", "cpu")  # everything runs on the grader's CPU
            if k == "$layout":
                if x != "strided":
                    raise ProgramError(f"node {i}: only strided tensors")
                return _Ref("layout", x)
            if k == "$memory_format":
                if x not in _MEMORY_FORMATS:
                    raise ProgramError(f"node {i}: unknown memory format")
                return _Ref("memory_format", x)
        out = {}
        for k, x in v.items():
            if not isinstance(k, str) or k.startswith("$") or len(k) > caps.max_string:
                raise ProgramError(f"node {i}: bad keyword argument")
            out[k] = _arg(x, i, budget, caps, depth + 1)
        return out
    raise ProgramError(f"node {i}: an argument of type {t.__name__} is not allowed")


def _refs(v: Any) -> Iterable[int]:
    if isinstance(v, _Ref):
        if v.kind == "node":
            yield v.value
    elif isinstance(v, (tuple, list)):
        for x in v:
            yield from _refs(x)
    elif isinstance(v, dict):
        for x in v.values():
            yield from _refs(x)


# --------------------------------------------------------------------------- running


def _resolve(node: Node) -> Any:
    import torch

    packet = getattr(torch.ops.aten, node.target)
    if node.overload not in packet.overloads():
        raise ProgramError(f"aten.{node.target} has no overload {node.overload!r}")
    return getattr(packet, node.overload)


def _materialise(v: Any, values: list[Any], device: str) -> Any:
    import torch

    if isinstance(v, _Ref):
        if v.kind == "node":
            return values[v.value]
        if v.kind == "dtype":
            return getattr(torch, v.value)
        if v.kind == "device":
            return torch.device(device)
        if v.kind == "layout":
            return torch.strided
        return getattr(torch, v.value)
    if isinstance(v, tuple):
        return [_materialise(x, values, device) for x in v]
    if isinstance(v, dict):
        return {k: _materialise(x, values, device) for k, x in v.items()}
    return v


class _Gone:
    """A tensor the run no longer needs, dropped after its last use (its shape is kept)."""

    __slots__ = ("shape",)

    def __init__(self, shape: tuple):
        self.shape = shape

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def dim(self) -> int:
        return len(self.shape)


def _last_uses(program: Program) -> list[int]:
    last = list(range(len(program.nodes)))
    for k, node in enumerate(program.nodes):
        for r in _refs((node.args, node.kwargs)):
            last[r] = k
        if node.op == "getitem":
            last[node.source] = k
    for r in _refs(program.output):
        last[r] = len(program.nodes)
    return last


def _drop(v: Any) -> Any:
    import torch

    if isinstance(v, torch.Tensor):
        return _Gone(tuple(v.shape))
    if isinstance(v, (tuple, list)):
        return tuple(_drop(x) for x in v)
    return v


def _execute(program: Program, inputs: Sequence[Any], device: str) -> tuple[list[Any], list[Any]]:
    """Run the nodes in order; a value is dropped after its last use, so memory holds what is
    live, not every intermediate (dropped values keep their shapes for counting)."""
    import torch

    values: list[Any] = []
    last = _last_uses(program)
    users: dict[int, list[int]] = {}
    for r, k in enumerate(last):
        users.setdefault(k, []).append(r)
    try:
        for i, node in enumerate(program.nodes):
            if node.op == "input":
                if not 0 <= node.index < len(inputs):
                    raise ProgramError(f"node {i} reads input {node.index}, but the model had {len(inputs)}")
                x = inputs[node.index]
                values.append(x.to(device) if isinstance(x, torch.Tensor) else x)
            elif node.op == "const":
                arr = program.constants[node.name]
                t = torch.empty(arr.shape, dtype=_torch_dtype(arr.dtype), device="meta") if device == "meta" \
                    else torch.from_numpy(np.array(arr, copy=True))
                values.append(t)
            elif node.op == "getitem":
                src = values[node.source]
                if not isinstance(src, (tuple, list)) or not -len(src) <= node.index < len(src):
                    raise ProgramError(f"node {i} takes item {node.index} of something that has no such item")
                values.append(src[node.index])
            else:
                fn = _resolve(node)
                args = _materialise(node.args, values, device)
                kwargs = _materialise(node.kwargs, values, device)
                if _takes_device(fn):  # factory calls land where this run is (meta: nothing allocated)
                    kwargs["device"] = torch.device(device)
                if node.target in RANDOM_WHEN_TRAINING and _train_flag(args, kwargs) is not False:
                    raise ProgramError(f"node {i} is a random {node.target} (training mode)")
                values.append(fn(*args, **kwargs))
            for r in users.get(i, ()):
                values[r] = _drop(values[r])
    except ProgramError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bad program is the program's fault
        raise ProgramError(f"the program fails at node {len(values)} "
                           f"({_label(program.nodes[len(values)])}): {type(exc).__name__}: {str(exc)[:200]}") from None
    outs = [values[r] for r in _refs(program.output)]
    return outs, values


def _takes_device(fn: Any) -> bool:
    return any(a.name == "device" and a.kwarg_only for a in fn._schema.arguments)


def _train_flag(args: list, kwargs: dict) -> Any:
    if "train" in kwargs:
        return kwargs["train"]
    return args[2] if len(args) > 2 else None


def _label(node: Node) -> str:
    return f"aten.{node.target}.{node.overload}" if node.op == "call" else node.op


def _torch_dtype(dt: np.dtype) -> Any:
    import torch

    return torch.from_numpy(np.zeros(0, dtype=dt)).dtype


def _check_shapes(program: Program, inputs: Sequence[Any], caps: Caps) -> None:
    """Run on the meta device (shapes only) and refuse programs over the caps."""
    import torch

    meta_inputs = [torch.empty(x.shape, dtype=x.dtype, device="meta") if isinstance(x, torch.Tensor) else x
                   for x in inputs]
    # a meta run allocates nothing and does no arithmetic: checking after it is safe
    _, values = _execute(program, meta_inputs, "meta")
    users: dict[int, list[int]] = {}
    for r, k in enumerate(_last_uses(program)):
        users.setdefault(k, []).append(r)
    sizes = [0] * len(values)
    live = peak = 0
    work = 0.0
    for i, (node, v) in enumerate(zip(program.nodes, values)):
        for t in _tensors(v):
            n = t.numel()
            if n > caps.max_tensor_elements:
                raise ProgramError(f"node {i} ({_label(node)}) makes a tensor of {n:,} numbers "
                                   f"(at most {caps.max_tensor_elements:,})")
            if node.op == "call":
                sizes[i] += n
        live += sizes[i]
        peak = max(peak, live)
        live -= sum(sizes[r] for r in users.get(i, ()))
        if node.op == "call":
            work += _multiply_adds(node, v, values)
    if peak > caps.max_live_elements:
        raise ProgramError(f"the program's intermediates hold {peak:,} numbers at once "
                           f"(at most {caps.max_live_elements:,})")
    if work > caps.max_multiply_adds:
        raise ProgramError(f"the program needs {work:.3g} multiply-adds (at most {caps.max_multiply_adds:.3g})")


def _tensors(v: Any) -> list[Any]:
    import torch

    if isinstance(v, (torch.Tensor, _Gone)):
        return [v]
    if isinstance(v, (tuple, list)):
        return [t for x in v for t in _tensors(x)]
    return []


def _multiply_adds(node: Node, out: Any, values: list[Any]) -> float:
    """Rough work of one call: output size times the reduced length for conv/matmul-like ops."""
    outs = _tensors(out)
    size = float(sum(t.numel() for t in outs))
    ins = [values[r] for r in _refs(node.args)]
    ins = [t for x in ins for t in _tensors(x)]
    if node.target in OP_GROUPS["conv"] and len(ins) >= 2:
        w = ins[1]
        return size * (w.numel() / max(1, w.shape[0] if w.dim() else 1))
    if node.target in OP_GROUPS["linear"] | OP_GROUPS["recurrent"] and ins:
        return size * max(t.shape[-1] if t.dim() else 1 for t in ins) * (4 if node.target in
                                                                          OP_GROUPS["recurrent"] else 1)
    return size * 4


# --------------------------------------------------------------------------- judging


def agree(got: Sequence[Any], want: Sequence[np.ndarray], rtol: float = 1e-3) -> tuple[bool, str]:
    """Do the program's outputs match the live module's? Loose enough for kernel and thread
    differences between two processes (observed: ~1e-6 relative), tight enough that a
    different function does not pass."""
    if len(got) != len(want):
        return False, f"the program returns {len(got)} tensor(s), the model returned {len(want)}"
    for k, (g, w) in enumerate(zip(got, want)):
        g = g.detach().cpu().numpy() if hasattr(g, "detach") else np.asarray(g)
        w = np.asarray(w)
        if g.shape != w.shape:
            return False, f"output {k}: shape {tuple(g.shape)} from the program, {tuple(w.shape)} from the model"
        if w.dtype.kind not in "biufc" or g.dtype.kind not in "biufc":
            return False, f"output {k} is not numeric"
        g64, w64 = g.astype(np.float64), w.astype(np.float64)
        if not (np.isfinite(w64).all() and np.isfinite(g64).all()):
            if np.array_equal(np.isnan(g64), np.isnan(w64)) and np.array_equal(g64[~np.isnan(g64)],
                                                                              w64[~np.isnan(w64)]):
                continue
            return False, f"output {k}: NaN/inf where the model had other values"
        scale = max(1.0, float(np.abs(w64).max(initial=0.0)))
        err = float(np.abs(g64 - w64).max(initial=0.0))
        if err > rtol * scale:
            return False, f"output {k} differs by {err:.3g} (allowed {rtol * scale:.3g})"
    return True, ""


@dataclass(frozen=True)
class Structure:
    """What the grader counted in a program it ran."""

    op_counts: Mapping[str, int]  # aten op name -> calls that reach the output
    groups: Mapping[str, int]  # OP_GROUPS name -> calls
    skips: tuple[Mapping[str, Any], ...]  # residual sites (see graph.find_skips)


def _const_only(program: Program) -> list[bool]:
    """Per node: computed from constants alone (a weight, its transpose, a view of it), so
    it is part of a layer's parameters rather than a layer of its own."""
    nodes = program.nodes
    out = [False] * len(nodes)
    for i, n in enumerate(nodes):
        if n.op == "const":
            out[i] = True
        elif n.op == "getitem":
            out[i] = out[n.source]
        elif n.op == "call":
            refs = list(_refs((n.args, n.kwargs)))
            out[i] = bool(refs) and all(out[r] for r in refs)
    return out


def structure(program: Program, values: list[Any]) -> Structure:
    """Count ops and skip connections; ``values`` come from :meth:`Program.run`."""
    import collections

    from ..sandbox.probes.graph import Node as GNode, find_skips, op_kind

    nodes = program.nodes
    live = _reaching_output(program)
    const_only = _const_only(program)
    counts: collections.Counter = collections.Counter()
    groups: collections.Counter = collections.Counter()
    for i, n in enumerate(nodes):
        if n.op != "call" or not live[i] or const_only[i]:
            continue
        counts[n.target] += 1
        for g, ops in OP_GROUPS.items():
            if n.target in ops and (g not in NEEDS_WEIGHT or _has_weight(n, const_only)):
                groups[g] += 1
    gnodes: list[GNode] = []
    for i, n in enumerate(nodes):
        shape = tuple(values[i].shape) if hasattr(values[i], "shape") else None
        is_tensor = hasattr(values[i], "shape")
        if n.op in ("input", "const"):
            gnodes.append(GNode(parents=[], kind="leaf", name=n.op, shape=shape, tensor=is_tensor))
            continue
        if n.op == "getitem":
            gnodes.append(GNode(parents=[n.source], kind="op", name="getitem", shape=shape, tensor=is_tensor))
            continue
        parents = [r for r in dict.fromkeys(_refs((n.args, n.kwargs))) if not const_only[r]]
        path = live[i] and n.target in PATH_OPS and not const_only[i]
        layer = path and n.target in LAYER_OPS and (n.target not in OP_GROUPS["linear"] or _has_weight(n, const_only))
        kind = op_kind(n.target) if live[i] else "op"
        gnodes.append(GNode(parents=parents, kind=kind, name=n.target, module=path, layer=layer, shape=shape,
                            tensor=is_tensor))
    skips = tuple(s for s in find_skips(gnodes) if _through_layer(s))
    return Structure(dict(counts), dict(groups), skips)


def _has_weight(node: Node, const_only: list[bool]) -> bool:
    return any(const_only[r] for r in _refs(node.args))


def _through_layer(site: Mapping[str, Any]) -> bool:
    """A residual skips over a layer (conv/linear/recurrent), not just an activation."""
    if site.get("kind") == "identity":
        return int(site.get("layers", 0)) >= 1
    return max(site.get("layer_paths") or [int(site.get("layers", 0))]) >= 1


def _reaching_output(program: Program) -> list[bool]:
    live = [False] * len(program.nodes)
    for r in _refs(program.output):
        live[r] = True
    for i in range(len(program.nodes) - 1, -1, -1):
        if not live[i]:
            continue
        n = program.nodes[i]
        if n.op == "getitem":
            live[n.source] = True
        for r in _refs((n.args, n.kwargs)):
            live[r] = True
    # an in-place call (relu_, add_) changes a tensor other nodes read: keep the ones whose
    # first argument is live, as their effect reaches the output through it
    changed = True
    while changed:
        changed = False
        for i, n in enumerate(program.nodes):
            if n.op == "call" and not live[i] and n.target.endswith("_") and n.args:
                first = n.args[0]
                if isinstance(first, _Ref) and first.kind == "node" and live[first.value]:
                    live[i] = True
                    for r in _refs((n.args, n.kwargs)):
                        live[r] = True
                    changed = True
    return live


@dataclass(frozen=True)
class Call:
    """One call of a program as a course judge reads it (layer order, sizes, initial weights)."""

    op: str  # aten op name, e.g. "conv2d"
    groups: tuple[str, ...]  # the OP_GROUPS it counts in (as in `structure`)
    inputs: tuple[tuple[int, ...], ...]  # shapes of its data operands (made from the inputs)
    output: tuple[int, ...] | None  # shape of its result (of its first item, for a tuple), when a tensor
    constants: tuple[np.ndarray, ...]  # the constants its constant operands come from (weights, biases, running
    # stats), as stored: a weight used through a transpose (``addmm(b, x, t(W))``) is W


def calls(program: Program, values: list[Any]) -> tuple[Call, ...]:
    """The calls that reach the output, in program order (calls on constants alone, such as a
    weight's transpose, are folded into the calls that use them); ``values`` come from
    :meth:`Program.run`. For judges that need more than counts: which layer follows which,
    with what sizes and what initial weights."""
    nodes = program.nodes
    live = _reaching_output(program)
    const_only = _const_only(program)

    def shape(v: Any) -> tuple[int, ...] | None:
        if isinstance(v, (tuple, list)) and v:  # (values, indices) of max_pool2d_with_indices
            v = v[0]
        return tuple(int(s) for s in v.shape) if hasattr(v, "shape") else None

    out = []
    for i, n in enumerate(nodes):
        if n.op != "call" or not live[i] or const_only[i] or n.target in NO_OUTPUT:
            continue
        refs = list(dict.fromkeys(_refs((n.args, n.kwargs))))
        groups = tuple(g for g, ops in OP_GROUPS.items()
                       if n.target in ops and (g not in NEEDS_WEIGHT or _has_weight(n, const_only)))
        data = tuple(s for s in (shape(values[r]) for r in refs if not const_only[r]) if s is not None)
        consts = tuple(a for a in (_origin(program, r) for r in refs if const_only[r]) if a is not None)
        out.append(Call(n.target, groups, data, shape(values[i]), consts))
    return tuple(out)


def _origin(program: Program, r: int) -> np.ndarray | None:
    """The stored constant a constant-only operand is made from (following transposes, views)."""
    for _ in range(64):
        node = program.nodes[r]
        if node.op == "const":
            return program.constants.get(node.name)
        if node.op == "getitem":
            r = node.source
            continue
        first = next(iter(_refs((node.args, node.kwargs))), None)
        if first is None:
            return None
        r = first
    return None
def warm_up() -> None:
    """Pay the first `meta` dispatch's lazy set-up (torch's meta registrations and
    decompositions: ~1 s of CPU, ~5 s on a loaded machine) before a structure check needs
    it. grader.sandbox_runner calls this in a thread when the first job asking for a
    module's program starts, so its judging does not wait for it after the run (and a
    grading without one never pays for it). Only a speed-up."""
    import torch

    aten = torch.ops.aten

    def meta(*shape: int) -> Any:
        return torch.empty(*shape, device="meta")

    x = aten.convolution.default(meta(2, 3, 8, 8), meta(4, 3, 3, 3), meta(4), [1, 1], [1, 1], [1, 1], False,
                                 [0, 0], 1)
    y = aten._native_batch_norm_legit_no_training.default(x, meta(4), meta(4), meta(4), meta(4), 0.1, 1e-5)[0]
    y = aten.max_pool2d_with_indices.default(aten.add.Tensor(aten.relu.default(y), x), [2, 2], [2, 2])[0]
    aten.addmm.default(meta(2), aten.view.default(y, [2, -1]), meta(64, 2))
