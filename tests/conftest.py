"""Session fixtures every suite shares (defined once here: a fixture defined in two folders'
conftests is two fixtures, two sandbox servers, two gradings of the same notebook).

* `runner`: one sandbox runner for the whole session with a lane per core, as `grader grade`
  has (grader.sandbox_runner.default_lanes: 2 on 2 cores; HW2_GRADER_LANES=1 for one after
  the other). A zip's notebooks run at the same time; gradings submitted from two threads
  run side by side, each child on its own server with the same torch threads. Verdicts do
  not depend on it: judging stays in the grader, in order, and budgets count batches.
* `background`: a thread pool as wide as the runner's lanes. A module that knows the heavy
  gradings its tests will read submits them all up front (`prefetch`), so two run at once
  while the tests read the results in order.
* `grade_one(assignment, name, notebook, only=None, mode=None)`: one notebook graded with
  its checks only (`grade_notebook`; `only`: some of them; `mode`: another run mode), cached
  by content (assignment, the checks, the mode, the notebook's text): every test that needs
  the same grading shares one. `grade_one.submit(...)` starts it in the background and
  returns its future.
* HW2 Spring 2025's real registry (`real`) and its two expensive gradings, shared by
  tests/hw2 and tests/terms (which reads them for the terms with the same notebooks):
  `reference_graded` (the reference solution zip) and `starter_graded` (the starter zip),
  graded on an early lane of their own from the session's start (`real_gradings`).
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import nbformat
import pytest

from grader.models import CheckResult


@pytest.fixture(scope="session")
def runner():
    if os.name != "posix":  # pragma: no cover
        pytest.skip("the sandbox needs Linux")
    from grader.sandbox_runner import default_lanes, open_runner

    with open_runner(lanes=default_lanes()) as r:
        # torch's compiler stack once, before the lanes' clones are made (grade_one): the
        # tests' time bounds then never include its one-time warm-up, whichever test runs first
        r.server.prepare_compiler()
        yield r


class Background:
    """Calls run on a small thread pool; `submit` returns a Future (its exception, if any, is
    raised by `result()` in the test that reads it)."""

    def __init__(self, workers: int):
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="test-grading")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def background(runner):
    bg = Background(runner.lanes)
    yield bg
    bg.close()


@dataclass
class NotebookGrade:
    results: dict[str, CheckResult]
    executed_ok: bool
    seconds: float


# The grader's own work on a notebook (building requests, judging the replies: reference code,
# torch.export of the student's model) is done by one thread at a time, as in `grader grade`
# (grading._run_ahead: runs side by side, judging in the caller, in order): torch's tracing is
# not made for two threads, and a verdict must not depend on what another grading does.
JUDGING = threading.Lock()


class GradeOne:
    """grade_one(assignment, name, nb) -> NotebookGrade; `submit` -> Future of it. Cached by
    content, so a grading asked for twice (a prefetch, then the test) runs once."""

    def __init__(self, runner: Any, background: Background, tmp_path_factory: Any):
        self.runner, self.background, self.tmp = runner, background, tmp_path_factory
        self._lock = threading.Lock()
        self._futures: dict[tuple, Future] = {}
        self._count = 0

    def __call__(self, assignment: Any, name: str, nb: Any, only: Iterable[str] | None = None,
                 mode: str | None = None) -> NotebookGrade:
        return self.submit(assignment, name, nb, only, mode).result()

    def submit(self, assignment: Any, name: str, nb: Any, only: Iterable[str] | None = None,
               mode: str | None = None) -> Future:
        """`only`: these check ids of the notebook (default: all of its checks); `mode`: run
        the notebook in this mode instead of its file rule's ("definitions", "full")."""
        import dataclasses

        from grader.grading import Options, judge_notebook, plan_notebook, run_notebook

        text = nb if isinstance(nb, str) else nbformat.writes(nb)
        keep = None if only is None else set(only)
        checks = [c for c in assignment.checks if c.notebook == name and (keep is None or c.id in keep)]
        key = (assignment.id, assignment.registry_hash, name, repr(checks), mode, text)
        with self._lock:
            if key in self._futures and not self._futures[key].cancelled():
                return self._futures[key]
            self._count += 1
            work = self.tmp.mktemp(f"nb{self._count}")  # made here: mktemp is not for threads
            path = work / name
            path.write_text(text, encoding="utf-8")
            rule = next(f for f in assignment.submission.files if f.name == name)
            if mode is not None:
                rule = dataclasses.replace(rule, mode=mode)

            def run() -> NotebookGrade:
                # grade_notebook's three steps; only the sandbox run is done side by side
                options = Options()
                with JUDGING:
                    plan = plan_notebook(rule, path, checks, options)
                started = time.monotonic()
                outcome = run_notebook(plan, rule, path, work, assignment, options, self.runner)
                with JUDGING:
                    results, executed_ok, seconds = judge_notebook(plan, outcome, rule, checks, options, self.runner,
                                                                   None, started)
                return NotebookGrade({r.id: r for r in results}, executed_ok, seconds)

            future = self._futures[key] = self.background.submit(run)
            return future

    def prefetch(self, jobs: Iterable[tuple]) -> list[Future]:
        """Submit every (assignment, name, notebook[, only[, mode]]) job now, in order."""
        return [self.submit(*job) for job in jobs]


