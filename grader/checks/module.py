"""`module`: build a student `nn.Module`, run it on grader-made inputs, check what it is.

One check states one expectation (an output shape, "at least two convolutions", "has a
residual connection"), so each requirement is worth its own points and says its own
message. Checks on the same class with the same inputs share a single probe run (the
engine deduplicates identical requests).
"""

from __future__ import annotations

from typing import Any, Mapping

from .base import PROBLEM, Context, Reply, Request, Verdict, allowed_keys, plain, rng_for

KEYS = ("class", "init", "inputs", "method", "eval", "expect", "seed")
EXPECT_KEYS = ("output_shape", "output_shapes", "dtype", "count", "residual", "params", "uses", "finite")

# Structure groups, by module class name and by functional call name seen during forward.
GROUPS: dict[str, tuple[str, ...]] = {
    "conv": ("Conv1d", "Conv2d", "Conv3d", "LazyConv1d", "LazyConv2d", "conv1d", "conv2d", "conv3d"),
    "batchnorm": ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm2d", "batch_norm"),
    "pooling": ("MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
                "AdaptiveMaxPool2d", "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d",
                "adaptive_max_pool2d", "max_pool2d_with_indices"),
    "activation": ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Sigmoid", "Tanh", "PReLU", "ReLU6", "Mish",
                   "SELU", "CELU", "RReLU", "Softplus", "Softsign", "Hardtanh", "Hardswish", "Hardsigmoid",
                   "LogSigmoid", "Threshold", "GLU",
                   "relu", "relu_", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "tanh", "prelu", "relu6", "mish",
                   "leaky_relu_", "elu_", "sigmoid_", "tanh_", "selu", "selu_", "celu", "celu_", "rrelu", "rrelu_",
                   "softplus", "softsign", "hardtanh", "hardtanh_", "hardswish", "hardsigmoid", "logsigmoid",
                   "threshold", "threshold_", "glu"),
    "linear": ("Linear", "LazyLinear", "linear"),
    "recurrent": ("GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell"),
    "gru": ("GRU", "GRUCell"),
    "lstm": ("LSTM", "LSTMCell"),
    "dropout": ("Dropout", "Dropout2d", "dropout"),
}


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
                                 f"GROUP is one of {', '.join(GROUPS)}"))
            elif count["of"] not in GROUPS:
                problems.append(("expect.count.of", f"unknown group `{count['of']}`", f"one of {', '.join(GROUPS)}"))
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
        args = {
            "class": p["class"],
            "args": list(init.get("args", [])),
            "kwargs": dict(init.get("kwargs", {})),
            "inputs": inputs,
            "method": p.get("method", "forward"),
            "eval": bool(p.get("eval", True)),
            "seed": int(p.get("seed", 0)),
            "residual": True,
        }
        return {"run": Request("module", args, timeout=check.timeout)}

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict:
        reply = replies.get("run")
        if reply is None or not reply.ok:
            return Verdict(0.0, f"`{check.params['class']}` could not be built or run: "
                                f"{reply.error if reply else 'not run'}", "error")
        facts = reply.value if isinstance(reply.value, Mapping) else {}
        expect = check.params["expect"]
        failures: list[str] = []
        passes: list[str] = []
        for key, want in expect.items():
            ok, text = EXPECTATIONS[key](want, facts)
            (passes if ok else failures).append(text)
        if failures:
            return Verdict(0.0, "; ".join(failures))
        return Verdict(1.0, "; ".join(passes))


def _key(value: Any) -> str:
    import json

    return json.dumps(plain(value), sort_keys=True)


def make_input(spec: Mapping[str, Any], rng: Any) -> Any:
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


def group_count(group: str, facts: Mapping[str, Any]) -> int:
    names = GROUPS[group]
    modules = facts.get("torch_module_counts") or {}  # a student's MyConv(nn.Conv2d) counts as Conv2d
    functional = facts.get("functional_calls") or {}
    return sum(int(modules.get(n, 0)) for n in names) + sum(int(functional.get(n, 0)) for n in names)


def _expect_count(want: Any, facts: Mapping[str, Any]) -> tuple[bool, str]:
    group = want["of"]
    n = group_count(group, facts)
    at_least = int(want.get("at_least", 1))
    at_most = want.get("at_most")
    ok = n >= at_least and (at_most is None or n <= int(at_most))
    bound = f"at least {at_least}" + (f" and at most {at_most}" if at_most is not None else "")
    return ok, f"{n} {group} layer(s)" + ("" if ok else f", expected {bound}")


def _expect_residual(want: Any, facts: Mapping[str, Any]) -> tuple[bool, str]:
    res = facts.get("residual") or {}
    got = bool(res.get("found")) if isinstance(res, Mapping) else False
    how = res.get("method", "") if isinstance(res, Mapping) else ""
    text = ("a residual (skip) connection was found" if got else "no residual (skip) connection found in forward")
    return got == bool(want), text + (f" ({how})" if how else "")


def _expect_params(want: Any, facts: Mapping[str, Any]) -> tuple[bool, str]:
    n = int(facts.get("params_total") or 0)
    lo, hi = want.get("min", 0), want.get("max")
    ok = n >= lo and (hi is None or n <= hi)
    return ok, f"{n:,} parameters" + ("" if ok else f", expected between {lo:,} and {hi if hi is None else f'{hi:,}'}")


def _expect_uses(want: Any, facts: Mapping[str, Any]) -> tuple[bool, str]:
    wanted = [want] if isinstance(want, str) else list(want)
    present = [g for g in wanted
               if (g in GROUPS and group_count(g, facts) > 0) or (facts.get("torch_module_counts") or {}).get(g)]
    return bool(present), (f"uses {', '.join(present)}" if present else f"uses none of {', '.join(wanted)}")


def _expect_finite(want: Any, facts: Mapping[str, Any]) -> tuple[bool, str]:
    import numpy as np

    out = facts.get("output")
    ok = isinstance(out, np.ndarray) and bool(np.all(np.isfinite(out)))
    return ok == bool(want), "output is finite" if ok else "output has NaN/inf or is not a tensor"


EXPECTATIONS = {
    "output_shape": _expect_shape,
    "output_shapes": _expect_shapes,
    "dtype": _expect_dtype,
    "count": _expect_count,
    "residual": _expect_residual,
    "params": _expect_params,
    "uses": _expect_uses,
    "finite": _expect_finite,
}
