"""The engine's `Runner`, backed by the sandbox server.

Grading speaks in checks, requests and replies; the sandbox speaks in jobs, probes and
cells. This adapter is the one place that translates between them, so either side can
change without the other noticing.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Mapping


from .checks import NotebookFacts, Reply, Request
from .grading import RunOutcome
from .numerics import NumericSettings, from_environ
from .plain import plain
from .registry import SandboxLimits

SNAPSHOT = "$snapshot"  # a Request with this probe name asks for weight snapshots during a full run


class SandboxRunner:
    """Runs notebooks through one long-lived sandbox server (started once, reused)."""

    def __init__(self, server: Any, settings: NumericSettings = NumericSettings()):
        self.server = server
        self.settings = settings
        self.cpu_capability: str | None = None  # as the last child reported it

    def provenance(self) -> dict[str, Any]:
        """The numeric settings of this runner's gradings (for `--timings` JSON): the kernel
        variables and thread count, the kernel set torch picked in the sandbox child and in
        the grader's own judging."""
        import torch

        return {**self.settings.provenance(), "cpu_capability": self.cpu_capability,
                "grader_cpu_capability": torch.backends.cpu.get_cpu_capability()}

    def run(self, notebook: Path, scratch: Path, mode: str, limits: SandboxLimits,
            requests: Mapping[str, Request]) -> RunOutcome:
        from .sandbox import Limits, NotebookJob, ProbeRequest, Shims, SnapshotRequest
        from .sandbox.jobs import DISK_NOTE

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
                          disk_mb=limits.disk_mb),
            shims=Shims(cuda_to_cpu=limits.cuda_to_cpu), probes=probes, snapshot=snapshot, label=notebook.name,
            # A child that dies (a segfault in one function) must not take the other checks with
            # it: a fresh child re-runs the definitions and answers the remaining probes.
            recover_probes=True,
        )
        run = self.server.run_notebook(job)
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


@contextlib.contextmanager
def open_runner(hidden: tuple[str, ...] = ()) -> Iterator[SandboxRunner]:
    """Start one sandbox server for as long as the block runs.

    Private reference folders (`--references`) are always hidden from student code. The
    numeric settings (grader.numerics) are checked first: a bad value is a `UsageError`.
    """
    from .checks.base import reference_folders
    from .sandbox import SandboxServer

    settings = from_environ()
    hidden = tuple(hidden) + tuple(reference_folders())
    # While the sandbox's children train on the cores, the grader's own judging (small
    # tensors: a criterion on 8 outputs, a 12-unit LSTM per checkpoint) must not spread over
    # them too: on 2 cores under load, 2 threads ran the seq_classification judge 40x slower.
    # HW2_GRADER_TORCH_THREADS (default 1) sets both, for calibration across thread counts.
    import torch

    torch.set_num_threads(settings.torch_threads)
    with SandboxServer(hidden=list(hidden), threads=settings.torch_threads) as server:
        yield SandboxRunner(server, settings)
