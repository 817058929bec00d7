"""A submission's notebooks run at the same time on server clones (grader.sandbox_runner
lanes): the grade must be the one a run one notebook after the other gives, byte for byte
but for the timings, the execution penalty included."""

from __future__ import annotations

import json

import pytest

from grader.grading import Options, grade
from tests.zipfactory import make_submission

from .conftest import ALL_RIGHT, RUN_RIGHT, cells, notebook


@pytest.fixture(scope="module")
def two_lanes(runner):
    """The session's server with a second lane (a clone of it)."""
    from grader.sandbox_runner import SandboxRunner

    r = SandboxRunner(runner.server, runner.settings, lanes=2)
    yield r
    r.close()


@pytest.mark.parametrize("run_cells", [
    cells(RUN_RIGHT, "import torch\ndef kind_of(x):\n    return 1.0 if torch.is_tensor(x) else 0.0"),
    cells(RUN_RIGHT, "raise ValueError('oops')"),  # a failing full-mode cell: the execution penalty
])
def test_notebooks_at_once_grade_like_one_after_the_other(runner, two_lanes, demo, tmp_path, run_cells):
    files = {**ALL_RIGHT, "run.ipynb": run_cells}
    z = make_submission(tmp_path / "sub", files={n: notebook(c) for n, c in files.items()})
    serial = grade(z, demo, Options(submitted_at=demo.deadline), runner)
    parallel = grade(z, demo, Options(submitted_at=demo.deadline), two_lanes)
    assert len(two_lanes._clones) == 1, "the second lane was not used"
    assert json.dumps(parallel.to_json(), sort_keys=True) == json.dumps(serial.to_json(), sort_keys=True)
    assert [n for n, _ in parallel.timings] == [n for n, _ in serial.timings]  # notebooks in the registry's order
    if "oops" in run_cells[-1]:
        assert [p.rule for p in parallel.penalties] == ["execution"]
