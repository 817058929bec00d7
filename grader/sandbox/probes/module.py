"""``module``: build a student nn.Module, run it, report its output and structure facts.

args::

    {"class": "CNN", "args": [...], "kwargs": {...}, "seed": 0,
     "eval": true,                 # model.eval() before running (default true)
     "method": "forward",          # the method to run
     "inputs": [wire.tensor(x)],   # positional inputs (markers resolved)
     "input_kwargs": {},
     "no_grad": true,
     "run": true,                  # false: structure only, nothing is run
     "residual": true,             # look for a skip connection
     "state_dict": false,          # also return the initial weights
     "program": false,             # also send the forward as a program (probes/export.py)
     "keep": ""}                   # keep the instance under this token for module_outputs

returns a dict::

    output                 what the method returned (tensors -> arrays)
    module_counts          {class name: count} over model.modules() (the model included)
    torch_module_counts    the same by nearest torch.nn class (a student's
                           ``class MyConv(nn.Conv2d)`` counts as Conv2d; containers too)
    functional_calls       {function name: count} of torch calls made outside built-in
                           torch.nn layers during the run (F.relu, torch.sigmoid,
                           F.max_pool2d, __add__, cat, view, ...)
    params_total, params_trainable
    residual               {"found": bool, "method": "fx" | "dynamic" | "none",
                            "sites": [...], "fx_error": str}  (see probes/graph.py)
    state_dict             {name: array} when asked
    program                the forward as data (probes/export.py) when asked, or
    program_error          why it could not be exported nor traced

Every fact above is computed in the student's process and is a claim: the grader trusts
structure only as it counts it on the program it rebuilt and ran (grader.checks.program).
"""

from __future__ import annotations

import collections
from typing import Any

import torch
import torch.fx
import torch.nn as nn
from torch.fx.node import map_aggregate
from torch.overrides import TorchFunctionMode

from ..timer import CpuLimit, Timeout
from . import ProbeContext, ProbeError, R, probe
from .export import KEPT, program_of
from .graph import Node, find_skips, op_kind

CONTAINERS = (nn.Sequential, nn.ModuleList, nn.ModuleDict)
LAYER_FUNCS = {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "linear", "bilinear",
               "matmul", "mm", "bmm", "__matmul__", "einsum", "embedding", "gru", "lstm", "rnn_tanh", "rnn_relu"}
_register_pre = torch.nn.modules.module.register_module_forward_pre_hook
_register_post = torch.nn.modules.module.register_module_forward_hook
_symbolic_trace = torch.fx.symbolic_trace


def _is_builtin(m: Any) -> bool:
    mod = type(m).__module__ or ""
    return mod.startswith("torch.nn.") and not isinstance(m, CONTAINERS)


def _has_params(m: Any) -> bool:
    try:
        return any(True for _ in m.parameters(recurse=False))
    except Exception:  # noqa: BLE001
        return False


def _tensors(obj: Any, out: list, depth: int = 0) -> list:
    if depth > 4:
        return out
    if isinstance(obj, torch.Tensor):
        out.append(obj)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            _tensors(v, out, depth + 1)
    elif isinstance(obj, dict):
        for v in obj.values():
            _tensors(v, out, depth + 1)
    return out


def _fname(func: Any) -> str:
    name = getattr(func, "__name__", None)
    if not isinstance(name, str):
        name = type(func).__name__
    return name


