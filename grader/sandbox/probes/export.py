"""A module's forward as plain data (a *program*), for the grader to rebuild and check.

Everything this child computes about the student's code is a claim: student code runs in
the same process and can rewrite any fact. So the ``module`` probe (with ``"program":
true``) also sends the forward itself: :func:`program_of` exports it with
``torch.export`` (non-strict: a graph of ``aten`` ops over the parameters, buffers and
inputs) or, when export fails (data-dependent control flow, unsupported Python), records
the ``aten`` calls of one real run with a dispatch mode (:class:`_Recorder`). The result is JSON-able data plus
arrays, sent over the usual pickle-free wire; the grader rebuilds it from an allowlist
(grader.checks.program), counts the structure itself and runs it.

The second step, probe ``module_outputs``, runs the *same* model instance (kept in
:data:`KEPT` by the ``module`` probe) on inputs the grader sends only then, after the
program was sent: a program must reproduce the model on inputs nobody could precompute.
(The grader runs it in a later request stage; it reaches the child after the first
stage has answered once the server sends each probe's arguments when the probe starts.)

Format (``FORMAT``)::

    {"format": "aten-program/1", "how": "export" | "trace", "note": str,
     "nodes": [{"op": "input", "index": i} | {"op": "const", "name": str}
               | {"op": "getitem", "source": j, "index": k}
               | {"op": "call", "target": "aten.<op>.<overload>", "args": [...], "kwargs": {...}}],
     "constants": {name: tensor}, "output": [{"$node": j}, ...]}

Arguments: numbers, bools, None, short strings, lists, ``{"$node": j}``,
``{"$dtype": "float32"}``, ``{"$device": "cpu"}``, ``{"$layout": "strided"}``,
``{"$memory_format": name}``.
"""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.export
import torch.fx
from torch.utils._python_dispatch import TorchDispatchMode

from . import ProbeContext, ProbeError, R, probe

FORMAT = "aten-program/1"
MAX_NODES = 20_000

# references taken at import, before any student code runs (see probes.R)
_export = torch.export.export
_DispatchMode = TorchDispatchMode
_OpOverload = torch._ops.OpOverload
_FxNode = torch.fx.Node
_getitem = operator.getitem
_InputKind = torch.export.graph_signature.InputKind
_OutputKind = torch.export.graph_signature.OutputKind

KEPT: dict[str, Any] = {}  # token -> the model instance the ``module`` probe exported


class Unsupported(Exception):
    """This graph has something the program format cannot say (the caller falls back)."""


def program_of(model: Any, inputs: list) -> dict[str, Any]:
    """The model's forward on ``inputs`` as a program; :class:`ProbeError` if neither
    export nor a trace works."""
    try:
        return _from_export(model, inputs)
    except Exception as exc:  # noqa: BLE001 - export refuses much (data-dependent control flow)
        export_error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:300]
    try:
        program = _from_trace(model, inputs)
    except Exception as exc:  # noqa: BLE001
        raise ProbeError(f"the forward could not be exported ({export_error}) nor traced "
                         f"({type(exc).__name__}: {str(exc)[:200]})") from None
    program["note"] = f"torch.export failed ({export_error}); the ops of one run were recorded instead"
    return program


def _from_export(model: Any, inputs: list) -> dict[str, Any]:
    ep = _export(model, tuple(inputs), strict=False)
    sig = ep.graph_signature
    state = ep.state_dict
    consts = ep.constants
    specs = list(sig.input_specs)
    b = _Builder()
    user = 0
    placeholders = [n for n in ep.graph.nodes if n.op == "placeholder"]
    if len(placeholders) != len(specs):
        raise Unsupported("placeholders and input specs disagree")
    for node, spec in zip(placeholders, specs):
        if spec.kind == _InputKind.USER_INPUT:
            b.input(node, user)
            user += 1
        elif spec.kind in (_InputKind.PARAMETER, _InputKind.BUFFER, _InputKind.CONSTANT_TENSOR):
            value = state[spec.target] if spec.target in state else consts.get(spec.target)
            if not R.isinstance_(value, R.Tensor):
                raise Unsupported(f"no tensor for {spec.target}")
            b.const(node, spec.target, value)
        else:
            raise Unsupported(f"input kind {spec.kind}")
    out_node = None
    for node in ep.graph.nodes:
        if node.op == "placeholder":
            continue
        if node.op == "output":
            out_node = node
            continue
        b.call(node)
    if out_node is None:
        raise Unsupported("no output")
    outs = list(out_node.args[0])
    kinds = [s.kind for s in sig.output_specs]
    if len(kinds) == len(outs):
        outs = [o for o, k in zip(outs, kinds) if k == _OutputKind.USER_OUTPUT]
    return b.done(outs, "export")


