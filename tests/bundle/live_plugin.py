"""A plugin whose module imports without any private reference, so it can travel in a
self-check bundle: it runs live in `grader check --bundle`, and the private reference it
resolves (`with.reference`) is replayed from the bundle."""

from __future__ import annotations

from typing import Any, Mapping

from grader.checks.base import Request, Verdict, resolve


class LastTotal:
    """Calls the student's `target(values)`; expects the reference's last value."""

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        return [] if {"target", "reference", "values"} <= set(params) else \
            [("", "needs target, reference and values", "add them under `with:`")]

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        return {"call": Request("call", {"target": params["target"], "args": [list(params["values"])], "kwargs": {}},
                                timeout=check.timeout)}

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Any], ctx: Any) -> Verdict:
        expected = float(resolve(params["reference"])(list(params["values"]))[-1])
        reply = replies.get("call")
        if reply is None or not reply.ok:
            return Verdict(0.0, f"`{params['target']}` failed: {reply.error if reply else 'not run'}", "error")
        ok = isinstance(reply.value, (int, float)) and abs(float(reply.value) - expected) < 1e-9
        return Verdict(1.0 if ok else 0.0, f"{params['target']} gave {reply.value!r}" + ("" if ok else f", expected {expected:g}"))
