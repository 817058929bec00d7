"""The answer key of the theory part, computed from an assignment's `theory:` block.

The key is for a TA grading PDFs: every answer carries the question id as that term's text
numbers it, a one-line question, the value (a number, a list, or a formula written 1-based
as the course writes it), and for tensors their dimension. Every number comes from the
reference solutions in `nyu_dl_hw2.reference.theory`, which are tested against torch.autograd; nothing
here is typed by hand.

The `theory:` block (all sections optional; a term lists the ones its text has)::

    theory:
      layout: numerator        # numerator (default) | denominator: axis order of Jacobians
      conv2d:                  # 1.1(a) output size and 1.1(b) general formula
        input: [19, 26]        # H, W of the image
        kernel: 4              # int, or [H_K, W_K]
        stride: 2              # int or [S_H, S_W]; default 1
        padding: 1             # int or pair; default 0
        dilation: 1            # int or pair; default 1
        general_kernel: rectangular   # how 1.1(b) names the kernel: rectangular (H_K x W_K,
                                      # default) | square (K x K, 2021-2022)
      conv1d:                  # 1.1(c): the 1-D layer f_W, its Jacobians and dl/dW
        channels: 7
        length: 11
        kernel: 3
        stride: 2              # default 1
        padding: 0             # default 0
        dilation: 1            # default 1
        filters: 1             # default 1
      gated_rnn: true          # the gated RNN questions (1.2.1; 1.2 before 2023)
      attention_rnn:           # AttentionRNN questions (1.2.2)
        k: 2                   # the k of the AttentionRNN(k) the text defines
      loss_curves:             # debugging loss curves (1.3)
        classes: 4             # classes of the sequence task (ln k, 1/k at the start)
        task: temporal order (Q, R, S, U)   # optional, shown in the question
      ids:                     # question slot -> id in this term's text; null drops it
        gated_rnn_step_jacobians: null
      points: {"1.1(a)": 2, "1.1(b)": 3}   # question id -> points (what `grader theory` suggests)

Slots and their default ids (Spring 2025's numbering) are in `SLOTS`; a slot whose section
is missing is not asked. Invalid values raise `KeyConfigError` naming the dotted key inside
the block ("conv1d.stride", "conv2d.input[1]", "ids.conv2d_output"); the registry loader
turns it into a message with the file and line.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from grader.api import Answer, KeyConfigError
from nyu_dl_hw2.reference.errors import ReferenceInputError
from nyu_dl_hw2.reference.theory.attention_rnn import attention_rnn_forward, attention_rnn_weight_count
from nyu_dl_hw2.reference.theory.conv import (
    conv1d_grad_weight,
    conv1d_jacobian_input,
    conv1d_jacobian_weight,
    cross_correlate1d,
)
from nyu_dl_hw2.reference.theory.layout import LAYOUTS, jacobian_blocks
from nyu_dl_hw2.reference.theory.shapes import conv2d_output_shape
from nyu_dl_hw2.reference.theory.untrained import untrained_accuracy, untrained_loss

# slot -> (section of the theory block, default id = Spring 2025's numbering, None: not asked
# unless the block's `ids` names it); in question order
SLOTS: dict[str, tuple[str, str | None]] = {
    "conv2d_output": ("conv2d", "1.1(a)"),
    "conv_output_shape": ("conv2d", "1.1(b)"),
    "conv1d_output": ("conv1d", "1.1(c)(i)"),
    "conv1d_jacobian_weight": ("conv1d", "1.1(c)(ii)"),
    "conv1d_jacobian_input": ("conv1d", "1.1(c)(iii)"),
    "conv1d_grad_weight": ("conv1d", "1.1(c)(iv)"),
    "gated_rnn_diagram": ("gated_rnn", "1.2.1(a)"),
    "gated_rnn_gate_dimension": ("gated_rnn", "1.2.1(b)"),
    "gated_rnn_step_jacobians": ("gated_rnn", "1.2.1(c)"),
    "gated_rnn_grad_wx": ("gated_rnn", "1.2.1(d)"),
    "gated_rnn_gradient_stability": ("gated_rnn", "1.2.1(e)"),
    "attention_rnn_diagram": ("attention_rnn", None),  # Fall 2022 / Spring 2024 / Fall 2025 only
    "attention_weights_dimension": ("attention_rnn", "1.2.2(a)"),
    "attention_rnn_k": ("attention_rnn", "1.2.2(b)"),
    "attention_rnn_inf": ("attention_rnn", "1.2.2(c)"),
    "attention_rnn_step_jacobian": ("attention_rnn", "1.2.2(d)"),
    "attention_rnn_state_grad": ("attention_rnn", "1.2.2(e)"),
    "loss_spikes_cause": ("loss_curves", "1.3(a)"),
    "loss_spikes_above_initial": ("loss_curves", "1.3(b)"),
    "loss_spikes_fixes": ("loss_curves", "1.3(c)"),
    "initial_loss_accuracy": ("loss_curves", "1.3(d)"),
}

SECTIONS = ("conv2d", "conv1d", "gated_rnn", "attention_rnn", "loss_curves")
TOP_KEYS = ("layout",) + SECTIONS + ("ids", "points")
CONV2D_KEYS = ("input", "kernel", "stride", "padding", "dilation", "general_kernel")
CONV1D_KEYS = ("channels", "length", "kernel", "stride", "padding", "dilation", "filters")


# --------------------------------------------------------------------------- validation


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise KeyConfigError(key, f"must be a mapping, got {_show(value)}", "write it as `key: value` lines")
    return value


def _known(block: Mapping[str, Any], known: Sequence[str], prefix: str) -> None:
    for name in block:
        if name not in known:
            close = difflib.get_close_matches(str(name), known, n=1)
            hint = f"did you mean `{close[0]}`? " if close else ""
            raise KeyConfigError(_join(prefix, str(name)), "unknown key", f"{hint}known keys: {', '.join(known)}")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _show(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _int(value: Any, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise KeyConfigError(key, f"must be a whole number, got {_show(value)}", f"write an integer >= {minimum}")
    if int(value) < minimum:
        raise KeyConfigError(key, f"must be at least {minimum}, got {value}", f"write an integer >= {minimum}")
    return int(value)


def _int_or_pair(value: Any, key: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        v = _int(value, key, minimum)
        return v, v
    if len(value) != 2:
        raise KeyConfigError(key, f"must be one integer or a pair [height, width], got {list(value)!r}",
                             "write e.g. 2 or [2, 1]")
    return _int(value[0], f"{key}[0]", minimum), _int(value[1], f"{key}[1]", minimum)


def _conv2d(block: Any) -> dict[str, Any]:
    block = _mapping(block, "conv2d")
    _known(block, CONV2D_KEYS, "conv2d")
    if "input" not in block:
        raise KeyConfigError("conv2d.input", "is missing", "write the image size as [H, W], e.g. [19, 26]")
    raw = block["input"]
    if isinstance(raw, (str, bytes)) or not isinstance(raw, Sequence) or len(raw) != 2:
        raise KeyConfigError("conv2d.input", f"must be [H, W], got {_show(raw)}", "write e.g. [19, 26]")
    if "kernel" not in block:
        raise KeyConfigError("conv2d.kernel", "is missing", "write the kernel size, e.g. 4 or [4, 3]")
    cfg = {
        "input": (_int(raw[0], "conv2d.input[0]", 1), _int(raw[1], "conv2d.input[1]", 1)),
        "kernel": _int_or_pair(block["kernel"], "conv2d.kernel", 1),
        "stride": _int_or_pair(block.get("stride", 1), "conv2d.stride", 1),
        "padding": _int_or_pair(block.get("padding", 0), "conv2d.padding", 0),
        "dilation": _int_or_pair(block.get("dilation", 1), "conv2d.dilation", 1),
        "general_kernel": block.get("general_kernel", "rectangular"),
    }
    if cfg["general_kernel"] not in ("rectangular", "square"):
        raise KeyConfigError("conv2d.general_kernel", f"must be rectangular or square, got {_show(cfg['general_kernel'])}",
                             "rectangular: the text says H_K x W_K; square: it says K x K")
    try:
        cfg["output"] = conv2d_output_shape((1,) + cfg["input"], cfg["kernel"], padding=cfg["padding"],
                                            stride=cfg["stride"], dilation=cfg["dilation"])[1:]
    except ReferenceInputError as exc:
        raise KeyConfigError("conv2d.kernel", str(exc), "use a smaller kernel or dilation, more padding, or a larger input") from None
    return cfg


def _conv1d(block: Any) -> dict[str, Any]:
    block = _mapping(block, "conv1d")
    _known(block, CONV1D_KEYS, "conv1d")
    for required in ("channels", "length", "kernel"):
        if required not in block:
            raise KeyConfigError(f"conv1d.{required}", "is missing", "the 1-D layer needs channels, length and kernel")
    cfg = {
        "C": _int(block["channels"], "conv1d.channels", 1),
        "L": _int(block["length"], "conv1d.length", 1),
        "K": _int(block["kernel"], "conv1d.kernel", 1),
        "S": _int(block.get("stride", 1), "conv1d.stride", 1),
        "P": _int(block.get("padding", 0), "conv1d.padding", 0),
        "D": _int(block.get("dilation", 1), "conv1d.dilation", 1),
        "F": _int(block.get("filters", 1), "conv1d.filters", 1),
    }
    # a deterministic example layer: the shapes below are those the reference produces
    x = np.arange(cfg["C"] * cfg["L"], dtype=np.float64).reshape(cfg["C"], cfg["L"])
    W = np.ones((cfg["F"], cfg["C"], cfg["K"]))
    settings = dict(stride=cfg["S"], dilation=cfg["D"], padding=cfg["P"])
    try:
        out = cross_correlate1d(x, W, **settings)
    except ReferenceInputError as exc:
        raise KeyConfigError("conv1d.kernel", str(exc), "use a smaller kernel or dilation, more padding, or a longer input") from None
    cfg.update(x=x, W=W, settings=settings, out_shape=out.shape, Lo=out.shape[1])
    return cfg


def _ids(raw: Any, present: set[str]) -> dict[str, str]:
    raw = _mapping(raw if raw is not None else {}, "ids")
    _known(raw, tuple(SLOTS), "ids")
    ids: dict[str, str] = {}
    seen: dict[str, str] = {}
    for slot, (section, default) in SLOTS.items():
        if slot in raw:
            value = raw[slot]
            if section not in present and value is not None:
                raise KeyConfigError(f"ids.{slot}", f"names a question of section `{section}`, which this block does not have",
                                     f"add a `{section}:` section or drop this id")
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                raise KeyConfigError(f"ids.{slot}", f"must be a question id like \"1.1(a)\" or null, got {_show(value)}",
                                     "quote it, or write null to drop the question")
            value = value.strip()
        elif section in present and default is not None:
            value = default
        else:
            continue
        if value in seen:
            raise KeyConfigError(f"ids.{slot}", f"id {value!r} is already used by `{seen[value]}`",
                                 "give every question its own id")
        seen[value] = slot
        ids[slot] = value
    return ids


# --------------------------------------------------------------------------- formula text


def _dims(shape: Sequence[int]) -> str:
    return " x ".join(str(s) for s in shape)


def _space(*groups: Sequence[int]) -> str:
    if len(groups) == 1:
        return f"R^{{{_dims(groups[0])}}}"
    return "R^{" + " x ".join(f"({_dims(g)})" for g in groups) + "}"


def _input_index(cfg: Mapping[str, Any], i: str = "i", k: str = "k") -> str:
    """1-based position in x met by kernel tap k at output i: S(i-1) + D(k-1) + 1 - P."""
    S, D, P = cfg["S"], cfg["D"], cfg["P"]
    terms, const = [], -P
    if S == 1:
        terms.append(i)
        const -= 1
    else:
        terms.append(f"{S}({i}-1)")
    if D == 1:
        terms.append(k)
    else:
        terms.append(f"{D}({k}-1)")
        const += 1
    text = " + ".join(terms)
    return text + (f" + {const}" if const > 0 else f" - {-const}" if const < 0 else "")


def _tap_index(cfg: Mapping[str, Any], i: str = "i", j: str = "j") -> str:
    """The 1-based kernel tap k with S(i-1) + D(k-1) + 1 - P = j."""
    S, D, P = cfg["S"], cfg["D"], cfg["P"]
    shift = f"{S}({i}-1)" if S != 1 else f"({i}-1)"
    if D == 1:
        return f"{j} - {shift}" + (f" + {P}" if P else "")
    return f"({j} - {shift}" + (f" + {P}" if P else "") + f" - 1)/{D} + 1"


def _filter(cfg: Mapping[str, Any], name: str) -> str:
    return "1" if cfg["F"] == 1 else name


def _ranges(cfg: Mapping[str, Any], names: Sequence[str]) -> str:
    limits = {"f": cfg["F"], "g": cfg["F"], "i": cfg["Lo"], "c": cfg["C"], "k": cfg["K"], "j": cfg["L"]}
    shown = [n for n in names if not (n in "fg" and cfg["F"] == 1)]
    return ", ".join(f"{n} = 1..{limits[n]}" for n in shown)


def _layout_note(layout: str, out_shape, in_shape) -> str:
    other = "denominator" if layout == "numerator" else "numerator"
    return (f"{layout.capitalize()} layout ({'output' if layout == 'numerator' else 'input'} axes first); "
            f"in {other} layout the same numbers form {_space(*jacobian_blocks(out_shape, in_shape, other))}. "
            "Dropping singleton axes is the same answer.")


# --------------------------------------------------------------------------- answers


def _conv2d_answers(cfg, ids, layout) -> list[Answer]:
    out: list[Answer] = []
    (H, W), (kh, kw) = cfg["input"], cfg["kernel"]
    (sh, sw), (ph, pw), (dh, dw) = cfg["stride"], cfg["padding"], cfg["dilation"]
    if "conv2d_output" in ids:
        Ho, Wo = cfg["output"]
        settings = [f"stride {sh if sh == sw else (sh, sw)}"]
        settings.append("no padding" if ph == pw == 0 else f"padding {ph if ph == pw else (ph, pw)}")
        if (dh, dw) != (1, 1):
            settings.append(f"dilation {dh if dh == dw else (dh, dw)}")
        steps = []
        for axis, n, k, s, p, d, res in (("height", H, kh, sh, ph, dh, Ho), ("width", W, kw, sw, pw, dw, Wo)):
            top = n + 2 * p - d * (k - 1) - 1
            exact = "" if top % s == 0 else f" (= floor({top}/{s}) + 1: the last incomplete window is dropped)"
            steps.append(f"{axis}: floor(({n} + 2*{p} - {d}*({k} - 1) - 1)/{s}) + 1 = {res}{exact}")
        out.append(Answer(
            id=ids["conv2d_output"], slot="conv2d_output",
            question=f"Output dimension of a {kh}x{kw} convolution ({', '.join(settings)}) on a {H}x{W} image",
            value=[Ho, Wo], shape=(Ho, Wo), dimension=f"{Ho} x {Wo}",
            notes="; ".join(steps) + ". With F filters the output is F x " + f"{Ho} x {Wo}.",
        ))
    if "conv_output_shape" in ids:
        square = cfg["general_kernel"] == "square"
        kh_s, kw_s = ("K", "K") if square else ("H_K", "W_K")
        value = (f"F x floor((H + 2P - D({kh_s} - 1) - 1)/S) + 1 x floor((W + 2P - D({kw_s} - 1) - 1)/S) + 1")
        out.append(Answer(
            id=ids["conv_output_shape"], slot="conv_output_shape",
            question=f"Output dimension for a C x H x W input, {kh_s} x {kw_s} kernel, padding P, stride S, dilation D, F filters",
            value=value, dimension="F x H_out x W_out",
            notes=(f"Equivalent: floor((H + 2P - D({kh_s} - 1) - 1)/S + 1); with D = 1, floor((H + 2P - {kh_s})/S) + 1. "
                   "The channel count C does not appear: each filter sums over all channels. "
                   "A dilation written as 'gaps' (D - 1) shifts the formula accordingly."),
        ))
    return out


def _conv1d_answers(cfg, ids, layout) -> list[Answer]:
    out: list[Answer] = []
    C, L, K, S, P, D, F, Lo = (cfg[n] for n in ("C", "L", "K", "S", "P", "D", "F", "Lo"))
    x, W, settings = cfg["x"], cfg["W"], cfg["settings"]
    f, g = _filter(cfg, "f"), _filter(cfg, "g")
    xi = _input_index(cfg)
    pad_note = f" x[c, j] = 0 outside 1..{L} (zero padding)." if P else ""
    base = f"{C} channels, length {L}, kernel {K}, stride {S}" + (f", padding {P}" if P else "") + \
        (f", dilation {D}" if D != 1 else "") + (f", {F} filters" if F != 1 else ", one filter")
    if "conv1d_output" in ids:
        shape = cross_correlate1d(x, W, **settings).shape
        out.append(Answer(
            id=ids["conv1d_output"], slot="conv1d_output",
            question=f"Dimension and elements of f_W(x) ({base})",
            value=f"f_W(x)[{f}, i] = sum_{{c=1}}^{{{C}}} sum_{{k=1}}^{{{K}}} W[{f}, c, k] x[c, {xi}], for {_ranges(cfg, 'fi')}",
            shape=tuple(shape), dimension=_space(shape),
            notes=(f"Indices 1-based as in the course; x[c, j] is channel c at position j.{pad_note} "
                   f"W[{f}, c, {K + 1} - k] instead of W[{f}, c, k] is the textbook (flipped) convolution, not this layer; "
                   "a dot product over channels x[.]^T W[.] is the same answer."),
        ))
    if "conv1d_jacobian_weight" in ids:
        jac = conv1d_jacobian_weight(x, W, layout=layout, **settings)
        blocks = jacobian_blocks(cfg["out_shape"], W.shape, layout)
        idx = f"{f}, i, {g}, c, k" if layout == "numerator" else f"{g}, c, k, {f}, i"
        iverson = "[f = g] " if F > 1 else ""
        out.append(Answer(
            id=ids["conv1d_jacobian_weight"], slot="conv1d_jacobian_weight",
            question=f"Dimension and values of d f_W(x) / dW ({base})",
            value=f"df_W(x)/dW[{idx}] = {iverson}x[c, {xi}], for {_ranges(cfg, 'figck')}",
            shape=tuple(jac.shape), blocks=blocks, dimension=_space(*blocks),
            notes=_layout_note(layout, cfg["out_shape"], W.shape) + pad_note +
            " f is linear in W, so the derivative is the input window: it does not depend on W.",
        ))
    if "conv1d_jacobian_input" in ids:
        jac = conv1d_jacobian_input(x, W, layout=layout, **settings)
        blocks = jacobian_blocks(cfg["out_shape"], x.shape, layout)
        idx = f"{f}, i, c, j" if layout == "numerator" else f"c, j, {f}, i"
        tap = _tap_index(cfg)
        cond = f"1 <= {tap} <= {K}" if D == 1 else f"{tap} is an integer in 1..{K}"
        out.append(Answer(
            id=ids["conv1d_jacobian_input"], slot="conv1d_jacobian_input",
            question=f"Dimension and values of d f_W(x) / dx ({base})",
            value=f"df_W(x)/dx[{idx}] = W[{f}, c, {tap}] if {cond}, else 0, for {_ranges(cfg, 'ficj')}",
            shape=tuple(jac.shape), blocks=blocks, dimension=_space(*blocks),
            notes=_layout_note(layout, cfg["out_shape"], x.shape) +
            " Each row i holds W shifted by the stride: a banded (Toeplitz-like) matrix; it does not depend on x.",
        ))
    if "conv1d_grad_weight" in ids:
        grad = conv1d_grad_weight(x, W, np.ones(cfg["out_shape"]), **settings)
        out.append(Answer(
            id=ids["conv1d_grad_weight"], slot="conv1d_grad_weight",
            question=f"Dimension of and expression for dl/dW given dl/df_W(x) ({base})",
            value=(f"dl/dW[{f}, c, k] = sum_{{i=1}}^{{{Lo}}} dl/df_W(x)[{f}, i] x[c, {xi}], "
                   f"for {_ranges(cfg, 'fck')}"),
            shape=tuple(grad.shape), dimension=_space(grad.shape),
            notes=(f"dl/dW has W's shape. Like (i) it is a cross-correlation over x, but the kernel is dl/df_W(x) "
                   f"({Lo} taps) applied with dilation {S} (the forward stride) and stride {D} (the forward dilation), "
                   f"where (i) slides W ({K} taps) with stride {S}; and it sums over the output positions i instead of "
                   "over channels and taps." + pad_note),
        ))
    return out


def _gated_answers(ids, layout) -> list[Answer]:
    out: list[Answer] = []
    num = layout == "numerator"
    if "gated_rnn_diagram" in ids:
        out.append(Answer(
            id=ids["gated_rnn_diagram"], slot="gated_rnn_diagram",
            question="Diagram of the gated RNN (graded by hand)",
            value=("x[t] and h[t-1] -> W_c x[t] + W_h h[t-1] -> sigmoid -> c[t]; x[t] -> W_x; "
                   "h[t] = c[t] * h[t-1] + (1 - c[t]) * W_x x[t]; h[t] loops back (delay) as h[t-1] of the next step"),
            notes="Look for: both inputs of the gate, the two Hadamard products, the 1 - c[t] branch, the recurrent loop.",
        ))
    if "gated_rnn_gate_dimension" in ids:
        out.append(Answer(
            id=ids["gated_rnn_gate_dimension"], slot="gated_rnn_gate_dimension",
            question="Dimension of c[t]", value="m", dimension="R^m",
            notes="c[t] gates h[t] element by element (W_c is m x n, W_h is m x m), so it has h's size m, not x's n.",
        ))
    if "gated_rnn_step_jacobians" in ids:
        if num:
            value = ("dh[t]/dh[t-1] = diag(c[t]) + diag((h[t-1] - W_x x[t]) * c[t] * (1 - c[t])) W_h; "
                     "dc[t]/dh[t-1] = diag(c[t] * (1 - c[t])) W_h")
        else:
            value = ("dh[t]/dh[t-1] = diag(c[t]) + W_h^T diag((h[t-1] - W_x x[t]) * c[t] * (1 - c[t])); "
                     "dc[t]/dh[t-1] = W_h^T diag(c[t] * (1 - c[t]))")
        out.append(Answer(
            id=ids["gated_rnn_step_jacobians"], slot="gated_rnn_step_jacobians",
            question="dh[t]/dh[t-1] and dc[t]/dh[t-1]", value=value, dimension="R^{m x m}",
            notes=(f"{layout.capitalize()} layout: entry [i, j] = d{'h_i[t]/dh_j[t-1]' if num else 'h_j[t]/dh_i[t-1]'}. "
                   "* is the Hadamard product; sigma'(z) = sigma(z)(1 - sigma(z)) = c[t] * (1 - c[t]). "
                   "Forgetting the diag(c[t]) term (h[t-1] appears twice) is the usual error."),
        ))
    if "gated_rnn_grad_wx" in ids:
        jac = "(dh[t+1]/dh[t])^T" if num else "dh[t+1]/dh[t]"
        out.append(Answer(
            id=ids["gated_rnn_grad_wx"], slot="gated_rnn_grad_wx",
            question="Dimension of and expression for dl/dW_x; similarity of the backward and forward passes",
            value=(f"dl/dW_x = sum_{{t=1}}^{{K}} (delta[t] * (1 - c[t])) x[t]^T, where delta[t] = dl/dh[t] "
                   f"= (partial l/partial h[t]) + {jac} delta[t+1], delta[K+1] = 0"),
            dimension="R^{m x n}",
            notes=("dl/dW_x has W_x's shape m x n (strict numerator layout writes its transpose n x m: accept either, "
                   "consistently). If 'dl/dh[t]' is read as the total derivative, delta[t] is given and the sum is direct. "
                   "Similarity: the backward pass is the same recurrence run in reverse time: delta[t] collects "
                   "c[t+1] * delta[t+1] (the carry, as h[t] collects c[t] * h[t-1]) plus a term through the gate; "
                   "both are sequential in t."),
        ))
    if "gated_rnn_gradient_stability" in ids:
        out.append(Answer(
            id=ids["gated_rnn_gradient_stability"], slot="gated_rnn_gradient_stability",
            question="Can this network have vanishing or exploding gradients? Why?",
            value=("Yes, both can happen: gradients are products over time of dh[t]/dh[t-1] = diag(c[t]) + "
                   "diag((h[t-1] - W_x x[t]) * c[t] * (1 - c[t])) W_h. Where c[t] is near 0 and the W_h term is small "
                   "they vanish; a large W_h term can make them explode. The diag(c[t]) carry (like an LSTM forget gate) "
                   "lets gradients pass unchanged when c[t] is near 1, so vanishing is milder than in a plain RNN."),
            notes="Credit 'yes' with the product-of-Jacobians argument; a bare 'no, the gate prevents it' misses the W_h term.",
        ))
    return out


def _attention_answers(cfg, ids, layout) -> list[Answer]:
    out: list[Answer] = []
    k = cfg["k"]
    num = layout == "numerator"
    if "attention_rnn_diagram" in ids:
        out.append(Answer(
            id=ids["attention_rnn_diagram"], slot="attention_rnn_diagram",
            question=f"Diagram of AttentionRNN({k}) (graded by hand)",
            value=("x[t], " + ", ".join(f"h[t-{i}]" for i in range(1, k + 1)) +
                   " -> Q_i, K_i, V_i -> q_i, k_i, v_i; w_i = q_i^T k_i -> softargmax -> a[t]; "
                   "h[t] = sum_i a_i[t] v_i[t]; h[t] is delayed to feed the next steps as h[t-1] ... h[t-" + f"{k}]"),
            notes=(f"Look for: the {k + 1} inputs each with its own Q_i, K_i, V_i, the dot products q_i^T k_i, one "
                   "softargmax over all of them, the weighted sum of the values, and the delay lines back into the cell."),
        ))
    if "attention_weights_dimension" in ids:
        mats = [[np.eye(2)] * (k + 1)] * 3
        size = attention_rnn_forward(np.ones((1, 2)), *mats).a.shape[1]
        out.append(Answer(
            id=ids["attention_weights_dimension"], slot="attention_weights_dimension",
            question=f"Dimension of a[t] in AttentionRNN({k})", value=size, shape=(size,), dimension=f"R^{size}",
            notes="One softmax weight per attended vector: x[t] and " +
            ", ".join(f"h[t-{i}]" for i in range(1, k + 1)) + ".",
        ))
    if "attention_rnn_k" in ids:
        out.append(Answer(
            id=ids["attention_rnn_k"], slot="attention_rnn_k",
            question="Equations of AttentionRNN(k)",
            value=("s_0 = x[t], s_i = h[t-i] (i = 1..k); q_i[t] = Q_i s_i, k_i[t] = K_i s_i, v_i[t] = V_i s_i (i = 0..k); "
                   "w_i[t] = q_i[t]^T k_i[t]; a[t] = softargmax([w_0[t], ..., w_k[t]]); h[t] = sum_{i=0}^{k} a_i[t] v_i[t]"),
            dimension="a[t] in R^{k+1}",
            notes=(f"3(k + 1) weight matrices Q_i, K_i, V_i (= {attention_rnn_weight_count(k)} for k = {k}); "
                   "h[t] = 0 for t < 1 as before."),
        ))
    if "attention_rnn_inf" in ids:
        tied = attention_rnn_weight_count(math.inf, tied=True)
        untied = attention_rnn_weight_count(math.inf)
        untied_text = "unbounded" if untied == math.inf else str(untied)
        out.append(Answer(
            id=ids["attention_rnn_inf"], slot="attention_rnn_inf",
            question="Equations of AttentionRNN(inf); number of weight matrices and how to limit it",
            value=("q_0, k_0, v_0 = Q_0 x[t], K_0 x[t], V_0 x[t]; q_i, k_i, v_i = Q_i h[t-i], K_i h[t-i], V_i h[t-i] "
                   "for i = 1..t-1 (every past state); w_i = q_i^T k_i; a[t] = softargmax([w_0, ..., w_{t-1}]); "
                   f"h[t] = sum_{{i=0}}^{{t-1}} a_i[t] v_i[t]. Weight matrices: {untied_text} untied (3 per past state; "
                   f"3t at step t); tied: {tied} (Q_x, K_x, V_x for the input, one Q_h, K_h, V_h shared by all past states)"),
            notes=("Weight sharing across the past slots bounds the count; any scheme with a fixed number of matrices "
                   "(e.g. also sharing with the input, 3) is acceptable if explained."),
        ))
    if "attention_rnn_step_jacobian" in ids:
        if num:
            value = "dh[t]/dh[t-1] = a_1[t] (V_1 + (v_1[t] - h[t]) h[t-1]^T (Q_1^T K_1 + K_1^T Q_1))"
        else:
            value = "dh[t]/dh[t-1] = a_1[t] (V_1^T + (Q_1^T K_1 + K_1^T Q_1) h[t-1] (v_1[t] - h[t])^T)"
        out.append(Answer(
            id=ids["attention_rnn_step_jacobian"], slot="attention_rnn_step_jacobian",
            question=f"dh[t]/dh[t-1] for AttentionRNN({k})",
            value=value, dimension="R^{n x n}",
            notes=("Partial derivative (x[t] and the other states held fixed). Derivation: h = sum_j a_j v_j; "
                   "dv_1/dh[t-1] = V_1; da_j/dw_1 = a_j ([j = 1] - a_1); dw_1/dh[t-1] = h[t-1]^T (Q_1^T K_1 + K_1^T Q_1), "
                   "so sum_j v_j da_j/dw_1 = a_1 (v_1 - h[t]). Writing (Q_1 h)^T K_1 + (K_1 h)^T Q_1 for the last factor is the same."),
        ))
    if "attention_rnn_state_grad" in ids:
        out.append(Answer(
            id=ids["attention_rnn_state_grad"], slot="attention_rnn_state_grad",
            question="dl/dh[T] for AttentionRNN(k), given dh[t]/dh[T] and dl/dh[t] for t > T",
            value=("dl/dh[T] = (partial l/partial h[T]) + sum_{t=T+1}^{T+k} (dl/dh[t]) (partial h[t]/partial h[T]); "
                   "with total derivatives dh[t]/dh[T] and direct terms partial l/partial h[t] instead: "
                   "(partial l/partial h[T]) + sum_{t>T} (partial l/partial h[t]) (dh[t]/dh[T])"),
            dimension="R^n",
            notes=("Only the next k steps read h[T] directly, so the sum with total dl/dh[t] stops at T + k. "
                   "Pairing totals with totals counts paths twice. "
                   + ("Row vectors times Jacobians (numerator layout)." if num else
                      "Denominator layout: (dh[t]/dh[T]) dl/dh[t] with column vectors.")),
        ))
    return out


def _loss_answers(cfg, ids) -> list[Answer]:
    out: list[Answer] = []
    k = cfg["classes"]
    task = f" ({cfg['task']})" if cfg.get("task") else ""
    loss0, acc0 = untrained_loss(k), untrained_accuracy(k)
    if "loss_spikes_cause" in ids:
        out.append(Answer(
            id=ids["loss_spikes_cause"], slot="loss_spikes_cause", question="What caused the spikes in the loss curve?",
            value=("Exploding gradients: on some batches the RNN's gradient is very large (a steep cliff of the loss "
                   "surface, long products of Jacobians), and a fixed learning rate turns it into a huge step."),
        ))
    if "loss_spikes_above_initial" in ids:
        out.append(Answer(
            id=ids["loss_spikes_above_initial"], slot="loss_spikes_above_initial",
            question="How can the spikes be higher than the initial loss?",
            value=(f"The initial loss is that of an uninformed guess (ln {k} = {loss0:.3f}); a huge step lands on "
                   "parameters that are confidently wrong, and cross-entropy is unbounded above."),
        ))
    if "loss_spikes_fixes" in ids:
        out.append(Answer(
            id=ids["loss_spikes_fixes"], slot="loss_spikes_fixes", question="Ways to fix the spikes",
            value=("Gradient clipping (by norm); a smaller learning rate or a schedule/warm-up; larger batches; "
                   "an adaptive or momentum optimiser; (model changes such as LSTM/GRU are not allowed in the coding part)."),
        ))
    if "initial_loss_accuracy" in ids:
        out.append(Answer(
            id=ids["initial_loss_accuracy"], slot="initial_loss_accuracy",
            question=f"Initial [cross-entropy loss, accuracy] of the untrained {k}-class classifier{task}",
            value=[loss0, acc0], shape=(2,),
            notes=(f"loss = -ln(1/{k}) = ln {k} = {loss0:.4f} (natural log): the untrained softmax is about uniform; "
                   f"accuracy = 1/{k} = {acc0:.4g}: chance on {k} balanced classes."),
        ))
    return out


def answer_key(theory: Mapping[str, Any]) -> tuple[Answer, ...]:
    """Every answer of a term's theory part, in question order. Raises KeyConfigError."""
    theory = _mapping(theory, "")
    _known(theory, TOP_KEYS, "")
    layout = theory.get("layout", "numerator")
    if layout not in LAYOUTS:
        raise KeyConfigError("layout", f"must be numerator or denominator, got {_show(layout)}",
                             "numerator: output axes first (2025); denominator: input axes first")
    present = {s for s in SECTIONS if theory.get(s) is not None and theory.get(s) is not False}
    configs: dict[str, Any] = {}
    if "conv2d" in present:
        configs["conv2d"] = _conv2d(theory["conv2d"])
    if "conv1d" in present:
        configs["conv1d"] = _conv1d(theory["conv1d"])
    if "gated_rnn" in present and theory["gated_rnn"] is not True:
        raise KeyConfigError("gated_rnn", f"must be true or false, got {_show(theory['gated_rnn'])}",
                             "write `gated_rnn: true` when the term asks the gated RNN questions")
    if "attention_rnn" in present:
        block = _mapping(theory["attention_rnn"], "attention_rnn")
        _known(block, ("k",), "attention_rnn")
        if "k" not in block:
            raise KeyConfigError("attention_rnn.k", "is missing", "write the k of the text's AttentionRNN(k), e.g. 2")
        configs["attention_rnn"] = {"k": _int(block["k"], "attention_rnn.k", 1)}
    if "loss_curves" in present:
        block = _mapping(theory["loss_curves"], "loss_curves")
        _known(block, ("classes", "task"), "loss_curves")
        if "classes" not in block:
            raise KeyConfigError("loss_curves.classes", "is missing", "write the number of classes, e.g. 4")
        task = block.get("task", "")
        if not isinstance(task, str):
            raise KeyConfigError("loss_curves.task", f"must be text, got {_show(task)}", "quote it")
        configs["loss_curves"] = {"classes": _int(block["classes"], "loss_curves.classes", 2), "task": task}
    ids = _ids(theory.get("ids"), present)

    builders: list[Callable[[], list[Answer]]] = [
        lambda: _conv2d_answers(configs["conv2d"], ids, layout) if "conv2d" in configs else [],
        lambda: _conv1d_answers(configs["conv1d"], ids, layout) if "conv1d" in configs else [],
        lambda: _gated_answers(ids, layout) if "gated_rnn" in present else [],
        lambda: _attention_answers(configs["attention_rnn"], ids, layout) if "attention_rnn" in configs else [],
        lambda: _loss_answers(configs["loss_curves"], ids) if "loss_curves" in configs else [],
    ]
    answers = [a for build in builders for a in build()]
    order = {slot: n for n, slot in enumerate(SLOTS)}
    answers.sort(key=lambda a: order[a.slot])
    _points_block(theory, [a.id for a in answers])
    return tuple(answers)


