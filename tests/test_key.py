"""The answer key (courses/nyu_dl_hw2/theory_key.py): values against torch, formulas evaluated, bad blocks rejected.

The three `theory:` blocks are kept as YAML text, exactly as a registry file holds them.
Formula strings are not compared as text: they are translated to Python and evaluated entry
by entry against torch (F.conv1d and autograd), so a wrong index in a formula fails.
"""

from __future__ import annotations

import copy
import json
import math
import random
import re
from types import MappingProxyType

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml
from torch.autograd.functional import jacobian

from nyu_dl_hw2.theory_key import SLOTS, Answer, KeyConfigError, answer_key

THEORY_2025 = """
layout: numerator
conv2d: {input: [19, 26], kernel: 4, stride: 2, padding: 1}
conv1d: {channels: 7, length: 11, kernel: 3, stride: 2}
gated_rnn: true
attention_rnn: {k: 2}
loss_curves: {classes: 4, task: "temporal order (Q, R, S, U)"}
"""

THEORY_2022 = """
layout: denominator
conv2d: {input: [10, 11], kernel: 5, stride: 2, padding: 0, general_kernel: square}
conv1d: {channels: 2, length: 7, kernel: 5, stride: 2}
gated_rnn: true
loss_curves: {classes: 4, task: "temporal order (Q, R, S, U)"}
ids:
  gated_rnn_diagram: "1.2(a)"
  gated_rnn_gate_dimension: "1.2(b)"
  gated_rnn_step_jacobians: null
  gated_rnn_grad_wx: "1.2(c)"
  gated_rnn_gradient_stability: "1.2(d)"
  loss_spikes_cause: "1.3(1)"
  loss_spikes_above_initial: "1.3(2)"
  loss_spikes_fixes: "1.3(3)"
  initial_loss_accuracy: "1.3(4)"
"""

THEORY_2021 = """
layout: denominator
conv2d: {input: [10, 11], kernel: 3, stride: 2, general_kernel: square}
conv1d: {channels: 2, length: 5, kernel: 3, stride: 2}
gated_rnn: true
ids:
  gated_rnn_diagram: "1.2(a)"
  gated_rnn_gate_dimension: "1.2(b)"
  gated_rnn_step_jacobians: null
  gated_rnn_grad_wx: "1.2(c)"
  gated_rnn_gradient_stability: "1.2(d)"
"""

TERMS = {"2025": THEORY_2025, "2022": THEORY_2022, "2021": THEORY_2021}


def _block(term: str) -> dict:
    return yaml.safe_load(TERMS[term])


def _by_id(answers) -> dict[str, Answer]:
    return {a.id: a for a in answers}


def _by_slot(answers) -> dict[str, Answer]:
    return {a.slot: a for a in answers}


# --------------------------------------------------------------------------- formula evaluation


class OneBased:
    """1-based indexing as the course writes it; x reads 0 outside (zero padding)."""

    def __init__(self, array, zero_outside: bool = False):
        self.array = np.asarray(array, dtype=np.float64)
        self.zero_outside = zero_outside

    def __getitem__(self, index):
        index = index if isinstance(index, tuple) else (index,)
        assert len(index) == self.array.ndim, f"{len(index)} indices for an array of {self.array.ndim} axes"
        out = []
        for v, n in zip(index, self.array.shape):
            if isinstance(v, float):
                assert v.is_integer(), f"fractional index {v}"
                v = int(v)
            if not 1 <= v <= n:
                if self.zero_outside:
                    return 0.0
                raise IndexError(f"index {v} outside 1..{n}")
            out.append(v - 1)
        return self.array[tuple(out)]


def _int_in(value, high) -> bool:
    return float(value).is_integer() and 1 <= value <= high


def _python(expr: str) -> str:
    expr = expr.replace("dl/df_W(x)", "G")
    expr = re.sub(r"\[(\w) = (\w)\] ", r"(1 if \1 == \2 else 0) * ", expr)  # Iverson bracket
    expr = re.sub(r"if (.+?) is an integer in 1\.\.(\d+), else", r"if _int_in(\1, \2) else", expr)
    expr = expr.replace(", else", " else")
    expr = re.sub(r"(\d)\(", r"\1*(", expr)  # 2(i-1) -> 2*(i-1)
    expr = re.sub(r"\]\s+(?!if\b|else\b)(?=[A-Za-z_])", "] * ", expr)  # W[..] x[..] -> W[..] * x[..]
    while m := re.search(r"sum_\{(\w)=(\d+)\}\^\{(\d+)\} ", expr):
        v, a, b = m.groups()
        expr = expr[: m.start()] + f"sum(({expr[m.end():]}) for {v} in range({a}, {b} + 1))"
    return expr


