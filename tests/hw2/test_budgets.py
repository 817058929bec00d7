"""Training budgets the load of the machine does not spend, and safety nets that end in a
clear "timeout" verdict (issue 9): no sandbox, a second or so.

* The train probe's loader counts its `budget_seconds` in CPU time of the child: waiting
  (another process holding the core) does not spend it, working does.
* A training cut short by that safety net is a timeout verdict with no points, never a
  score of a half-trained model (same facts without the cut: full marks).
* seq_classification's checks: a re-run stopped by its time limit, or a notebook run whose
  cell hit the sandbox's time limit, is a timeout verdict, not a judgement of spikes.
"""

from __future__ import annotations

import time

from grader.checks import KINDS, Context
from grader.checks.base import NotebookFacts, Reply
from grader.registry import Check

from ..engine.test_train_learning import echo_check, eval_data, logits


def test_the_loader_budget_is_cpu_time_not_wall_time():
    import torch

    from grader.sandbox.probes.train import BudgetLoader, _cpu

    loader = BudgetLoader(["x"], {"x": torch.zeros(8, 2)}, 2, False, 0, _cpu() + 0.3)
    time.sleep(0.6)  # wall time passes, CPU time does not: the budget is not spent
    assert len(list(loader)) == 4 and not loader.out_of_time
    t0 = _cpu()
    while _cpu() - t0 < 0.4:  # working spends it
        sum(range(10_000))
    assert list(loader) == [] and loader.out_of_time


def test_a_training_cut_by_the_time_budget_is_a_timeout_not_a_score():
    check = echo_check(loader={"batch_size": 4, "max_batches": 4, "budget_seconds": 7})
    d = eval_data(check)
    facts = {"batches_drawn": 3, "params_change": 0.05, "train_error": None,
             "runs_before": [{"outputs": logits(d, False)}], "runs": [{"outputs": logits(d, True)}],
             "runs_restored": [{"outputs": logits(d, False)}]}
    kind = KINDS["train"]
    whole = kind.judge(check, {"train": Reply(True, facts)}, Context(seed=7))
    assert whole.fraction == 1.0, whole.message
    cut = kind.judge(check, {"train": Reply(True, dict(facts, budget_exhausted=True))}, Context(seed=7))
    assert cut.fraction == 0.0 and cut.status == "error"
    assert cut.message.startswith("timeout: the training used up its CPU-time budget of 7 s before the 4 batches")


def _seq_check() -> Check:
    return Check(id="seq.no_spikes", notebook="seq_classification.ipynb", kind="plugin", points=3,
                 params={"plugin": "nyu_dl_hw2.reference.hw2.seq_judge:SeqTraining",
                         "with": {"part": "spikes", "seeds": [2], "rerun_timeout": 600}})


def _seq_judge(replies: dict, ctx: Context):
    from nyu_dl_hw2.reference.hw2.seq_judge import SeqTraining

    return SeqTraining().judge(_seq_check(), _seq_check().params["with"], replies, ctx)


def test_a_seq_rerun_cut_by_its_time_limit_is_a_timeout_verdict():
    snap = Reply(True, [])
    late = Reply(False, error="timed out after 600 s", status="timeout")
    v = _seq_judge({"snap": snap, "seed2": late}, Context(seed=7))
    assert v.fraction == 0.0 and v.status == "error"
    assert v.message.startswith("timeout: re-running Section 8's training (seed2) hit the 600 s safety net")
    # any other failure of the re-run is judged as before (a run that could not be re-run), not as a timeout
    failed = Reply(False, error="re-running cell 1 of 2 of the training failed: NameError", status="error",
                   error_type="ProbeError")
    v = _seq_judge({"snap": snap, "seed2": failed}, Context(seed=7))
    assert not v.message.startswith("timeout")


def test_a_seq_notebook_run_cut_by_the_cell_limit_is_a_timeout_verdict():
    facts = NotebookFacts(executed_ok=False, failed_cells=("cell 9: timeout: time limit of 120 s exceeded",))
    v = _seq_judge({"snap": Reply(True, []), "seed2": Reply(True, {"steps": [0, 0]})}, Context(seed=7, notebook=facts))
    assert v.fraction == 0.0 and v.status == "error" and v.message.startswith("timeout: a cell of the notebook's run hit")
