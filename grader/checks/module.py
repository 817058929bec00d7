"""`module`: build a student `nn.Module`, run it on grader-made inputs, check what it is.

One check states one expectation (an output shape, "at least two convolutions", "has a
residual connection"), so each requirement is worth its own points and says its own
message. Checks on the same class with the same inputs share a single probe run (the
engine deduplicates identical requests).

Structure expectations (`count`, `uses`, `residual`) are verified, not reported: the child
sends the forward as a program (torch.export, or a recorded aten trace when export fails),
then, in a second request stage, the live model's outputs on hidden inputs it had not seen
when it sent the program. The grader rebuilds the program from an allowlist, runs it on
the public and the hidden inputs, and counts the structure on it only if both outputs
match (grader.checks.program). Otherwise the structure expectations fail with the reason:

- the program does not reproduce the model: "the report was not trusted" (a forged or a
  data-dependent forward; a TA can read the code);
- the forward could be neither exported nor traced: "structure unverified". No points
  either: giving the child's own counts instead would reopen the hole (a student could
  make the forward untraceable on purpose to fall back to forgeable facts), and such a
  forward is rare enough for a TA to grade by hand.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..hashing import digest
from .base import PROBLEM, Context, Reply, Request, Verdict, allowed_keys, hidden_error, plain, rng_for
from .program import OP_GROUPS, ProgramError, Structure, agree, decode, structure

KEYS = ("class", "init", "inputs", "method", "eval", "expect", "seed")
EXPECT_KEYS = ("output_shape", "output_shapes", "dtype", "count", "residual", "params", "uses", "finite")

# Structure (groups: grader.checks.program.OP_GROUPS) is counted by the grader on the module's
# forward as a program it rebuilt and ran, never taken from the child's own report: see `verified`.
STRUCTURAL = ("count", "residual", "uses")


class ModuleKind:
    name = "module"
    needs_sandbox = True

    def validate(self, params: Mapping[str, Any]) -> list[PROBLEM]:
        problems: list[PROBLEM] = []
        allowed_keys(params, KEYS, problems)
        if not isinstance(params.get("class"), str):
            problems.append(("class", "missing the student class name", "e.g. `class: CNN`"))
        expect = params.get("expect")
        if not isinstance(expect, Mapping) or not expect:
            problems.append(("expect", "say what to expect", f"one or more of: {', '.join(EXPECT_KEYS)}"))
            return problems
        sub: list[PROBLEM] = []
        allowed_keys(expect, EXPECT_KEYS, sub)
        problems += [(f"expect.{k}", text, fix) for k, text, fix in sub]
        count = expect.get("count")
        if count is not None:
            if not isinstance(count, Mapping) or "of" not in count:
                problems.append(("expect.count", "expected {of: GROUP, at_least: N}",
                                 f"GROUP is one of {', '.join(OP_GROUPS)}"))
            elif count["of"] not in OP_GROUPS:
                problems.append(("expect.count.of", f"unknown group `{count['of']}`", f"one of {', '.join(OP_GROUPS)}"))
        for i, spec in enumerate(params.get("inputs") or ()):
            if not isinstance(spec, Mapping) or "shape" not in spec:
                problems.append((f"inputs[{i}]", "an input needs a `shape`", "e.g. `{shape: [4, 3, 256, 256]}`"))
        return problems

    def requests(self, check: Any, ctx: Context) -> dict[str, Request]:
        p = check.params
        rng = rng_for(ctx, f"module:{p['class']}:{_key(p.get('inputs'))}", public=True)
        from ..sandbox.wire import tensor

        inputs = [tensor(make_input(spec, rng)) for spec in p.get("inputs") or ()]
        init = plain(p.get("init", {}))
        build = {
            "class": p["class"],
            "args": list(init.get("args", [])),
            "kwargs": dict(init.get("kwargs", {})),
            "eval": bool(p.get("eval", True)),
            "seed": int(p.get("seed", 0)),
        }
        args = {**build, "inputs": inputs, "method": p.get("method", "forward"), "residual": False}
        if not _structural(p):
            return {"run": Request("module", args, timeout=check.timeout)}
        token = _token(p)
        hidden = rng_for(ctx, f"module-hidden:{token}", public=False)
        confirm = {**build, "keep": token, "inputs": [tensor(make_input(spec, hidden)) for spec in p.get("inputs") or ()]}
        return {"run": Request("module", {**args, "program": True, "keep": token}, timeout=check.timeout),
                "confirm": Request("module_outputs", confirm, timeout=check.timeout, stage=1)}

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict:
        reply = replies.get("run")
        if reply is None or not reply.ok:
            return Verdict(0.0, f"`{check.params['class']}` could not be built or run: "
                                f"{reply.error if reply else 'not run'}", "error")
        facts = reply.value if isinstance(reply.value, Mapping) else {}
        expect = check.params["expect"]
        failures: list[str] = []
        passes: list[str] = []
        found: Structure | str | None = None
        if _structural(check.params):
            found = verified(check, reply, replies.get("confirm"), ctx)
        for key, want in expect.items():
            if key in STRUCTURAL:
                if isinstance(found, str):
                    failures.append(found)
                    continue
                ok, text = STRUCTURE_EXPECTATIONS[key](want, found)
            else:
                ok, text = EXPECTATIONS[key](want, facts)
            (passes if ok else failures).append(text)
        if failures:
            return Verdict(0.0, "; ".join(failures))
        return Verdict(1.0, "; ".join(passes))


def _structural(p: Mapping[str, Any]) -> bool:
    return any(k in STRUCTURAL for k in p.get("expect") or {})


def _token(p: Mapping[str, Any]) -> str:
    """Names the model instance the child keeps for the second stage (same build, same inputs)."""
    return digest({k: p.get(k) for k in ("class", "init", "seed", "inputs", "eval")})[:16]


def _inputs(check: Any, ctx: Context, public: bool) -> list[Any]:
    """The inputs `requests` sent, made again (the same generator gives the same arrays)."""
    import torch

    p = check.params
    token = _token(p)
    rng = rng_for(ctx, f"module:{p['class']}:{_key(p.get('inputs'))}", public=True) if public else \
        rng_for(ctx, f"module-hidden:{token}", public=False)
    return [torch.from_numpy(make_input(spec, rng)) for spec in p.get("inputs") or ()]


_VERIFIED: dict[tuple[int, int], tuple[Any, Structure | str]] = {}  # checks of one probe run share the work


def verified(check: Any, run: Reply, confirm: Reply | None, ctx: Context) -> Structure | str:
    """The structure the grader counted on the program it ran, or why there is none."""
    key = (id(run), id(confirm))
    hit = _VERIFIED.get(key)
    if hit is not None and hit[0][0] is run and hit[0][1] is confirm:
        return hit[1]
    result = _verify(check, run, confirm, ctx)
    if len(_VERIFIED) > 16:
        _VERIFIED.clear()
    _VERIFIED[key] = ((run, confirm), result)  # the replies kept alive: their ids stay theirs
    return result


NOT_TRUSTED = "the structure the notebook's process reported does not compute the model's outputs ({why}): " \
              "the report was not trusted"


def _verify(check: Any, run: Reply, confirm: Reply | None, ctx: Context) -> Structure | str:
    facts = run.value if isinstance(run.value, Mapping) else {}
    if "program" not in facts:
        why = facts.get("program_error") or "the notebook's process sent no program"
        return f"structure unverified: {str(why)[:400]} (no points for structure; a TA can check the code by hand)"
    try:
        program = decode(facts["program"])
    except ProgramError as exc:
        return NOT_TRUSTED.format(why=f"its program was refused: {exc}")
    traced = "" if program.how == "export" else f"; {program.note or 'a recorded trace'}, the path may depend on " \
                                                 "the data"
    try:
        got, values = program.run(_inputs(check, ctx, public=True))
    except ProgramError as exc:
        return NOT_TRUSTED.format(why=f"its program could not be run: {exc}")
    ok, why = agree(got, _flat(facts.get("output")))
    if not ok:
        return NOT_TRUSTED.format(why=f"on the check's inputs, {why}{traced}")
    if confirm is None or not confirm.ok:
        return ("structure unverified: the model could not be run a second time on new inputs: "
                f"{hidden_error(confirm) if confirm is not None else 'not run'}")
    try:
        hidden_got, _ = program.run(_inputs(check, ctx, public=False))
    except ProgramError as exc:
        return NOT_TRUSTED.format(why=f"its program could not be run on new inputs: {exc}")
    live = confirm.value.get("output") if isinstance(confirm.value, Mapping) else None
    ok, why = agree(hidden_got, _flat(live))
    if not ok:
        return NOT_TRUSTED.format(why=f"on new inputs, {why}{traced}")
    return structure(program, values)


def _flat(value: Any) -> list[Any]:
    import numpy as np

    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _flat(v)]
    if isinstance(value, Mapping):
        return [a for v in value.values() for a in _flat(v)]
    return [value]


def _key(value: Any) -> str:
    import json

    return json.dumps(plain(value), sort_keys=True)


_MADE: dict[tuple[str, str], tuple[Any, Any]] = {}  # (generator state, spec) -> (array, state after)


def make_input(spec: Mapping[str, Any], rng: Any) -> Any:
    """A random input for `spec`, drawn from `rng`. The module checks of one model draw the
    same inputs from generators in the same state (each check asks again, and verification
    draws them once more): the array is made once and copied, and the generator is moved
    on exactly as drawing would have (a copy: the grader's run of a program may write into it)."""
    import json

    bits = getattr(rng, "bit_generator", None)
    if bits is None:
        return _draw(spec, rng)
    key = (json.dumps(bits.state, sort_keys=True), _key(spec))
    hit = _MADE.get(key)
    if hit is None:
        arr = _draw(spec, rng)
        if len(_MADE) >= 8:
            _MADE.clear()
        _MADE[key] = hit = (arr.copy(), bits.state)
    else:
        bits.state = hit[1]
    return hit[0].copy()


def _draw(spec: Mapping[str, Any], rng: Any) -> Any:
    import numpy as np

    shape = tuple(int(s) for s in spec["shape"])
    dtype = spec.get("dtype", "float32")
    if np.dtype(dtype).kind in "iu":
        low, high = int(spec.get("low", 0)), int(spec.get("high", 2))
        return rng.integers(low, high, size=shape).astype(dtype)
    low, high = float(spec.get("low", 0.0)), float(spec.get("high", 1.0))
    return rng.uniform(low, high, size=shape).astype(dtype)


def _output_shape(facts: Mapping[str, Any]) -> tuple[int, ...] | None:
    shape = getattr(facts.get("output"), "shape", None)
    return tuple(int(s) for s in shape) if shape is not None else None


def _expect_shape(want: Any, facts: Mapping[str, Any]) -> tuple[bool, str]:
    got = _output_shape(facts)
    want = tuple(want)
    return got == want, f"output shape {got}" + ("" if got == want else f", expected {want}")


def _expect_shapes(want: Any, facts: Mapping[str, Any]) -> tuple[bool, str]:
    got = _output_shape(facts)
    options = [tuple(w) for w in want]
    return got in options, f"output shape {got}" + ("" if got in options else f", expected one of {options}")


def _expect_dtype(want: Any, facts: Mapping[str, Any]) -> tuple[bool, str]:
    got = str(getattr(facts.get("output"), "dtype", ""))
    return got.endswith(str(want)), f"output dtype {got}"


def _count_struct(want: Any, found: Structure) -> tuple[bool, str]:
    group = want["of"]
    n = int(found.groups.get(group, 0))
    at_least = int(want.get("at_least", 1))
    at_most = want.get("at_most")
    ok = n >= at_least and (at_most is None or n <= int(at_most))
    bound = f"at least {at_least}" + (f" and at most {at_most}" if at_most is not None else "")
    return ok, f"{n} {group} layer(s)" + ("" if ok else f", expected {bound}")


def _residual_struct(want: Any, found: Structure) -> tuple[bool, str]:
    got = bool(found.skips)
    text = ("a residual (skip) connection was found" if got else "no residual (skip) connection found in forward")
    return got == bool(want), text


def _uses_struct(want: Any, found: Structure) -> tuple[bool, str]:
    wanted = [want] if isinstance(want, str) else list(want)
    present = [g for g in wanted if found.groups.get(g) or found.op_counts.get(g)]
    return bool(present), (f"uses {', '.join(present)}" if present else f"uses none of {', '.join(wanted)}")


def _expect_params(want: Any, facts: Mapping[str, Any]) -> tuple[bool, str]:
    n = int(facts.get("params_total") or 0)
    lo, hi = want.get("min", 0), want.get("max")
    ok = n >= lo and (hi is None or n <= hi)
    return ok, f"{n:,} parameters" + ("" if ok else f", expected between {lo:,} and {hi if hi is None else f'{hi:,}'}")


def _expect_finite(want: Any, facts: Mapping[str, Any]) -> tuple[bool, str]:
    import numpy as np

    out = facts.get("output")
    ok = isinstance(out, np.ndarray) and bool(np.all(np.isfinite(out)))
    return ok == bool(want), "output is finite" if ok else "output has NaN/inf or is not a tensor"


EXPECTATIONS = {
    "output_shape": _expect_shape,
    "output_shapes": _expect_shapes,
    "dtype": _expect_dtype,
    "params": _expect_params,
    "finite": _expect_finite,
}
STRUCTURE_EXPECTATIONS = {"count": _count_struct, "residual": _residual_struct, "uses": _uses_struct}
