"""Judges of the RNN notebook's version 1 (Spring 2021 .. Spring 2024, Fall 2025).

Version 1's ``test_variable_delay_model`` draws each string's delay up to
``model.max_delay``: a model that does not keep the ``max_delay`` it was built with breaks
the course's own test. ``MaxDelayAttribute`` builds the class with a delay of its own
(``params["max_delay"]``, not the notebook's MAX_DELAY, so a constant does not pass) and
reads the attribute back through the module probe.
"""

from __future__ import annotations

from typing import Any, Mapping

from grader.api import Reply, Request, Verdict

from .judges import _describe, _reply_error


class MaxDelayAttribute:
    """`VariableDelayGRUMemory(hidden, d).max_delay == d`."""

    __test__ = False  # not a pytest class

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        problems = []
        if not isinstance(params.get("class"), str):
            problems.append(("class", "missing", "e.g. class: VariableDelayGRUMemory"))
        if not isinstance(params.get("hidden_size"), int) or not isinstance(params.get("max_delay"), int):
            problems.append(("hidden_size", "hidden_size and max_delay must be integers", "e.g. 64 and 5"))
        return problems

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        return {"attr": Request("module", {"class": params["class"], "args": [params["hidden_size"], params["max_delay"]],
                                           "seed": 0, "method": "__getattribute__", "inputs": ["max_delay"],
                                           "residual": False, "no_grad": True}, timeout=check.timeout)}

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        call = f"{params['class']}({params['hidden_size']}, {params['max_delay']})"
        reply = replies.get("attr")
        if reply is None or not reply.ok:
            return _reply_error(reply, f"{call}.max_delay")
        value = reply.value.get("output") if isinstance(reply.value, Mapping) else None
        if isinstance(value, bool) or not isinstance(value, int) or value != params["max_delay"]:
            shown = repr(value) if isinstance(value, (int, float, str)) else _describe(value)
            return Verdict(0.0, f"{call}.max_delay is {shown}, expected {params['max_delay']} "
                                "(test_variable_delay_model reads it)")
        return Verdict(1.0, f"{call}.max_delay is {params['max_delay']}")
