"""A behaviour object for the CLI tests' provided-code check: `out_shape` judged by one call."""

from __future__ import annotations

from grader.checks.base import Request, Verdict


class OutShape:
    def requests(self, check, ctx):
        return {"call": Request("call", {"target": "out_shape", "args": [[7, 11], 3], "kwargs": {"stride": 2}},
                                timeout=check.timeout)}

    def judge(self, check, replies, ctx):
        reply = replies["call"]
        if not reply.ok:
            return Verdict(0.0, f"`out_shape` could not be run: {reply.error}", "error")
        if list(reply.value) == [1, 5]:
            return Verdict(1.0, "`out_shape` behaves as provided")
        return Verdict(0.0, f"`out_shape` returned {reply.value}, expected (1, 5)")
