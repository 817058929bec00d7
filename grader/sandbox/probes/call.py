"""``call``: call a student function and return what it returned.

args::

    {"target": "name" | "obj.method",     # a student global, attribute chain allowed
     "args": [...], "kwargs": {...},      # markers and tensors resolved (see probes/__init__)
     "seed": 0 | None,                    # seed torch/numpy/random first (default 0)
     "no_grad": false}                    # run under torch.no_grad()

returns the value as is; the wire turns tensors into arrays (flagged as tensors), tuples
and lists recursively, and anything else into an Unencodable marker.
"""

from __future__ import annotations

from typing import Any

from . import ProbeContext, ProbeError, R, probe, seed_all


@probe("call")
def call(ctx: ProbeContext, args: dict) -> Any:
    target = args.get("target")
    if not isinstance(target, str):
        raise ProbeError("call needs a 'target' name")
    fn = ctx.lookup(target)
    if not callable(fn):
        raise ProbeError(f"{target!r} is not callable (it is a {type(fn).__name__})")
    call_args = ctx.resolve(list(args.get("args", [])))
    call_kwargs = ctx.resolve(dict(args.get("kwargs", {})))
    seed_all(args.get("seed", 0))
    if args.get("no_grad"):
        with R.no_grad():
            return fn(*call_args, **call_kwargs)
    return fn(*call_args, **call_kwargs)


@probe("value")
def value(ctx: ProbeContext, args: dict) -> Any:
    """Return a student global (``{"name": "HIDDEN_SIZE"}``) as is."""
    name = args.get("name")
    if not isinstance(name, str):
        raise ProbeError("value needs a 'name'")
    return ctx.lookup(name)


@probe("names")
def names(ctx: ProbeContext, args: dict) -> Any:
    """Which of the given names the notebook defines, with the kind of object:
    ``{"names": ["CNN", "step"]}`` -> ``{"CNN": "class", "step": "function", "x": None}``."""
    import inspect

    out: dict[str, Any] = {}
    for n in args.get("names", []):
        if not isinstance(n, str):
            continue
        try:
            obj = ctx.lookup(n)
        except ProbeError:
            out[n] = None
            continue
        if inspect.isclass(obj):
            out[n] = "class"
        elif inspect.isfunction(obj) or inspect.ismethod(obj) or inspect.isbuiltin(obj):
            out[n] = "function"
        elif R.isinstance_(obj, R.Module):
            out[n] = "module"
        elif callable(obj):
            out[n] = "callable"
        else:
            out[n] = type(obj).__name__
    return out
