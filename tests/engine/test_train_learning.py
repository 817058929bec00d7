"""The train kind grades learning, in the student's own calling convention (no sandbox).

The judge is fed the replies a train probe would send (`runs_before`, `runs`,
`runs_restored`, `batches_drawn`, `params_change`) for the HW2 echo check's data, so each
rule shows it can fail: a model that knew the answer before training, training that drew
no batch or changed no parameter, a model that keeps its score without its trained weights.
The probe's side (every convention tried until one gives a tensor, `test_run` per item,
`device` filled in) runs here in-process on small torch modules.
"""

from __future__ import annotations

import numpy as np
import pytest

from grader.checks import KINDS, Context
from grader.checks.base import Reply
from grader.registry import Check
from nyu_dl_hw2.reference.hw2 import judges

ALTERNATIVES = [{"inputs": ["onehot"]}, {"inputs": ["seq"]},
                {"method": "test_run", "per_item": True, "inputs": ["strings"],
                 "metric": "nyu_dl_hw2.reference.hw2.judges:echo_string_accuracy"}]


def echo_check(**overrides) -> Check:
    params = {
        "model": {"class": "GRUMemory", "args": [8]},
        "train": {"function": "train_model", "args": ["$model", "$loader"]},
        "data": {"generator": "nyu_dl_hw2.reference.hw2.judges:echo_train", "args": {"n": 16, "seq_length": 8, "delay": 2}},
        "loader": {"batch_size": 4, "max_batches": 4},
        "evaluate": {"generator": "nyu_dl_hw2.reference.hw2.judges:echo_eval", "args": {"n": 20, "seq_length": 8, "delay": 2},
                     "alternatives": ALTERNATIVES},
        "metric": "nyu_dl_hw2.reference.hw2.judges:echo_accuracy",
        "thresholds": {"zero": 0.1, "full": 0.9},
        "before": {"max": 0.3, "restore": True},
        "must_draw_batches": True,
        "params_must_change": True,
    }
    params.update(overrides)
    return Check(id="rnn.train", notebook="hw2_rnn.ipynb", kind="train", points=5, params=params)


CTX = Context(seed=7)
KIND = KINDS["train"]


def eval_data(check: Check) -> dict:
    return KIND._data(check, CTX, "evaluate")


def logits(d: dict, right: bool) -> np.ndarray:
    """Logits that echo perfectly, or that always say blank (0 on every scored position)."""
    out = np.zeros(d["target"].shape + (27,), dtype=np.float32)
    if right:
        out += 10.0 * judges.one_hot(d["target"])
    return out


def answers(d: dict, right: bool) -> list[str]:
    return ["".join(judges.ALPHABET[t] for t in row) if right else " " * len(row) for row in d["target"]]


def judge(check: Check, **facts) -> tuple[float, str]:
    base = {"batches_drawn": 4, "params_change": 0.05, "train_error": None}
    base.update(facts)
    v = KIND.judge(check, {"train": Reply(True, base)}, CTX)
    return v.fraction, v.message


def test_validate_accepts_the_learning_keys_and_rejects_bad_ones():
    assert KIND.validate(echo_check().params) == []
    bad = echo_check(before={"max": "high"}, must_draw_batches="yes",
                     evaluate={"generator": "nyu_dl_hw2.reference.hw2.judges:echo_eval", "alternatives": [{"inputz": []}]})
    keys = {k for k, _, _ in KIND.validate(bad.params)}
    assert {"before", "must_draw_batches", "evaluate.alternatives[0].inputz"} <= keys


def test_a_model_that_learned_gets_the_points():
    check = echo_check()
    d = eval_data(check)
    fraction, message = judge(check, runs_before=[{"outputs": logits(d, False)}], runs=[{"outputs": logits(d, True)}],
                              runs_restored=[{"outputs": logits(d, False)}])
    assert fraction == 1.0, message
    assert "score 1.000 on hidden data" in message and "0.000 before training" in message
    assert "run as forward(onehot)" in message


def test_a_model_that_knew_the_answer_before_training_gets_nothing():
    check = echo_check()
    d = eval_data(check)
    fraction, message = judge(check, runs_before=[{"outputs": logits(d, True)}], runs=[{"outputs": logits(d, True)}],
                              runs_restored=[{"outputs": logits(d, True)}])
    assert fraction == 0.0
    assert message.startswith("the model did not learn: it scored 1.000 before training"), message


