"""`function` checks end to end: right, each detected misconception with the registry's
partial credit, plain wrong values, wrong types, and what hidden cases may say.

demo.yaml, conv.ipynb: xcorr (flipped kernel: 0.5), jac_w (denominator layout: 0.5),
batched (permuted axes: 0.25), prefix (shifted by one: 0.5), lin_jac (generic transposed
diagnosis, no alternative: 0.5); 2 points each.
"""

from __future__ import annotations

import re

import numpy as np

from grader.checks import KINDS, Context

from .conftest import CONV_RIGHT, cells

CONV = ("conv.xcorr", "conv.jac", "conv.batched", "conv.prefix", "conv.linjac")

MISCONCEPTIONS = [
    "import numpy as np",
    CONV_RIGHT[1].replace("def xcorr", "def _xcorr"),
    "def xcorr(x, W):\n    return _xcorr(x, np.asarray(W)[:, :, ::-1])",  # a true convolution
    CONV_RIGHT[2].replace("def jac_w", "def _jac_w"),
    "def jac_w(x, W):\n    return np.moveaxis(_jac_w(x, W), (0, 1), (3, 4))",  # denominator layout
    "def batched(x, W):\n    return np.stack([_xcorr(xi, W).T for xi in np.asarray(x, float)])",  # (N, L, F)
    "def prefix(x):\n    return np.concatenate([[0.0], np.cumsum(x)[:-1]])",  # exclusive sums: shifted
    "def lin_jac(W, x):\n    return np.array(W, dtype=float).T",  # the other layout
]

WRONG_VALUES = [
    "import numpy as np",
    "def xcorr(x, W):\n    return -np.ones((np.shape(W)[0], np.shape(x)[1] - 2))",
    "def jac_w(x, W):\n    return np.zeros((2, np.shape(x)[1] - 2, 2, 2, 3))",
    "def batched(x, W):\n    return np.ones((2, 3, 4))",
    "def prefix(x):\n    return np.asarray(x) * 3.0 + 1.0",
    "def lin_jac(W, x):\n    return np.array(W, dtype=float) * 2.5",
]

WRONG_TYPES = [
    "import numpy as np",
    "def xcorr(x, W):\n    return 'the answer'",
    "def jac_w(x, W):\n    return None",
    '''class Liar:
    """Equal to everything, and refuses to become an array."""
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __array__(self, *a, **k):
        raise TypeError("no")''',
    "def batched(x, W):\n    return Liar()",
    "def prefix(x):\n    return {'values': list(x)}",
    "def lin_jac(W, x):\n    return ['a', 'b']",
]


def test_right_answers_get_full_points(grade_files, demo):
    g = grade_files(demo, {"conv.ipynb": CONV_RIGHT})
    assert g.where("conv.") == {cid: ("pass", 2.0) for cid in CONV}
    assert g["conv.xcorr"].message == "3/3 cases right"


def test_each_misconception_is_named_and_gets_its_partial_credit(grade_files, demo):
    g = grade_files(demo, {"conv.ipynb": MISCONCEPTIONS})
    assert g.where("conv.") == {
        "conv.xcorr": ("partial", 1.0),  # 2 * 0.5
        "conv.jac": ("partial", 1.0),
        "conv.batched": ("partial", 0.5),  # 2 * 0.25
        "conv.prefix": ("partial", 1.0),
        "conv.linjac": ("partial", 1.0),
    }
    assert "flipped kernel" in g["conv.xcorr"].message
    assert "denominator layout" in g["conv.jac"].message
    assert "axes are in another order" in g["conv.batched"].message
    assert "shifted by one index" in g["conv.prefix"].message
    assert "transposed" in g["conv.linjac"].message


def test_plain_wrong_values_get_nothing(grade_files, demo):
    g = grade_files(demo, {"conv.ipynb": WRONG_VALUES})
    assert g.where("conv.") == {cid: ("fail", 0.0) for cid in CONV}
    for cid in CONV:
        assert "differ from the reference" in g[cid].message, g[cid].message