def _evaluate(value: str, expected: np.ndarray, arrays: dict) -> int:
    """Check `lhs = rhs, for ranges` entry by entry against `expected`; return entries checked."""
    equation, ranges = value.split(", for ")
    lhs, rhs = equation.split(" = ", 1)
    index_exprs = [s.strip() for s in re.search(r"\[([^\]]*)\]\s*$", lhs).group(1).split(",")]
    names = re.findall(r"(\w) = 1\.\.(\d+)", ranges)
    code = compile(_python(rhs), "<formula>", "eval")
    env = {"sum": sum, "range": range, "_int_in": _int_in, **arrays}
    checked = 0
    seen = np.zeros(expected.shape, dtype=bool)
    for combo in np.ndindex(*[int(n) for _, n in names]):
        local = {name: c + 1 for (name, _), c in zip(names, combo)}
        idx = tuple(int(eval(e, {}, local)) - 1 for e in index_exprs)
        got = eval(code, {**env, **local})  # one namespace: the sums are nested scopes
        assert abs(got - expected[idx]) <= 1e-10 * max(1.0, abs(expected[idx])), \
            f"{value}: at {local} formula gives {got}, torch {expected[idx]}"
        seen[idx] = True
        checked += 1
    assert seen.all(), f"{value}: the ranges do not cover every entry"
    return checked


def _check_conv1d_formulas(block: dict, seed: int) -> None:
    cfg = block["conv1d"]
    layout = block.get("layout", "numerator")
    C, L, K = cfg["channels"], cfg["length"], cfg["kernel"]
    Fn = cfg.get("filters", 1)
    settings = dict(stride=cfg.get("stride", 1), padding=cfg.get("padding", 0), dilation=cfg.get("dilation", 1))
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(C, L, generator=gen, dtype=torch.float64)
    W = torch.randn(Fn, C, K, generator=gen, dtype=torch.float64)

    def layer(x_, W_):
        return F.conv1d(x_[None], W_, **settings)[0]

    out = layer(x, W)
    g = torch.randn(out.shape, generator=gen, dtype=torch.float64)
    Wg = W.clone().requires_grad_()
    (layer(x, Wg) * g).sum().backward()
    jw, jx = jacobian(lambda w: layer(x, w), W), jacobian(lambda v: layer(v, W), x)
    if layout == "denominator":
        jw, jx = jw.permute(2, 3, 4, 0, 1), jx.permute(2, 3, 0, 1)
    arrays = {"x": OneBased(x, zero_outside=True), "W": OneBased(W), "G": OneBased(g)}
    key = _by_slot(answer_key(block))
    for slot, expected in (("conv1d_output", out), ("conv1d_jacobian_weight", jw),
                           ("conv1d_jacobian_input", jx), ("conv1d_grad_weight", Wg.grad)):
        answer = key[slot]
        assert answer.shape == tuple(expected.shape), f"{slot}: shape {answer.shape} vs torch {tuple(expected.shape)}"
        _evaluate(answer.value, expected.numpy(), arrays)


def _check_conv_general_formula(answer: Answer, square: bool, rng: random.Random) -> None:
    parts = answer.value.split(" x ")
    assert len(parts) == 3 and parts[0] == "F"
    checked = 0
    while checked < 40:
        C, Fn = rng.randint(1, 3), rng.randint(1, 4)
        H, Wd = rng.randint(1, 14), rng.randint(1, 14)
        kh = rng.randint(1, 5)
        kw = kh if square else rng.randint(1, 5)
        S, P, D = rng.randint(1, 3), rng.randint(0, 2), rng.randint(1, 3)
        try:
            shape = torch.nn.Conv2d(C, Fn, (kh, kw), stride=S, padding=P, dilation=D, bias=False)(
                torch.zeros(1, C, H, Wd)).shape[1:]
        except RuntimeError:
            continue
        env = {"floor": math.floor, "F": Fn, "H": H, "W": Wd, "P": P, "S": S, "D": D,
               "K": kh, "H_K": kh, "W_K": kw}
        got = [eval(re.sub(r"(\d)([A-Za-z(])", r"\1*\2", re.sub(r"\b([A-Z])\(", r"\1*(", p)), env) for p in parts]
        assert tuple(got) == tuple(shape), f"{answer.value} with {env}: {got} vs torch {tuple(shape)}"
        checked += 1


