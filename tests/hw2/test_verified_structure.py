"""Structure checks (cnn.conv/batchnorm/activation/pooling/residual/linear) are verified in the
grader's process, not taken from the notebook's process (issue 10 §5, grader/checks/program.py).

The attack of the issue: a class body, run at definition time, wraps the harness's probe
table so that the `module` probe adds ``Conv2d=2, BatchNorm2d=1, MaxPool2d=1`` and a residual
to the facts of a CNN that has none. Measured once with main's grader (e0709b6) on the six
structure checks of the quick registry: FLAT_CNN 2/9; FLAT_CNN + FORGE_TABLE 9/9 and FLAT_CNN
+ FORGE_HELPERS 9/9, i.e. +7 unearned points (cnn.conv 2, cnn.batchnorm 1, cnn.pooling 1,
cnn.residual 3). Now the grader counts structure only on the forward it rebuilt from the
child's export and ran itself on public and hidden inputs: both forged notebooks get 2/9.
"""

from __future__ import annotations

import dataclasses

import pytest

from .conftest import Edit, patched

CNN = "hw2_cnn.ipynb"
STRUCTURE = ("cnn.conv", "cnn.batchnorm", "cnn.activation", "cnn.pooling", "cnn.residual", "cnn.linear")
FORGED = ("cnn.conv", "cnn.batchnorm", "cnn.pooling", "cnn.residual")

pytestmark = pytest.mark.slow

# A CNN with no convolution, batch norm, pooling or skip: a mean per channel into a Linear.
FLAT_CNN = '''
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        return self.fc(torch.tanh(x.mean(dim=(2, 3))))
'''

# The attack: the probe table wrapped from a class body (definitions mode runs it).
FORGE_TABLE = '''
class Helper:
    import sys as _sys
    _probes = _sys.modules["grader.sandbox.probes"]
    _real = _probes.PROBES["module"]

    def _forged(ctx, args, _real=_real):
        facts = _real(ctx, args)
        counts = dict(facts.get("torch_module_counts") or {})
        counts.update({"Conv2d": 2, "BatchNorm2d": 1, "MaxPool2d": 1})
        facts["torch_module_counts"] = counts
        facts["residual"] = {"found": True, "method": "fx", "sites": [], "fx_error": ""}
        return facts

    _probes.PROBES["module"] = _forged
    for _name in ("_SEALED",):  # the copy the harness now calls, rewritten too
        if hasattr(_probes, _name):
            getattr(_probes, _name)["module"] = _forged
'''

# The same facts forged below the probe table: the helpers the module probe calls.
FORGE_HELPERS = '''
class Helper2:
    import sys as _sys
    _m = _sys.modules["grader.sandbox.probes.module"]
    _real_structure = _m.structure

    def _structure(model, _real=_real_structure):
        facts = _real(model)
        facts["torch_module_counts"] = {**facts["torch_module_counts"], "Conv2d": 2, "BatchNorm2d": 1,
                                        "MaxPool2d": 1}
        return facts

    _m.structure = _structure
    _m.find_skips = lambda nodes, limit=50: [{"node": 0, "op": "add", "kind": "identity", "modules": 2,
                                              "layers": 1}]
'''

# A forged *program*: the export of a real residual CNN sent in place of the student's model.
FORGE_PROGRAM = '''
class Decoy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.conv2 = nn.Conv2d(3, 3, 3, padding=1)
        self.pool = nn.MaxPool2d(4)
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        x = self.pool(x)
        x = x + self.conv2(F.relu(self.bn(self.conv1(x))))
        return self.fc(x.mean(dim=(2, 3)))


class Helper3:
    import sys as _sys
    _m = _sys.modules["grader.sandbox.probes.module"]
    _real_program_of = _m.program_of

    def _program_of(model, inputs, _real=_real_program_of):
        return _real(Decoy().eval(), inputs)

    _m.program_of = _program_of
'''

# A residual through a 1x1 projection (the skip branch has a conv too, one fewer).
PROJECTION_CNN = '''
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 7, stride=4, padding=3), nn.BatchNorm2d(8), nn.ReLU(),
                                  nn.MaxPool2d(2))
        self.a = nn.Conv2d(8, 16, 3, padding=1)
        self.b = nn.Conv2d(16, 16, 3, padding=1)
        self.short = nn.Conv2d(8, 16, 1)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(self.b(F.relu(self.a(x))) + self.short(x))
        return self.fc(x.mean(dim=(2, 3)))
'''

