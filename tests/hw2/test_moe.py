"""hw2_moe.ipynb graded as the course poses it: real variety is judged right, real mistakes wrong.

The handout fixes no constructor signatures, so every notebook here is written the way a
real (public) Spring 2024/2025 submission was: `Expert()` without arguments, experts kept
as attributes or in a plain list, gates called `gating_network`, `gating`, `gate`,
`gating_net`, a gate with a hidden layer, outputs squeezed to (B,), sigmoid + BCELoss or
logits + BCEWithLogitsLoss, StepLR or LinearLR, the model called `model` or `moe`, 2 or 3
experts. Each notebook is the handout's provided cells (imports, `generate_data`) plus the
student's cells, graded with the real registry's four MoE checks (the notebook trains
itself in full mode: 300-500 full-batch epochs, seconds each). The trained accuracies are
far above `full` (0.89: right runs score 0.92-0.98) or far below `zero` (0.70).

Unit tests of the judges (no sandbox) come first.
"""

from __future__ import annotations

import numpy as np
import nbformat
import pytest

from grader.checks.base import Reply
from nyu_dl_hw2.reference.hw2 import moe
from nyu_dl_hw2.reference.hw2.nb_moe import DATA, SETUP
from tests.conftest import prefetched

MOE = "hw2_moe.ipynb"


# ----------------------------------------------------------------------------- judges, no sandbox


def test_notebook_calls_are_parsed_never_run():
    cells = (
        "NUM = 3\nmodel = MixtureOfExperts(NUM, input_dim=2, scale=-1.5, dims=[2, 1])",
        "m2 = MixtureOfExperts(*args)\nm3 = MixtureOfExperts(f(2))\nm4 = MixtureOfExperts(cfg.k)",
        "%matplotlib inline\nmoe = MixtureOfExperts()",
        # the handout's training cell, unparsable until filled in: its lines still count
        "model = MixtureOfExperts(num_experts=2)\ncriterion = # TODO\noptimizer = # TODO",
        "class MixtureOfExperts(nn.Module):\n    def __init__(self):\n        super(MixtureOfExperts, self).__init__()",
    )
    calls = moe.notebook_calls(cells, "MixtureOfExperts")
    assert [c["text"] for c in calls] == [
        "MixtureOfExperts(NUM, input_dim=2, scale=-1.5, dims=[2, 1])", "MixtureOfExperts(cfg.k)",
        "MixtureOfExperts()", "MixtureOfExperts(num_experts=2)"]
    assert calls[0]["args"] == [{"$ref": "NUM"}]
    assert calls[0]["kwargs"] == {"input_dim": 2, "scale": -1.5, "dims": [2, 1]}
    assert calls[1]["args"] == [{"$ref": "cfg.k"}]


@pytest.mark.parametrize("params, linear, ok", [
    ([["linear.weight", [1, 2]], ["linear.bias", [1]]], 1, True),
    ([["linear.weight", [2, 2]]], 1, True),  # no bias, two outputs
    ([["W", [2, 1]], ["b", [3]]], 0, False),  # a bias that does not match the matrix
    ([["W", [2, 1]], ["b", [1]]], 0, True),  # a hand-made linear layer, x @ W + b
    ([["W", [1, 2]], ["b", []]], 0, False),  # a scalar is not a bias vector
    ([["fc1.weight", [8, 2]], ["fc1.bias", [8]], ["fc2.weight", [1, 8]], ["fc2.bias", [1]]], 2, False),
    ([["linear.weight", [1, 2]], ["linear.bias", [1]], ["bn.weight", [1]], ["bn.bias", [1]]], 1, False),
    ([], 0, False),
])
def test_one_linear_layer(params, linear, ok):
    wrong = moe.one_linear_layer({"params": params, "linear_modules": linear, "modules": []})
    assert (wrong == "") is ok, wrong


def test_predictions_follow_the_output_convention():
    probs = np.array([[0.2], [0.7], [0.51]])
    assert moe.moe_predictions(probs, "BCELoss").tolist() == [0, 1, 1]
    logits = np.array([-2.0, 0.3, 1.5, -0.1])  # (B,): a squeezed output
    assert moe.moe_predictions(logits, "BCEWithLogitsLoss").tolist() == [0, 1, 1, 0]
    assert moe.moe_predictions(np.array([[-0.2], [0.4], [1.3]]), "MSELoss").tolist() == [0, 0, 1]
    assert moe.moe_predictions(np.array([[0.1, 0.9], [2.0, -1.0]]), "CrossEntropyLoss").tolist() == [1, 0]


