"""torch's compiler stack (dynamo, export) is prepared in the sandbox server only when a job
may need it (grader.sandbox.jobs.needs_compiler), never at start-up: a grading of
definitions-only checks does not wait ~1.8 s for it. What must hold: a light job leaves
the server cold; a job that may need it finds it prepared (the child does not pay for it
under its own limits); a child of a cold server still steps an optimizer, with the same
numbers; a clone of a prepared server inherits it."""

from __future__ import annotations

import os

import pytest

from grader.sandbox import ProbeRequest, SandboxServer
from grader.sandbox.jobs import needs_compiler

from .conftest import make_job

STEP = '''
import sys
import torch

def step():
    """One SGD step on w = [1, 2] with loss sum(w^2): w - 0.1 * 2w = [0.8, 1.6]."""
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = torch.optim.SGD([w], lr=0.1)
    opt.zero_grad()
    (w ** 2).sum().backward()
    opt.step()
    return w.detach(), "torch._dynamo" in sys.modules
'''
HAD_DYNAMO = "import sys\nhad_dynamo = 'torch._dynamo' in sys.modules"


@pytest.fixture
def fresh_server():
    if os.name != "posix":  # pragma: no cover
        pytest.skip("the sandbox needs Linux")
    with SandboxServer(threads=1) as s:
        yield s


def test_the_rule_names_what_may_need_the_compiler():
    assert not needs_compiler("definitions", [("call", {}), ("module", {"program": False}), ("value", {})])
    assert needs_compiler("full", [])
    assert needs_compiler("definitions", [], snapshot=True)
    assert needs_compiler("definitions", [("module", {"program": True})])
    assert needs_compiler("definitions", [("train", {})])
    assert needs_compiler("definitions", [("a_course_probe", {})])  # unknown: prepared, to be safe


def test_light_jobs_leave_the_server_cold_and_a_full_run_finds_it_prepared(fresh_server, tmp_path):
    assert fresh_server.facts.get("compiler") is False
    assert "torch._dynamo" not in fresh_server.ping(modules=True)["modules"]

    (tmp_path / "a").mkdir()
    run = fresh_server.run_notebook(make_job(tmp_path / "a", [STEP], mode="definitions",
                                             probes=(ProbeRequest("s", "call", {"target": "step"}),)))
    value, child_had_dynamo = run.replies["s"].value
    # the child of a cold server steps an optimizer all the same (it imports dynamo itself)
    assert [round(float(v), 6) for v in value] == [0.8, 1.6]
    assert child_had_dynamo is True
    pong = fresh_server.ping(modules=True)
    assert pong["compiler"] is False and "torch._dynamo" not in pong["modules"]

    (tmp_path / "b").mkdir()
    run = fresh_server.run_notebook(make_job(tmp_path / "b", [HAD_DYNAMO], mode="full",
                                             probes=(ProbeRequest("h", "value", {"name": "had_dynamo"}),)))
    assert run.replies["h"].value is True  # prepared in the server before the fork
    pong = fresh_server.ping(modules=True)
    assert pong["compiler"] is True and "torch._dynamo" in pong["modules"]


def test_a_clone_of_a_prepared_server_inherits_the_compiler(fresh_server, tmp_path):
    fresh_server.prepare_compiler()
    assert fresh_server.ping()["compiler"] is True
    clone = fresh_server.clone()
    try:
        run = clone.run_notebook(make_job(tmp_path, [HAD_DYNAMO], mode="definitions",
                                          probes=(ProbeRequest("h", "value", {"name": "had_dynamo"}),)))
        assert run.replies["h"].value is True
    finally:
        clone.close()


def test_a_late_answer_is_never_read_as_a_jobs_result(fresh_server, tmp_path):
    """prepare_compiler gives up after its timeout: the server is stopped, so its late
    answer cannot be taken for the next job's result; the next job starts a fresh one."""
    fresh_server.prepare_compiler(timeout=0.01)  # the warm-up takes ~1 s: no answer in time
    run = fresh_server.run_notebook(make_job(tmp_path, ["x = 41 + 1"], mode="definitions",
                                             probes=(ProbeRequest("x", "value", {"name": "x"}),)))
    assert run.crashed is None and run.replies["x"].value == 42
