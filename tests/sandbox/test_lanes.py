"""Several notebooks at once: a server clone (forked from the warm server, no second torch
import) and the runner's lanes. What must hold: two jobs really overlap, a clone answers
like its server, a dead clone costs only its own job (and parallelism), and a submission's
grade is the same whether its notebooks ran one after the other or at the same time."""

from __future__ import annotations

import os
import threading
import time

import pytest

from .conftest import make_job

SLEEP = "import time\nt = time.time()\ntime.sleep(1.5)\nfinished = time.time()"


def test_clone_runs_a_job_at_the_same_time_as_its_server(server, tmp_path):
    # full runs need torch's compiler stack: prepared before the clone (which inherits it)
    # and before the clock starts, so the wall time below is the jobs' alone
    server.prepare_compiler()
    clone = server.clone()
    try:
        assert clone.alive and clone.pid != server.proc.pid
        runs = {}

        jobs = {}
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            jobs[name] = make_job(tmp_path / name, [SLEEP])

        def go(name, srv):
            runs[name] = srv.run_notebook(jobs[name])

        t0 = time.monotonic()
        threads = [threading.Thread(target=go, args=(n, s)) for n, s in (("a", server), ("b", clone))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        assert all(r.executed_ok for r in runs.values()), runs
        # one after the other would take >= 3 s of sleeping alone
        assert wall < 2.9, f"the two jobs did not overlap ({wall:.2f} s)"
        # the clone's child is confined like the server's (its protections are reported the same way)
        assert set(runs["a"].protections) == set(runs["b"].protections)
    finally:
        clone.close()
    assert not clone.alive
    (tmp_path / "after").mkdir()
    assert server.run_notebook(make_job(tmp_path / "after", ["x = 1"])).executed_ok  # the server goes on


def test_a_dead_clone_fails_its_job_with_a_reason_and_never_raises(server, tmp_path):
    clone = server.clone()
    os.kill(clone.pid, 9)
    for _ in range(100):
        if not clone.alive:
            break
        time.sleep(0.02)
    run = clone.run_notebook(make_job(tmp_path, ["x = 1"]))
    assert run.crashed is not None and "sandbox server" in run.crashed.reason
    clone.close()


def test_runner_lanes_drop_a_dead_clone_and_go_on(server, tmp_path):
    from grader.registry import SandboxLimits
    from grader.sandbox_runner import SandboxRunner

    runner = SandboxRunner(server, lanes=2)
    try:
        assert runner.reserve(3) == 2  # capped by lanes
        clone = runner._clones[0]
        os.kill(clone.pid, 9)
        for _ in range(100):
            if not clone.alive:
                break
            time.sleep(0.02)
        nb = make_job(tmp_path, ["y = 2"]).notebook_path
        out = runner.run(__import__("pathlib").Path(nb), tmp_path / "scratch", "full", SandboxLimits(), {})
        assert out.facts.executed_ok and not out.crashed
        assert runner._clones == [] or all(c.alive for c in runner._clones)
    finally:
        runner.close()


def test_default_lanes_follow_the_environment(monkeypatch):
    from grader.sandbox_runner import default_lanes

    monkeypatch.setenv("HW2_GRADER_LANES", "1")
    assert default_lanes() == 1
    monkeypatch.setenv("HW2_GRADER_LANES", "3")
    assert default_lanes() == 3
    monkeypatch.delenv("HW2_GRADER_LANES")
    assert 1 <= default_lanes() <= 4


@pytest.mark.parametrize("bad", ["no-such-fifo", ""])
def test_clone_refuses_paths_that_are_not_fifos(bad):
    from grader.sandbox.server import clone

    assert clone(-1, -1, bad, bad) == -1
