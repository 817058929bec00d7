"""The seq judge recomputes its runs' loss curves at once (one evaluator copy per run, in
threads: seq_judge.SeqTraining._compute): the curves must be the ones computed one after the
other, bit for bit (with one torch thread, the grader's default: with more, one after the
other), and a run whose weights do not fit the model still says so."""

from __future__ import annotations

import concurrent.futures as cf
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from grader.checks import Context, Reply
from nyu_dl_hw2.reference.hw2.seq_judge import SeqTraining

PARAMS = {"part": "spikes", "seeds": [2, 3], "every": 8, "n": 32, "learned": 0.75, "armed": 0.3, "climb": 0.3,
          "min_snapshots": 4}
CHECK = SimpleNamespace(id="seq.no_spikes", notebook="seq_classification.ipynb", public=False)
SHAPES = {"lstm.weight_ih_l0": (48, 8), "lstm.weight_hh_l0": (48, 12), "lstm.bias_ih_l0": (48,),
          "lstm.bias_hh_l0": (48,), "linear.weight": (4, 12), "linear.bias": (4,)}


def _replies(bad_run: int | None = None) -> dict[str, Reply]:
    """Three runs of 6 snapshots each (steps 8..48, 56..96, 104..144): random weights."""
    rng = np.random.default_rng(5)
    snaps = []
    for run in range(3):
        for k in range(6):
            state = {name: rng.normal(0, 0.5, shape).astype(np.float32) for name, shape in SHAPES.items()}
            if run == bad_run:
                state["linear.weight"] = state["linear.weight"][:, :5]
            snaps.append({"step": 8 * (6 * run + k + 1), "instance": run, "state": state})
    return {"snap": Reply(True, snaps), "seed2": Reply(True, {"seed": 2, "steps": [48, 96]}),
            "seed3": Reply(True, {"seed": 3, "steps": [96, 144]})}


def _serial(monkeypatch):
    class OneAfterTheOther:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def submit(self, fn, *args):
            f = cf.Future()
            f.set_result(fn(*args))
            return f

    monkeypatch.setattr(cf, "ThreadPoolExecutor", OneAfterTheOther)


def _curves(runs):
    return [(r.label, r.error, r.losses, r.accs) for r in runs]


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_curves_at_once_are_the_curves_one_after_the_other(monkeypatch, one_thread):
    replies, ctx = _replies(), Context(seed=11)
    started = []
    real = cf.ThreadPoolExecutor

    class Counting(real):
        def __init__(self, *a, **k):
            started.append(k.get("max_workers"))
            super().__init__(*a, **k)

    with monkeypatch.context() as m:
        m.setattr(cf, "ThreadPoolExecutor", Counting)
        at_once = SeqTraining()._compute(PARAMS, replies, ctx, CHECK)
    assert started == [3], "the runs were not recomputed at once"
    with monkeypatch.context() as m:
        _serial(m)
        serial = SeqTraining()._compute(PARAMS, replies, ctx, CHECK)
    assert [r.label for r in at_once] == ["the notebook's run", "seed 2", "seed 3"]
    assert all(len(r.losses) == 6 and not r.error for r in at_once)
    assert _curves(at_once) == _curves(serial)  # exact floats


@pytest.mark.parametrize("bad", [0, 1])
def test_a_run_that_does_not_fit_the_model_is_named(bad, one_thread):
    runs = SeqTraining()._compute(PARAMS, _replies(bad_run=bad), Context(seed=11), CHECK)
    assert [bool(r.error) for r in runs] == [i == bad for i in range(3)]
    assert runs[bad].error.startswith("the trained SimpleLSTM does not match the provided model")