# --------------------------------------------------------------------------- the three terms


@pytest.mark.parametrize("term", sorted(TERMS))
def test_conv2d_output_matches_torch(term):
    block = _block(term)
    c = block["conv2d"]
    layer = torch.nn.Conv2d(1, 1, c["kernel"], stride=c.get("stride", 1), padding=c.get("padding", 0),
                            dilation=c.get("dilation", 1), bias=False)
    expected = list(layer(torch.zeros(1, 1, *c["input"])).shape[-2:])
    answer = _by_slot(answer_key(block))["conv2d_output"]
    assert answer.id == "1.1(a)"
    assert answer.value == expected and list(answer.shape) == expected
    assert answer.dimension == " x ".join(map(str, expected))


def test_2025_values():
    key = _by_id(answer_key(_block("2025")))
    # 2025's numbering is the default; the AttentionRNN diagram is not asked in 2025
    assert list(key) == [default for _, default in SLOTS.values() if default is not None]
    x, W = torch.zeros(7, 11, dtype=torch.float64), torch.zeros(1, 7, 3, dtype=torch.float64)
    out = F.conv1d(x[None], W, stride=2)[0]
    jw = jacobian(lambda w: F.conv1d(x[None], w, stride=2)[0], W)
    assert key["1.1(c)(i)"].shape == tuple(out.shape)
    assert key["1.1(c)(ii)"].blocks == (tuple(out.shape), tuple(W.shape)) == ((1, 5), (1, 7, 3))
    assert key["1.1(c)(ii)"].shape == tuple(jw.shape)
    assert key["1.1(c)(ii)"].dimension == "R^{(1 x 5) x (1 x 7 x 3)}"
    assert key["1.1(c)(iii)"].blocks == (tuple(out.shape), tuple(x.shape))
    assert key["1.1(c)(iv)"].shape == tuple(W.shape)
    assert key["1.2.1(b)"].dimension == "R^m"
    assert key["1.2.2(a)"].value == 2 + 1  # x[t], h[t-1], h[t-2]
    assert "6" in key["1.2.2(c)"].value and "unbounded" in key["1.2.2(c)"].value
    labels = torch.arange(4)
    loss = F.cross_entropy(torch.zeros(4, 4, dtype=torch.float64), labels).item()
    accuracy = (torch.zeros(4, 4).argmax(1) == labels).double().mean().item()
    assert key["1.3(d)"].value == pytest.approx([loss, accuracy], rel=1e-12)
    assert key["1.3(d)"].value[0] == pytest.approx(1.386, abs=5e-4)


def test_2022_and_2021_numbering_and_layout():
    key22 = _by_id(answer_key(_block("2022")))
    assert list(key22) == ["1.1(a)", "1.1(b)", "1.1(c)(i)", "1.1(c)(ii)", "1.1(c)(iii)", "1.1(c)(iv)",
                           "1.2(a)", "1.2(b)", "1.2(c)", "1.2(d)", "1.3(1)", "1.3(2)", "1.3(3)", "1.3(4)"]
    assert key22["1.2(c)"].slot == "gated_rnn_grad_wx"
    # denominator layout: the input's axes first
    assert key22["1.1(c)(ii)"].blocks == ((1, 2, 5), (1, 2))
    assert "K - 1" in key22["1.1(b)"].value and "H_K" not in key22["1.1(b)"].value
    key21 = _by_id(answer_key(_block("2021")))
    assert list(key21)[-1] == "1.2(d)" and not any(i.startswith("1.3") for i in key21)
    assert key21["1.1(c)(i)"].shape == (1, 2)


@pytest.mark.parametrize("term", sorted(TERMS))
def test_conv_formulas_evaluate_to_torch(term):
    _check_conv1d_formulas(_block(term), seed=60)
    block = _block(term)
    answer = _by_slot(answer_key(block))["conv_output_shape"]
    _check_conv_general_formula(answer, block["conv2d"].get("general_kernel") == "square", random.Random(61))


def test_conv1d_formulas_for_random_layers():
    rng = random.Random(62)
    for case in range(40):
        K, S, D, P = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 3), rng.randint(0, 2)
        span = D * (K - 1) + 1
        L = rng.randint(max(1, span - 2 * P), max(1, span - 2 * P) + 6)
        block = {"layout": rng.choice(["numerator", "denominator"]),
                 "conv1d": {"channels": rng.randint(1, 3), "length": L, "kernel": K, "stride": S,
                            "padding": P, "dilation": D, "filters": rng.randint(1, 2)}}
        _check_conv1d_formulas(block, seed=case)