class Tracer(TorchFunctionMode):
    """Counts functional calls and records tensor lineage during one forward."""

    def __init__(self, max_nodes: int = 20000):
        super().__init__()
        self.nodes: list[Node] = []
        self.cur: dict[int, int] = {}
        self.keep: list[Any] = []
        self.stack: list[tuple[Any, int]] = []
        self.counts: collections.Counter = collections.Counter()
        self.max_nodes = max_nodes
        self.overflow = False

    def _inside_builtin(self) -> bool:
        return bool(self.stack) and _is_builtin(self.stack[-1][0])

    def node_of(self, t: Any) -> int:
        i = self.cur.get(id(t))
        if i is None:
            i = self._new(Node(kind="leaf", shape=tuple(t.shape)))
            self.cur[id(t)] = i
            self.keep.append(t)
        return i

    def _new(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = _fname(func)
        inside = self._inside_builtin()
        if not inside and name not in ("__get__", "__set__"):
            self.counts[name] += 1
        out = func(*args, **kwargs)
        if name in ("__get__", "__set__") or self.overflow:
            return out
        try:
            outs = _tensors(out, [])
            if outs:
                parents = [self.node_of(t) for t in _tensors((args, kwargs), [])]
                for t in outs:
                    if len(self.nodes) >= self.max_nodes:
                        self.overflow = True
                        break
                    i = self._new(Node(parents=list(parents), kind=op_kind(name), name=name,
                                       module=name in LAYER_FUNCS and not inside,
                                       layer=name in LAYER_FUNCS and not inside,
                                       shape=tuple(t.shape), inside_builtin=inside))
                    self.cur[id(t)] = i
                    self.keep.append(t)
        except Exception:  # noqa: BLE001 - lineage is best effort
            pass
        return out

    def pre_hook(self, module: Any, inputs: Any) -> None:
        self.stack.append((module, len(self.nodes), [self.node_of(t) for t in _tensors(inputs, [])]))

    def post_hook(self, module: Any, inputs: Any, output: Any) -> None:
        if not self.stack:
            return
        m, start, in_nodes = self.stack.pop()
        if not _is_builtin(module) or self._inside_builtin():
            return
        params = _has_params(module)
        in_ids = {id(t) for t in _tensors(inputs, [])}
        for t in _tensors(output, []):
            if id(t) in in_ids:
                continue  # identity-like module: no new node
            i = self.cur.get(id(t))
            if i is not None and i >= start:
                self.nodes[i].module = True
                self.nodes[i].layer = self.nodes[i].layer or params
            else:
                j = self._new(Node(parents=list(in_nodes), kind="op", name=type(module).__name__, module=True,
                                   layer=params, shape=tuple(t.shape)))
                self.cur[id(t)] = j
                self.keep.append(t)


def structure(model: Any) -> dict[str, Any]:
    counts: collections.Counter = collections.Counter()
    torch_counts: collections.Counter = collections.Counter()
    for m in R.module_modules(model):
        counts[type(m).__name__] += 1
        for klass in type(m).__mro__:
            if (klass.__module__ or "").startswith("torch.nn.modules") and klass is not nn.Module:
                torch_counts[klass.__name__] += 1
                break
    total = trainable = 0
    for p in R.module_parameters(model):
        n = R.numel(p)
        total += n
        if p.requires_grad:
            trainable += n
    return {
        "module_counts": dict(counts.most_common(300)),
        "torch_module_counts": dict(torch_counts.most_common(300)),
        "params_total": int(total),
        "params_trainable": int(trainable),
    }


SHAPE = "recorded_shape"  # fx node meta key: the node's output holds a tensor; its shape, or None


class ShapeRecorder(torch.fx.Interpreter):
    """What torch's ``ShapeProp`` tells :func:`fx_nodes`, without it: each node is run for
    real and, when its output holds a tensor, ``meta[SHAPE]`` is set to the tensor's shape
    (None for a tuple or dict of tensors). Why not ShapeProp: its ``run_node`` imports
    ``torch.fx.experimental.symbolic_shapes`` (sympy), 0.45 s of CPU once per process, on
    the sandbox server's start-up path for every grading. A tensor without strides (sparse)
    fails here as it fails ShapeProp, and then no shapes are used."""

    def run_node(self, n: torch.fx.Node) -> Any:
        result = super().run_node(n)
        found: list[bool] = []

        def visit(obj: Any) -> Any:
            if isinstance(obj, torch.Tensor):
                obj.stride()  # raises for layouts without strides, as ShapeProp's metadata does
                found.append(True)
            return obj

        map_aggregate(result, visit)
        if found:
            n.meta[SHAPE] = tuple(result.shape) if isinstance(result, torch.Tensor) else None
        return result


def fx_nodes(model: Any, inputs: list, kwargs: dict) -> list[Node]:
    gm = _symbolic_trace(model)
    try:
        ShapeRecorder(gm).run(*inputs)
        shapes = True
    except Exception:  # noqa: BLE001 - shapes are optional
        shapes = False
    index: dict[Any, int] = {}
    nodes: list[Node] = []
    for n in gm.graph.nodes:
        if n.op == "output":
            continue
        parents = [index[p] for p in n.all_input_nodes if p in index]
        shape = n.meta.get(SHAPE) if shapes else None
        is_tensor = SHAPE in n.meta if shapes else True
        if n.op in ("placeholder", "get_attr"):
            node = Node(parents=[], kind="leaf", name=str(n.target), shape=shape, tensor=is_tensor)
        elif n.op == "call_module":
            sub = gm.get_submodule(n.target)
            node = Node(parents=parents, kind="op", name=type(sub).__name__, module=True,
                        layer=_has_params(sub), shape=shape, tensor=is_tensor)
        else:
            name = n.target if isinstance(n.target, str) else _fname(n.target)
            node = Node(parents=parents, kind=op_kind(name), name=name, module=name in LAYER_FUNCS,
                        layer=name in LAYER_FUNCS, shape=shape, tensor=is_tensor)
        index[n] = len(nodes)
        nodes.append(node)
    return nodes


@probe("module")
def module_probe(ctx: ProbeContext, args: dict) -> Any:
    if not isinstance(args.get("class"), str):
        raise ProbeError("module needs a 'class' name")
    model = ctx.construct({"class": args["class"], "args": args.get("args", []), "kwargs": args.get("kwargs", {}),
                           "seed": args.get("seed", 0)})
    if not R.isinstance_(model, R.Module):
        raise ProbeError(f"{args['class']}(...) is a {type(model).__name__}, not a torch.nn.Module")
    facts: dict[str, Any] = structure(model)
    if args.get("state_dict"):
        facts["state_dict"] = {k: v for k, v in R.module_state_dict(model).items()}
    if args.get("eval", True):
        R.module_eval(model)
    if not args.get("run", True):
        return facts
    ctx.vars["model"] = model
    inputs = ctx.resolve(list(args.get("inputs", [])))
    in_kwargs = ctx.resolve(dict(args.get("input_kwargs", {})))
    method = args.get("method", "forward")
    fn = getattr(model, method, None) if isinstance(method, str) else None
    if fn is None or not callable(fn):
        raise ProbeError(f"{args['class']} has no method {method!r}")
    call = model if method == "forward" else fn  # model(...) so hooks run as in training
    tracer = Tracer()
    handles = [_register_pre(tracer.pre_hook), _register_post(tracer.post_hook)]
    try:
        grad_ctx = R.no_grad() if args.get("no_grad", True) else R.enable_grad()
        with grad_ctx, tracer:
            out = call(*inputs, **in_kwargs)
    finally:
        for h in handles:
            h.remove()
    facts["output"] = out
    facts["functional_calls"] = dict(tracer.counts.most_common(200))
    if args.get("residual", True):
        res: dict[str, Any] = {"found": False, "method": "none", "sites": [], "fx_error": ""}
        try:
            if method != "forward":
                raise ProbeError(f"fx traces forward only, not {method!r}")
            with R.no_grad():
                sites = find_skips(fx_nodes(model, inputs, in_kwargs))
            res["method"] = "fx"
        except BaseException as exc:  # noqa: BLE001 - fx cannot trace everything
            if isinstance(exc, (KeyboardInterrupt, SystemExit, Timeout, CpuLimit)):
                raise
            res["fx_error"] = f"{type(exc).__name__}: {exc}"[:500]
            sites = find_skips(tracer.nodes) if not tracer.overflow else []
            res["method"] = "dynamic" if not tracer.overflow else "none"
        res["sites"] = sites[:20]
        res["found"] = bool(sites)
        facts["residual"] = res
    if args.get("program"):
        if isinstance(args.get("keep"), str) and args["keep"]:
            KEPT[args["keep"]] = model
        try:
            if method != "forward" or in_kwargs:
                raise ProbeError("only forward(*tensors) can be sent as a program")
            with R.no_grad():
                facts["program"] = program_of(model, inputs)
        except ProbeError as exc:
            facts["program_error"] = str(exc)[:600]
    return facts