@pytest.fixture(scope="session")
def grade_one(runner, background, tmp_path_factory) -> GradeOne:
    runner.reserve(runner.lanes)  # the lanes' servers (clones of the first): `run` only takes idle ones
    return GradeOne(runner, background, tmp_path_factory)


def prefetched(futures: list[Future]):
    """For a module fixture: yield after submitting, then drop what no test read (a `-k` run)
    so that it does not hold the runner's lanes while the next module runs."""
    yield futures
    for f in futures:
        f.cancel()
    for f in futures:
        if not f.cancelled():
            try:
                f.result()
            except Exception:  # noqa: BLE001 - a test that read it has already reported it
                pass


# ----------------------------------------------------------------------------- HW2, real registry


@pytest.fixture(scope="session")
def real():
    from grader import registry
    from tests.hw2.conftest import REAL

    return registry.load_file(REAL)


def graded_zip(zip_path: Path, assignment: Any, runner: Any) -> Any:
    """`grade` at the assignment's deadline, with its wall time (tests.engine.conftest.Graded)."""
    from grader.grading import Options, grade
    from tests.engine.conftest import Graded

    t0 = time.monotonic()
    g = grade(zip_path, assignment, Options(submitted_at=assignment.deadline), runner)
    return Graded(g, time.monotonic() - t0)


def grade_zip_alone(zip_path: str, registry_file: str, lanes: int) -> Any:
    """`graded_zip` with a sandbox runner of its own: what the early lane's process runs."""
    from grader import registry
    from grader.sandbox_runner import open_runner

    assignment = registry.load_file(registry_file)
    with open_runner(lanes=lanes) as r:
        return graded_zip(Path(zip_path), assignment, r)


HEAVY = ("reference_graded", "starter_graded")  # what the early lane grades (below)


@pytest.fixture(scope="session")
def real_gradings(request, tmp_path_factory):
    """The reference solution zip (write_solution_zip) and the starter zip graded with the
    real registry, once each, one after the other, in a process of their own (the early lane:
    a fresh interpreter with its own sandbox server; its Grades come back pickled, our own
    code's objects, nothing a student wrote): {"reference": future, "starter": future}.

    `early_gradings` starts it before the first test when the session has tests that read
    them, so the ~3 minutes of one core they take run beside the session's many light tests
    (which use one core, mostly) instead of after them, and the session runner's lanes stay
    free for those tests. With few other tests, the lane grades each zip's notebooks side by
    side (default_lanes) like `grader grade`."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from grader.sandbox_runner import default_lanes
    from nyu_dl_hw2.reference.hw2.notebooks import write_solution_zip
    from tests.hw2.conftest import REAL, write_starter_zip

    reference = write_solution_zip(tmp_path_factory.mktemp("reference"))
    starter = write_starter_zip(tmp_path_factory.mktemp("starter"))
    others = sum(1 for item in request.session.items if not set(HEAVY) & set(item.fixturenames))
    lanes = 1 if others > 20 else default_lanes()
    lane = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    futures = {which: lane.submit(grade_zip_alone, str(path), str(REAL), lanes)
               for which, path in (("reference", reference), ("starter", starter))}
    yield futures
    lane.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session", autouse=True)
def early_gradings(request):
    """Start the early lane (`real_gradings`) before the first test if any test reads it
    (HW2_TESTS_EARLY_LANE=0: when the first test reads it, e.g. on a machine so loaded that
    its notebooks should not share the cores with the other tests)."""
    if os.environ.get("HW2_TESTS_EARLY_LANE", "1") == "0":
        return
    if any(set(HEAVY) & set(item.fixturenames) for item in request.session.items):
        request.getfixturevalue("real_gradings")


@pytest.fixture(scope="session")
def reference_graded(real_gradings):
    """The reference solution zip graded with the real registry, once."""
    return real_gradings["reference"].result()


@pytest.fixture(scope="session")
def starter_graded(real_gradings):
    """The starter zip graded with the real registry, once."""
    return real_gradings["starter"].result()
