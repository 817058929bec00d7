"""Acceptance of the Spring 2025 HW2 registry on the two submissions everything hangs on.

* The reference solution (`write_solution_zip`) graded with the real registry
  (courses/nyu_dl_hw2/nyu-dl-hw2-2025.yaml) gets every automatic point: 50/50, no penalty, no problem.
* The starter notebooks, submitted untouched with the theory PDF, get nothing except the
  two provided-code integrity checks (rnn.provided, seq.provided: judged by behaviour),
  every lost check says why in the student's terms (no grader failure), and the execution
  penalty is charged exactly once, for hw2_moe.ipynb (its training cell raises
  NotImplementedError; seq_classification runs: the course procedure is slow, not broken).

Each of the two gradings runs once per session (tests/conftest.py: `reference_graded`,
`starter_graded`, on an early lane from the session's start; tests/terms/test_per_term.py reads
them too); the tests only read the results.
"""

from __future__ import annotations

import pytest

from grader import registry

from .conftest import NOTEBOOKS

pytestmark = pytest.mark.slow

SHARES = {"hw2_cnn.ipynb": 20, "hw2_rnn.ipynb": 15, "hw2_moe.ipynb": 10, "seq_classification.ipynb": 5}
INTEGRITY = {"rnn.provided": 2.0, "seq.provided": 1.0}

# What a grader-side failure says (grading.py, integrity.py, sandbox_runner.py): a lost check
# must never read like this on a submission the grader should simply judge.
GRADER_FAULTS = ("grader could not build", "could not judge the reply", "registry error", "no reply from the sandbox",
                 "not run", "timed out", "process died")


# ----------------------------------------------------------------------------- the registry


def test_registry_shares_and_ids(real):
    """25 automatic checks, unique ids, each notebook's share as in the course (50 in all)."""
    ids = [c.id for c in real.checks]
    assert len(ids) == 25 and len(set(ids)) == 25
    per_notebook = {n: sum(c.points for c in real.checks if c.notebook == n) for n in SHARES}
    assert per_notebook == SHARES
    assert real.auto_max == 50
    assert {m.id: m.points for m in real.manual} == {"theory": 50, "moe.bonus": 2}
    assert {c.notebook for c in real.checks} == set(NOTEBOOKS)
    assert {f.name: f.execution_penalty for f in real.notebooks} == {
        "hw2_moe.ipynb": True, "hw2_cnn.ipynb": False, "hw2_rnn.ipynb": False, "seq_classification.ipynb": True}


# ----------------------------------------------------------------------------- reference


def test_reference_scores_full_marks(reference_graded, real):
    g = reference_graded.grade
    assert g.verdict == "graded" and g.accepted and g.reason == ""
    assert g.penalties == () and g.problems == ()
    assert g.student == "abc1234" and g.hours_late == 0
    assert all(f.present and f.valid and f.exact for f in g.files), g.files
    assert [c.id for c in g.checks] == [c.id for c in real.checks]
    lost = {c.id: (c.status, c.points, c.message) for c in g.checks if c.status != "pass" or c.points != c.max_points}
    assert lost == {}
    assert g.raw_score == g.auto_max == 50
    assert g.score == 50  # of max_score 100: the other 50 are graded by hand (theory PDF)
    assert g.max_score == 100
    assert {m.id for m in g.manual} == {"theory", "moe.bonus"}