def test_trained_thresholds_are_validated():
    assert moe.MoeTrained().validate({"thresholds": {"zero": 0.7, "full": 0.89}}) == []
    assert moe.MoeTrained().validate({"thresholds": {"zero": 0.9, "full": 0.89}})
    assert moe.MoeTrained().validate({})


def test_a_failed_run_is_an_error_verdict_not_a_traceback():
    ctx = type("Ctx", (), {"seed": 1, "notebook": None})()
    check = type("Check", (), {"id": "moe.gate", "public": True, "timeout": 30})()
    for judge in (moe.MoeExpert(), moe.MoeGate(), moe.MoeMixture()):
        v = judge.judge(check, {}, {"run": Reply(False, error="ProbeError: boom", status="error")}, ctx)
        assert v.fraction == 0 and v.status == "error" and "boom" in v.message


def test_experts_are_found_wherever_the_mixture_keeps_them():
    """The probe's search (run here on trusted modules): registered or not, in order, once each."""
    import torch.nn as nn

    from nyu_dl_hw2.probes import _held

    Expert = type("Expert", (nn.Module,), {})
    GatingNetwork = type("GatingNetwork", (nn.Module,), {})
    a, b, c, d, e = (Expert() for _ in range(5))
    model = nn.Module()
    model.experts = nn.ModuleList([a, b])
    model.more = [c, {"x": d}]  # a plain list (not registered) holding a dict
    model.last = nn.Sequential(nn.Linear(2, 2), e)
    model.gating = GatingNetwork()
    model.me = [model]  # a cycle
    model.log = list(range(5000))  # a large container is skipped
    assert _held(model, "Expert") == [a, b, e, c, d]
    assert _held(model, "GatingNetwork") == [model.gating]
    assert _held(nn.Linear(2, 1), "Expert") == []


# ----------------------------------------------------------------------------- real variety, graded

NO_ARG_EXPERT = '''
class Expert(nn.Module):
    def __init__(self):
        super(Expert, self).__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x):
        return self.linear(x)


class GatingNetwork(nn.Module):
    def __init__(self, num_experts):
        super(GatingNetwork, self).__init__()
        self.linear = nn.Linear(2, num_experts)

    def forward(self, x):
        return F.softmax(self.linear(x), dim=1)


class MixtureOfExperts(nn.Module):
    def __init__(self, num_experts=2):
        super(MixtureOfExperts, self).__init__()
        self.experts = nn.ModuleList([Expert() for i in range(num_experts)])
        self.gating_network = GatingNetwork(num_experts)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x):
        g = self.gating_network(x)
        y_hat = torch.zeros(x.shape[0], 1)
        for i in range(len(self.experts)):
            y_hat += g[:, i].view(-1, 1) * self.experts[i](x)
        return self.sigmoid(y_hat)
'''

ATTRIBUTE_EXPERTS = '''
class Expert(nn.Module):
  def  __init__(self, input_size, output_size):
    super(Expert, self).__init__()
    self.linear = nn.Linear(input_size, output_size)

  def forward(self, data):
    return self.linear(data)

class GatingNetwork(nn.Module):
  def __init__(self, input_size, num_experts):
    super(GatingNetwork, self).__init__()
    self.linear1 = nn.Linear(input_size, 4)
    self.relu = nn.ReLU()
    self.linear2 = nn.Linear(4, num_experts)
    self.softmax = nn.Softmax(dim=-1)

  def forward(self, data):
    return self.softmax(self.linear2(self.relu(self.linear1(data))))

class MixtureOfExperts(nn.Module):
  def __init__(self, num_experts=2):
    super(MixtureOfExperts, self).__init__()
    self.expert1 = Expert(2,1)
    self.expert2 = Expert(2,1)
    self.gating =  GatingNetwork(2, num_experts)
    self.sigmoid = nn.Sigmoid()

  def forward(self, data):
    g = self.gating(data)
    mixed = g[:,0] * self.expert1(data).squeeze() + g[:,1] * self.expert2(data).squeeze()
    return self.sigmoid(mixed)
'''

