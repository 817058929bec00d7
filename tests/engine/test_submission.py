"""Whole submissions: missing and unreadable notebooks, the execution penalty, and the
rule that student code never runs (or is imported) in the grader's process."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from .conftest import ALL_RIGHT, CONV_RIGHT, NETS_RIGHT, RUN_RIGHT, cells

CONV = ("conv.xcorr", "conv.jac", "conv.batched", "conv.prefix", "conv.linjac")
NETS = ("nets.shape", "nets.layers", "nets.residual", "nets.step", "nets.train", "nets.provided")
RUN = ("run.double",)


def test_all_right(grade_files, demo):
    g = grade_files(demo, {**ALL_RIGHT, "run.ipynb": cells(RUN_RIGHT, "import torch\ndef kind_of(x):\n"
                                                          "    return 1.0 if torch.is_tensor(x) else 0.0")})
    assert all(c.status == "pass" for c in g.grade.checks), [(c.id, c.message) for c in g.grade.checks]
    assert g.grade.raw_score == g.grade.auto_max == 20.0
    assert g.grade.score == 20.0 and g.penalty_rules == [] and g.grade.verdict == "graded"


def test_a_missing_notebook_scores_zero_on_its_checks_only(grade_files, demo):
    g = grade_files(demo, {"conv.ipynb": CONV_RIGHT, "run.ipynb": RUN_RIGHT})
    for cid in NETS:
        assert (g[cid].status, g[cid].points) == ("fail", 0.0)
        assert "`nets.ipynb` is missing" in g[cid].message
    assert g.where("conv.") == {cid: ("pass", 2.0) for cid in CONV}
    assert g["run.double"].status == "pass"


def test_a_notebook_that_is_not_json_scores_zero_on_its_checks_only(grade_files, demo):
    g = grade_files(demo, {"conv.ipynb": CONV_RIGHT, "nets.ipynb": b'{"cells": [', "run.ipynb": RUN_RIGHT})
    for cid in NETS:
        assert (g[cid].status, g[cid].points) == ("fail", 0.0)
        assert "could not be read" in g[cid].message
    assert g.where("conv.") == {cid: ("pass", 2.0) for cid in CONV}
    assert g["run.double"].status == "pass"
    assert g.penalty_rules == []  # nets.ipynb runs in definitions mode: no execution penalty


def test_execution_penalty_when_a_full_mode_cell_fails(grade_files, demo):
    ok = grade_files(demo, {"conv.ipynb": CONV_RIGHT, "run.ipynb": RUN_RIGHT})
    assert ok.penalty_rules == []
    failing = grade_files(demo, {"conv.ipynb": CONV_RIGHT, "run.ipynb": cells(RUN_RIGHT, "raise ValueError('oops')")})
    assert failing.penalty_rules == ["execution"]
    assert "run.ipynb" in failing.grade.penalties[0].reason
    assert failing["run.double"].status == "pass"  # the checks are graded as usual
    assert failing.grade.raw_score == ok.grade.raw_score
    assert failing.grade.score == ok.grade.score - 0.20 * demo.max_score


def test_execution_penalty_for_an_unreadable_full_mode_notebook(grade_files, demo):
    g = grade_files(demo, {"conv.ipynb": CONV_RIGHT, "run.ipynb": b"not a notebook"})
    assert g.penalty_rules == ["execution"]
    assert g["run.double"].status == "fail"


def test_a_failing_cell_in_definitions_mode_costs_no_penalty(grade_files, demo):
    g = grade_files(demo, {"conv.ipynb": cells(CONV_RIGHT, "value = undefined + 1"), "run.ipynb": RUN_RIGHT})
    assert g.penalty_rules == []
    assert g.where("conv.") == {cid: ("pass", 2.0) for cid in CONV}


def test_student_code_never_enters_the_grader_process(grade_files, demo):
    """The notebook writes a module next to itself, imports it and uses it; the function
    check passes (so the code ran), yet nothing of it exists in this process."""
    before = set(sys.modules)
    # (sys.path.insert: the sandbox child does not put the notebook's folder on sys.path, see the report)
    run = ["import numpy as np, os, sys\nsys.path.insert(0, os.getcwd())",
           "with open('student_helper_zq.py', 'w') as fh:\n    fh.write('def helper(x):\\n    return x\\n')",
           "import student_helper_zq",
           "def double(x):\n    return np.asarray(student_helper_zq.helper(x)) * 2",
           "class StudentThing:\n    pass"]
    g = grade_files(demo, {"conv.ipynb": CONV_RIGHT, "nets.ipynb": NETS_RIGHT, "run.ipynb": run})
    assert g["run.double"].status == "pass", g["run.double"].message
    assert "student_helper_zq" not in sys.modules
    main = sys.modules["__main__"]
    for name in ("xcorr", "double", "StudentThing", "SmallCNN", "step", "fit", "student_helper_zq"):
        assert not hasattr(main, name)
    tmp = Path(tempfile.gettempdir()).resolve()
    for name in set(sys.modules) - before:
        file = getattr(sys.modules[name], "__file__", None) or ""
        assert not Path(file).resolve().is_relative_to(tmp), (name, file)  # scratch folders live there
