"""The engine's `Runner`, backed by the sandbox server.

Grading speaks in checks, requests and replies; the sandbox speaks in jobs, probes and
cells. This adapter is the one place that translates between them, so either side can
change without the other noticing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from .numerics import NumericSettings, from_environ

if TYPE_CHECKING:  # imported where used: `open_runner` launches the server before these load
    from .checks import Request
    from .grading import RunOutcome
    from .registry import SandboxLimits

SNAPSHOT = "$snapshot"  # a Request with this probe name asks for weight snapshots during a full run


class SandboxRunner:
    """Runs notebooks through one long-lived sandbox server (started once, reused).

    ``lanes`` > 1: up to that many notebooks may run at the same time (`run` is thread-safe),
    each on its own server: the first, and clones forked from it when `reserve` asks for
    them (grader.sandbox.client.ServerClone: no second torch import). Grading a submission
    on 2 cores then trains the RNN while the seq notebook runs; the verdicts do not change
    (each child computes alone, with the same threads, and judging stays in order).
    """

    def __init__(self, server: Any, settings: NumericSettings = NumericSettings(), lanes: int = 1):
        self.server = server
        self.settings = settings
        self.lanes = max(1, int(lanes))
        self.cpu_capability: str | None = None  # as the last child reported it
        self._cond = threading.Condition()
        self._idle: list[Any] = [server]
        self._clones: list[Any] = []
        self._warm: threading.Thread | None = None

    def reserve(self, count: int, compiler: bool = False) -> int:
        """Make up to ``count`` servers ready (cloning the first while it is idle); returns
        how many there are. A clone that fails to come up only costs parallelism.
        ``compiler``: the coming jobs need torch's compiler stack (:meth:`needs_compiler`),
        so the first server prepares it before it is cloned."""
        want = min(self.lanes, max(1, int(count)))
        with self._cond:
            self._clones = [c for c in self._clones if c.alive]
            self._idle = [s for s in self._idle if s is self.server or s.alive]
            if len(self._clones) + 1 >= want or self.server not in self._idle:
                return len(self._clones) + 1
            self._idle.remove(self.server)
        try:
            if compiler:
                try:
                    self.server.prepare_compiler()
                except Exception:  # noqa: BLE001 - SandboxError, OSError: each job prepares it then
                    pass
            while len(self._clones) + 1 < want:
                try:
                    c = self.server.clone()
                except Exception:  # noqa: BLE001 - SandboxError, OSError: run with fewer lanes
                    break
                with self._cond:
                    self._clones.append(c)
                    self._idle.append(c)
                    self._cond.notify()
        finally:
            with self._cond:
                self._idle.insert(0, self.server)
                self._cond.notify()
        return len(self._clones) + 1

    def needs_compiler(self, mode: str, requests: Mapping[str, Request]) -> bool:
        """Whether the job of these requests may need torch's compiler stack (the sandbox's
        rule, grader.sandbox.jobs.needs_compiler; a weight-snapshot request counts)."""
        from .sandbox.jobs import needs_compiler

        snaps = any(r.probe == SNAPSHOT for r in requests.values())
        return needs_compiler(mode, ((r.probe, r.args) for r in requests.values() if r.probe != SNAPSHOT), snaps)

    def _warm_judging_once(self, requests: Mapping[str, Request]) -> None:
        """Start the grader's own judging warm-up (see :func:`_warm_judging`) the first time
        a job asks for a module's program: only such judging needs it, and it overlaps
        that job's run. A grading without one never pays for it."""
        if self._warm is not None or not any(r.probe == "module" and r.args.get("program") for r in requests.values()):
            return
        with self._cond:
            if self._warm is None:
                self._warm = threading.Thread(target=_warm_judging, name="warm-judging", daemon=True)
                self._warm.start()

    def close(self) -> None:
        for c in self._clones:
            c.close()
        self._clones = []
        if self._warm is not None:
            # a process that exits while torch runs in a thread aborts ("terminate called"):
            # an early usage error must still exit with its own status
            self._warm.join(timeout=120)

    def _acquire(self) -> Any:
        with self._cond:
            while True:
                self._idle = [s for s in self._idle if s is self.server or s.alive]
                self._clones = [c for c in self._clones if c.alive]
                if self._idle:
                    return self._idle.pop(0)
                self._cond.wait(1.0)

    def _release(self, server: Any) -> None:
        with self._cond:
            if server is self.server or server.alive:
                self._idle.insert(0 if server is self.server else len(self._idle), server)
            else:
                self._clones = [c for c in self._clones if c is not server]
            self._cond.notify()

    def provenance(self) -> dict[str, Any]:
        """The numeric settings of this runner's gradings (for `--timings` JSON): the kernel
        variables and thread count, the kernel set torch picked in the sandbox child and in
        the grader's own judging."""
        import torch

        return {**self.settings.provenance(), "cpu_capability": self.cpu_capability,
                "grader_cpu_capability": torch.backends.cpu.get_cpu_capability()}

    def run(self, notebook: Path, scratch: Path, mode: str, limits: SandboxLimits,
            requests: Mapping[str, Request]) -> RunOutcome:
        from .checks import NotebookFacts, Reply
        from .grading import RunOutcome
        from .plain import plain
        from .sandbox import Limits, NotebookJob, ProbeRequest, Shims, SnapshotRequest
        from .sandbox.jobs import DISK_NOTE

        self._warm_judging_once(requests)
        # SNAPSHOT is not a probe: it asks for weight snapshots taken *during* a full run.
        snaps = {key: req for key, req in requests.items() if req.probe == SNAPSHOT}
        probes = tuple(ProbeRequest(id=key, probe=req.probe, args=dict(req.args), timeout=req.timeout)
                       for key, req in sorted(requests.items(), key=lambda kv: (kv[1].stage, kv[0]))
                       if key not in snaps)
        snapshot = None
        if snaps:
            spec = dict(next(iter(sorted(snaps.items())))[1].args)
            snapshot = SnapshotRequest(class_name=str(spec["class_name"]), every=int(spec.get("every", 1)),
                                       max_count=int(spec.get("max_count", 200)), max_mb=float(spec.get("max_mb", 64)))
        job = NotebookJob(
            notebook_path=str(notebook), scratch_dir=str(scratch), mode=mode,  # type: ignore[arg-type]
            limits=Limits(cell_seconds=limits.cell_seconds, notebook_seconds=limits.notebook_seconds,
                          cpu_seconds=limits.cpu_seconds, memory_mb=limits.memory_mb, file_mb=limits.file_mb,
                          disk_mb=limits.disk_mb, wall_factor=wall_factor()),
            shims=Shims(cuda_to_cpu=limits.cuda_to_cpu), probes=probes, snapshot=snapshot, label=notebook.name,
            # A child that dies (a segfault in one function) must not take the other checks with
            # it: a fresh child re-runs the definitions and answers the remaining probes.
            recover_probes=True,
        )
        server = self._acquire()
        try:
            run = server.run_notebook(job)
        finally:
            self._release(server)
        capability = run.protections.get("cpu_capability")
        if isinstance(capability, str):  # the child's claim; provenance only, never a verdict
            self.cpu_capability = capability[:40]
        replies = {}
        for key in snaps:
            taken = [{"step": sn.step, "instance": sn.instance, "state": plain(dict(sn.state), keep_tuples=True)}
                     for sn in run.snapshots]
            replies[key] = Reply(True, taken) if mode == "full" else \
                Reply(False, error="weight snapshots need the notebook to run in full mode", status="error")
        for key in requests:
            if key in snaps:
                continue
            r = run.replies.get(key)
            if r is None:
                replies[key] = Reply(False, error="no reply from the sandbox", status="not-run")
                continue
            error = "" if r.ok else _error_text(r, requests[key].timeout)
            replies[key] = Reply(r.ok, plain(r.value, keep_tuples=True) if r.ok else None, error, float(r.seconds),
                                 status=str(r.status), error_type=r.error.type if r.error is not None else "")
        failed = tuple(f"cell {c.code_index + 1}: {c.status}" + (f": {c.error}" if c.error else "")
                       for c in run.cells if c.status in ("error", "timeout", "crashed"))
        notes = tuple(run.blocked) + tuple(f"stand-in used: {s}" for s in run.shims_used)
        crashed = ""
        if run.crashed is not None:
            crashed = f"the notebook's process died ({run.crashed.reason})"
        facts = NotebookFacts(executed_ok=run.executed_ok, failed_cells=failed, notes=notes)
        # a write past the run's disk quota failed: the report says so (once per notebook)
        problems: tuple[str, ...] = ()
        for c in run.cells:
            hit = next((n for n in c.notes if n.startswith(DISK_NOTE)), None)
            if hit:
                problems = (f"cell {c.code_index + 1}: {hit}; writes past it fail",)
                break
        return RunOutcome(replies=replies, facts=facts, crashed=crashed, seconds=float(run.seconds), problems=problems)