# --------------------------------------------------------------------------- checkable items

# Names students give the formula's variables (the engine maps them to the key's names).
_VARIABLES = {"H": ("H_in", "H_{in}"), "W": ("W_in", "W_{in}"), "P": ("p",), "S": ("s",), "D": ("d",),
              "K": ("k",), "H_K": ("HK", "K_H", "KH", "H_k", "k_h", "K_h", "k_H", "Kh", "kh"),
              "W_K": ("WK", "K_W", "KW", "W_k", "k_w", "K_w", "k_W", "Kw", "kw")}
_RANGES = {"H": (20, 80), "W": (20, 80), "K": (1, 7), "H_K": (1, 7), "W_K": (1, 7), "P": (0, 3), "S": (1, 5),
           "D": (1, 3)}
_EXAMPLE = (42, 42, 42)  # the course's "example answer format" R^{42 x 42 x 42}: never an answer
_SUBJECTS = {  # what each shape is of, as the text before `∈ R^{...}` reads (normalised text)
    "conv1d_output": r"(?<!∂)(?<!∂ )\bf\s*_?\s*\{?\s*[wW]\s*\}?\s*\(\s*x\s*\)\s*\)?[^,;∂.?]{0,20}$",
    "conv1d_jacobian_weight": r"∂\s*W\s*\)*[^,;∂.?]{0,25}$",
    "conv1d_jacobian_input": r"∂\s*x\s*\)*[^,;∂.?]{0,25}$",
    "conv1d_grad_weight": r"∂\s*(?:ℓ|l|L)\s*\)*\s*/\s*\(*\s*∂\s*W\s*\)*[^,;∂.?]{0,25}$",
    "gated_rnn_gate_dimension": r"\bc\s*(?:\[\s*t\s*\]|_t|\(t\))?[^,;.?]{0,25}$",
}
_PROSE_SLOTS = {"gated_rnn_diagram": "figure", "attention_rnn_diagram": "figure", "attention_rnn_k": "prose", "attention_rnn_inf": "prose",
                "gated_rnn_step_jacobians": "prose", "gated_rnn_gradient_stability": "prose",
                "attention_rnn_step_jacobian": "prose", "attention_rnn_state_grad": "prose",
                "loss_spikes_cause": "prose", "loss_spikes_above_initial": "prose", "loss_spikes_fixes": "prose"}


