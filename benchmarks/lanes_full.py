"""Where one full grading's time goes, lane by lane (issue 14). Not a test: it prints a timeline.

    python benchmarks/lanes_full.py                     # the reference Spring 2025 submission
    python benchmarks/lanes_full.py some/abc1234.zip    # another zip of that assignment
    HW2_GRADER_LANES=1 python benchmarks/lanes_full.py  # one child after the other

Grades in this process (like ``grader grade``, lanes from ``HW2_GRADER_LANES`` or the cores)
and prints: every sandbox child (its notebook, which requests: the notebook's run or a
sub-job, when it started and ended, seconds from the start), the grader's own CPU and wall
seconds per judged check (the seq judge recomputes its runs' curves here), the idle time per
lane, and the totals: wall, CPU of this process and of the sandbox (server, clones, children),
and the lower bound CPU / cores that no schedule of the same work beats. Idle machine numbers
only mean something with ``uptime`` low: CPU seconds are the steadier ones under load.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    t00 = time.monotonic()
    from grader import registry
    from grader.checks import KINDS
    from grader.grading import Options, grade
    from grader.sandbox_runner import SandboxRunner, default_lanes, open_runner

    zip_path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if zip_path is None:
        from grader.checks.base import resolve

        a = registry.load("nyu-dl-hw2-2025")
        zip_path = Path(tempfile.mkdtemp(prefix="lanes-full-")) / "abc1234.zip"
        resolve(a.solution)(zip_path, "abc1234")
    children: list[tuple[str, str, float, float, str]] = []
    judged: list[tuple[str, float, float]] = []
    lock = threading.Lock()
    real_run = SandboxRunner.run

    def run(self, notebook, scratch, mode, limits, requests):  # noqa: ANN001 - SandboxRunner.run's
        t0 = time.monotonic() - t00
        out = real_run(self, notebook, scratch, mode, limits, requests)
        what = ", ".join(sorted({r.probe for r in requests.values()})) or "cells only"
        job = scratch.name.rpartition(".job")[2] if ".job" in scratch.name else "run"
        with lock:
            children.append((notebook.name, job, t0, time.monotonic() - t00, what))
        return out

    SandboxRunner.run = run  # type: ignore[method-assign]
    for kind in KINDS.values():
        def timed(check, replies, ctx, _judge=kind.judge):  # noqa: ANN001
            w0, c0 = time.monotonic(), time.thread_time()
            try:
                return _judge(check, replies, ctx)
            finally:
                judged.append((check.id, time.thread_time() - c0, time.monotonic() - w0))
        kind.judge = timed  # type: ignore[method-assign]

    lanes = default_lanes()
    with open_runner(lanes=lanes) as runner:
        a = registry.load("nyu-dl-hw2-2025")
        g = grade(zip_path, a, Options(submitted_at=datetime.fromisoformat("2025-02-25T20:00:00-05:00")), runner)
    wall = time.monotonic() - t00
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_me, cpu_kids = me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1

    print(f"{lanes} lanes, {cores} cores, load average {os.getloadavg()[0]:.1f} at the end; seconds from the start")
    print("sandbox children (start -> end, length):")
    for name, job, t0, t1, what in sorted(children, key=lambda c: c[2]):
        print(f"  {t0:7.1f} -> {t1:7.1f}  {t1 - t0:7.1f}  {name:28s} {job:4s} {what[:70]}")
    print("grader's own judging (CPU / wall seconds, checks above 0.05 s):")
    for cid, cpu, w in judged:
        if w >= 0.05:
            print(f"  {cid:24s} {cpu:6.2f} / {w:6.2f}")
    first = min((c[2] for c in children), default=0.0)
    last = max((c[3] for c in children), default=0.0)
    busy = sum(c[3] - c[2] for c in children)
    print(f"children from {first:.1f} to {last:.1f}: {busy:.1f} child-seconds over {lanes} lanes "
          f"({lanes * (last - first) - busy:.1f} lane-seconds idle in that window)")
    print(f"total: {wall:.1f} s wall, {cpu_me:.1f} s CPU of the grader + {cpu_kids:.1f} s of the sandbox; "
          f"lower bound {(cpu_me + cpu_kids) / cores:.1f} s wall on {cores} cores; "
          f"{g.raw_score:g}/{g.auto_max:g} points")
    for c in g.checks:  # e.g. a CPU-time budget spent on a loaded machine: a "timeout" verdict
        if c.points < c.max_points:
            print(f"  {c.id}: {c.points:g}/{c.max_points:g} {c.message[:160]}")


if __name__ == "__main__":
    main()
