"""Problem 5 of CUHK ELEG 5491 (2017) HW2: the CIFAR-10 network, judged on its verified program.

Every judge here reads the network the way `module` checks read structure: the sandbox
child sends the forward as a program (torch.export, or a recorded aten trace), the grader
rebuilds it, checks that it reproduces the live model on hidden inputs
(`grader.checks.module.verified`) and only then reads it (`grader.checks.program.calls`):
which layer follows which, with what sizes, and the weights as the class builds them (the
program's constants: the model is built with a fixed seed and exported before any
training). Nothing the child says about itself is taken as is.

`with:` keys (all optional): `class` (default Net) and its constructor's `args` / `kwargs`
(e.g. a student's `Net(init="he")` instead of the layout's `HeNet`), `part` (structure | batchnorm | he),
`inputs` (shape of the batch, default [4, 3, 32, 32]), `seed` (torch seed of the build,
default 0), `thresholds` (part he: {zero, full} on the closeness measure below).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Mapping, Sequence

import numpy as np

from grader.api import Call, Measure, ModuleKind, ProgramError, Verdict, calls, decode, verified

from .data import CLASSES, cifar_like

# The course's network: conv 5x5 3 -> 6, max pool /2, conv 5x5 6 -> 16, max pool /2,
# FC 400 -> 120, 120 -> 84, 84 -> 10; ReLU after every layer but the last.
KERNEL = 5
LAYERS: tuple[tuple[str, int, int], ...] = (
    ("conv", 3, 6), ("conv", 6, 16), ("linear", 16 * 5 * 5, 120), ("linear", 120, 84), ("linear", 84, CLASSES))
POOL_AFTER = (0, 1)  # max pooling with stride 2 after each convolution
RELU_OPS = frozenset({"relu", "relu_"})
MAX_POOL_OPS = frozenset({"max_pool2d", "max_pool2d_with_indices"})
PARTS = ("structure", "batchnorm", "he")
WITH_KEYS = ("class", "args", "kwargs", "part", "inputs", "seed", "thresholds")
# PyTorch's default for Conv2d/Linear: kaiming_uniform_(a=sqrt(5)), Var[w] = 1/(3 n_l), so n_l Var / 2 = 1/6
DEFAULT_HALF_N_VAR = 1.0 / 6.0


# --------------------------------------------------------------------------- data and metric


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def cifar_data(rng: np.random.Generator, n: int = 1024) -> dict[str, np.ndarray]:
    """CIFAR-like images and labels (reference/cuhk/data.py), seeded from the check's stream."""
    images, labels = cifar_like(n, _seed(rng))
    return {"images": images, "labels": labels}


def accuracy(outputs: Any, d: Mapping[str, np.ndarray]) -> float:
    """Share of argmax predictions equal to the labels; outputs must be (N, 10) scores."""
    out = np.asarray(outputs, dtype=np.float64)
    labels = np.asarray(d["labels"])
    if out.ndim != 2 or out.shape != (labels.shape[0], CLASSES):
        raise ValueError(f"expected ({labels.shape[0]}, {CLASSES}) class scores, got shape {out.shape}")
    if not np.all(np.isfinite(out)):
        raise ValueError("the outputs hold NaN or inf")
    return float((out.argmax(axis=1) == labels).mean())


# --------------------------------------------------------------------------- reading a program


@dataclass(frozen=True)
class Layer:
    """A conv or FC layer of the program and what follows it up to the next layer."""

    kind: str  # conv | linear
    n_in: int
    n_out: int
    kernel: tuple[int, ...]  # conv: (kh, kw); linear: ()
    shrink: tuple[int, ...]  # conv: input minus output spatial size per axis
    weight: np.ndarray | None
    after: tuple[str, ...]  # relu, bn:<features>, maxpool/2, pool:<op> (other pooling), in order

    def fans(self) -> tuple[int, int]:
        """(fan_in, fan_out): the n_l of He et al.'s forward and backward conditions."""
        k = int(np.prod(self.kernel)) if self.kernel else 1
        return self.n_in * k, self.n_out * k


def read_layers(found: Sequence[Call]) -> tuple[tuple[str, ...], list[Layer]]:
    """(what comes before the first layer, the layers in program order)."""
    layers: list[dict[str, Any]] = []
    before: list[str] = []
    for c in found:
        if "conv" in c.groups or "linear" in c.groups:
            layers.append(_layer(c))
            continue
        tag = _tag(c)
        if tag:
            (layers[-1]["after"] if layers else before).append(tag)
    return tuple(before), [Layer(**{**d, "after": tuple(d["after"])}) for d in layers]


def _layer(c: Call) -> dict[str, Any]:
    x = c.inputs[0] if c.inputs else ()
    out = c.output or ()
    if "conv" in c.groups:
        w = next((a for a in c.constants if a.ndim == len(x)), None)
        kernel = tuple(int(s) for s in w.shape[2:]) if w is not None else ()
        shrink = tuple(int(a) - int(b) for a, b in zip(x[2:], out[2:])) if len(x) > 2 and len(out) > 2 else ()
        return dict(kind="conv", n_in=int(x[1]) if len(x) > 1 else 0, n_out=int(out[1]) if len(out) > 1 else 0,
                    kernel=kernel, shrink=shrink, weight=w, after=[])
    w = next((a for a in c.constants if a.ndim == 2), None)
    return dict(kind="linear", n_in=int(x[-1]) if x else 0, n_out=int(out[-1]) if out else 0, kernel=(), shrink=(),
                weight=w, after=[])