def _from_trace(model: Any, inputs: list) -> dict[str, Any]:
    """Record the ``aten`` calls of one real run (a dispatch mode sees every op below
    autograd): data-dependent branches simply take the path this input takes."""
    b = _Builder()
    rec = _Recorder(b, inputs)
    with R.no_grad(), rec:
        out = model(*inputs)
    outs = [t for t in _leaves(out) if R.isinstance_(t, R.Tensor)]
    if rec.error:
        raise Unsupported(rec.error)
    return b.done([rec.node_of(t) for t in outs], "trace")


def _leaves(value: Any, depth: int = 0) -> list:
    if depth > 4:
        return []
    if R.isinstance_(value, (list, tuple)):
        return [x for v in value for x in _leaves(v, depth + 1)]
    if R.isinstance_(value, dict):
        return [x for v in value.values() for x in _leaves(v, depth + 1)]
    return [value]


class _Recorder(_DispatchMode):
    """Maps each tensor (by identity; every one is kept alive so ids stay unique) to the node
    that made it; a tensor no recorded op made is an input or a constant (its value then)."""

    def __init__(self, builder: "_Builder", inputs: list):
        super().__init__()
        self.b = builder
        self.ids: dict[int, int] = {}
        self.keep: list[Any] = []
        self.error = ""
        for i, t in enumerate(inputs):
            if R.isinstance_(t, R.Tensor):
                self.ids[id(t)] = self.b.add({"op": "input", "index": i})
                self.keep.append(t)

    def node_of(self, t: Any) -> int:
        i = self.ids.get(id(t))
        if i is None:
            i = self.b.add({"op": "const", "name": ""}, const=R.tensor_clone(R.tensor_detach(t)))
            self.ids[id(t)] = i
            self.keep.append(t)
        return i

    def arg(self, v: Any) -> Any:
        if R.isinstance_(v, R.Tensor):
            return {"$node": self.node_of(v)}
        if R.isinstance_(v, (list, tuple)):
            return [self.arg(x) for x in v]
        return self.b.arg(v)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.error:
            return out
        try:
            leaves = _leaves(out)
            if not any(R.isinstance_(t, R.Tensor) for t in leaves):
                return out  # item(), sizes: their values are baked into later calls
            call = self.b.add({"op": "call", "target": str(func), "args": self.arg(list(args)),
                               "kwargs": {k: self.arg(v) for k, v in kwargs.items()}})
            if R.isinstance_(out, R.Tensor):
                self.ids[id(out)] = call
                self.keep.append(out)
            elif R.isinstance_(out, (list, tuple)):
                for k, t in enumerate(out):
                    if R.isinstance_(t, R.Tensor):
                        self.ids[id(t)] = self.b.add({"op": "getitem", "source": call, "index": k})
                        self.keep.append(t)
        except Exception as exc:  # noqa: BLE001 - reported after the run, which goes on
            self.error = f"{type(exc).__name__}: {exc}"[:300]
        return out