# An "add" that skips only an activation and a batch norm: not a residual around a layer.
ACTIVATION_SKIP_CNN = '''
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 7, stride=4, padding=3)
        self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
        self.bn = nn.BatchNorm2d(16)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16, 2)

    def forward(self, x):
        x = self.pool(self.conv2(self.conv(x)))
        x = x + F.relu(self.bn(x))
        return self.fc(x.mean(dim=(2, 3)))
'''

# Data-dependent control flow: torch.export refuses it, the recorded trace is checked instead.
GUARDED_FORWARD = '''
_plain_forward = CNN.forward

def _guarded(self, x):
    if torch.isnan(x).any():
        raise ValueError("NaN in the batch")
    return _plain_forward(self, x)

CNN.forward = _guarded
'''

# A forward that leaves torch (numpy for a term of the scores): the recorded trace bakes that
# term in as a constant, so it cannot reproduce the model on new inputs (off by ~1, not 1e-3).
NUMPY_FORWARD = '''
_plain_forward2 = CNN.forward

def _through_numpy(self, x):
    corner = torch.from_numpy(np.tanh(x.numpy()[:, :2, 0, 0]))
    return _plain_forward2(self, x) + corner

CNN.forward = _through_numpy
'''


@pytest.fixture(scope="module")
def structure_only(quick):
    return dataclasses.replace(quick, checks=tuple(c for c in quick.checks if c.id in STRUCTURE))


def _grade(grade_one, registry, edits=(), append=()):
    nb = patched(CNN, edits, ("import numpy as np",) + tuple(append))
    return grade_one(registry, CNN, nb).results


def test_reference_keeps_full_marks(grade_one, structure_only):
    got = _grade(grade_one, structure_only)
    for cid in STRUCTURE:
        assert got[cid].status == "pass", got[cid]
    assert got["cnn.residual"].message == "a residual (skip) connection was found"


def test_a_flat_cnn_fails_the_structure_checks(grade_one, structure_only):
    got = _grade(grade_one, structure_only, append=(FLAT_CNN,))
    for cid in FORGED:
        assert got[cid].points == 0, got[cid]
    assert got["cnn.linear"].points == 1 and got["cnn.activation"].points == 1  # tanh and the Linear are real


@pytest.mark.parametrize("forge", [FORGE_TABLE, FORGE_HELPERS], ids=["probe-table", "probe-helpers"])
def test_forged_facts_earn_nothing(forge, grade_one, structure_only):
    got = _grade(grade_one, structure_only, append=(FLAT_CNN, forge))
    for cid in FORGED:
        assert got[cid].points == 0, got[cid]
    assert "0 conv layer(s)" in got["cnn.conv"].message
    assert "no residual" in got["cnn.residual"].message


def test_a_forged_program_is_not_trusted(grade_one, structure_only):
    got = _grade(grade_one, structure_only, append=(FLAT_CNN, FORGE_PROGRAM))
    for cid in STRUCTURE:
        assert got[cid].points == 0, got[cid]
        assert "does not compute the model's outputs" in got[cid].message, got[cid]
        assert "the report was not trusted" in got[cid].message


def test_a_projection_residual_passes(grade_one, structure_only):
    got = _grade(grade_one, structure_only, append=(PROJECTION_CNN,))
    assert got["cnn.residual"].status == "pass", got["cnn.residual"]


def test_a_residual_must_skip_a_layer(grade_one, structure_only):
    got = _grade(grade_one, structure_only, append=(ACTIVATION_SKIP_CNN,))
    assert got["cnn.residual"].points == 0, got["cnn.residual"]
    assert got["cnn.conv"].points == 2 and got["cnn.batchnorm"].points == 1, got


def test_the_reference_without_its_skip_fails(grade_one, structure_only):
    got = _grade(grade_one, structure_only,
                 edits=(Edit("return F.relu(out + x)  # skip connection", "return F.relu(out)"),))
    assert got["cnn.residual"].points == 0 and "no residual" in got["cnn.residual"].message
    assert got["cnn.conv"].points == 2


def test_data_dependent_control_flow_is_checked_on_a_trace(grade_one, structure_only):
    got = _grade(grade_one, structure_only, append=(GUARDED_FORWARD,))
    for cid in STRUCTURE:
        assert got[cid].status == "pass", got[cid]


def test_a_forward_that_leaves_torch_gets_a_clear_verdict(grade_one, structure_only):
    got = _grade(grade_one, structure_only, append=(NUMPY_FORWARD,))
    for cid in STRUCTURE:
        assert got[cid].points == 0, got[cid]
        msg = got[cid].message
        assert "the report was not trusted" in msg and "torch.export failed" in msg, msg
        assert "the path may depend on the data" in msg
