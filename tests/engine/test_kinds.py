"""`module`, `behaviour`, `train` and `integrity` checks end to end (demo.yaml, nets.ipynb).

nets.shape / nets.layers / nets.residual: SmallCNN (conv, bn, relu, pool, residual, linear)
on a (2, 3, 8, 8) input; nets.step: `step(loss, optimizer)` (2 points, 1 for a routine that
only works with fresh gradients); nets.train: `fit(model, loader)` on a tiny regression,
scored by R^2 on hidden data between 0 and 0.95; nets.provided: `check_answer` as given.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import grader
from grader.checks import KINDS, Context

from .conftest import (FIT_RIGHT, NETS_IMPORTS, NETS_RIGHT, PROVIDED_AS_GIVEN, PROVIDED_REFORMATTED, REG,
                       SMALL_CNN, STEP_RIGHT)

def nets(**parts: str) -> list[str]:
    """nets.ipynb with some parts replaced (cnn, step, reg, fit, provided)."""
    chosen = {"cnn": SMALL_CNN, "step": STEP_RIGHT, "reg": REG, "fit": FIT_RIGHT, "provided": PROVIDED_REFORMATTED}
    chosen.update(parts)
    return [NETS_IMPORTS] + [chosen[k] for k in ("cnn", "step", "reg", "fit", "provided")]


def test_right_nets_notebook(grade_files, demo):
    g = grade_files(demo, {"nets.ipynb": NETS_RIGHT})
    assert g.where("nets.") == {"nets.shape": ("pass", 1.0), "nets.layers": ("pass", 1.0),
                                "nets.residual": ("pass", 1.0), "nets.step": ("pass", 2.0),
                                "nets.train": ("pass", 2.0), "nets.provided": ("pass", 1.0)}
    assert "trained on 120 batches" in g["nets.train"].message  # 30 epochs x 4 batches of 16


# ----------------------------------------------------------------------------- module


def test_cnn_without_the_residual_connection(grade_files, demo):
    g = grade_files(demo, {"nets.ipynb": nets(cnn=SMALL_CNN.replace("out + identity", "out"))})
    assert g["nets.residual"].status == "fail" and g["nets.residual"].points == 0
    assert "no residual" in g["nets.residual"].message
    assert g.where("nets.shape") == {"nets.shape": ("pass", 1.0)}
    assert g.where("nets.layers") == {"nets.layers": ("pass", 1.0)}


def test_cnn_with_the_wrong_output_shape_and_too_few_layers(grade_files, demo):
    cnn = '''class SmallCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        return self.fc(x.mean(dim=(2, 3)))'''
    g = grade_files(demo, {"nets.ipynb": nets(cnn=cnn)})
    assert g.where("nets.shape") == {"nets.shape": ("fail", 0.0)}
    assert "output shape (2, 5), expected (2, 10)" in g["nets.shape"].message
    assert g.where("nets.layers") == {"nets.layers": ("fail", 0.0)}
    assert "expected at least 2" in g["nets.layers"].message
    assert g.where("nets.residual") == {"nets.residual": ("fail", 0.0)}


def test_a_cnn_that_cannot_be_built_is_an_error(grade_files, demo):
    cnn = "class SmallCNN(nn.Module):\n    def __init__(self):\n        super().__init__()\n        raise RuntimeError('todo')"
    g = grade_files(demo, {"nets.ipynb": nets(cnn=cnn)})
    for cid in ("nets.shape", "nets.layers", "nets.residual"):
        assert g[cid].status == "error" and g[cid].points == 0, g[cid].message
        assert "RuntimeError: todo" in g[cid].message
    assert g["nets.step"].status == "pass"  # the rest of the notebook is graded as usual


# ----------------------------------------------------------------------------- behaviour


PROBES = Path(grader.__file__).resolve().parent / "sandbox" / "probes"  # read as text: no torch in this process


def test_behaviour_kind_sends_what_the_step_probe_reads(demo):
    """The kind's request arguments are all read by grader/sandbox/probes/step.py."""
    source = (PROBES / "step.py").read_text()
    check = next(c for c in demo.checks if c.id == "nets.step")
    for req in KINDS["behaviour"].requests(check, Context(seed=1)).values():
        for key in req.args:
            assert f'"{key}"' in source, f"the step probe does not read {key!r}"


