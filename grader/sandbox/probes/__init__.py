"""Probes: small, generic routines the sandbox child runs on the student's namespace after
the notebook ran. The grader (parent) builds :class:`~grader.sandbox.jobs.ProbeRequest`
objects and judges the replies; a probe only runs student code on given inputs and
reports raw facts. Probes never receive expected values.

Register a probe with ``@probe("name")`` on a function ``fn(ctx, args) -> value``; every
module of this package is imported by the server before it forks, so a new module here is
picked up by itself, and so are the probe files a course package declares (course.yaml
`probes:`; they import ``grader.api``, never the course's references). Raise :class:`ProbeError` for a clear, expected failure ("the
notebook defines no class 'CNN'").

Argument markers understood everywhere (:meth:`ProbeContext.resolve`):

- ``{"$ref": "NAME"}`` / ``{"$ref": "obj.attr"}``: a student global (attribute chains ok);
- ``{"$new": {"class": "NAME", "args": [...], "kwargs": {...}, "seed": 0}}``: construct a
  student class (after seeding torch, numpy and random);
- ``{"$var": "model"}`` or the plain string ``"$model"``: a probe-local object (``model``,
  ``loader``, ``optimizer``, ``criterion``, ``device``) where a probe offers them;
- arrays made with ``wire.tensor(...)`` arrive as torch tensors, plain arrays as numpy.

Generic probes: ``call`` (call.py), ``module`` (module.py), ``step_behaviour`` (step.py),
``train`` (train.py, with training *drivers* in drivers.py). Snapshots of weights during a
full run are not a probe: see grader.sandbox.snapshot.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import random
import sys
from typing import Any, Callable, Iterable

import numpy as np
import torch

ProbeFn = Callable[["ProbeContext", dict], Any]
PROBES: dict[str, ProbeFn] = {}


class ProbeError(Exception):
    """A clear, expected probe failure (reported as an error with this message)."""


def probe(name: str) -> Callable[[ProbeFn], ProbeFn]:
    def deco(fn: ProbeFn) -> ProbeFn:
        PROBES[name] = fn
        return fn

    return deco


# references taken at import (before any student code can patch torch or numpy)
class R:
    manual_seed = torch.manual_seed
    np_seed = np.random.seed
    py_seed = random.seed
    no_grad = torch.no_grad
    enable_grad = torch.enable_grad
    cat = torch.cat
    stack = torch.stack
    from_numpy = torch.from_numpy
    as_tensor = torch.as_tensor
    Tensor = torch.Tensor
    Module = torch.nn.Module
    module_eval = torch.nn.Module.eval
    module_train = torch.nn.Module.train
    module_parameters = torch.nn.Module.parameters
    module_modules = torch.nn.Module.modules
    module_named_parameters = torch.nn.Module.named_parameters
    module_state_dict = torch.nn.Module.state_dict
    tensor_detach = torch.Tensor.detach
    tensor_clone = torch.Tensor.clone
    numel = torch.Tensor.numel
    is_tensor = torch.is_tensor
    getattr_ = getattr
    isinstance_ = isinstance
    type_ = type


_signature = inspect.signature
_cpu = torch.device("cpu")
DEVICE_NAMES = ("device", "dev")


def with_device(fn: Any, args: list, kwargs: dict) -> dict:
    """`kwargs` plus ``device=cpu`` when `fn` requires a `device` argument the call does not
    give (real students add one to their constructors and training functions)."""
    try:
        params = list(_signature(fn).parameters.values())
    except Exception:  # noqa: BLE001 - no signature: call as asked
        return kwargs
    missing = [p.name for p in params[len(args):] if p.name in DEVICE_NAMES and p.default is p.empty
               and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name not in kwargs]
    return {**kwargs, **{name: _cpu for name in missing}} if missing else kwargs


def seed_all(seed: Any) -> None:
    if seed is None:
        return
    s = int(seed)
    R.manual_seed(s)
    R.np_seed(s % (2**32))
    R.py_seed(s)


class ProbeContext:
    """What a probe sees: the student's namespace, probe-local variables, helpers."""

    def __init__(self, namespace: dict[str, Any]):
        self.ns = namespace
        self.vars: dict[str, Any] = {}

    def lookup(self, dotted: str) -> Any:
        if not isinstance(dotted, str) or not dotted:
            raise ProbeError(f"bad name {dotted!r}")
        first, *rest = dotted.split(".")
        if first in self.vars:
            obj = self.vars[first]
        elif first in self.ns:
            obj = self.ns[first]
        else:
            raise ProbeError(f"the notebook defines no {first!r}")
        for i, attr in enumerate(rest):
            try:
                obj = R.getattr_(obj, attr)
            except AttributeError:
                raise ProbeError(f"{'.'.join([first] + rest[:i])} has no attribute {attr!r}") from None
        return obj

    def construct(self, spec: Any) -> Any:
        if not isinstance(spec, dict) or "class" not in spec:
            raise ProbeError("$new needs {'class': NAME, 'args': [...], 'kwargs': {...}, 'seed': N}")
        cls = self.lookup(spec["class"])
        args = self.resolve(spec.get("args", []))
        kwargs = self.resolve(spec.get("kwargs", {}))
        seed_all(spec.get("seed", 0))
        return cls(*args, **with_device(cls, args, kwargs))

    def resolve(self, value: Any) -> Any:
        t = type(value)
        if t is dict:
            if len(value) == 1:
                (k,) = value
                if k == "$ref":
                    return self.lookup(value[k])
                if k == "$new":
                    return self.construct(value[k])
                if k == "$var":
                    return self.var(value[k])
            return {k: self.resolve(v) for k, v in value.items()}
        if t is list:
            return [self.resolve(v) for v in value]
        if t is tuple:
            return tuple(self.resolve(v) for v in value)
        if t is str and value.startswith("$") and value[1:] in self.vars:
            return self.vars[value[1:]]
        return value

    def var(self, name: str) -> Any:
        if name not in self.vars:
            raise ProbeError(f"no probe variable {name!r} here (have: {', '.join(sorted(self.vars)) or 'none'})")
        return self.vars[name]

    def call_target(self, target: str, args: Any = (), kwargs: Any = None) -> Any:
        fn = self.lookup(target)
        if not callable(fn):
            raise ProbeError(f"{target!r} is not callable (it is a {type(fn).__name__})")
        args, kwargs = self.resolve(list(args or [])), self.resolve(dict(kwargs or {}))
        return fn(*args, **with_device(fn, args, kwargs))


_SEALED: dict[str, ProbeFn] = {}  # the table as the server loaded it, before any student code


def load_all(course_files: Iterable[str] = ()) -> dict[str, ProbeFn]:
    """Import every module of this package, then each course's probe file (given by path:
    the server's path holds no course package), registering their probes and drivers."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    for i, path in enumerate(course_files):
        name = f"_course_probes_{i}_{os.path.splitext(os.path.basename(path))[0]}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ProbeError(f"cannot load the course probes {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    _SEALED.clear()
    _SEALED.update(PROBES)
    return PROBES


def run_probe(ctx: ProbeContext, name: str, args: dict, _sealed: dict = _SEALED) -> Any:
    # The copy bound at definition time: a cell that rewrites ``PROBES`` (or rebinds the
    # module's names through sys.modules) does not change which function runs. This only
    # makes tampering less cheap; the grader checks structure facts itself (see export.py).
    fn = _sealed.get(name) if _sealed else PROBES.get(name)
    if fn is None:
        raise ProbeError(f"unknown probe {name!r} (known: {', '.join(sorted(PROBES))})")
    ctx.vars = {}
    return fn(ctx, args if isinstance(args, dict) else {})
