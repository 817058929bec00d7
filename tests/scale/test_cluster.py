"""`grader batch --cluster`: the submissions graded as tasks on a Dask LocalCluster of two worker
processes (one warm sandbox each, from the worker plugin), the same gradebook as the local pool,
a worker killed mid-task without anyone graded twice, and a scheduler that does not answer."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

distributed = pytest.importorskip("distributed")

from grader import cluster  # noqa: E402
from grader.batch import BatchOptions, discover, plan, run_batch  # noqa: E402
from grader.cli import main  # noqa: E402
from grader.grading import Options  # noqa: E402

from .conftest import MINI, PRIVATE, RIGHT, SLOW, WRONG_DOUBLE, make_zip  # noqa: E402


def _executing(dask_worker) -> tuple[int, list[str]]:
    """On a worker: its pid and the keys of the tasks it is running right now (not just queued)."""
    return os.getpid(), [str(t.key) for t in dask_worker.state.executing]


@pytest.fixture(scope="module")
def local_cluster():
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=40) as lc:
        yield lc


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("subs") / "in"
    make_zip(folder, "aa1.zip", RIGHT)
    make_zip(folder, "bb2.zip", WRONG_DOUBLE)
    make_zip(folder, "cc3.zip", None)  # no notebook: rejected with a reason, not a crash
    make_zip(folder, "Dd4 (1).zip", RIGHT)  # misnamed zip: naming penalty
    return folder


def _batch(folder: Path, out: Path, *extra: str) -> dict:
    r = CliRunner().invoke(main, ["--references", str(PRIVATE), "batch", str(folder), "-a", str(MINI), "--out", str(out),
                                  "--json", *extra])
    assert r.exit_code in (0, 1), r.output
    return json.loads(r.output[r.output.index("{"):])


def _rows(out: Path) -> list[dict]:
    return [{k: v for k, v in g.items() if k not in ("seconds", "timings")}
            for g in json.loads((out / "grades.json").read_text())]


def test_cluster_batch_gives_the_local_gradebook(local_cluster, submissions, tmp_path):
    on_cluster = _batch(submissions, tmp_path / "dask", "--cluster", local_cluster.scheduler_address)
    assert (on_cluster["count"], on_cluster["graded"], on_cluster["crashed"]) == (4, 4, 0)
    local = _batch(submissions, tmp_path / "local", "--workers", "1")
    assert local["crashed"] == 0
    assert _rows(tmp_path / "dask") == _rows(tmp_path / "local")
    assert (tmp_path / "dask" / "grades.csv").read_text() == (tmp_path / "local" / "grades.csv").read_text()
    scores = {g["zip"]: g["score"] for g in _rows(tmp_path / "dask")}
    assert scores == {"aa1.zip": 10.0, "bb2.zip": 6.0, "cc3.zip": 0.0, "Dd4 (1).zip": 9.0}
    assert (tmp_path / "dask" / "gradescope" / "aa1" / "results.json").is_file()
    # a re-run takes every grade from the parent's cache: no task is sent at all
    again = _batch(submissions, tmp_path / "dask", "--cluster", "tcp://127.0.0.1:9")
    assert (again["cached"], again["graded"]) == (4, 0)


def test_a_worker_killed_mid_task_loses_nobody_and_doubles_nobody(local_cluster, mini, tmp_path, monkeypatch):
    # the parent's numeric settings travel with the plugin: the workers were started without them
    monkeypatch.setenv("HW2_GRADER_TORCH_THREADS", "2")
    folder = tmp_path / "in"
    names = ["ee5.zip", "ff6.zip", "gg7.zip", "hh8.zip"]
    for n in names[:3]:
        make_zip(folder, n, RIGHT)
    make_zip(folder, names[3], SLOW)
    items = plan(discover(folder), mini, Options())
    slow_key = next(i.cache_key for i in items if i.zip_path.name == "hh8.zip")[:12]
    killed: list[int] = []

    def kill_the_slow_task_worker() -> None:
        with distributed.Client(local_cluster.scheduler_address, timeout="20s") as c:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and not killed:
                for addr, (pid, running) in c.run(_executing).items():
                    if any(slow_key in k for k in running):
                        time.sleep(1.0)  # inside the notebook's sleep(3): mid-task
                        os.kill(pid, signal.SIGKILL)
                        killed.append(pid)
                        return
                time.sleep(0.2)

    killer = threading.Thread(target=kill_the_slow_task_worker, daemon=True)
    killer.start()
    seen: list[str] = []
    result = run_batch(items, mini, tmp_path / "out", BatchOptions(cluster=local_cluster.scheduler_address),
                       on_done=lambda item, g, cached: seen.append(item.zip_path.name))
    killer.join(timeout=10)
    assert killed, "the slow task was never seen running"
    assert sorted(seen) == names  # each submission reported once
    assert [g.zip_name for g in result.grades] == names and result.crashed == 0
    assert all(g.verdict == "graded" and g.score == 10.0 for g in result.grades)
    assert all(dict(g.provenance)["torch_threads"] == 2 for g in result.grades)


def test_an_unreachable_scheduler_is_a_usage_error(mini, submissions, tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")
    r = CliRunner().invoke(main, ["--references", str(PRIVATE), "batch", str(submissions), "-a", str(MINI),
                                  "--out", str(tmp_path / "o"), "--cluster", "tcp://127.0.0.1:9"])
    assert r.exit_code == 2
    assert "--cluster tcp://127.0.0.1:9: no Dask scheduler answered" in r.output


def test_workers_with_another_grader_version_are_refused_in_one_line(local_cluster, submissions, tmp_path,
                                                                      monkeypatch):
    monkeypatch.setattr(cluster, "__version__", "0.0.0-elsewhere")  # the parent's version, as the plugin carries it
    r = CliRunner().invoke(main, ["--references", str(PRIVATE), "batch", str(submissions), "-a", str(MINI),
                                  "--out", str(tmp_path / "o"), "--cluster", local_cluster.scheduler_address])
    assert r.exit_code == 3, r.output
    assert "the workers could not be set up" in r.output or "could not be set up" in r.output
    assert "install the same grader on every worker" in r.output
    assert not (tmp_path / "o" / "grades.csv").exists()