def _error_text(reply: Any, limit: float) -> str:
    status = reply.status
    err = reply.error
    if status == "timeout":
        # the limit, not the measured time: the same submission must give the same message
        # (and a probe killed after the grace period reports 0 s)
        return f"timed out after {limit:g} s" + (f" ({err})" if err else "")
    if status == "crashed":
        return "the process died while running it" + (f": {err}" if err else "")
    if status == "not-run":
        from .sandbox.expect import UNASKED

        if err is not None and UNASKED in err.message:  # the run was stopped: say why
            return "not run: " + err.message[err.message.index(UNASKED):]
        return "not run (an earlier failure stopped the notebook's process)"
    return str(err) if err else status


def _warm_judging() -> None:
    """The grader's own lazy set-up (the first `meta` run of a structure check), done while
    the notebook whose module program it will judge runs. Only a speed-up: never fails."""
    try:
        from .checks.program import warm_up

        warm_up()
    except Exception:  # noqa: BLE001
        pass


def wall_factor() -> float:
    """The wall-clock net of the sandbox's time limits, in multiples of their CPU time
    (grader/sandbox/timer.py): 4 unless `HW2_GRADER_WALL_FACTOR` says otherwise (a heavily
    shared machine may need more; a number below 1 counts as 1)."""
    raw = os.environ.get("HW2_GRADER_WALL_FACTOR", "").strip()
    try:
        return max(1.0, min(float(raw), 100.0)) if raw else 4.0
    except ValueError:
        return 4.0