@pytest.mark.parametrize("facts,words", [
    ({"batches_drawn": 0}, "training drew none of the grader's batches (it scored 0.000 before training)"),
    ({"params_change": 0.0}, "training left every parameter unchanged"),
    ({"restored": True}, "1.000 after training with its initial weights put back"),
], ids=["no-batches", "no-change", "not-in-the-weights"])
def test_no_learning_without_batches_changed_weights_or_weights_that_matter(facts, words):
    check = echo_check()
    d = eval_data(check)
    restored = logits(d, bool(facts.pop("restored", False)))
    fraction, message = judge(check, runs_before=[{"outputs": logits(d, False)}], runs=[{"outputs": logits(d, True)}],
                              runs_restored=[{"outputs": restored}], **facts)
    assert fraction == 0.0 and words in message, message
    assert "score 1.000 after training" in message
    # without the rule in the registry the same facts earn the points
    key = {"batches_drawn": "must_draw_batches", "params_change": "params_must_change"}.get(next(iter(facts), ""))
    if key:
        assert judge(echo_check(**{key: False}), runs_before=[{"outputs": logits(d, False)}],
                     runs=[{"outputs": logits(d, True)}], **facts)[0] == 1.0


def test_the_students_convention_is_the_first_that_scores():
    """An Embedding model fails on one-hot input; a forward returning (logits, hidden) gives
    outputs that do not score: test_run per item is then the student's convention."""
    check = echo_check()
    d = eval_data(check)
    by_index = judge(check, runs_before=[{"error": "RuntimeError: expected Long"}, {"outputs": logits(d, False)}],
                     runs=[{"error": "RuntimeError: expected Long"}, {"outputs": logits(d, True)}])
    assert by_index[0] == 1.0 and "run as forward(seq)" in by_index[1], by_index
    tuple_out = [[logits(d, False)[:5], np.zeros((1, 5, 8))]]
    by_test_run = judge(check, runs_before=[{"outputs": tuple_out}, {"error": "RuntimeError: x"},
                                            {"outputs": answers(d, False)}],
                        runs=[{"outputs": tuple_out}, {"error": "RuntimeError: x"}, {"outputs": answers(d, True)}],
                        runs_restored=[{"outputs": tuple_out}, {"error": "RuntimeError: x"},
                                       {"outputs": answers(d, False)}])
    assert by_test_run[0] == 1.0 and "run as test_run(strings) per item" in by_test_run[1], by_test_run
    nothing = judge(check, runs_before=[{"error": "NotImplementedError: forward"}] * 3,
                    runs=[{"error": "NotImplementedError: forward"}] * 3)
    assert nothing[0] == 0.0 and nothing[1].startswith("the model's outputs before training could not be scored")
    assert "test_run(strings) per item: raised NotImplementedError" in nothing[1]


def test_answers_in_upper_case_still_count_for_learning():
    d = eval_data(echo_check())
    assert judges.echo_string_accuracy([a.upper() for a in answers(d, True)], d) == 1.0
    assert judges.echo_string_accuracy(answers(d, False), d) == 0.0


def test_flattened_logits_are_scored():
    d = eval_data(echo_check())
    assert judges.echo_accuracy(logits(d, True).reshape(-1, 27), d) == 1.0


# ----------------------------------------------------------------------------- probe side (in-process)

torch = pytest.importorskip("torch")


class Echo(torch.nn.Module):
    """Takes integer letters only (an nn.Embedding); test_run answers per string."""

    def __init__(self, hidden, device):
        super().__init__()
        self.device_given = device
        self.embedding = torch.nn.Embedding(27, 27)

    def forward(self, x):
        return self.embedding(x)

    def test_run(self, s):
        return s.upper()


def test_probe_tries_each_convention_until_one_gives_a_tensor():
    from grader.sandbox.probes import ProbeContext
    from grader.sandbox.probes.train import evaluate_all

    ctx = ProbeContext({"Echo": Echo})
    model = ctx.construct({"class": "Echo", "args": [4]})  # `device` is required: cpu is filled in
    assert str(model.device_given) == "cpu"
    seq = torch.randint(1, 27, (6, 5))
    onehot = torch.nn.functional.one_hot(seq, 27).float()
    specs = [{"inputs": [onehot]}, {"inputs": [seq], "batch_size": 4},
             {"method": "test_run", "per_item": True, "inputs": [["abc", "de"]]}]
    runs = evaluate_all(model, specs, ctx)
    assert len(runs) == 2 and "error" in runs[0] and tuple(runs[1]["outputs"].shape) == (6, 5, 27)
    runs = evaluate_all(model, [specs[0], specs[2]], ctx)
    assert runs[1] == {"outputs": ["ABC", "DE"]}


def test_probe_measures_the_change_of_the_parameters():
    from grader.sandbox.probes.train import _params, params_change

    model = torch.nn.Linear(3, 2)
    before = _params(model)
    assert params_change(before, model) == 0.0
    with torch.no_grad():
        model.bias += 0.25
    assert params_change(before, model) == pytest.approx(0.25)
    assert params_change(before, torch.nn.Linear(3, 3)) is None  # another model came back
