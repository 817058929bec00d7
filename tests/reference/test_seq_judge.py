"""Scoring of seq_classification's Section 8 runs (courses/nyu_dl_hw2/reference/hw2/seq_judge.py), on
synthetic loss curves: far from every threshold, so no CPU's rounding matters."""

from __future__ import annotations

import pytest

from nyu_dl_hw2.reference.hw2.seq_judge import SeqRun, accuracy_verdict, spike_verdict

PARAMS = {"learned": 0.75, "armed": 0.3, "climb": 0.3, "lucky": 1, "every": 8, "tail": 0.25,
          "thresholds": {"zero": 0.65, "full": 0.85}}

SMOOTH = [1.39, 1.2, 0.9, 0.5, 0.2, 0.1, 0.05, 0.04, 0.03, 0.03, 0.02, 0.02]
SPIKY = [1.39, 1.2, 0.9, 0.5, 0.2, 0.1, 0.05, 2.1, 0.3, 0.1, 0.05, 0.04]  # 0.05 -> 2.1: the course's kind
STUCK = [1.39, 1.388, 1.387, 1.386, 1.387, 1.386, 1.386, 1.387, 1.386, 1.386, 1.386, 1.386]
HIGH = [0.3, 0.5, 0.7, 0.9, 0.95, 0.97, 0.98, 0.99, 1.0, 1.0, 1.0, 1.0]
DIP = [0.3, 0.5, 0.7, 0.9, 0.95, 0.97, 0.98, 0.99, 1.0, 0.99, 0.25, 1.0]  # a late spike: accuracy not held


def run(label, losses, accs=HIGH):
    return SeqRun.from_curve(label, range(0, 8 * len(losses), 8), losses, accs, PARAMS)


@pytest.mark.parametrize("curves,points", [
    ((SMOOTH, SMOOTH, SMOOTH), 1.0),
    ((SMOOTH, SMOOTH, SPIKY), 0.5),  # one spiky run: half
    ((SMOOTH, SPIKY, SPIKY), 0.0),  # one clean run can be luck
    ((SPIKY, SPIKY, SPIKY), 0.0),
    ((SMOOTH, SMOOTH, STUCK), 1.0),  # a run stuck on the plateau is no evidence
    ((STUCK, STUCK, STUCK), 0.0),  # nothing learned: nothing to judge
])
def test_spike_points_by_runs(curves, points):
    runs = [run(f"r{i}", c) for i, c in enumerate(curves)]
    v = spike_verdict(PARAMS, runs)
    assert v.fraction == pytest.approx(points), v.message
    assert v.measure is not None and v.measure.bounds == (0.3,)


@pytest.mark.parametrize("curves,points,value", [
    ((SMOOTH, SMOOTH, SMOOTH), 1.0, 0.0),
    ((SMOOTH, SMOOTH, SPIKY), 1.0, 0.0),  # one spiky run of three: chaos, not the procedure
    ((SMOOTH, SPIKY, SPIKY), 0.0, 1.5),  # most runs spike
    ((SPIKY, SPIKY, SPIKY), 0.0, 1.5),
])
def test_one_spiky_run_allowed_is_a_majority_vote(curves, points, value):
    params = dict(PARAMS, spiky_allowed=1)
    v = spike_verdict(params, [run(f"r{i}", c) for i, c in enumerate(curves)])
    assert v.fraction == pytest.approx(points), v.message
    assert v.measure.value == pytest.approx(value, abs=0.1)  # the deciding run: its climb
    assert "(judged runs - 2)" in v.message


def test_spike_message_names_the_spike_and_a_failed_rerun():
    runs = [run("the notebook's run", SPIKY), run("seed 2", SMOOTH), SeqRun("seed 3", error="the procedure could not "
                                                                              "be re-run: AssertionError")]
    v = spike_verdict(PARAMS, runs)
    assert v.fraction == 0.0  # the run that could not be re-run counts, and is not clean
    assert "1 of 3 runs" in v.message
    assert "the notebook's run: 1 spike(s), the highest at optimizer step 56: 0.050 -> 2.100" in v.message
    assert "seed 3: the procedure could not be re-run" in v.message
    v = spike_verdict(PARAMS, [run("a", STUCK), run("b", STUCK)])
    assert v.message.startswith("no run of your Section 8 procedure learned")


def test_accuracy_is_the_median_of_the_accuracy_held_at_the_end():
    held = [run("a", SMOOTH, HIGH), run("b", SMOOTH, HIGH), run("c", SPIKY, DIP)]
    assert accuracy_verdict(PARAMS, held).fraction == 1.0  # one unlucky run is not fatal
    dips = [run("a", SPIKY, DIP), run("b", SPIKY, DIP), run("c", SMOOTH, HIGH)]
    v = accuracy_verdict(PARAMS, dips)
    assert v.fraction == 0.0 and v.measure.value == pytest.approx(0.25)  # ends at 1.0, but did not hold it
    assert "median over 3 runs: 0.250" in v.message


def test_accuracy_held_once_reached_catches_a_spike_wherever_it_falls():
    """The course's spikes come after the task is learned: held from `reach` on, a run whose
    spike falls before the last quarter holds no more than one whose spike falls in it."""
    early = [0.3, 0.5, 0.95, 0.99, 0.25, 0.9, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0]  # spike mid-run, ends high
    params = dict(PARAMS, reach=0.9)
    runs = [run("a", SPIKY, early), run("b", SPIKY, DIP), run("c", SMOOTH, HIGH)]
    assert accuracy_verdict(PARAMS, runs[:1]).fraction == 1.0  # the last quarter alone misses it
    v = accuracy_verdict(params, runs)
    assert v.fraction == 0.0 and v.measure.value == pytest.approx(0.25), v.message
    assert "(a run with a loss spike: from the point it first reached 0.9)" in v.message
    relapse = [0.3, 0.5, 0.95, 0.5, 0.7, 0.9, 0.95, 0.97, 0.98, 0.99, 0.99, 0.99]  # no loss spike: learning
    assert run("r", SMOOTH, relapse).held_accuracy(0.25, 0.9) == pytest.approx(0.99)
    slow = [0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.86, 0.87]  # never reaches 0.9: its last quarter
    assert run("s", SMOOTH, slow).held_accuracy(0.25, 0.9) == pytest.approx(0.85)
    assert accuracy_verdict(params, [run("c", SMOOTH, HIGH)] * 3).fraction == 1.0


def test_validate_rejects_bad_vote_and_reach_settings():
    from nyu_dl_hw2.reference.hw2.seq_judge import SeqTraining

    ok = dict(PARAMS, part="accuracy", seeds=[2, 3], spiky_allowed=1, reach=0.9)
    assert SeqTraining().validate(ok) == []
    bad = dict(ok, spiky_allowed=0.5, reach="high", lucky=True)
    assert {k for k, _, _ in SeqTraining().validate(bad)} == {"spiky_allowed", "reach", "lucky"}