LOGITS_HIDDEN_DIM = '''
class Expert(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim):
        super().__init__()
        self.fc = nn.Linear(input_dim, output_dim)  # one linear layer: hidden_dim is not used

    def forward(self, x):
        return self.fc(x)


class GatingNetwork(nn.Module):
    def __init__(self, input_dim, num_experts):
        super().__init__()
        self.fc = nn.Linear(input_dim, num_experts)

    def forward(self, x):
        return torch.softmax(self.fc(x), dim=-1)


class MixtureOfExperts(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, num_experts):
        super().__init__()
        self.experts = nn.ModuleList([Expert(input_dim, hidden_dim, output_dim) for _ in range(num_experts)])
        self.gate = GatingNetwork(input_dim, num_experts)

    def forward(self, x):
        weights = self.gate(x).unsqueeze(2)                         # (B, E, 1)
        outs = torch.stack([e(x) for e in self.experts], dim=1)     # (B, E, 1)
        return (weights * outs).sum(dim=1)                          # a logit
'''

PLAIN_LIST_SIGMOID_EXPERTS = '''
class Expert(nn.Module):
    def __init__(self, input_dim=2, output_dim=1):
        super().__init__()
        self.layer = nn.Linear(input_dim, output_dim)

    def forward(self, x):
        return torch.sigmoid(self.layer(x))


class GatingNetwork(nn.Module):
    def __init__(self, num_experts, input_dim=2):
        super().__init__()
        self.layer = nn.Linear(input_dim, num_experts)

    def forward(self, x):
        return F.softmax(self.layer(x), dim=1)


class MixtureOfExperts(nn.Module):
    def __init__(self, num_experts=3):
        super().__init__()
        self.expert_list = [Expert() for _ in range(num_experts)]  # a plain list: not registered
        self.gating_net = GatingNetwork(num_experts)

    def all_parameters(self):
        return list(self.parameters()) + [p for e in self.expert_list for p in e.parameters()]

    def forward(self, x):
        g = self.gating_net(x)
        return sum(g[:, i:i + 1] * e(x) for i, e in enumerate(self.expert_list))
'''


def _train(model: str, params: str, criterion: str, scheduler: str, out: str = "y_hat", target: str = "labels_tensor",
           epochs: int = 500) -> str:
    name = model.split("=")[0].strip()
    return f'''
{model}
criterion = {criterion}
optimizer = torch.optim.Adam({params}, lr=0.05)
scheduler = {scheduler}

data_tensor = data.float()
labels_tensor = labels.view(-1, 1).float()

for epoch in range({epochs}):
    optimizer.zero_grad()
    y_hat = {name}(data_tensor)
    loss = criterion({out}, {target})
    loss.backward()
    optimizer.step()
    scheduler.step()
print("loss", loss.item())
'''


STEP = "torch.optim.lr_scheduler.StepLR(optimizer, step_size=150, gamma=0.5)"
LINEAR = "torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=1.0, end_factor=0.05, total_iters=500)"

VARIETY = {
    "expert-without-arguments": (NO_ARG_EXPERT, _train("model = MixtureOfExperts()", "model.parameters()",
                                                       "torch.nn.BCELoss()", STEP)),
    "experts-as-attributes-gate-with-a-hidden-layer-squeezed-moe": (
        ATTRIBUTE_EXPERTS, _train("moe = MixtureOfExperts()", "moe.parameters()", "nn.BCELoss()", STEP,
                                  target="labels_tensor.view(-1)")),
    "bce-with-logits-linear-lr-hidden-dim-unused": (
        LOGITS_HIDDEN_DIM, _train("model = MixtureOfExperts(2, 16, 1, 2)", "model.parameters()",
                                  "nn.BCEWithLogitsLoss()", LINEAR)),
    "three-sigmoid-experts-in-a-plain-list": (
        PLAIN_LIST_SIGMOID_EXPERTS, _train("model = MixtureOfExperts(num_experts=3)", "model.all_parameters()",
                                           "nn.BCELoss()", STEP)),
}


def notebook(*sources: str):
    nb = nbformat.v4.new_notebook()
    for src in (SETUP, DATA) + sources:
        nb.cells.append(nbformat.v4.new_code_cell(src.strip("\n")))
    return nb


def _dump(got) -> str:
    return "\n".join(f"{r.id}: {r.status} {r.points}/{r.max_points} {r.message}" for r in got.results.values())


@pytest.fixture(scope="module")
def variety_gradings(grade_one, real):
    """Every real-variety notebook submitted at once (two graded side by side)."""
    yield from prefetched(grade_one.prefetch((real, MOE, notebook(*VARIETY[n])) for n in VARIETY))