def _tag(c: Call) -> str:
    if "batchnorm" in c.groups:
        return f"bn:{c.inputs[0][1] if c.inputs and len(c.inputs[0]) > 1 else '?'}"
    if c.op in RELU_OPS:
        return "relu"
    if "pooling" in c.groups:
        x, out = (c.inputs[0] if c.inputs else ()), (c.output or ())
        halves = len(x) == 4 and len(out) == 4 and tuple(out[2:]) == (x[2] // 2, x[3] // 2)
        return "maxpool/2" if c.op in MAX_POOL_OPS and halves else f"pool:{c.op}"
    return ""


# --------------------------------------------------------------------------- the plugin


def _ordered(th: Any) -> bool:
    """`{zero: a, full: b}` with numbers a < b."""
    if not isinstance(th, Mapping) or not {"zero", "full"} <= set(th):
        return False
    zero, full = th["zero"], th["full"]
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (zero, full))
    return numbers and zero < full


class CifarNet:
    """One plugin, three parts (with.part): `structure`, `batchnorm`, `he` (module docstring)."""

    def validate(self, w: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        problems = []
        for key in w:
            if key not in WITH_KEYS:
                problems.append((key, "unknown key", f"known: {', '.join(WITH_KEYS)}"))
        if w.get("part", "structure") not in PARTS:
            problems.append(("part", f"unknown part {w.get('part')!r}", f"one of {', '.join(PARTS)}"))
        th = w.get("thresholds")
        if w.get("part") == "he" and not _ordered(th):
            problems.append(("thresholds", "part he needs {zero, full} with zero < full", "e.g. {zero: 0.35, full: 0.6}"))
        return problems

    def _shim(self, check: Any, w: Mapping[str, Any]) -> Any:
        """The `module` check this plugin's probe run is (so the engine's verification applies)."""
        params = {"class": w.get("class", "Net"), "inputs": [{"shape": list(w.get("inputs", [4, 3, 32, 32])),
                                                              "low": -1, "high": 1}],
                  "init": {"args": list(w.get("args", [])), "kwargs": dict(w.get("kwargs", {}))},
                  "seed": int(w.get("seed", 0)), "eval": True, "expect": {"count": {"of": "conv"}}}
        return SimpleNamespace(id=check.id, params=params, timeout=check.timeout)

    def requests(self, check: Any, w: Mapping[str, Any], ctx: Any) -> dict[str, Any]:
        return ModuleKind().requests(self._shim(check, w), ctx)

    def judge(self, check: Any, w: Mapping[str, Any], replies: Mapping[str, Any], ctx: Any) -> Verdict:
        shim = self._shim(check, w)
        cls = shim.params["class"]
        run = replies.get("run")
        if run is None or not run.ok:
            return Verdict(0.0, f"`{cls}()` could not be built or run: {run.error if run else 'not run'}", "error")
        trusted = verified(shim, run, replies.get("confirm"), ctx)
        if isinstance(trusted, str):
            return Verdict(0.0, trusted)
        try:
            import torch

            program = decode(run.value["program"])
            _, values = program.run([torch.zeros(tuple(shim.params["inputs"][0]["shape"]))])
        except (ProgramError, KeyError, TypeError) as exc:  # verified above: not expected
            return Verdict(0.0, f"`{cls}`'s program could not be read: {exc}")
        _, layers = read_layers(calls(program, values))
        part = w.get("part", "structure")
        if part == "structure":
            return _structure(cls, layers)
        if part == "batchnorm":
            return _batchnorm(cls, layers)
        return _he(cls, layers, w["thresholds"])


def _layout(layers: Sequence[Layer]) -> str:
    return ", ".join(f"{'conv' if l.kind == 'conv' else 'FC'} {l.n_in}->{l.n_out}" for l in layers) or "no layers"


def _shape_problems(layers: Sequence[Layer]) -> list[str]:
    kinds = tuple(l.kind for l in layers)
    want = tuple(k for k, _, _ in LAYERS)
    if kinds != want:
        return [f"layers {_layout(layers)}; expected conv, conv, FC, FC, FC ({_layout_want()})"]
    out = []
    for i, (l, (_, n_in, n_out)) in enumerate(zip(layers, LAYERS)):
        label = f"{'conv' if l.kind == 'conv' else 'FC'} {i + 1 if l.kind == 'conv' else i - 1}"
        if (l.n_in, l.n_out) != (n_in, n_out):
            out.append(f"{label} maps {l.n_in} -> {l.n_out}, expected {n_in} -> {n_out}")
        if l.kind == "conv" and (l.kernel != (KERNEL, KERNEL) or l.shrink != (KERNEL - 1, KERNEL - 1)):
            out.append(f"{label} has kernel {'x'.join(map(str, l.kernel)) or '?'} and shrinks the image by "
                       f"{l.shrink}: expected 5x5, stride 1, no padding (shrinks by 4)")
    return out


def _layout_want() -> str:
    return ", ".join(f"{'conv' if k == 'conv' else 'FC'} {a}->{b}" for k, a, b in LAYERS)


def _structure(cls: str, layers: Sequence[Layer]) -> Verdict:
    problems = _shape_problems(layers)
    if not problems:
        for i, l in enumerate(layers):
            label = f"conv {i + 1}" if l.kind == "conv" else f"FC {i - 1}"
            if i in POOL_AFTER and "maxpool/2" not in l.after:
                other = [t[5:] for t in l.after if t.startswith("pool:")]
                problems.append(f"no max pooling halving the maps after {label}"
                                + (f" (found {', '.join(other)})" if other else ""))
            if i < len(layers) - 1 and "relu" not in l.after:
                problems.append(f"no ReLU after {label}")
    if problems:
        return Verdict(0.0, f"`{cls}`: " + "; ".join(problems))
    return Verdict(1.0, f"`{cls}`: {_layout(layers)}, 5x5 convolutions each followed by ReLU and 2x2 max pooling, "
                        "ReLU after the hidden FC layers")


def _batchnorm(cls: str, layers: Sequence[Layer]) -> Verdict:
    kinds = tuple(l.kind for l in layers)
    if kinds != tuple(k for k, _, _ in LAYERS):
        return Verdict(0.0, f"`{cls}`: layers {_layout(layers)}; expected the course's conv, conv, FC, FC, FC")
    problems = []
    for i, l in enumerate(layers):
        label = f"conv {i + 1}" if l.kind == "conv" else f"FC {i - 1}"
        bns = [t for t in l.after if t.startswith("bn:")]
        if i == len(layers) - 1:
            if bns:
                problems.append("batch norm after the last FC layer (the classifier): the course excludes it")
        elif not bns:
            problems.append(f"no batch norm after {label}")
        elif any(t != f"bn:{l.n_out}" for t in bns):
            problems.append(f"the batch norm after {label} normalises {bns[0][3:]} features, {label} has {l.n_out}")
    if problems:
        return Verdict(0.0, f"`{cls}`: " + "; ".join(problems))
    return Verdict(1.0, f"`{cls}`: batch norm after both convolutions and both hidden FC layers, none after the last")


def half_n_var(layer: Layer) -> tuple[float, float]:
    """(n_l Var[w_l] / 2 with n_l = fan_in, the same with fan_out): 1 under He initialisation."""
    var = float(np.var(np.asarray(layer.weight, dtype=np.float64)))
    fan_in, fan_out = layer.fans()
    return fan_in * var / 2.0, fan_out * var / 2.0


def closeness(ratio: float) -> float:
    """min(r, 1/r): 1 when n Var / 2 = 1, smaller the further off (in either direction)."""
    return 0.0 if not np.isfinite(ratio) or ratio <= 0 else min(ratio, 1.0 / ratio)


def he_measure(layers: Sequence[Layer]) -> tuple[float, str, list[tuple[float, float]]]:
    """(closeness of the worst hidden layer under the better of fan_in / fan_out, that mode,
    every layer's ratios). The classifier (the last layer) is reported, not judged: its
    output feeds the softmax, not a ReLU."""
    ratios = [half_n_var(l) for l in layers]
    hidden = ratios[:-1]
    by_in = min((closeness(r[0]) for r in hidden), default=0.0)
    by_out = min((closeness(r[1]) for r in hidden), default=0.0)
    return (by_in, "fan_in", ratios) if by_in >= by_out else (by_out, "fan_out", ratios)


def _he(cls: str, layers: Sequence[Layer], thresholds: Mapping[str, Any]) -> Verdict:
    zero, full = float(thresholds["zero"]), float(thresholds["full"])
    if len(layers) < 2 or any(l.weight is None for l in layers):
        return Verdict(0.0, f"`{cls}`: the weights of its conv/FC layers could not be read ({_layout(layers)})")
    value, mode, ratios = he_measure(layers)
    k = 0 if mode == "fan_in" else 1
    per = "; ".join(f"{'conv' if l.kind == 'conv' else 'FC'} {l.n_in}->{l.n_out}: n_l = {l.fans()[k]}, "
                    f"n_l Var[w]/2 = {r[k]:.2f}" for l, r in zip(layers, ratios))
    fraction = min(1.0, max(0.0, (value - zero) / (full - zero)))
    measure = Measure(value, (zero, full), name="min over hidden layers of min(r, 1/r), r = n_l Var[w_l] / 2")
    verdict = "He initialisation" if fraction >= 1.0 else "not He initialisation"
    return Verdict(fraction, f"`{cls}`: {verdict} ({mode}): {per} (He: 1; PyTorch's default: "
                             f"{DEFAULT_HALF_N_VAR:.2f}); worst hidden layer {value:.2f} (full marks at {full:g}, "
                             f"none at {zero:g})", measure=measure)
