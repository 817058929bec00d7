"""`behaviour`: call a student routine on grader-made objects and judge the effect.

`optimizer_step` is a homework's `step(loss, optimizer)`: the child builds a tiny linear model
and plain SGD, computes an MSE loss on inputs the grader sends, and calls the student's
function; it reports only raw facts (weights before and after, gradients after, how often
`step`/`zero_grad` ran). The grader recomputes the gradient itself from the weights before
and the inputs, so a routine that fakes its effect or steps twice cannot pass.

It runs twice: with fresh gradients, and with stale gradients left from an "earlier batch".
With stale gradients a routine is right if it clears them before `backward` (the update
uses only the new gradient) or after `step` (the next call starts clean).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .base import PROBLEM, Context, Reply, Request, Verdict, allowed_keys, rng_for

KEYS = ("target", "behaviour", "in_features", "out_features", "batch", "lr")
BEHAVIOURS = ("optimizer_step",)


class BehaviourKind:
    name = "behaviour"
    needs_sandbox = True

    def validate(self, params: Mapping[str, Any]) -> list[PROBLEM]:
        problems: list[PROBLEM] = []
        allowed_keys(params, KEYS, problems)
        if not isinstance(params.get("target"), str):
            problems.append(("target", "missing the student function's name", "e.g. `target: step`"))
        if params.get("behaviour", "optimizer_step") not in BEHAVIOURS:
            problems.append(("behaviour", f"unknown behaviour `{params.get('behaviour')}`",
                             f"expected one of {', '.join(BEHAVIOURS)}"))
        return problems

    def _data(self, check: Any, ctx: Context) -> dict[str, Any]:
        p = check.params
        rng = rng_for(ctx, check.id, public=True)
        n_in, n_out, n = int(p.get("in_features", 3)), int(p.get("out_features", 2)), int(p.get("batch", 5))
        return {
            "X": rng.normal(size=(n, n_in)),
            "Y": rng.normal(size=(n, n_out)),
            "stale_weight": rng.normal(size=(n_out, n_in)),
            "stale_bias": rng.normal(size=(n_out,)),
            "lr": float(p.get("lr", 0.1)),
        }

    def requests(self, check: Any, ctx: Context) -> dict[str, Request]:
        from ..sandbox.wire import tensor

        d = self._data(check, ctx)
        n, n_in = d["X"].shape
        base = {"target": check.params["target"], "x": tensor(d["X"], "float32"), "y": tensor(d["Y"], "float32"),
                "lr": d["lr"], "seed": 0, "in_features": n_in, "out_features": d["Y"].shape[1], "batch": n}
        stale = {"weight": tensor(d["stale_weight"], "float32"), "bias": tensor(d["stale_bias"], "float32")}
        return {
            "fresh": Request("step_behaviour", base, timeout=check.timeout),
            "stale": Request("step_behaviour", {**base, "stale_grads": stale}, timeout=check.timeout),
        }

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict:
        d = self._data(check, ctx)
        fresh, stale = replies.get("fresh"), replies.get("stale")
        for name, reply in (("fresh", fresh), ("stale", stale)):
            if reply is None or not reply.ok:
                return Verdict(0.0, f"`{check.params['target']}` failed: {reply.error if reply else 'not run'}", "error")
        ok1, msg1 = _judge_one(fresh.value, d, stale_grads=None)
        if not ok1:
            return Verdict(0.0, msg1)
        ok2, msg2 = _judge_one(stale.value, d, stale_grads=(d["stale_weight"], d["stale_bias"]))
        if not ok2:
            return Verdict(0.5, "one correct update from fresh gradients, but " + msg2)
        return Verdict(1.0, "one SGD update with the loss's gradient; gradients handled between steps")


def expected_grads(W: np.ndarray, b: np.ndarray, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient of torch's mean-reduced MSE of a linear layer, computed here, not by the child."""
    pred = X @ W.T + b
    g = 2.0 * (pred - Y) / pred.size
    return g.T @ X, g.sum(axis=0)


def _arr(facts: Mapping[str, Any], group: str, name: str) -> np.ndarray | None:
    value = (facts.get(group) or {}).get(name)
    return np.asarray(value, dtype=np.float64) if isinstance(value, np.ndarray) else None


def _judge_one(facts: Any, d: Mapping[str, Any], stale_grads: tuple[np.ndarray, np.ndarray] | None) -> tuple[bool, str]:
    if not isinstance(facts, Mapping):
        return False, "no facts came back from the call"
    W0, b0 = _arr(facts, "params_before", "weight"), _arr(facts, "params_before", "bias")
    W1, b1 = _arr(facts, "params_after", "weight"), _arr(facts, "params_after", "bias")
    if any(x is None for x in (W0, b0, W1, b1)):
        return False, "the model's parameters could not be read back"
    steps = int(facts.get("step_calls", 0))
    if steps == 0:
        return False, "optimizer.step() was never called"
    if steps > 1:
        return False, f"optimizer.step() was called {steps} times for one loss"
    X = d["X"].astype(np.float32).astype(np.float64)
    Y = d["Y"].astype(np.float32).astype(np.float64)
    gW, gb = expected_grads(W0, b0, X, Y)
    lr = d["lr"]

    def moved_by(gw: np.ndarray, gbias: np.ndarray) -> bool:
        return bool(np.allclose(W1, W0 - lr * gw, rtol=1e-4, atol=1e-6) and np.allclose(b1, b0 - lr * gbias, rtol=1e-4, atol=1e-6))

    if moved_by(gW, gb):
        return True, "ok"
    if np.allclose(W1, W0) and np.allclose(b1, b0):
        return False, "the parameters did not change (was loss.backward() called before optimizer.step()?)"
    stale_grads = None if stale_grads is None else tuple(g.astype(np.float32).astype(np.float64) for g in stale_grads)
    if stale_grads is not None and moved_by(gW + stale_grads[0], gb + stale_grads[1]):
        after = facts.get("grads_after") or {}
        cleared = all(after.get(n) is None or (isinstance(after.get(n), np.ndarray) and not np.any(after[n]))
                      for n in ("weight", "bias"))
        if cleared:
            return True, "ok"
        return False, "gradients from the previous batch were added in: call optimizer.zero_grad()"
    if moved_by(2 * gW, 2 * gb):
        return False, "the update used twice the gradient (backward called twice?)"
    return False, "the parameters changed, but not by one SGD step with the loss's gradient"
