"""Sub-jobs (`Request.job`, grader.grading): a request with a job name runs in a child of its
own when its notebook runs in definitions mode (a training check beside the notebook's other
checks, on another lane), never in full mode (that would repeat the student's cells); the
scheduler starts the longest children first; the grade is the one a single child gives."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Mapping

import pytest

from grader import grading
from grader.checks import NotebookFacts, Reply, Request
from grader.grading import Options, RunOutcome, grade, merge_runs
from grader.registry import FileRule
from tests.zipfactory import make_submission

from .conftest import ALL_RIGHT, notebook


def _rule(mode: str) -> FileRule:
    return FileRule(name="n.ipynb", kind="notebook", mode=mode)


REQUESTS = {"a": Request("call", {}), "t1": Request("train", {"x": 1}, job="one"),
            "b": Request("call", {"y": 2}), "t2": Request("train", {"x": 2}, job="two")}


def test_jobs_split_by_name_in_definitions_mode_only():
    assert grading._jobs(_rule("definitions"), REQUESTS) == (("a", "b"), ("t1",), ("t2",))
    assert grading._jobs(_rule("full"), REQUESTS) == (("a", "t1", "b", "t2"),)
    # nothing outside a job: the first job is the notebook's run (no empty child)
    only = {k: v for k, v in REQUESTS.items() if v.job}
    assert grading._jobs(_rule("definitions"), only) == (("t1",), ("t2",))
    assert grading._jobs(_rule("definitions"), {}) == ((),)


def test_merge_keeps_the_notebook_runs_facts_and_every_reply():
    main = RunOutcome({"a": Reply(True, 1)}, NotebookFacts(executed_ok=False, failed_cells=("cell 2: error",),
                                                           notes=("stand-in used: tqdm",)), seconds=1.0,
                      problems=("disk",))
    sub = RunOutcome({"t1": Reply(False, error="boom", status="crashed")},
                     NotebookFacts(notes=("stand-in used: tqdm", "cell 1: blocked: !ls")), crashed="died", seconds=2.0,
                     problems=("disk",))
    got = merge_runs([main, sub])
    assert got.replies == {"a": Reply(True, 1), "t1": Reply(False, error="boom", status="crashed")}
    assert (got.facts.executed_ok, got.facts.failed_cells, got.crashed) == (False, ("cell 2: error",), "")
    assert got.facts.notes == ("stand-in used: tqdm", "cell 1: blocked: !ls")
    assert got.problems == ("disk",) and got.seconds == 3.0
    assert merge_runs([main]) is main


class Recording:
    """A runner with lanes that runs nothing: it records each child's notebook and requests, in
    the order the scheduler starts them (one lane: strictly one after the other)."""

    lanes = 2

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...], float]] = []
        self.folders: dict[str, set[Path]] = {}
        self.lock = threading.Lock()

    def reserve(self, count: int, compiler: bool = False) -> int:
        return 1

    def run(self, nb: Path, scratch: Path, mode: str, limits: Any, requests: Mapping[str, Request]) -> RunOutcome:
        assert nb.parent == scratch and nb.is_file()
        with self.lock:
            self.folders.setdefault(nb.name, set()).add(scratch)
            self.calls.append((nb.name, tuple(sorted(r.probe for r in requests.values())),
                               sum(r.timeout for r in requests.values())))
        return RunOutcome({k: Reply(False, error="not run here", status="not-run") for k in requests},
                          NotebookFacts())


def test_a_training_check_runs_in_its_own_child_longest_first(demo, tmp_path):
    z = make_submission(tmp_path / "sub", files={n: notebook(c) for n, c in ALL_RIGHT.items()})
    rec = Recording()
    grade(z, demo, Options(submitted_at=demo.deadline), rec)
    nets = [probes for name, probes, _ in rec.calls if name == "nets.ipynb"]
    assert ("train",) in nets and len(nets) == 2 and "train" not in nets[1 - nets.index(("train",))]
    assert len(rec.folders["nets.ipynb"]) == 2  # each child in a folder of its own
    costs = [cost for _, _, cost in rec.calls]
    assert costs == sorted(costs, reverse=True)


@pytest.fixture(scope="module")
def two_lanes(runner):
    from grader.sandbox_runner import SandboxRunner

    r = SandboxRunner(runner.server, runner.settings, lanes=2)
    yield r
    r.close()


def test_a_sub_job_grades_like_one_child(runner, two_lanes, demo, tmp_path, monkeypatch):
    """The demo's training check in its own child, on a second lane, gives the grade of one
    child for the notebook (verdicts, points, measures, messages; timings aside)."""
    z = make_submission(tmp_path / "sub", files={n: notebook(c) for n, c in ALL_RIGHT.items()})
    split = grade(z, demo, Options(submitted_at=demo.deadline), two_lanes).to_json()
    monkeypatch.setattr(grading, "_jobs", lambda rule, requests: (tuple(requests),))
    single = grade(z, demo, Options(submitted_at=demo.deadline), runner).to_json()
    for g in (split, single):
        g.pop("timings", None)
        for c in g["checks"]:
            c.pop("seconds", None)
    assert json.dumps(split, sort_keys=True) == json.dumps(single, sort_keys=True)
    assert {c["id"]: c["status"] for c in split["checks"]}["nets.train"] == "pass"
