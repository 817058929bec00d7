"""Probes that exercise a student's objects the way their own notebook would use them.

- ``draw``: iterate an iterable (a data set, a generator) and return its first items;
- ``call_stubbed``: call a function with *stub* objects as arguments (objects whose
  methods map a string to a shifted, optionally translated copy of it) and report what
  the function returned and how it used the stubs;
- ``forward_with_state``: construct an ``nn.Module``, load given weights into it by
  shape and call it on inputs.

As everywhere, the child reports raw facts; whether they are right is decided in the
grader's process.

args of ``draw``::

    {"target": NAME | {"$new": {...}}, "args": [...], "kwargs": {...},   # called when `call` is true
     "call": false, "count": 50, "seed": 0}

returns ``{"items": [item, ...], "exhausted": bool}`` (at most `count` items; tuples stay tuples).

args of ``call_stubbed``::

    {"target": NAME, "args": [...], "kwargs": {...}, "seed": 0,
     "stubs": {"model": {"methods": {"run": {"shift": 4 | {"arg": 1} | {"$ref": NAME},
                                             "fill": " ", "translate": ["abc", "bca"]}},
                         "attrs": {"size": 3}}},
     "defaults": {"NAME": value}}       # globals set for the call only when the notebook lacks them

A stub method called as ``run(s, *rest)`` returns ``fill * k + s[:len(s) - k]`` for the
shift ``k`` (a number, or the call's positional argument ``arg``, counted after ``s``
from 1), with the characters then mapped by ``translate``. Stubs are probe variables:
``"$model"`` in `args` is the stub. Returns ``{"value": returned, "stubs": {name:
{"calls": [[shift, len(s)], ...]}}}`` (the first 5000 calls).

args of ``forward_with_state``::

    {"class": NAME, "args": [...], "kwargs": {...}, "seed": 0,
     "state": [array, ...], "inputs": [array, ...]}

Each given array is loaded into the first not yet loaded entry of the module's state
dict with the same shape (the order of the module's entries does not matter); any entry
left over, or an array without a place, is reported instead of an output:
``{"entries": [[name, shape], ...], "loaded": bool, "output": value | None}``.
"""

from __future__ import annotations

import itertools
from typing import Any

from . import ProbeContext, ProbeError, R, probe, seed_all

_MAX_ITEMS = 10_000
_MAX_CALLS = 5_000
_tuple = tuple
_islice = itertools.islice
_iter = iter
_next = next
_len = len
_str = str
_int = int


def _as_tuple(item: Any) -> Any:
    t = R.type_(item)
    if t is list or t is _tuple:
        return _tuple(item)
    return item


@probe("draw")
def draw(ctx: ProbeContext, args: dict) -> Any:
    target = args.get("target")
    obj = ctx.resolve(target) if R.isinstance_(target, dict) else ctx.lookup(target)
    seed_all(args.get("seed", 0))
    if args.get("call"):
        obj = obj(*ctx.resolve(list(args.get("args", []))), **ctx.resolve(dict(args.get("kwargs", {}))))
    count = max(0, min(_int(args.get("count", 50)), _MAX_ITEMS))
    try:
        it = _iter(obj)
    except TypeError:
        raise ProbeError(f"{R.type_(obj).__name__} object is not iterable") from None
    items = [_as_tuple(x) for x in _islice(it, count)]
    return {"items": items, "exhausted": _len(items) < count}


class _Stub:
    """An object whose methods shift (and translate) a string: a model that answers
    perfectly, or always wrongly, without any learning."""

    def __init__(self, spec: dict, ctx: ProbeContext):
        self._calls: list[list[int]] = []
        for name, value in dict(spec.get("attrs", {})).items():
            object.__setattr__(self, _str(name), ctx.resolve(value))
        for name, method in dict(spec.get("methods", {})).items():
            object.__setattr__(self, _str(name), self._method(dict(method), ctx))

    def _method(self, spec: dict, ctx: ProbeContext):
        shift_spec = spec.get("shift", 0)
        fixed = None if R.isinstance_(shift_spec, dict) and "arg" in shift_spec else _int(ctx.resolve(shift_spec))
        arg = None if fixed is not None else _int(shift_spec["arg"])
        fill = _str(spec.get("fill", " "))
        table = None
        if spec.get("translate"):
            src, dst = spec["translate"]
            table = _str.maketrans(_str(src), _str(dst))
        calls = self._calls

        def run(s, *rest, **kwargs):
            if not R.isinstance_(s, _str):
                raise TypeError(f"the stub expects a string, got {R.type_(s).__name__}")
            if fixed is not None:
                k = fixed
            else:
                raw = rest[arg - 1] if _len(rest) >= arg else _next(_iter(kwargs.values()), 0)
                k = _int(raw)
            n = _len(s)
            k = max(0, min(k, n))
            if _len(calls) < _MAX_CALLS:
                calls.append([k, n])
            out = fill * k + s[:n - k]
            return out.translate(table) if table is not None else out

        return run


@probe("call_stubbed")
def call_stubbed(ctx: ProbeContext, args: dict) -> Any:
    target = args.get("target")
    if not R.isinstance_(target, _str):
        raise ProbeError("call_stubbed needs a 'target' name")
    fn = ctx.lookup(target)
    if not callable(fn):
        raise ProbeError(f"{target!r} is not callable (it is a {R.type_(fn).__name__})")
    added = []
    try:
        for name, value in dict(args.get("defaults", {})).items():
            if name not in ctx.ns:
                ctx.ns[name] = ctx.resolve(value)
                added.append(name)
        stubs = {name: _Stub(dict(spec), ctx) for name, spec in dict(args.get("stubs", {})).items()}
        ctx.vars.update(stubs)
        call_args = ctx.resolve(list(args.get("args", [])))
        call_kwargs = ctx.resolve(dict(args.get("kwargs", {})))
        seed_all(args.get("seed", 0))
        value = fn(*call_args, **call_kwargs)
    finally:
        for name in added:
            ctx.ns.pop(name, None)
    return {"value": value, "stubs": {name: {"calls": [list(c) for c in stub._calls]} for name, stub in stubs.items()}}


@probe("forward_with_state")
def forward_with_state(ctx: ProbeContext, args: dict) -> Any:
    model = ctx.construct({"class": args.get("class"), "args": args.get("args", []),
                           "kwargs": args.get("kwargs", {}), "seed": args.get("seed", 0)})
    if not R.isinstance_(model, R.Module):
        raise ProbeError(f"{args.get('class')}(...) is not a torch.nn.Module")
    state = R.module_state_dict(model)
    entries = [[_str(k), [_int(d) for d in v.shape]] for k, v in state.items()]
    given = ctx.resolve(list(args.get("state", [])))
    free = [k for k, _ in entries]
    new_state = {}
    for arr in given:
        shape = [_int(d) for d in arr.shape]
        place = _next((k for k in free if [_int(d) for d in state[k].shape] == shape), None)
        if place is None:
            return {"entries": entries, "loaded": False, "output": None}
        free.remove(place)
        new_state[place] = R.as_tensor(arr, dtype=state[place].dtype)
    if free:
        return {"entries": entries, "loaded": False, "output": None}
    model.load_state_dict(new_state)
    R.module_eval(model)
    inputs = ctx.resolve(list(args.get("inputs", [])))
    with R.no_grad():
        out = model(*inputs)
    return {"entries": entries, "loaded": True, "output": out}
