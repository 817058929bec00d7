"""Shared fixtures for the engine's end-to-end tests.

The session's sandbox runner (tests/conftest.py: starting a server costs ~3 s; a notebook
job then ~0.1 s), the demo registries next to this file, and `grade_files`, which writes the
given notebooks into a zip with tests/zipfactory.py and grades it for real.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterable, Mapping

import pytest

from grader import registry
from grader.grading import Options, grade
from grader.models import CheckResult, Grade
from tests.zipfactory import make_submission, minimal_notebook

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def demo():
    return registry.load_file(HERE / "demo.yaml")


@pytest.fixture(scope="session")
def hostile():
    return registry.load_file(HERE / "hostile.yaml")


def notebook(content: Any) -> Any:
    """A list of cell sources becomes a notebook; bytes/str/notebooks go in as they are."""
    if isinstance(content, (list, tuple)):
        return minimal_notebook(content)
    return content


class Graded:
    """A Grade plus what the tests ask of it most: one check by id, and the wall time."""

    def __init__(self, grade_: Grade, seconds: float):
        self.grade = grade_
        self.seconds = seconds

    def __getitem__(self, check_id: str) -> CheckResult:
        for c in self.grade.checks:
            if c.id == check_id:
                return c
        raise KeyError(f"no result for {check_id}; have {[c.id for c in self.grade.checks]}")

    def ids(self) -> list[str]:
        return [c.id for c in self.grade.checks]

    @property
    def checks(self) -> tuple[CheckResult, ...]:
        return self.grade.checks

    @property
    def penalty_rules(self) -> list[str]:
        return [p.rule for p in self.grade.penalties]

    def where(self, prefix: str) -> dict[str, tuple[str, float]]:
        return {c.id: (c.status, c.points) for c in self.grade.checks if c.id.startswith(prefix)}


@pytest.fixture
def grade_files(runner, tmp_path):
    """grade_files(assignment, {notebook name: cells | bytes}, **Options fields) -> Graded."""
    counter = iter(range(10_000))

    def _grade(assignment: registry.Assignment, files: Mapping[str, Any], *, zip_path: Path | None = None,
               **options: Any) -> Graded:
        if zip_path is None:
            folder = tmp_path / f"sub{next(counter)}"
            zip_path = make_submission(folder, files={n: notebook(c) for n, c in files.items()})
        options.setdefault("submitted_at", assignment.deadline)
        t0 = time.monotonic()
        result = grade(zip_path, assignment, Options(**options), runner)
        return Graded(result, time.monotonic() - t0)

    return _grade


def cells(*sources: Iterable[str] | str) -> list[str]:
    """Flatten cell sources and lists of them (to compose notebooks from parts)."""
    out: list[str] = []
    for s in sources:
        out.extend([s] if isinstance(s, str) else list(s))
    return out


# ----------------------------------------------------------------------------- notebooks
# Right answers for demo.yaml, written the way a student would (not with the reference).

CONV_RIGHT = [
    "import numpy as np",
    '''def xcorr(x, W):
    x, W = np.asarray(x, float), np.asarray(W, float)
    F, C, K = W.shape
    L_out = x.shape[1] - K + 1
    return np.array([[np.sum(W[g] * x[:, i:i + K]) for i in range(L_out)] for g in range(F)])''',
    '''def jac_w(x, W):
    x, W = np.asarray(x, float), np.asarray(W, float)
    F, C, K = W.shape
    L_out = x.shape[1] - K + 1
    J = np.zeros((F, L_out, F, C, K))
    for g in range(F):
        for i in range(L_out):
            J[g, i, g] = x[:, i:i + K]
    return J''',
    "def batched(x, W):\n    return np.stack([xcorr(xi, W) for xi in np.asarray(x, float)])",
    "def prefix(x):\n    return np.cumsum(x)",
    "def lin_jac(W, x):\n    return np.array(W, dtype=float)",
]

NETS_IMPORTS = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F"
SMALL_CNN = '''class SmallCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        identity = x
        out = self.bn2(self.conv2(x))
        out = F.relu(out + identity)
        return self.fc(torch.flatten(self.pool(out), 1))'''
STEP_RIGHT = '''def step(loss, optimizer):
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()'''
REG = '''class Reg(nn.Module):
    def __init__(self, n_in):
        super().__init__()
        self.lin = nn.Linear(n_in, 1)

    def forward(self, x):
        return self.lin(x)'''
FIT_RIGHT = '''def fit(model, loader):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(30):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.mse_loss(model(xb), yb)
            loss.backward()
            opt.step()
    return model'''
PROVIDED_AS_GIVEN = "def check_answer(f):\n    assert f(2) == 4, 'wrong answer'\n    print('ok')\n"
# the same code, reformatted, with comments and a docstring: still "unchanged"
PROVIDED_REFORMATTED = '''# provided: do not change
def check_answer(f):
    """Checks your answer."""
    assert f(2)==4, 'wrong answer'   # the test

    print( 'ok' )'''

NETS_RIGHT = [NETS_IMPORTS, SMALL_CNN, STEP_RIGHT, REG, FIT_RIGHT, PROVIDED_REFORMATTED]

RUN_RIGHT = ["import numpy as np", "def double(x):\n    return np.asarray(x) * 2", "print(double([1, 2]))"]

ALL_RIGHT = {"conv.ipynb": CONV_RIGHT, "nets.ipynb": NETS_RIGHT, "run.ipynb": RUN_RIGHT}
