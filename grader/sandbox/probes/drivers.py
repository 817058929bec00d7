"""Training *drivers* for the ``train`` probe: harness-side training loops that call the
student's pieces (a loss function, a step function) instead of the student's whole
training function.

Extension point: register a driver with ``@driver("name")`` on a function::

    def my_driver(ctx: ProbeContext, model, loader: BudgetLoader, args: dict) -> dict

It trains ``model`` in place, iterating ``loader`` (which stops yielding when the time
budget is spent; ``loader.exhausted`` then turns True), and returns a small dict of facts
(numbers, strings) that the grader may read. ``ctx.lookup(name)`` finds student
globals, ``ctx.resolve(value)`` resolves ``$ref``/``$new``/``$var`` markers. A driver
module added to this package is imported by the server before it forks.
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn as nn

from . import ProbeContext, ProbeError, R

DriverFn = Callable[[ProbeContext, Any, Any, dict], dict]
DRIVERS: dict[str, DriverFn] = {}

_optim = torch.optim
_Optimizer = torch.optim.Optimizer
_CrossEntropyLoss = nn.CrossEntropyLoss


def driver(name: str) -> Callable[[DriverFn], DriverFn]:
    def deco(fn: DriverFn) -> DriverFn:
        DRIVERS[name] = fn
        return fn

    return deco


def build_optimizer(ctx: ProbeContext, model: Any, spec: Any) -> Any:
    """``{"class": "SGD", "lr": 0.01, ...}`` -> torch.optim.SGD(model.parameters(), lr=0.01);
    ``{"$ref": "optimizer"}`` (a student optimizer) -> the same class with its defaults,
    rebuilt on the new model's parameters."""
    if isinstance(spec, dict) and isinstance(spec.get("class"), str):
        cls = getattr(_optim, spec["class"], None)
        if cls is None:
            raise ProbeError(f"no torch.optim.{spec['class']}")
        kwargs = {k: v for k, v in spec.items() if k != "class"}
        return cls(R.module_parameters(model), **kwargs)
    obj = ctx.resolve(spec)
    if R.isinstance_(obj, _Optimizer):
        return type(obj)(R.module_parameters(model), **dict(obj.defaults))
    raise ProbeError("optimizer must be {'class': NAME, ...} or a reference to a student optimizer")


def build_criterion(ctx: ProbeContext, spec: Any) -> Any:
    if spec is None:
        return _CrossEntropyLoss()
    if isinstance(spec, dict) and isinstance(spec.get("class"), str):
        cls = getattr(nn, spec["class"], None)
        if cls is None:
            raise ProbeError(f"no torch.nn.{spec['class']}")
        return cls(**{k: v for k, v in spec.items() if k != "class"})
    return ctx.resolve(spec)


@driver("cnn_loop")
def cnn_loop(ctx: ProbeContext, model: Any, loader: Any, args: dict) -> dict:
    """Per batch: ``loss, correct = LOSS_FN(model, batch, criterion, device)`` then
    ``STEP_FN(loss, optimizer)``, epoch after epoch until the budget is spent.

    args: ``loss_fn`` (default "get_loss_and_correct"), ``step_fn`` (default "step"),
    ``criterion`` (``{"$ref": "criterion"}``, ``{"class": "CrossEntropyLoss"}``; default
    CrossEntropyLoss), ``optimizer`` (``{"class": "SGD", "lr": 0.01}`` or
    ``{"$ref": "optimizer"}``; default SGD lr 0.01), ``device`` ("cpu"), ``max_epochs``.
    """
    loss_fn = ctx.lookup(args.get("loss_fn", "get_loss_and_correct"))
    step_fn = ctx.lookup(args.get("step_fn", "step"))
    criterion = build_criterion(ctx, args.get("criterion"))
    optimizer = build_optimizer(ctx, model, args.get("optimizer", {"class": "SGD", "lr": 0.01}))
    device = args.get("device", "cpu")
    ctx.vars.update(criterion=criterion, optimizer=optimizer, device=device)
    steps = epochs = 0
    last = None
    for _ in range(int(args.get("max_epochs", 10_000))):
        epochs += 1
        for batch in loader:
            res = loss_fn(model, batch, criterion, device)
            loss = res[0] if isinstance(res, (tuple, list)) else res
            step_fn(loss, optimizer)
            steps += 1
            last = loss
        if loader.exhausted:
            break
    out: dict[str, Any] = {"steps": steps, "epochs": epochs}
    if R.is_tensor(last):
        try:
            out["last_loss"] = float(R.tensor_detach(last))
        except Exception:  # noqa: BLE001
            pass
    return out


_backward = torch.autograd.backward


@driver("supervised")
def supervised(ctx: ProbeContext, model: Any, loader: Any, args: dict) -> dict:
    """The plain supervised loop a course's own handout provides around the student's model:
    per batch ``(x, y)``: zero the gradients, ``loss = criterion(model(x), y)``, backward,
    ``optimizer.step()``, epoch after epoch until the budget is spent. Only the model is
    the student's (e.g. a network the course trains with its own settings).

    args: ``criterion`` (default CrossEntropyLoss), ``optimizer`` (``{"class": "SGD",
    "lr": 0.001, "momentum": 0.9, "weight_decay": 5e-4}``; default SGD lr 0.01),
    ``max_epochs``.
    """
    criterion = build_criterion(ctx, args.get("criterion"))
    optimizer = build_optimizer(ctx, model, args.get("optimizer", {"class": "SGD", "lr": 0.01}))
    steps = epochs = 0
    last = None
    for _ in range(int(args.get("max_epochs", 10_000))):
        epochs += 1
        for batch in loader:
            x, y = batch[0], batch[1]
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            _backward(loss)
            optimizer.step()
            steps += 1
            last = loss
        if loader.exhausted:
            break
    out: dict[str, Any] = {"steps": steps, "epochs": epochs}
    if R.is_tensor(last):
        out["last_loss"] = float(R.tensor_detach(last))
    return out