class _Builder:
    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.nodes: list[dict[str, Any]] = []
        self.constants: dict[str, Any] = {}

    def add(self, entry: dict[str, Any], const: Any = None) -> int:
        if len(self.nodes) >= MAX_NODES:
            raise ProbeError(f"the forward has more than {MAX_NODES} operations")
        if const is not None:
            entry["name"] = f"c{len(self.constants)}:{entry.get('name', '')}"[:60]
            self.constants[entry["name"]] = const
        self.nodes.append(entry)
        return len(self.nodes) - 1

    def _add(self, fx_node: Any, entry: dict[str, Any], const: Any = None) -> None:
        self.index[fx_node] = self.add(entry, const)

    def input(self, fx_node: Any, i: int) -> None:
        self._add(fx_node, {"op": "input", "index": i})

    def const(self, fx_node: Any, name: str, value: Any) -> None:
        self._add(fx_node, {"op": "const", "name": name}, const=R.tensor_clone(R.tensor_detach(value)))

    def call(self, fx_node: Any) -> None:
        if fx_node.op != "call_function":
            raise Unsupported(f"{fx_node.op} nodes")
        target = fx_node.target
        if target is _getitem:
            src, idx = fx_node.args
            self._add(fx_node, {"op": "getitem", "source": self.index[src], "index": int(idx)})
            return
        if not R.isinstance_(target, _OpOverload):
            raise Unsupported(f"call of {getattr(target, '__name__', type(target).__name__)}")
        self._add(fx_node, {"op": "call", "target": str(target), "args": self.arg(fx_node.args),
                            "kwargs": {k: self.arg(v) for k, v in fx_node.kwargs.items()}})

    def arg(self, v: Any) -> Any:
        if v is None or R.type_(v) in (bool, int, float, str):
            return v
        if R.isinstance_(v, _FxNode):
            return {"$node": self.index[v]}
        if R.isinstance_(v, (list, tuple)):
            return [self.arg(x) for x in v]
        if R.isinstance_(v, torch.dtype):
            return {"$dtype": str(v).replace("torch.", "")}
        if R.isinstance_(v, torch.device):
            return {"$device": "cpu"}
        if R.isinstance_(v, torch.layout):
            return {"$layout": str(v).replace("torch.", "")}
        if R.isinstance_(v, torch.memory_format):
            return {"$memory_format": str(v).replace("torch.", "")}
        raise Unsupported(f"an argument of type {type(v).__name__}")

    def done(self, outs: list, how: str) -> dict[str, Any]:
        return {"format": FORMAT, "how": how, "note": "", "nodes": self.nodes, "constants": self.constants,
                "output": [{"$node": o if R.type_(o) is int else self.index[o]} for o in outs]}


def warm_up() -> None:
    """Export and trace a tiny model once (the first ``torch.export`` of a process takes ~4 s
    of lazy set-up; the server calls this before it forks, so each child pays ~0.4 s)."""
    import torch.nn as nn

    tiny = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8, 2)).eval()
    with R.no_grad():
        program_of(tiny, [torch.zeros(1, 1, 4, 4)])
        _from_trace(tiny, [torch.zeros(1, 1, 4, 4)])


@probe("module_outputs")
def module_outputs(ctx: ProbeContext, args: dict) -> Any:
    """Run the model the ``module`` probe kept (or, in a fresh child, an identical new one)
    on the inputs sent now. args: ``keep`` (token), ``inputs``, and the ``module`` probe's
    ``class``/``args``/``kwargs``/``seed``/``eval`` to rebuild it when it is gone."""
    model = KEPT.get(str(args.get("keep")))
    if model is None:
        if not isinstance(args.get("class"), str):
            raise ProbeError("module_outputs needs 'keep' or a 'class'")
        model = ctx.construct({"class": args["class"], "args": args.get("args", []),
                               "kwargs": args.get("kwargs", {}), "seed": args.get("seed", 0)})
        if not R.isinstance_(model, R.Module):
            raise ProbeError(f"{args['class']}(...) is not a torch.nn.Module")
        if args.get("eval", True):
            R.module_eval(model)
    inputs = ctx.resolve(list(args.get("inputs", [])))
    with R.no_grad():
        out = model(*inputs)
    return {"output": out}