def test_wrong_types_get_nothing_and_the_message_names_the_type(grade_files, demo):
    g = grade_files(demo, {"conv.ipynb": WRONG_TYPES})
    assert g.where("conv.") == {cid: ("fail", 0.0) for cid in CONV}
    assert "got str" in g["conv.xcorr"].message
    assert "got None" in g["conv.jac"].message
    # the object that is equal to everything is judged by what it is, in the grader's process
    assert "an object of type __main__.Liar" in g["conv.batched"].message
    assert "got dict" in g["conv.prefix"].message
    assert "got a list of length 2" in g["conv.linjac"].message


def test_a_raising_function_is_an_error_of_that_check_only(grade_files, demo):
    nb = cells(CONV_RIGHT, "def prefix(x):\n    return np.cumsum(x) / len(x[5])")  # IndexError
    g = grade_files(demo, {"conv.ipynb": nb})
    assert g["conv.prefix"].status == "error" and g["conv.prefix"].points == 0
    assert "IndexError" in g["conv.prefix"].message
    assert {cid: g[cid].status for cid in CONV if cid != "conv.prefix"} == dict.fromkeys(
        set(CONV) - {"conv.prefix"}, "pass")


def _hidden_numbers(demo, check_id: str, seed: int) -> list[str]:
    """The hidden inputs of a check as the student's code would print them (3 decimals)."""
    kind = KINDS["function"]
    check = next(c for c in demo.checks if c.id == check_id)
    out = []
    for args, _, public in kind.cases(check, Context(seed=seed)):
        if public:
            continue
        for a in args:
            out += [f"{v:.3f}".rstrip("0") for v in np.ravel(a) if abs(v) > 0.05]
    return out


def test_hidden_inputs_never_appear_in_messages(grade_files, demo):
    """A student whose errors, prints and type names echo the inputs: the public case may
    show them (the student chose them... and they are public), the hidden ones must not."""
    leaky = [
        "import numpy as np",
        "def xcorr(x, W):\n    print(x)\n    raise ValueError(f'cannot handle x={np.asarray(x).tolist()}')",
        "def jac_w(x, W):\n    return type('T' + repr(np.asarray(x).tolist()), (), {})()",
        "def prefix(x):\n    assert False, repr(np.asarray(x).tolist())",
        "def batched(x, W):\n    return np.asarray(x)",  # wrong shape, values are the inputs
    ]
    seed = 4242
    g = grade_files(demo, {"conv.ipynb": leaky}, seed=seed)
    text = " ".join(c.message for c in g.grade.checks)
    assert "cannot handle x=" in g["conv.xcorr"].message  # the public case shows the student's error
    for cid in ("conv.xcorr", "conv.jac", "conv.prefix", "conv.batched"):
        hidden = _hidden_numbers(demo, cid, seed)
        assert hidden, cid
        leaked = [v for v in hidden if re.search(r"(?<![\d.])" + re.escape(v) + r"(?!\d)", text)]
        assert not leaked, (cid, leaked, text)
    assert "raised ValueError (details are not shown for hidden cases)" in g["conv.xcorr"].message
    assert "raised AssertionError" in g["conv.prefix"].message
    assert "(not shown for hidden cases)" in g["conv.jac"].message


def test_numpy_and_tensor_requests_are_not_merged(grade_files, demo):
    """Two checks call the same function on the same numbers, one as numpy arrays and one
    as torch tensors (`tensors: true`): the engine runs both instead of sharing one reply."""
    nb = ["import numpy as np, torch",
          "def double(x):\n    return np.asarray(x) * 2",
          "def kind_of(x):\n    return 1.0 if torch.is_tensor(x) else 0.0"]
    g = grade_files(demo, {"run.ipynb": nb})
    assert g["run.as_numpy"].status == "pass", g["run.as_numpy"].message
    assert g["run.as_tensor"].status == "pass", g["run.as_tensor"].message