@pytest.mark.slow
@pytest.mark.parametrize("name", list(VARIETY))
def test_real_variety_scores_full_marks(name, grade_one, real, variety_gradings):
    got = grade_one(real, MOE, notebook(*VARIETY[name]))
    dump = _dump(got)
    assert got.executed_ok, dump
    assert {r.id for r in got.results.values() if r.points == r.max_points} == \
        {"moe.expert", "moe.gate", "moe.mixture", "moe.trained"}, dump
    assert "fresh" not in dump  # judged on the trained instance
    accuracy = got.results["moe.trained"].measure.value
    assert accuracy >= 0.91, dump  # far above full (0.89): calibrate_moe.py's right runs
    experts = 3 if "three" in name else 2
    assert f"{experts} experts, each one linear layer" in got.results["moe.expert"].message
    assert f"over the {experts} experts" in got.results["moe.gate"].message
    assert f"trained `{'moe' if name.endswith('-moe') else 'model'}`" in got.results["moe.trained"].message


@pytest.mark.slow
def test_unfilled_training_cell_structure_judged_on_the_notebooks_own_call(grade_one, real):
    """The handout's training cell as a SyntaxError, with the model line filled in: no trained
    model (moe.trained 0), the structure judged on a fresh instance made by the notebook's call
    (`MixtureOfExperts(2, 16, 1, 3)`: the class has no defaults, a guess would fail)."""
    train = "model = MixtureOfExperts(2, 16, 1, 3)\ncriterion = # TODO\noptimizer = # TODO\n"
    got = grade_one(real, MOE, notebook(LOGITS_HIDDEN_DIM, train))
    dump = _dump(got)
    assert not got.executed_ok, dump
    for check_id in ("moe.expert", "moe.gate", "moe.mixture"):
        r = got.results[check_id]
        assert r.points == r.max_points and "fresh `MixtureOfExperts(2, 16, 1, 3)`" in r.message, dump
    assert "3 experts, each one linear layer" in got.results["moe.expert"].message
    trained = got.results["moe.trained"]
    assert trained.points == 0 and "left no trained MixtureOfExperts" in trained.message, dump


@pytest.mark.slow
def test_two_layer_experts_and_a_sigmoid_gate_lose_their_checks_only(grade_one, real):
    """`Expert(input_dim, hidden_dim, output_dim)` as two layers is not "one linear layer"; a
    gate of per-expert sigmoids gives weights that are not probabilities. The mixture is still
    the gate-weighted sum of its experts (moe.mixture keeps its points); 60 epochs are enough
    for these verdicts, moe.trained is not asserted."""
    two_layers = LOGITS_HIDDEN_DIM.replace(
        "self.fc = nn.Linear(input_dim, output_dim)  # one linear layer: hidden_dim is not used",
        "self.fc = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, output_dim))"
    ).replace("return torch.softmax(self.fc(x), dim=-1)", "return torch.sigmoid(self.fc(x))")
    assert two_layers.count("nn.Sequential") == 1 and "torch.sigmoid(self.fc(x))" in two_layers
    train = _train("model = MixtureOfExperts(2, 16, 1, 2)", "model.parameters()", "nn.BCEWithLogitsLoss()", LINEAR,
                   epochs=60)
    got = grade_one(real, MOE, notebook(two_layers, train))
    dump = _dump(got)
    assert got.executed_ok, dump
    expert, gate, mixture = (got.results[i] for i in ("moe.expert", "moe.gate", "moe.mixture"))
    assert expert.points == 0 and "expert 1 of 2 is not one linear layer: it has 2 nn.Linear layer(s)" in expert.message
    assert "ReLU" in expert.message, dump
    assert gate.points == 0 and "not probabilities" in gate.message, dump
    assert mixture.points == mixture.max_points and "gate-weighted sum of the 2 experts" in mixture.message, dump


@pytest.mark.slow
def test_an_untrained_mixture_scores_zero(grade_one, real):
    """Right code that never trains (zeroed weights, learning rate 0): every output is 0.5, every
    prediction class 0, accuracy the class-0 fraction (~0.45), far below zero (0.70). (An
    untrained mixture from a random init is a random linear-ish model: 0.57 for the reference's
    init, 0.67 for this notebook's; the planted bug moe-zero-epochs uses the former.)"""
    model = "model = MixtureOfExperts()\nfor p in model.parameters(): nn.init.zeros_(p)"
    train = _train(model, "model.parameters()", "torch.nn.BCELoss()", STEP, epochs=5)
    got = grade_one(real, MOE, notebook(NO_ARG_EXPERT, train.replace("lr=0.05", "lr=0.0")))
    dump = _dump(got)
    trained = got.results["moe.trained"]
    assert trained.points == 0 and 0.4 < trained.measure.value < 0.5, dump
    assert all(got.results[i].points == got.results[i].max_points for i in ("moe.expert", "moe.gate", "moe.mixture"))
