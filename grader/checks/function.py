"""`function`: call a student function on cases, compare with a reference function.

Cases are literal (in the registry: public) or drawn by a generator from a seed: the first
`public` of them from a public seed (the student's self-check runs those), the rest from
the secret seed. The child only ever receives the inputs.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..compare import MODES, Tolerance, compare, partial_credit
from .base import (PROBLEM, Context, Reply, Request, Verdict, allowed_keys, check_ref, hidden_error, plain,
                   resolve, rng_for)

KEYS = ("target", "reference", "cases", "generator", "count", "public_count", "tensors", "compare",
        "alternatives", "partial")


class FunctionKind:
    name = "function"
    needs_sandbox = True

    def validate(self, params: Mapping[str, Any]) -> list[PROBLEM]:
        problems: list[PROBLEM] = []
        allowed_keys(params, KEYS, problems)
        if not isinstance(params.get("target"), str):
            problems.append(("target", "missing the student function's name", "e.g. `target: conv_output_shape`"))
        check_ref(params, "reference", problems)
        if "cases" not in params and "generator" not in params:
            problems.append(("cases", "no cases", "give `cases:` (a list of {args: [...]}) or a `generator:`"))
        if "generator" in params:
            check_ref(params, "generator", problems)
        for i, case in enumerate(params.get("cases") or ()):
            if not isinstance(case, Mapping) or not set(case) <= {"args", "kwargs"}:
                problems.append((f"cases[{i}]", "a case is a mapping with `args` and/or `kwargs`",
                                 "e.g. `- {args: [19, 26]}`"))
        problems += validate_compare(params.get("compare"))
        for name, alt in (params.get("alternatives") or {}).items():
            if not isinstance(alt, Mapping):
                problems.append((f"alternatives.{name}", "expected a mapping", "e.g. `{reference: mod:fn, kwargs: {...}}`"))
                continue
            check_ref(alt, "reference", problems)
        for name, share in (params.get("partial") or {}).items():
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
                problems.append((f"partial.{name}", f"`{share}` is not a share between 0 and 1", "e.g. 0.5"))
        return problems

    def cases(self, check: Any, ctx: Context) -> list[tuple[list[Any], dict[str, Any], bool]]:
        """(args, kwargs, public) per case, in a fixed order."""
        p = check.params
        out: list[tuple[list[Any], dict[str, Any], bool]] = []
        for case in p.get("cases") or ():
            out.append((list(plain(case.get("args", ()))), dict(plain(case.get("kwargs", {}))), True))
        if "generator" in p:
            gen = resolve(p["generator"])
            count = int(p.get("count", 5))
            public = int(p.get("public_count", 1))
            for i in range(count):
                is_public = i < public
                rng = rng_for(ctx, f"{check.id}#{i}", is_public)
                made = gen(rng)
                out.append((list(made.get("args", ())), dict(made.get("kwargs", {})), is_public))
        if ctx.public_only:
            out = [c for c in out if c[2]]
        return out

    def requests(self, check: Any, ctx: Context) -> dict[str, Request]:
        target = check.params["target"]
        mark = as_tensors if check.params.get("tensors", False) else (lambda v: v)
        return {
            f"case{i}": Request("call", {"target": target, "args": mark(args), "kwargs": mark(kwargs)},
                                timeout=check.timeout)
            for i, (args, kwargs, _) in enumerate(self.cases(check, ctx))
        }

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict:
        p = check.params
        reference = resolve(p["reference"])
        tol = tolerance(p.get("compare"))
        partial = dict(p.get("partial") or {})
        cases = self.cases(check, ctx)
        if not cases:
            return Verdict(0.0, "no cases to run", "skipped")
        credits: list[float] = []
        notes: list[str] = []
        for i, (args, kwargs, public) in enumerate(cases):
            reply = replies.get(f"case{i}")
            label = f"case {i + 1}" + (f" {_show_args(args)}" if public else " (hidden)")
            if reply is None or not reply.ok:
                credits.append(0.0)
                said = (reply.error if public else hidden_error(reply)) if reply else "not run"
                notes.append(f"{label}: {said}")
                continue
            expected = reference(*args, **kwargs)
            alts = {name: resolve(a["reference"])(*args, **{**kwargs, **plain(a.get("kwargs", {}))})
                    for name, a in (p.get("alternatives") or {}).items()}
            got = reply.value if public else _mask_type_names(reply.value)
            result = compare(got, expected, tol, alts)
            credits.append(partial_credit(result, partial))
            if not result.ok:
                notes.append(f"{label}: {result.message}")
        right = sum(1 for c in credits if c >= 1.0)
        head = f"{right}/{len(cases)} cases right"
        message = head + ("; " + "; ".join(notes[:3]) if notes else "")
        if len(notes) > 3:
            message += f"; and {len(notes) - 3} more"
        all_errors = all(not (replies.get(f"case{i}") and replies[f"case{i}"].ok) for i in range(len(cases)))
        return Verdict(sum(credits) / len(cases), message, "error" if all_errors else None)


def _mask_type_names(value: Any) -> Any:
    """Hidden cases: a returned object's type name is the student's text (a class can be
    named after its inputs), so it is not repeated in the message."""
    if isinstance(value, dict):
        if "$unencodable" in value:
            return {**value, "$unencodable": "(not shown for hidden cases)"}
        return {k: _mask_type_names(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_mask_type_names(v) for v in value)
    return value


def as_tensors(value: Any) -> Any:
    """Arrays in the arguments arrive in the child as torch tensors (float64 stays float64)."""
    from ..sandbox.wire import tensor

    if isinstance(value, np.ndarray):
        return tensor(value)
    if isinstance(value, list):
        return [as_tensors(v) for v in value]
    if isinstance(value, dict):
        return {k: as_tensors(v) for k, v in value.items()}
    return value


def _show_args(args: list[Any]) -> str:
    def short(a: Any) -> str:
        if isinstance(a, np.ndarray):
            return f"array{tuple(a.shape)}"
        text = repr(a)
        return text if len(text) <= 40 else text[:37] + "..."
    return "(" + ", ".join(short(a) for a in args) + ")"


def validate_compare(raw: Any) -> list[PROBLEM]:
    problems: list[PROBLEM] = []
    if raw is None:
        return problems
    if isinstance(raw, str):
        raw = {"mode": raw}
    if not isinstance(raw, Mapping):
        return [("compare", "expected a mapping", "e.g. `compare: {mode: allclose, rtol: 1e-6}`")]
    allowed_keys(raw, ("mode", "rtol", "atol"), problems)
    mode = raw.get("mode", "allclose")
    if mode not in MODES:
        import difflib

        near = difflib.get_close_matches(str(mode), MODES, n=1)
        problems.append(("compare.mode", f"unknown compare mode `{mode}`",
                         f"did you mean `{near[0]}`?" if near else f"expected one of {', '.join(MODES)}"))
    for key in ("rtol", "atol"):
        if key in raw and (isinstance(raw[key], bool) or not isinstance(raw[key], (int, float)) or raw[key] < 0):
            problems.append((f"compare.{key}", f"`{raw[key]}` is not a non-negative number", "e.g. 1e-6"))
    return problems


def tolerance(raw: Any) -> Tolerance:
    if raw is None:
        return Tolerance()
    if isinstance(raw, str):
        return Tolerance(mode=raw)
    d = Tolerance()
    return Tolerance(mode=raw.get("mode", d.mode), rtol=float(raw.get("rtol", d.rtol)),
                     atol=float(raw.get("atol", d.atol)))
