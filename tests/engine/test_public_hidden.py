"""Public and hidden cases, the secret seed, and byte-for-byte reproducible grades.

In demo.yaml the public checks are conv.xcorr (1 public generated case of 3), conv.linjac
(1 literal case, 2 hidden generated ones) and run.double; everything else is hidden.
"""

from __future__ import annotations

import numpy as np

from grader.checks import KINDS, Context
from grader.grading import grade_json_bytes

from .conftest import ALL_RIGHT, CONV_RIGHT, cells
from .test_function_checks import MISCONCEPTIONS, WRONG_TYPES

PUBLIC = ("conv.xcorr", "conv.linjac", "run.double")


def _check(demo, check_id):
    return next(c for c in demo.checks if c.id == check_id)


def test_public_only_runs_the_public_cases_of_the_public_checks(grade_files, demo):
    g = grade_files(demo, ALL_RIGHT, public_only=True)
    assert g.ids() == list(PUBLIC)
    assert g.where("") == {"conv.xcorr": ("pass", 2.0), "conv.linjac": ("pass", 2.0), "run.double": ("pass", 1.0)}
    assert g["conv.xcorr"].message == "1/1 cases right"
    assert g["conv.linjac"].message == "1/1 cases right"
    assert g.grade.auto_max == 5.0
    full = grade_files(demo, ALL_RIGHT)
    assert full["conv.xcorr"].message == "3/3 cases right"
    assert len(full.ids()) == len(demo.checks)


def test_a_hardcoded_public_answer_passes_the_self_check_only(grade_files, demo):
    """A student who returns the public case's answer from a table: full marks in the
    self-check, one case in three for real."""
    from nyu_dl_hw2.reference.theory.conv import cross_correlate1d

    (args, _, _), = [c for c in KINDS["function"].cases(_check(demo, "conv.xcorr"), Context(seed=7)) if c[2]]
    answer = cross_correlate1d(*args).tolist()
    nb = cells(CONV_RIGHT[0], f"def xcorr(x, W):\n    return np.array({answer!r})")
    self_check = grade_files(demo, {"conv.ipynb": nb}, public_only=True, seed=7)
    assert self_check.where("conv.xcorr") == {"conv.xcorr": ("pass", 2.0)}
    real = grade_files(demo, {"conv.ipynb": nb}, seed=7)
    assert real["conv.xcorr"].status == "partial"
    assert real["conv.xcorr"].points == round(2.0 / 3, 4)
    assert real["conv.xcorr"].message.startswith("1/3 cases right")


def test_the_seed_changes_hidden_cases_and_not_public_ones(demo):
    kind = KINDS["function"]
    for cid in ("conv.xcorr", "conv.linjac", "conv.prefix"):
        a = kind.cases(_check(demo, cid), Context(seed=1))
        b = kind.cases(_check(demo, cid), Context(seed=2))
        again = kind.cases(_check(demo, cid), Context(seed=1))
        assert [c[2] for c in a] == [c[2] for c in b]
        for (args_a, _, public), (args_b, _, _), (args_again, _, _) in zip(a, b, again):
            same = all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(args_a, args_b))
            assert same == public, (cid, public)
            assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(args_a, args_again))
        # and what reaches the sandbox follows: the requests of public cases are identical
        ra, rb = kind.requests(_check(demo, cid), Context(seed=1)), kind.requests(_check(demo, cid), Context(seed=2))
        from grader.grading import _request_key

        for i, (_, _, public) in enumerate(a):
            assert (_request_key(ra[f"case{i}"]) == _request_key(rb[f"case{i}"])) == public


def test_a_right_submission_is_right_under_any_seed(grade_files, demo):
    for seed in (1, 99991):
        g = grade_files(demo, {"conv.ipynb": CONV_RIGHT}, seed=seed)
        assert all(st == "pass" for st, _ in g.where("conv.").values()), g.where("conv.")


def test_the_same_submission_gives_the_same_bytes(grade_files, demo, tmp_path):
    """Grading is reproducible: the same zip twice (every kind, right and wrong answers,
    a training run, a timed-out probe) gives byte-identical canonical JSON."""
    from tests.zipfactory import make_submission

    from .conftest import NETS_RIGHT, notebook

    # the first call of prefix hangs (one timed-out probe, 2 s), the next one answers
    hanging = cells(MISCONCEPTIONS, "calls = [0]",
                    "def prefix(x):\n    calls[0] += 1\n    while calls[0] == 1:\n        pass\n"
                    "    return np.cumsum(x)")
    for files in (ALL_RIGHT,
                  {"conv.ipynb": hanging, "nets.ipynb": NETS_RIGHT[:-1], "run.ipynb": ["1/0"]},
                  {"conv.ipynb": WRONG_TYPES, "nets.ipynb": NETS_RIGHT, "run.ipynb": ["def double(x):\n    return x"]}):
        zp = make_submission(tmp_path / str(len(list(tmp_path.iterdir()))),
                             files={n: notebook(c) for n, c in files.items()})
        first = grade_json_bytes(grade_files(demo, {}, zip_path=zp).grade)
        second = grade_json_bytes(grade_files(demo, {}, zip_path=zp).grade)
        assert first == second
        if files["conv.ipynb"] is hanging:
            assert b"timed out after 2 s" in first