def default_lanes() -> int:
    """Notebooks of one submission run at the same time: one per core this process may use
    (at most 4); `HW2_GRADER_LANES` overrides (1: one after the other)."""
    raw = os.environ.get("HW2_GRADER_LANES", "").strip()
    if raw.isdigit() and int(raw) > 0:
        return min(int(raw), 8)
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


@contextlib.contextmanager
def open_runner(hidden: tuple[str, ...] = (), lanes: int = 1) -> Iterator[SandboxRunner]:
    """Start one sandbox server for as long as the block runs (``lanes``: see SandboxRunner).

    The server is launched first and not waited for: it imports torch and warms up while
    this process loads its own torch, the registry and the submission (the first job waits).

    Private reference folders (`--references`) are always hidden from student code. The
    numeric settings (grader.numerics) are checked first: a bad value is a `UsageError`.
    """
    from .sandbox import SandboxServer

    settings = from_environ()
    # the folders given with --references (grader.checks.base, not imported here when no one
    # gave any: the server is launched before the grader's checking code loads)
    base = sys.modules.get(f"{__package__}.checks.base")
    hidden = tuple(hidden) + tuple(base.reference_folders() if base is not None else ())
    server = SandboxServer(hidden=list(hidden), threads=settings.torch_threads)
    server.start(wait=False)
    # While the sandbox's children train on the cores, the grader's own judging (small
    # tensors: a criterion on 8 outputs, a 12-unit LSTM per checkpoint) must not spread over
    # them too: on 2 cores under load, 2 threads ran the seq_classification judge 40x slower.
    # HW2_GRADER_TORCH_THREADS (default 1) sets both, for calibration across thread counts.
    try:
        import torch

        torch.set_num_threads(settings.torch_threads)
        runner = SandboxRunner(server, settings, lanes)
        try:
            yield runner
        finally:
            runner.close()
    finally:
        server.close()
