"""seq_classification's Section 8 checks through the sandbox, on short trainings.

The real checks judge several runs of the student's own procedure: the notebook's run and
re-runs of the cells that trained Section 8's model under the grader's seeds (probe
`rerun_training`). These tests use the real checks with a 4-epoch budget (the notebooks'
`max_epochs = 100` edited to 4, `min_snapshots` lowered): nothing learns in 4 epochs, so
they assert the machinery and the report, not thresholds (the real-budget verdicts are in
test_reference_and_starter.py and test_planted_bugs.py; the thresholds' calibration in
benchmarks/calibrate_seq.py):

* a re-run under the notebook's own seed repeats its run exactly, another seed differs;
* the real variety of fixes re-runs (a scheduler passed to `train_and_test` as an extra
  parameter, `train` returning a 4-tuple, gradient hooks, an optimizer swap, clipping in
  `train`), and the feedback names each change;
* a changed model class or seed is reported; a procedure that cannot run twice is said so.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from grader.grading import Options, grade_notebook
from grader.registry import thaw
from nyu_dl_hw2.reference.hw2.seq_fixes import PROCEDURES
from nyu_dl_hw2.reference.hw2.seq_judge import SeqTraining

from .conftest import patched

pytestmark = pytest.mark.slow

NAME = "seq_classification.ipynb"
_dirs = itertools.count()


@pytest.fixture(scope="module")
def short_checks(real):
    def checks(seeds):
        out = []
        for c in real.checks:
            if c.id in ("seq.no_spikes", "seq.accuracy"):
                p = thaw(c.params)
                p["with"].update(seeds=list(seeds), min_snapshots=5)
                out.append(dataclasses.replace(c, params=p))
        return out
    return checks


@pytest.fixture(scope="module")
def grade_short(runner, real, short_checks, tmp_path_factory):
    """grade_short(notebook, seeds) -> ({check id: result}, [SeqRun]) with 4 epochs."""
    import nbformat

    def _grade(nb, seeds=(2,)):
        cell = next(c for c in nb.cells if c.cell_type == "code" and "max_epochs = 100" in c.source)
        cell.source = cell.source.replace("max_epochs = 100", "max_epochs = 4")
        work = tmp_path_factory.mktemp(f"seq{next(_dirs)}")
        (work / NAME).write_text(nbformat.writes(nb), encoding="utf-8")
        rule = next(f for f in real.submission.files if f.name == NAME)
        results, _, _ = grade_notebook(rule, work / NAME, work, short_checks(seeds), real, Options(), runner)
        return {r.id: r for r in results}, list(SeqTraining._last[2])
    return _grade


def test_a_rerun_under_the_notebooks_seed_repeats_its_run(grade_short):
    results, runs = grade_short(patched(NAME), seeds=(1, 2))
    assert [r.label for r in runs] == ["the notebook's run", "seed 1", "seed 2"]
    assert all(not r.error for r in runs), runs
    notebook, same, other = runs
    assert len(notebook.losses) == len(same.losses) == len(other.losses) == 4 * 31 // 8
    assert notebook.losses == same.losses  # the same procedure, the same seed: the same weights
    assert notebook.losses != other.losses
    msg = results["seq.no_spikes"].message
    assert results["seq.no_spikes"].points == 0 and "no run of your Section 8 procedure learned" in msg
    assert "Changes to the course's training procedure: gradient clipping: clip_grad_norm_" in msg
    assert results["seq.accuracy"].points == 0 and results["seq.accuracy"].measure is not None


VARIETY = {
    "cosine-clip-norm-1": ["learning-rate schedule: CosineAnnealingLR(T_max=100)",  # train_and_test(..., scheduler=)
                           "gradient clipping: clip_grad_norm_(max_norm=1)"],
    "adam-5e-4-clip-0.005": ["optimizer Adam(lr=0.0005)"],  # train returns a 4-tuple
    "wd-clamp-hooks": ["gradient hooks: register_hook(lambda grad: torch.clamp(grad, -0.085, 0.085))",
                       "weight_decay=1e-05"],
    "clip-norm-1": ["gradient clipping: clip_grad_norm_(max_norm=1)"],
}


@pytest.mark.parametrize("name", sorted(VARIETY))
def test_real_variety_of_fixes_reruns_and_is_reported(grade_short, name):
    results, runs = grade_short(PROCEDURES[name].notebook())
    assert [r.label for r in runs] == ["the notebook's run", "seed 2"]
    assert all(not r.error and len(r.losses) == 15 for r in runs), runs
    msg = results["seq.no_spikes"].message
    for fragment in VARIETY[name]:
        assert fragment in msg, msg


def test_a_changed_model_and_seed_are_reported(grade_short):
    nb = PROCEDURES["course"].notebook()
    seed_cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.strip() == "torch.manual_seed(1)")
    seed_cell.source = "torch.manual_seed(7)"
    student = next(c for c in nb.cells if c.cell_type == "code" and "def train(" in c.source)
    student.source += ("\n\nclass SimpleLSTM(nn.Module):\n    def __init__(self, input_size, hidden_size, output_size):\n"
                       "        super().__init__()\n        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)\n"
                       "        self.linear = nn.Linear(hidden_size, output_size)\n"
                       "        nn.init.xavier_uniform_(self.linear.weight)\n\n"
                       "    def forward(self, x):\n        return self.linear(self.lstm(x)[0])\n")
    results, runs = grade_short(nb)
    assert all(not r.error for r in runs), runs
    msg = results["seq.no_spikes"].message
    assert "seed 7 (course: 1" in msg and "SimpleLSTM is defined again" in msg, msg


def test_a_procedure_that_cannot_run_twice_loses_that_run(grade_short):
    nb = PROCEDURES["course"].notebook()
    cell = next(c for c in nb.cells if c.cell_type == "code" and "max_epochs = 100" in c.source)
    cell.source = "assert 'ran_once' not in globals()\nran_once = True\n" + cell.source
    results, runs = grade_short(nb)
    assert not runs[0].error and runs[1].error.startswith("the procedure could not be re-run"), runs
    assert "AssertionError" in runs[1].error
    msg = results["seq.no_spikes"].message
    assert "seed 2: the procedure could not be re-run" in msg
    assert "Changes to the training procedure: unknown" in msg
