"""The answer key of CUHK ELEG 5491 (2017) HW2, problems 1-4, for `grader key` / `grader theory`.

Declared in this course's `course.yaml` (`theory_key:`); returns the same item types as the
NYU builder (`Answer`, `ItemSpec`, from `grader.api`).

Problem 4's formulas are written here once, as text in the course's variables d, n, L, c,
and `tests/cuhk/test_key.py` evaluates them (with the theory checker's own parser) against
the counting reference `nyu_dl_hw2.reference.theory.counting` on a grid: the numbers shown to the TA
come from that reference, never from the text.

The block::

    theory:
      example: {d: 3072, n: 100, L: 2, c: 10}   # problem 4 evaluated for these sizes
      points: {"1": 20, "2(a)": 10, ...}        # question id -> points
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

from grader.api import Answer, KeyConfigError
from nyu_dl_hw2.reference.theory.counting import bp_multiplications, fc_parameter_count, path_enumeration_multiplications

TOP_KEYS = ("example", "points")
EXAMPLE_KEYS = ("d", "n", "L", "c")
DEFAULT_EXAMPLE = {"d": 3072, "n": 100, "L": 2, "c": 10}  # a CIFAR-10 image in, 10 classes out

# Problem 4 in closed form (the counting model of reference/theory/counting.py; L >= 1).
PARAMETERS = "d n + (L - 1) n^2 + n c + L n + c"
WEIGHTS_ONLY = "d n + (L - 1) n^2 + n c"
BP_MULTIPLICATIONS = "4 (d n + (L - 1) n^2 + n c) - d n + 2 L n + 2 c"
PATH_LEADING = "L c d n^L"

QUESTIONS = ("1", "2(a)", "2(b)", "3", "4(a)", "4(b)", "4(c)")
_VARIABLES = {"d": ("D_in",), "n": ("N",), "L": ("l",), "c": ("C",)}
_RANGES = {"d": (1, 60), "n": (1, 30), "L": (1, 6), "c": (1, 20)}


def _config(theory: Any) -> dict[str, int]:
    if not isinstance(theory, Mapping):
        raise KeyConfigError("", f"must be a mapping, got {type(theory).__name__}", "write it as `key: value` lines")
    for name in theory:
        if name not in TOP_KEYS:
            raise KeyConfigError(str(name), "unknown key", f"known keys: builder, {', '.join(TOP_KEYS)}")
    raw = theory.get("example") or DEFAULT_EXAMPLE
    if not isinstance(raw, Mapping) or set(raw) != set(EXAMPLE_KEYS):
        raise KeyConfigError("example", f"must give exactly d, n, L, c, got {raw!r}", "e.g. {d: 3072, n: 100, L: 2, c: 10}")
    out = {}
    for k in EXAMPLE_KEYS:
        v = raw[k]
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise KeyConfigError(f"example.{k}", f"must be a whole number >= 1, got {v!r}", "e.g. 2")
        out[k] = int(v)
    return out


def _points(theory: Mapping[str, Any]) -> dict[str, float]:
    raw = theory.get("points") or {}
    if not isinstance(raw, Mapping):
        raise KeyConfigError("points", "must map question ids to points", 'e.g. {"1": 20}')
    out = {}
    for key, value in raw.items():
        if str(key) not in QUESTIONS:
            raise KeyConfigError(f"points.{key}", "is not a question id of this key", f"ids: {', '.join(QUESTIONS)}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
            raise KeyConfigError(f"points.{key}", f"must be a number >= 0, got {value!r}", "write e.g. 5")
        out[str(key)] = float(value)
    return out


def answer_key(theory: Mapping[str, Any]) -> tuple[Answer, ...]:
    """Every answer of problems 1-4, in question order. Raises KeyConfigError."""
    ex = _config(theory)
    _points(theory)
    d, n, L, c = ex["d"], ex["n"], ex["L"], ex["c"]
    sizes = f"d = {d}, n = {n}, L = {L}, c = {c}"
    params = fc_parameter_count(d, L, n, c)
    weights = fc_parameter_count(d, L, n, c, bias=False)
    bp = bp_multiplications(d, L, n, c)
    paths = path_enumeration_multiplications(d, L, n, c)
    return (
        Answer(id="1", slot="elman_bptt", question="Elman RNN: dL/dW_hz and dL/dW_hh by back-propagation through time",
               value=("o_t = W_hz h_t + b_z; delta^o_t = dL/do_t = z_t - onehot(y_t); "
                      "dL/dW_hz = sum_t delta^o_t h_t^T (and dL/db_z = sum_t delta^o_t). "
                      "Backwards from t = T: dL/dh_t = W_hz^T delta^o_t + W_hh^T delta_{t+1} (delta_{T+1} = 0); "
                      "delta_t = dL/da_t = dL/dh_t * (1 - h_t^2) (a_t the tanh's argument, * elementwise); "
                      "dL/dW_hh = sum_t delta_t h_{t-1}^T (h_0 the initial state), "
                      "dL/dW_xh = sum_t delta_t x_t^T, dL/db_h = sum_t delta_t"),
               notes=("Reference: reference/theory/elman_rnn.py (checked against torch.autograd). Key points: "
                      "softmax + cross-entropy gives z_t - onehot(y_t); W_hh's gradient needs the recursion through "
                      "future steps (not just the local term); tanh' = 1 - h_t^2.")),
        Answer(id="2(a)", slot="rnn_unrolled", question="Explicit G_t in terms of F_theta and x_1..x_t",
               value="G_t(x_t, ..., x_1) = F_theta(F_theta(... F_theta(F_theta(h_0, x_1), x_2) ..., x_{t-1}), x_t)",
               notes="t nested applications of the same F_theta, starting from the initial state h_0."),
        Answer(id="2(b)", slot="rnn_sharing", question="How an RNN solves the two difficulties of modelling G_t directly",
               value=("(1) The same transition F_theta (same parameters theta) is applied at every step, so one model "
                      "handles every sequence length and every time step of every sequence is a training sample for "
                      "it; (2) the model size is that of F_theta, fixed and independent of t: the fixed-size state "
                      "h_{t-1} summarises the whole past, so the complexity does not grow with t."),
               notes="Graded by hand: parameter sharing across time, and a fixed-size recurrent state."),
        Answer(id="3", slot="alexnet_sync", question="Krizhevsky et al.'s two-GPU CNN: at which stages must the GPUs synchronise?",
               value=("Where a layer takes inputs from both columns: the third convolutional layer (its kernels read "
                      "all kernel maps of layer 2 on both GPUs) and the fully connected layers (FC6 reads the "
                      "pooled conv5 maps of both GPUs, FC7 and FC8/softmax read all of the previous layer). Conv2, "
                      "conv4 and conv5 read only the maps of their own GPU: no synchronisation there."),
               notes="Graded by hand; the backward pass synchronises at the same layers."),
        Answer(id="4(a)", slot="fc_parameters", question="Parameters of a d - (n x L) - c fully connected network",
               value=f"{PARAMETERS} = O(d n + L n^2 + n c); for {sizes}: {params:,}",
               notes=(f"Weights {WEIGHTS_ONLY} (= {weights:,} for the example) plus L n + c biases. A weights-only "
                      "count is the common variant: the TA decides its credit.")),
        Answer(id="4(b)", slot="bp_multiplications", question="Multiplications of one SGD back-propagation iteration",
               value=(f"O(d n + L n^2 + n c): linear in the number of weights; counting every product "
                      f"(forward, deltas, weight gradients, update): {BP_MULTIPLICATIONS}; for {sizes}: {bp.total:,}"),
               notes=(f"Forward {bp.forward:,}, output deltas {bp.output_deltas:,}, hidden deltas {bp.hidden_deltas:,}, "
                      f"weight gradients {bp.weight_gradients:,}, update {bp.update:,}. Any answer of order "
                      "(number of weights) with a sound count is right; constant factors differ between counting "
                      "conventions.")),
        Answer(id="4(c)", slot="path_enumeration", question="Multiplications of one iteration when gradients enumerate paths",
               value=(f"O({PATH_LEADING}): exponential in the depth L (a unit of hidden layer l has n^(L-l) c paths "
                      f"to the cost, each a product of L - l + 2 factors, redone for every weight); for {sizes}: "
                      f"{paths.total:,} ({paths.total / bp.total:,.0f} times back-propagation)"),
               notes=(f"Path products {paths.path_products:,}, local derivatives {paths.local_derivatives:,}, chain "
                      f"factors {paths.chain_factors:,}, forward {paths.forward:,}, update {paths.update:,} "
                      "(reference/theory/counting.py). Back-propagation shares the path sums layer by layer, which "
                      "is why it stays linear.")),
    )


def theory_items(theory: Mapping[str, Any]):
    """The key as the theory checker reads it: 4(a) is a checkable formula, the rest by hand."""
    from grader.api import ItemSpec

    points = _points(theory)
    specs = []
    for a in answer_key(theory):
        base = dict(id=a.id, question=a.question, points=points.get(a.id, 0.0))
        if a.id == "4(a)":
            specs.append(ItemSpec(kind="formula", expected=PARAMETERS, variables=_VARIABLES, ranges=_RANGES,
                                  shown=PARAMETERS, hand_part="a weights-only count (" + WEIGHTS_ONLY + ")", **base))
        else:
            specs.append(ItemSpec(kind="prose", shown=str(a.value), **base))
    return tuple(specs)