def test_reference_messages_say_what_was_measured(reference_graded):
    """Full marks for the right reasons: the numbers behind the passes."""
    g = reference_graded
    assert all(c.message for c in g.checks)
    assert "output (4, 2) with CrossEntropyLoss" in g["cnn.output"].message
    assert "match CrossEntropyLoss" in g["cnn.loss_and_correct"].message
    assert "a residual (skip) connection was found" in g["cnn.residual"].message
    assert "trained on 48 batches" in g["cnn.train"].message
    assert "trained on 1600 batches" in g["rnn.train"].message
    assert "trained on 3000 batches" in g["rnn.vd_train"].message
    assert "budget ran out" not in g["rnn.train"].message + g["rnn.vd_train"].message + g["cnn.train"].message
    assert "output is the sigmoid of the gate-weighted sum of the 2 experts" == g["moe.mixture"].message
    assert "trained `model`" in g["moe.trained"].message
    # Section 8 judged on three runs of the notebook's procedure (its own and two re-seeded re-runs)
    # (a majority vote: one spiky run of three, chaos on some machines, keeps the points)
    assert g["seq.no_spikes"].message[1:].startswith(" of 3 runs of your Section 8 procedure without a loss spike")
    assert g["seq.no_spikes"].message[0] in "23"
    assert "Changes to the course's training procedure: gradient clipping" in g["seq.no_spikes"].message
    assert "median over 3 runs" in g["seq.accuracy"].message


def test_reference_runs_every_notebook(reference_graded):
    timed = dict(reference_graded.grade.timings)
    assert set(NOTEBOOKS) <= set(timed)


# ----------------------------------------------------------------------------- starter


def test_starter_scores_only_the_integrity_checks(starter_graded, real):
    g = starter_graded.grade
    assert g.verdict == "graded" and g.accepted
    # the handout's MoE training cell is a SyntaxError until filled: a problem names that cell
    # (on a loaded machine a run cut by a wall-clock safety net is named too, nothing else)
    moe = [p for p in g.problems if p.file == "hw2_moe.ipynb"]
    assert len(moe) == 1 and "cell 7: error: SyntaxError" in moe[0].message, g.problems
    assert all(" did not run through: cell " in p.message for p in g.problems), g.problems
    assert [c.id for c in g.checks] == [c.id for c in real.checks]
    kept = {c.id: c.points for c in g.checks if c.points > 0}
    assert kept == INTEGRITY
    for c in g.checks:
        if c.id in INTEGRITY:
            assert c.status == "pass" and c.points == c.max_points, c
            assert c.message.startswith("provided code judged by behaviour") and "as provided" in c.message
        else:
            assert c.status in ("fail", "error") and c.points == 0, c
    assert g.raw_score == 3.0


def test_starter_losses_are_the_students_not_the_graders(starter_graded):
    """Every lost check has a message, and no `error` is a grader failure: each names the
    starter's own NotImplementedError stubs."""
    for c in starter_graded.checks:
        if c.id in INTEGRITY:
            continue
        assert c.message.strip(), c
        low = c.message.lower()
        assert not any(f in low for f in GRADER_FAULTS), c
        if c.status == "error":
            assert "NotImplementedError" in c.message, c
    assert starter_graded["cnn.step"].message == "optimizer.step() was never called"
    spikes = starter_graded["seq.no_spikes"]  # the course's procedure spikes, in several of its runs
    assert spikes.status == "fail" and " spike(s), the highest at optimizer step " in spikes.message
    assert "No change to the course's training procedure found in the code." in spikes.message
    assert starter_graded["seq.accuracy"].status == "fail"
    for check in ("seq.no_spikes", "seq.accuracy"):  # far from the thresholds (calibrate_seq.py)
        assert starter_graded[check].measure.margin > 0.1, starter_graded[check].measure


def test_starter_gets_exactly_the_moe_execution_penalty(starter_graded, real):
    g = starter_graded.grade
    assert [(p.rule, p.percent) for p in g.penalties] == [("execution", real.penalties.execution_percent)]
    assert real.penalties.execution_percent == 20
    reason = g.penalties[0].reason
    assert "hw2_moe.ipynb" in reason
    assert not any(n in reason for n in NOTEBOOKS if n != "hw2_moe.ipynb")
    assert g.score == 0  # 3 points less 20% of 100, floored at 0


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_starter_notebooks_are_graded(starter_graded, name):
    assert name in dict(starter_graded.grade.timings)


def test_registry_file_is_the_real_one(real):
    """The fixtures grade with the shipped registry, found by id as the CLI does."""
    assert real.id == "nyu-dl-hw2-2025"
    assert registry.load("nyu-dl-hw2-2025").registry_hash == real.registry_hash