def _points_block(theory: Mapping[str, Any], ids: Sequence[str]) -> dict[str, float]:
    raw = _mapping(theory.get("points") or {}, "points")
    out: dict[str, float] = {}
    for key, value in raw.items():
        if str(key) not in ids:
            close = difflib.get_close_matches(str(key), list(ids), n=1)
            raise KeyConfigError(f"points.{key}", "is not a question id of this block",
                                 (f"did you mean `{close[0]}`? " if close else "") + f"ids: {', '.join(ids)}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
            raise KeyConfigError(f"points.{key}", f"must be a number >= 0, got {_show(value)}", "write e.g. 2 or 2.5")
        out[str(key)] = float(value)
    return out


def theory_items(theory: Mapping[str, Any]):
    """The key as the theory checker reads it: one `grader.theory.ItemSpec` per question,
    saying what kind of answer it expects (dims, a tensor shape, a formula, numbers, prose)
    and its points (the block's `points:`). Raises KeyConfigError like `answer_key`."""
    from grader.api import Alternative, ItemSpec

    answers = answer_key(theory)
    points = _points_block(theory, [a.id for a in answers])
    layout = theory.get("layout", "numerator")
    other = "denominator" if layout == "numerator" else "numerator"
    conv2d = _conv2d(theory["conv2d"]) if theory.get("conv2d") else None
    conv1d = _conv1d(theory["conv1d"]) if theory.get("conv1d") else None
    specs = []
    for a in answers:
        base = dict(id=a.id, question=a.question, points=points.get(a.id, 0.0))
        slot = a.slot
        if slot == "conv2d_output":
            spec = ItemSpec(kind="dims", expected=list(a.value), given=(conv2d["input"], conv2d["kernel"]),
                            shown=a.dimension, **base)
        elif slot == "conv_output_shape":
            square = conv2d["general_kernel"] == "square"
            kh, kw = ("K", "K") if square else ("H_K", "W_K")
            names = ["H", "W", "P", "S", "D"] + sorted({kh, kw})
            spec = ItemSpec(kind="formula", expected=f"floor((H + 2P - D({kh} - 1) - 1)/S) + 1",
                            also=f"floor((W + 2P - D({kw} - 1) - 1)/S) + 1",
                            variables={n: _VARIABLES[n] for n in names}, ranges={n: _RANGES[n] for n in names},
                            shown=str(a.value), hand_part="the channel count F", **base)
        elif slot in ("conv1d_output", "conv1d_jacobian_weight", "conv1d_jacobian_input", "conv1d_grad_weight"):
            given = (conv1d["x"].shape, _EXAMPLE) + ((conv1d["W"].shape,) if slot != "conv1d_grad_weight" else ())
            alts = ()
            if a.blocks is not None:
                wrt = conv1d["W"].shape if slot == "conv1d_jacobian_weight" else conv1d["x"].shape
                swapped = jacobian_blocks(conv1d["out_shape"], wrt, other)
                alts = (Alternative([s for b in swapped for s in b], f"{other} layout"),)
            spec = ItemSpec(kind="shape", expected=list(a.shape), given=given, alternatives=alts,
                            shown=a.dimension, hand_part="the expression", subject=_SUBJECTS[slot], **base)
        elif slot == "gated_rnn_gate_dimension":
            spec = ItemSpec(kind="shape", expected=["m"], shown=a.dimension, subject=_SUBJECTS[slot], **base)
        elif slot == "gated_rnn_grad_wx":
            spec = ItemSpec(kind="shape", expected=["m", "n"], permuted_credit=1.0, shown=a.dimension,
                            hand_part="the expression and the forward/backward similarity", **base)
        elif slot == "attention_weights_dimension":
            spec = ItemSpec(kind="shape", expected=[a.value], shown=a.dimension, **base)
        elif slot == "initial_loss_accuracy":
            spec = ItemSpec(kind="numbers", expected=list(a.value),
                            shown=f"loss ln {theory['loss_curves']['classes']} = {a.value[0]:.3f}, "
                                  f"accuracy {a.value[1]:.3g}", hand_part="the explanation", **base)
        else:
            spec = ItemSpec(kind=_PROSE_SLOTS.get(slot, "prose"), shown=_value_text(a.value), **base)
        specs.append(spec)
    return tuple(specs)


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
