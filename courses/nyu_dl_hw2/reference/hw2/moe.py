"""hw2_moe.ipynb judged as the course poses it, from the student's own objects.

The handout fixes no constructor signatures (real students write `Expert()`,
`Expert(input_size, output_size)`, `GatingNetwork(num_experts)`, `MixtureOfExperts(num_experts=2)`,
...), so the grader never constructs a class with arguments of its own guessing. The
notebook runs in full; the `hw2_moe` probe finds the mixture it trained (`model`, `moe`, else
the last global instance) and, inside it, its `GatingNetwork` and its `Expert`s wherever it
keeps them (a ModuleList, a plain list, attributes). Only when the run left no mixture
(e.g. the training cell is still the handout's SyntaxError) are the structure checks
judged on a fresh instance, made by repeating the notebook's own call (parsed here from
the cell sources, never evaluated here) or with the defaults.

* `moe.expert`: every expert is one linear layer (its parameters are one weight matrix and
  at most one bias), as the handout says ("a simple neural network with one linear layer");
* `moe.gate`: the gate's rows are probabilities over the mixture's own number of experts;
* `moe.mixture`: the mixture's output is the gate-weighted combination of its own experts'
  outputs (the sum, the sigmoid of the sum, or the sum of sigmoid outputs; a gate that
  returns scores softmaxed by the mixture is the gate's fault, not the mixture's);
* `moe.trained`: the trained mixture's accuracy on hidden points of the course's
  `generate_data` (nyu_dl_hw2.reference.hw2.data.moe_points), between a linear model's (zero) and the
  weakest correct two-expert run's (full); calibrated by benchmarks/calibrate_moe.py.
"""

from __future__ import annotations

import ast
from typing import Any, Mapping

import numpy as np

from grader.api import Measure, Reply, Request, Verdict, hidden_error, rng_for, tensor

from . import data

PREFER = ("model", "moe")  # the handout's name first, then the other one real notebooks use
PARTS_POINTS = 64


# --------------------------------------------------------------------------- the notebook's own calls


def _literal(node: ast.AST) -> Any:
    """An argument the child can rebuild: a constant, a negative number, a global name
    (`{"$ref": NAME}`, looked up in the student's namespace), or a list/tuple of those."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool, type(None))):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant) \
            and isinstance(node.operand.value, (int, float)) and not isinstance(node.operand.value, bool):
        return -node.operand.value
    if isinstance(node, ast.Name):
        return {"$ref": node.id}
    if isinstance(node, ast.Attribute):
        inner = _literal(node.value)
        if isinstance(inner, dict) and "$ref" in inner:
            return {"$ref": f"{inner['$ref']}.{node.attr}"}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    raise ValueError("not a literal")


def _parsable(source: str) -> str:
    """Cell source with IPython's `%magic` and `!shell` lines turned into `pass`."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def notebook_calls(sources: tuple[str, ...] | list[str], cls_name: str) -> list[dict[str, Any]]:
    """Every call `cls_name(...)` in the cells whose arguments are literals or global names,
    in notebook order, as {args, kwargs, text}. Parsed only: nothing here runs the code."""
    calls = []
    for src in sources:
        for tree in _trees(src):
            calls += _calls_in(tree, cls_name)
    return calls


def _trees(src: str) -> list[ast.AST]:
    """The cell's syntax tree; for a cell that does not parse (the handout's training cell is
    a SyntaxError until filled in: `criterion = # TODO`), each line that parses on its own."""
    try:
        return [ast.parse(_parsable(src))]
    except (SyntaxError, ValueError):
        pass
    trees = []
    for line in _parsable(src).splitlines():
        try:
            trees.append(ast.parse(line.strip()))
        except (SyntaxError, ValueError):
            continue
    return trees