@pytest.mark.parametrize("step_src, status, points, words", [
    (STEP_RIGHT, "pass", 2.0, "one SGD update"),
    ("def step(loss, optimizer):\n    loss.backward()\n    optimizer.step()", "partial", 1.0, "zero_grad"),
    ("def step(loss, optimizer):\n    optimizer.zero_grad()\n    loss.backward()", "fail", 0.0, "never called"),
    ("def step(loss, optimizer):\n    optimizer.zero_grad()\n    loss.backward(retain_graph=True)\n"
     "    loss.backward()\n    optimizer.step()", "fail", 0.0, "twice the gradient"),
    ("def step(loss, optimizer):\n    optimizer.zero_grad()\n    loss.backward()\n    optimizer.step()\n"
     "    optimizer.step()", "fail", 0.0, "called 2 times"),
    # zero_grad after step is right too: the next call starts clean
    ("def step(loss, optimizer):\n    loss.backward()\n    optimizer.step()\n    optimizer.zero_grad()",
     "pass", 2.0, "one SGD update"),
], ids=["right", "forgets-zero_grad", "never-steps", "backward-twice", "steps-twice", "zero_grad-after"])
def test_step_behaviour(grade_files, demo, step_src, status, points, words):
    g = grade_files(demo, {"nets.ipynb": nets(step=step_src)})
    assert (g["nets.step"].status, g["nets.step"].points) == (status, points), g["nets.step"].message
    assert words in g["nets.step"].message


# ----------------------------------------------------------------------------- train


def test_train_kind_sends_what_the_train_probe_reads(demo):
    source = (PROBES / "train.py").read_text()
    check = next(c for c in demo.checks if c.id == "nets.train")
    req = KINDS["train"].requests(check, Context(seed=1))["train"]
    keys = set(req.args) | {f"data.{k}" for k in req.args["data"]} | {f"eval.{k}" for k in req.args["eval"]}
    for key in sorted(keys):
        assert f'"{key.split(".")[-1]}"' in source, f"the train probe does not read {key!r}"


def test_training_that_does_nothing_scores_zero(grade_files, demo):
    g = grade_files(demo, {"nets.ipynb": nets(fit="def fit(model, loader):\n    for xb, yb in loader:\n        pass")})
    assert g.where("nets.train") == {"nets.train": ("fail", 0.0)}
    assert "on hidden data" in g["nets.train"].message


def test_training_that_raises_is_reported_and_the_model_still_evaluated(grade_files, demo):
    fit = FIT_RIGHT.replace("    return model", "    raise RuntimeError('diverged')")
    g = grade_files(demo, {"nets.ipynb": nets(fit=fit)})
    assert g.where("nets.train") == {"nets.train": ("pass", 2.0)}  # trained, then raised
    assert "training raised RuntimeError: diverged" in g["nets.train"].message


def test_an_endless_training_loop_is_bounded_by_the_batch_budget(grade_files, demo):
    """The kind sends max_batches (default 200): the loader stops there, deterministically,
    long before the probe's 3 s timeout."""
    fit = '''def fit(model, loader):
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    while True:
        drew = 0
        for xb, yb in loader:
            drew += 1
            opt.zero_grad()
            F.mse_loss(model(xb), yb).backward()
            opt.step()
        if drew == 0:
            return model'''
    g = grade_files(demo, {"nets.ipynb": nets(fit=fit)})
    assert g.where("nets.train") == {"nets.train": ("pass", 2.0)}, g["nets.train"].message
    assert "trained on 200 batches" in g["nets.train"].message
    assert g.seconds < 3


def test_a_hanging_training_function_errors_within_its_timeout(grade_files, demo):
    fit = "def fit(model, loader):\n    while True:\n        pass"
    g = grade_files(demo, {"nets.ipynb": nets(fit=fit)})
    assert g["nets.train"].status == "error" and g["nets.train"].points == 0
    assert "timed out after 3 s" in g["nets.train"].message
    # 3 s of CPU time (the limit) + 2 s grace + start; a loaded machine stretches the wall time
    assert g.seconds < (3 + 2 + 2) * max(1.0, os.getloadavg()[0] / len(os.sched_getaffinity(0)))
    assert g["nets.shape"].status == "pass" and g["nets.step"].status == "pass"


# ----------------------------------------------------------------------------- integrity


@pytest.mark.parametrize("source, status", [
    (PROVIDED_AS_GIVEN, "pass"),
    (PROVIDED_REFORMATTED, "pass"),
    ("def check_answer(f):\n    print('ok')", "fail"),  # the test was removed
    (PROVIDED_AS_GIVEN.replace("f(2) == 4", "f(2) == f(2)"), "fail"),
    ("def check_answer_v2(f):\n    print('ok')", "fail"),  # renamed away: missing
], ids=["as-given", "reformatted", "gutted", "weakened", "missing"])
def test_provided_code_must_stay_as_given(grade_files, demo, source, status):
    g = grade_files(demo, {"nets.ipynb": nets(provided=source)})
    assert g["nets.provided"].status == status, g["nets.provided"].message
    assert g["nets.provided"].points == (1.0 if status == "pass" else 0.0)
    if status == "fail":
        assert "check_answer" in g["nets.provided"].message