def test_formula_check_can_fail():
    # the evaluator must catch a wrong index: shift the window by one
    block = _block("2025")
    answer = _by_slot(answer_key(block))["conv1d_output"]
    x = torch.randn(7, 11, dtype=torch.float64)
    W = torch.randn(1, 7, 3, dtype=torch.float64)
    out = F.conv1d(x[None], W, stride=2)[0].numpy()
    arrays = {"x": OneBased(x, zero_outside=True), "W": OneBased(W)}
    _evaluate(answer.value, out, arrays)
    with pytest.raises(AssertionError):
        _evaluate(answer.value.replace("2(i-1) + k", "2(i-1) + k - 1"), out, arrays)
    with pytest.raises(AssertionError):  # the flipped kernel
        _evaluate(answer.value.replace("W[1, c, k]", "W[1, c, 4 - k]"), out, arrays)


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("term", sorted(TERMS))
def test_answers_are_json_unique_deterministic_and_accept_frozen_blocks(term):
    block = _block(term)
    answers = answer_key(block)
    assert len({a.id for a in answers}) == len(answers)
    assert all("\n" not in a.question and a.question for a in answers)
    text = json.dumps([a.to_json() for a in answers])
    assert text == json.dumps([a.to_json() for a in answer_key(copy.deepcopy(block))])

    def freeze(v):  # how the registry hands the block over
        if isinstance(v, dict):
            return MappingProxyType({k: freeze(x) for k, x in v.items()})
        if isinstance(v, list):
            return tuple(freeze(x) for x in v)
        return v

    assert answer_key(freeze(block)) == answers


def test_empty_block_has_no_answers():
    assert answer_key({}) == ()


# --------------------------------------------------------------------------- bad blocks


def _edit(path: str, value):
    def apply(block):
        *parents, last = path.split(".")
        node = block
        for p in parents:
            node = node.setdefault(p, {})
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
        return block
    return apply


_DELETE = object()

BAD = [
    ("conv1d.stride", 0, "conv1d.stride"),
    ("conv1d.stride", True, "conv1d.stride"),
    ("conv1d.stride", 1.5, "conv1d.stride"),
    ("conv1d.padding", -1, "conv1d.padding"),
    ("conv1d.kernel", 30, "conv1d.kernel"),
    ("conv1d.kernel", _DELETE, "conv1d.kernel"),
    ("conv1d.colour", 1, "conv1d.colour"),
    ("conv2d.input", [19], "conv2d.input"),
    ("conv2d.input", [19, "26"], "conv2d.input[1]"),
    ("conv2d.kernel", [4, 40], "conv2d.kernel"),
    ("conv2d.stride", [2, 0], "conv2d.stride[1]"),
    ("conv2d.dilation", [1, 1, 1], "conv2d.dilation"),
    ("conv2d.general_kernel", "round", "conv2d.general_kernel"),
    ("layout", "row", "layout"),
    ("conv3d", {}, "conv3d"),
    ("gated_rnn", "yes", "gated_rnn"),
    ("gated_rnn", 0, "gated_rnn"),
    ("attention_rnn.k", _DELETE, "attention_rnn.k"),
    ("attention_rnn.k", 0, "attention_rnn.k"),
    ("loss_curves.classes", 1, "loss_curves.classes"),
    ("loss_curves.task", 5, "loss_curves.task"),
    ("ids.conv2d_outptu", "1.1(a)", "ids.conv2d_outptu"),
    ("ids.conv2d_output", 1.1, "ids.conv2d_output"),
    ("ids.conv_output_shape", "1.1(a)", "ids.conv_output_shape"),  # duplicate of 1.1(a)
]


@pytest.mark.parametrize("path, value, key", BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_bad_block_names_the_key(path, value, key):
    block = _edit(path, value)(_block("2025"))
    with pytest.raises(KeyConfigError) as info:
        answer_key(block)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.key == key
    assert err.problem and err.fix
    assert str(err).startswith(f"{key}: ")


def test_id_for_a_missing_section_is_refused():
    block = _block("2021")
    block["ids"]["initial_loss_accuracy"] = "1.3(d)"
    with pytest.raises(KeyConfigError) as info:
        answer_key(block)
    assert info.value.key == "ids.initial_loss_accuracy" and "loss_curves" in info.value.problem


def test_block_must_be_a_mapping():
    with pytest.raises(KeyConfigError) as info:
        answer_key(["conv2d"])  # type: ignore[arg-type]
    assert info.value.key == ""
