"""Comparison in the grader's process, with the misconception diagnoses."""

from __future__ import annotations

import numpy as np
import pytest

from grader.compare import Tolerance, compare, partial_credit

rng = np.random.default_rng(0)


def test_right_value_passes_and_small_noise_is_tolerated():
    exp = rng.normal(size=(3, 4))
    assert compare(exp + 1e-12, exp).ok
    assert not compare(exp + 1e-3, exp).ok


def test_exact_mode_rejects_any_difference():
    exp = np.arange(6).reshape(2, 3)
    assert compare(exp.copy(), exp, Tolerance("exact")).ok
    assert not compare(exp + 1e-9, exp, Tolerance("exact")).ok


def test_transposed_matrix_is_diagnosed():
    exp = rng.normal(size=(3, 5))
    c = compare(exp.T.copy(), exp)
    assert (c.ok, c.diagnosis) == (False, "transposed")
    assert partial_credit(c, {"transposed": 0.5}) == 0.5


def test_jacobian_in_other_layout_is_transposed_not_random():
    # numerator layout (1,5) + (1,7,3) versus denominator (1,7,3) + (1,5)
    exp = rng.normal(size=(1, 5, 1, 7, 3))
    den = np.transpose(exp, (2, 3, 4, 0, 1))
    c = compare(den, exp)
    assert c.diagnosis == "transposed"


def test_permuted_axes():
    exp = rng.normal(size=(2, 3, 4))
    c = compare(np.transpose(exp, (0, 2, 1)), exp)
    assert c.diagnosis == "permuted"


def test_index_shift_by_one():
    exp = rng.normal(size=10)
    got = np.concatenate([[0.0], exp[:-1]])
    c = compare(got, exp)
    assert c.diagnosis == "shifted"
    assert partial_credit(c, {}) == 0.0


def test_declared_alternative_wins():
    exp = rng.normal(size=(4,))
    flipped = rng.normal(size=(4,))
    c = compare(flipped.copy(), exp, alternatives={"flipped": flipped})
    assert (c.ok, c.diagnosis) == (False, "flipped")
    assert "cross-correlation" in c.message


def test_wrong_type_and_shape_messages_never_reveal_expected_values():
    exp = np.array([1.25, 2.5])
    c = compare({"$unencodable": "Liar"}, exp)
    assert not c.ok and "Liar" in c.message and "1.25" not in c.message
    c = compare(np.zeros(3), exp)
    assert not c.ok and "wrong shape" in c.message


@pytest.mark.parametrize("mode,got,ok", [("set", [3, 1, 2], True), ("sequence", [3, 1, 2], False),
                                         ("sequence", [1, 2, 3], True), ("set", [1, 2], False)])
def test_set_and_sequence(mode, got, ok):
    assert compare(got, [1, 2, 3], Tolerance(mode)).ok is ok


def test_nan_where_reference_is_finite_fails():
    exp = np.ones(3)
    assert not compare(np.array([1.0, np.nan, 1.0]), exp).ok
    assert not compare(np.array([1.0, np.inf, 1.0]), exp).ok


def test_scalars_and_plain_values():
    assert compare(2.0, 2.0).ok
    assert compare(3, 3.0).ok
    assert not compare(True, 1.0).ok
    assert compare("abc", "abc").ok and not compare("abd", "abc").ok