def _calls_in(tree: ast.AST, cls_name: str) -> list[dict[str, Any]]:
    calls = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == cls_name):
            continue
        try:
            if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                raise ValueError("*args")
            args = [_literal(a) for a in node.args]
            kwargs = {k.arg: _literal(k.value) for k in node.keywords}
        except ValueError:
            continue
        calls.append({"args": args, "kwargs": kwargs, "text": ast.unparse(node)[:200]})
    return calls


# --------------------------------------------------------------------------- requests


def _probe_args(params: Mapping[str, Any], ctx: Any, x: np.ndarray, parts: bool) -> dict[str, Any]:
    cls_name = params.get("class", "MixtureOfExperts")
    return {"class": cls_name, "expert_class": params.get("expert_class", "Expert"),
            "gate_class": params.get("gate_class", "GatingNetwork"), "prefer": list(params.get("prefer", PREFER)),
            "x": tensor(x), "parts": parts, "fresh_ok": parts,
            "calls": notebook_calls(ctx.notebook.cell_sources, cls_name) if parts else []}


def parts_request(check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
    """One probe run shared by moe.expert, moe.gate and moe.mixture (identical requests run once)."""
    x, _ = data.moe_points(PARTS_POINTS, int(rng_for(ctx, "moe.parts", public=True).integers(0, 2**31 - 1)))
    return {"run": Request("hw2_moe", _probe_args(params, ctx, x, parts=True), timeout=check.timeout)}


def _which(facts: Mapping[str, Any]) -> str:
    if facts.get("how") == "fresh":
        return f" (judged on a fresh `{facts.get('name')}`: the run left no trained mixture)"
    return ""


def _parts(replies: Mapping[str, Reply]) -> tuple[Mapping[str, Any] | None, Verdict | None]:
    reply = replies.get("run")
    if reply is None or not reply.ok:
        return None, Verdict(0.0, f"the mixture of experts could not be run: {reply.error if reply else 'not run'}",
                             "error")
    if not isinstance(reply.value, Mapping):
        return None, Verdict(0.0, "the probe's reply is not readable")
    return reply.value, None


def _rows(value: Any, batch: int) -> np.ndarray | None:
    """An output as (batch, d) float64, or None when it is not an array of `batch` rows."""
    if not isinstance(value, np.ndarray) or value.ndim == 0 or value.shape[0] != batch or value.size == 0:
        return None
    return np.asarray(value, dtype=np.float64).reshape(batch, -1)


# --------------------------------------------------------------------------- judges


class _Parts:
    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        return []

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        return parts_request(check, params, ctx)


def one_linear_layer(facts: Mapping[str, Any]) -> str:
    """'' when an expert's parameters are one weight matrix and at most one matching bias vector;
    else what it has instead."""
    params = [(str(n), tuple(int(d) for d in s)) for n, s in facts.get("params") or []]
    weights = [s for _, s in params if len(s) == 2]
    others = [s for _, s in params if len(s) != 2]
    linear = int(facts.get("linear_modules") or 0)
    # a bias matches the matrix's outputs: (out, in) as nn.Linear keeps it, or (in, out) for x @ W
    if len(weights) == 1 and linear <= 1 and (not others or (len(others) == 1 and len(others[0]) == 1
                                                             and others[0][0] in weights[0])):
        return ""
    layers = f"{linear} nn.Linear layer(s)" if linear else "no nn.Linear layer"
    shown = ", ".join(f"{n} {list(s)}" for n, s in params[:6]) or "none"
    extra = f"; also {', '.join(facts.get('modules') or [])}" if facts.get("modules") else ""
    return f"{layers} (parameters: {shown}{extra})"


class MoeExpert(_Parts):
    """Every `Expert` the mixture holds is one linear layer."""

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        facts, failed = _parts(replies)
        if failed:
            return failed
        experts = facts.get("expert_facts") or []
        if not experts:
            return Verdict(0.0, f"the mixture holds no {params.get('expert_class', 'Expert')}" + _which(facts))
        for i, e in enumerate(experts):
            wrong = one_linear_layer(e)
            if wrong:
                return Verdict(0.0, f"expert {i + 1} of {len(experts)} is not one linear layer: it has {wrong}"
                               + _which(facts))
        shapes = sorted({f"{s[1]} -> {s[0]}" for e in experts for _, s in e["params"] if len(s) == 2})
        return Verdict(1.0, f"{len(experts)} experts, each one linear layer ({', '.join(shapes)})" + _which(facts))


class MoeGate(_Parts):
    """The mixture's `GatingNetwork` gives, per input, a probability over the mixture's experts."""

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        facts, failed = _parts(replies)
        if failed:
            return failed
        if facts.get("gate") is None:
            return _no_gate(params, facts)
        k = len(facts.get("experts") or [])
        g = _rows(facts["gate"], PARTS_POINTS)
        if g is None or (k and g.shape[1] != k):
            got = tuple(facts["gate"].shape) if isinstance(facts["gate"], np.ndarray) else type(facts["gate"]).__name__
            return Verdict(0.0, f"expected gate weights of shape ({PARTS_POINTS}, {k or 'number of experts'}), "
                                f"got {got}" + _which(facts))
        if not np.all(np.isfinite(g)) or np.any(g < -1e-6) or not np.allclose(g.sum(axis=1), 1.0, atol=1e-4):
            return Verdict(0.0, "gate rows are not probabilities (non-negative, summing to 1): apply a softmax"
                           + _which(facts))
        return Verdict(1.0, f"the gate gives a probability over the {g.shape[1]} experts per input" + _which(facts))


class MoeMixture(_Parts):
    """The mixture's output equals the gate-weighted combination of its own experts' outputs."""

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        facts, failed = _parts(replies)
        if failed:
            return failed
        o = _rows(facts.get("output"), PARTS_POINTS)
        for part in ["mixture", "gate"] + [f"expert {i + 1}" for i in range(len(facts.get("experts") or []))]:
            if _raised(facts, part):
                return Verdict(0.0, _raised(facts, part) + _which(facts), "error")
        if o is None:
            return Verdict(0.0, f"the mixture returned {_describe(facts.get('output'))}, "
                                f"not one output row per input" + _which(facts))
        experts = [_rows(e, PARTS_POINTS) for e in facts.get("experts") or []]
        g = _rows(facts.get("gate"), PARTS_POINTS)
        if not experts:
            return Verdict(0.0, f"the mixture holds no {params.get('expert_class', 'Expert')}" + _which(facts))
        if g is None:
            return _no_gate(params, facts)
        if any(e is None or e.shape != experts[0].shape for e in experts):
            return Verdict(0.0, "the experts' outputs do not all have one row per input of the same width")
        E = np.stack(experts, axis=1)  # (B, k, d)
        if g.shape[1] != E.shape[1]:
            return Verdict(0.0, f"the gate has {g.shape[1]} weights per input for {E.shape[1]} experts")
        weightings = {"": g}
        if np.any(g < -1e-6) or not np.allclose(g.sum(axis=1), 1.0, atol=1e-4):
            # a gate that returns scores, softmaxed in the mixture: the gate is wrong (moe.gate), the mixture is not
            e = np.exp(g - g.max(axis=1, keepdims=True))
            weightings[" (weighted by the softmax of the gate's scores)"] = e / e.sum(axis=1, keepdims=True)
        with np.errstate(over="ignore"):
            for how, w in weightings.items():
                mix = np.einsum("bk,bkd->bd", w, E)
                candidates = {"gate-weighted sum": mix, "sigmoid of the gate-weighted sum": 1 / (1 + np.exp(-mix)),
                              "gate-weighted sum of sigmoid outputs": np.einsum("bk,bkd->bd", w, 1 / (1 + np.exp(-E)))}
                for name, want in candidates.items():
                    if want.shape == o.shape and np.allclose(o, want, rtol=1e-4, atol=1e-5):
                        return Verdict(1.0, f"output is the {name} of the {E.shape[1]} experts{how}" + _which(facts))
        return Verdict(0.0, "output is not the gate-weighted combination of the experts' outputs" + _which(facts))


def _no_gate(params: Mapping[str, Any], facts: Mapping[str, Any]) -> Verdict:
    if _raised(facts, "gate"):
        return Verdict(0.0, _raised(facts, "gate") + _which(facts), "error")
    return Verdict(0.0, f"expected one {params.get('gate_class', 'GatingNetwork')} inside the mixture, found "
                        f"{facts.get('gates_found', 0)}" + _which(facts))


def _raised(facts: Mapping[str, Any], part: str) -> str:
    errors = facts.get("errors") or {}
    return f"the {part} raised {errors[part]}" if isinstance(errors, Mapping) and errors.get(part) else ""


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {tuple(value.shape)}"
    return "nothing" if value is None else f"a {type(value).__name__}"


def moe_predictions(outputs: Any, criterion: str | None) -> np.ndarray:
    """Labels from the mixture's outputs in the student's convention: (B, >=2) scores by
    argmax; one score per point thresholded at 0.5 when it is a probability (all in [0, 1],
    or an MSELoss regression onto 0/1), else at 0 (a logit, as for BCEWithLogitsLoss)."""
    out = np.asarray(outputs, dtype=np.float64)
    out = out.reshape(out.shape[0], -1)
    if out.shape[1] >= 2:
        return out.argmax(axis=1)
    score = out[:, 0]
    prob = criterion == "MSELoss" or bool(np.all((score >= 0) & (score <= 1)))
    return (score > (0.5 if prob else 0.0)).astype(np.int64)


class MoeTrained:
    """The notebook's trained mixture (never a fresh one) on hidden points of the course's data."""

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        th = params.get("thresholds")
        if not isinstance(th, Mapping) or not {"zero", "full"} <= set(th) or not float(th["zero"]) < float(th["full"]):
            return [("thresholds", "missing or not zero < full", "e.g. {zero: 0.68, full: 0.90}")]
        return []

    def _hidden(self, check: Any, params: Mapping[str, Any], ctx: Any) -> tuple[np.ndarray, np.ndarray]:
        seed = int(rng_for(ctx, check.id, public=check.public).integers(0, 2**31 - 1))
        return data.moe_points(int(params.get("n", 4000)), seed)

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        x, _ = self._hidden(check, params, ctx)
        return {"run": Request("hw2_moe", _probe_args(params, ctx, x, parts=False), timeout=check.timeout)}

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        reply = replies.get("run")
        if reply is None or not reply.ok:
            return Verdict(0.0, f"evaluating the trained mixture failed: "
                                f"{hidden_error(reply) if reply is not None else 'not run'}", "error")
        facts = reply.value if isinstance(reply.value, Mapping) else {}
        if facts.get("how") == "none":
            return Verdict(0.0, f"the notebook left no trained {params.get('class', 'MixtureOfExperts')} in a global "
                                f"variable (did its training cell run?)")
        x, y = self._hidden(check, params, ctx)
        out = facts.get("output")
        if (facts.get("errors") or {}).get("mixture"):
            return Verdict(0.0, "the trained mixture raised an exception on hidden points "
                                "(details are not shown for hidden cases)", "error")
        if _rows(out, len(y)) is None:
            return Verdict(0.0, f"the trained mixture returned {_describe(out)} for {len(y)} points")
        acc = float((moe_predictions(out, facts.get("criterion")) == y).mean())
        zero, full = float(params["thresholds"]["zero"]), float(params["thresholds"]["full"])
        frac = min(1.0, max(0.0, (acc - zero) / (full - zero)))
        return Verdict(frac, f"the trained `{facts.get('name', '?')}` scores accuracy {acc:.3f} on hidden points "
                             f"({len(y)} of the course's generate_data; full marks at {full:g}, none at {zero:g}: "
                             f"a linear model's)",
                       measure=Measure(acc, (zero, full), name="accuracy on hidden points"))
