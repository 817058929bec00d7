"""A module's forward as plain data (a *program*), for the grader to rebuild and check.

Everything this child computes about the student's code is a claim: student code runs in
the same process and can rewrite any fact. So the ``module`` probe (with ``"program":
true``) also sends the forward itself: :func:`program_of` exports it with
``torch.export`` (non-strict: a graph of ``aten`` ops over the parameters, buffers and
inputs) or, when export fails (data-dependent control flow, unsupported Python), records
the ``aten`` calls of one real run with ``make_fx``. The result is JSON-able data plus
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
from torch.fx.experimental.proxy_tensor import make_fx

from . import ProbeContext, ProbeError, R, probe

FORMAT = "aten-program/1"
MAX_NODES = 20_000

# references taken at import, before any student code runs (see probes.R)
_export = torch.export.export
_make_fx = make_fx
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
    def run(*xs: Any) -> Any:
        return model(*xs)

    with R.no_grad():
        gm = _make_fx(run, tracing_mode="real")(*inputs)
    b = _Builder()
    user = 0
    out_node = None
    for node in gm.graph.nodes:
        if node.op == "placeholder":
            b.input(node, user)
            user += 1
        elif node.op == "get_attr":
            value = R.getattr_(gm, node.target)
            if not R.isinstance_(value, R.Tensor):
                raise Unsupported(f"attribute {node.target} is not a tensor")
            b.const(node, str(node.target), value)
        elif node.op == "output":
            out_node = node
        else:
            b.call(node)
    if out_node is None:
        raise Unsupported("no output")
    return b.done(_flat_nodes(out_node.args[0]), "trace")


def _flat_nodes(value: Any) -> list:
    if R.isinstance_(value, _FxNode):
        return [value]
    if R.isinstance_(value, (list, tuple)):
        return [n for v in value for n in _flat_nodes(v)]
    if R.isinstance_(value, dict):
        return [n for v in value.values() for n in _flat_nodes(v)]
    return []


class _Builder:
    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.nodes: list[dict[str, Any]] = []
        self.constants: dict[str, Any] = {}

    def _add(self, fx_node: Any, entry: dict[str, Any]) -> None:
        if len(self.nodes) >= MAX_NODES:
            raise ProbeError(f"the forward has more than {MAX_NODES} operations")
        self.index[fx_node] = len(self.nodes)
        self.nodes.append(entry)

    def input(self, fx_node: Any, i: int) -> None:
        self._add(fx_node, {"op": "input", "index": i})

    def const(self, fx_node: Any, name: str, value: Any) -> None:
        name = f"c{len(self.constants)}:{name}"[:60]
        self.constants[name] = R.tensor_clone(R.tensor_detach(value))
        self._add(fx_node, {"op": "const", "name": name})

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
                "output": [{"$node": self.index[o]} for o in outs]}


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
