"""The CUHK key builder (courses/cuhk_eleg5491/reference/key.py), found through its course.yaml."""

from __future__ import annotations

import itertools

import pytest

from grader import registry
from grader.api import KeyConfigError
from grader.courses import theory_key
from grader.theory import PdfText, check_text
from grader.theory.parse import evaluate, parse_formula
from cuhk_eleg5491.reference import key
from nyu_dl_hw2.reference.theory.counting import bp_multiplications, fc_parameter_count

GRID = list(itertools.product((1, 3, 7), (1, 2, 3, 4), (1, 5, 9), (1, 2, 10)))  # d, L, n, c


def _value(formula: str, d: int, L: int, n: int, c: int) -> int:
    names = {"d", "n", "L", "c"}
    return evaluate(parse_formula(formula, {v: v for v in names}, names), {"d": d, "L": L, "n": n, "c": c})


@pytest.mark.parametrize("d,L,n,c", GRID)
def test_problem4_formulas_equal_the_counting_reference(d, L, n, c):
    assert _value(key.PARAMETERS, d, L, n, c) == fc_parameter_count(d, L, n, c)
    assert _value(key.WEIGHTS_ONLY, d, L, n, c) == fc_parameter_count(d, L, n, c, bias=False)
    assert _value(key.BP_MULTIPLICATIONS, d, L, n, c) == bp_multiplications(d, L, n, c).total


def test_a_wrong_formula_is_told_apart():
    assert _value("d n + L n^2 + n c", 3, 2, 5, 2) != fc_parameter_count(3, 2, 5, 2)


def _key():
    return theory_key(registry.load("cuhk-eleg5491-2017-hw2").source)


def test_the_course_declares_its_key_builder():
    block = {"example": {"d": 4, "n": 3, "L": 2, "c": 2}, "points": {"4(a)": 5}}
    answers = _key().answers(block)
    assert [a.id for a in answers] == list(key.QUESTIONS)
    assert f"{fc_parameter_count(4, 2, 3, 2):,}" in answers[4].value
    specs = _key().items(block)
    assert [(s.id, s.kind, s.points) for s in specs if s.kind != "prose"] == [("4(a)", "formula", 5.0)]


@pytest.mark.parametrize("block,where", [
    ({"example": {"d": 0, "n": 1, "L": 1, "c": 1}}, "example.d"),
    ({"points": {"5": 3}}, "points.5"),
    ({"conv2d": {}}, "conv2d"),
])
def test_bad_blocks_name_their_key(block, where):
    with pytest.raises(KeyConfigError) as info:
        _key().answers(block)
    assert info.value.key == where


def _report(problem4: str):
    """The reference report with its problem 4 line replaced (the locator walks the labels in order)."""
    from cuhk_eleg5491.reference.notebooks import REPORT_TEXT

    lines = [problem4 if line.startswith("Problem 4.") else line for line in REPORT_TEXT]
    specs = key.theory_items({"points": {"4(a)": 5}})
    return {i.id: i for i in check_text(PdfText(("\n".join(lines),), "ok", ""), specs, "cuhk", "report.pdf").items}


def test_theory_check_reads_problem_4a():
    right = _report("Problem 4. (a) The number of parameters is dn + (L-1)n^2 + nc + Ln + c. (b) O(dn)")
    assert right["4(a)"].status == "right" and right["4(a)"].suggested_points == 5.0
    wrong = _report("Problem 4. (a) The number of parameters is dn + Ln^2 + nc. (b) O(dn)")
    assert wrong["4(a)"].status == "wrong" and wrong["4(a)"].suggested_points == 0.0
