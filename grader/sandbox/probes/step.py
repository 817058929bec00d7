"""``step_behaviour``: what a student's ``step(loss, optimizer)`` does to a tiny model.

args::

    {"target": "step",            # the student function
     "seed": 0,
     "in_features": 4, "out_features": 3, "batch": 8,
     "lr": 0.1, "momentum": 0.0,
     "loss": "mse" | "cross_entropy",
     "call": ["$loss", "$optimizer"],   # how to call target (default: (loss, optimizer))
     "x": wire.tensor(X), "y": wire.tensor(Y),  # the data (default: seeded random)
     "pre_backward": false,        # call loss.backward() before target (for step functions
                                   # that expect it done)
     "stale_grads": {"weight": wire.tensor(G), "bias": wire.tensor(g)},
                                   # gradients left "from an earlier batch" in .grad before
                                   # the loss is computed (shows whether zero_grad ran)
     "stale_grad": 0.0}            # or one value put in every .grad

The child builds ``nn.Linear(in, out)`` and ``torch.optim.SGD`` under the seed, computes
the loss on the given (or seeded random) data, wraps the optimizer instance's
``step``/``zero_grad`` to count calls and hooks the parameters to see ``backward``, then
calls the target.

returns::

    params_before, params_after    {name: array}
    grads_after                    {name: array | None}
    grad_at_step                   {name: array | None}   (grads when step() ran first)
    events                         ["zero_grad", "backward", "step", ...] in call order
    step_calls, zero_grad_calls, backward_calls
    loss                           float value of the loss
    returned                       what the target returned
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import ProbeContext, ProbeError, R, probe, seed_all

_SGD = torch.optim.SGD
_Linear = nn.Linear
_mse = F.mse_loss
_ce = F.cross_entropy
_randn = torch.randn
_randint = torch.randint
_full_like = torch.full_like


def _arrays(named: Any) -> dict[str, Any]:
    return {n: R.tensor_clone(R.tensor_detach(p)) for n, p in named}


@probe("step_behaviour")
def step_behaviour(ctx: ProbeContext, args: dict) -> Any:
    target = args.get("target", "step")
    fn = ctx.lookup(target)
    if not callable(fn):
        raise ProbeError(f"{target!r} is not callable")
    seed_all(args.get("seed", 0))
    fin, fout, batch = int(args.get("in_features", 4)), int(args.get("out_features", 3)), int(args.get("batch", 8))
    model = _Linear(fin, fout)
    opt = _SGD(R.module_parameters(model), lr=float(args.get("lr", 0.1)), momentum=float(args.get("momentum", 0.0)))
    x = args.get("x")
    if not R.is_tensor(x):
        x = _randn(batch, fin)
    x = x.float()
    events: list[str] = []
    counts = {"step": 0, "zero_grad": 0, "backward": 0}
    grad_at_step: dict[str, Any] = {}
    named = list(R.module_named_parameters(model))

    real_step, real_zero = opt.step, opt.zero_grad

    def step(*a: Any, **k: Any) -> Any:
        counts["step"] += 1
        events.append("step")
        if counts["step"] == 1:
            for n, p in named:
                grad_at_step[n] = None if p.grad is None else R.tensor_clone(R.tensor_detach(p.grad))
        return real_step(*a, **k)

    def zero_grad(*a: Any, **k: Any) -> Any:
        counts["zero_grad"] += 1
        events.append("zero_grad")
        return real_zero(*a, **k)

    opt.step = step  # type: ignore[method-assign]
    opt.zero_grad = zero_grad  # type: ignore[method-assign]
    seen_in_pass = {"n": 0}

    def on_grad(g: Any) -> Any:
        # one hook per parameter: count one backward per full pass over the parameters
        seen_in_pass["n"] += 1
        if seen_in_pass["n"] % len(named) == 1 or len(named) == 1:
            counts["backward"] += 1
            events.append("backward")
        return g

    for _, p in named:
        p.register_hook(on_grad)

    stale = args.get("stale_grad")
    if stale is not None and float(stale) != 0.0:
        for _, p in named:
            p.grad = _full_like(p, float(stale))
    stale_grads = args.get("stale_grads")
    if isinstance(stale_grads, dict):
        for n, p in named:
            g = stale_grads.get(n)
            if R.is_tensor(g):
                if tuple(g.shape) != tuple(p.shape):
                    raise ProbeError(f"stale gradient for {n} has shape {tuple(g.shape)}, not {tuple(p.shape)}")
                p.grad = g.to(p.dtype).clone()
    params_before = _arrays(named)
    out = model(x)
    y = args.get("y")
    if args.get("loss", "mse") == "cross_entropy":
        if not R.is_tensor(y):
            y = _randint(0, fout, (x.shape[0],))
        loss = _ce(out, y.long())
    else:
        if not R.is_tensor(y):
            y = _randn(x.shape[0], fout)
        loss = _mse(out, y.float())
    if args.get("pre_backward"):
        loss.backward(retain_graph=True)
    ctx.vars.update(model=model, optimizer=opt, loss=loss, x=x, y=y)
    call = args.get("call", ["$loss", "$optimizer"])
    returned = fn(*ctx.resolve(list(call)))
    return {
        "params_before": params_before,
        "params_after": _arrays(named),
        "grads_after": {n: None if p.grad is None else R.tensor_clone(R.tensor_detach(p.grad)) for n, p in named},
        "grad_at_step": grad_at_step,
        "events": events[:100],
        "step_calls": counts["step"],
        "zero_grad_calls": counts["zero_grad"],
        "backward_calls": counts["backward"],
        "loss": float(R.tensor_detach(loss)),
        "returned": returned,
    }
