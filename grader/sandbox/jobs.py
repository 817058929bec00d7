"""What the grader asks the sandbox for, and what it gets back: frozen, JSON-able.

Inputs: :class:`NotebookJob` (with :class:`Limits`, :class:`Shims`, :class:`ProbeRequest`,
:class:`SnapshotRequest`). Outputs: :class:`NotebookRun` (with :class:`CellResult`,
:class:`ProbeReply`, :class:`Snapshot`, :class:`Crash`, :class:`ErrorInfo`).

Cell status values: ``ok`` | ``error`` | ``timeout`` | ``skipped`` | ``blocked`` (the cell
ran without error but a shell escape or a refused magic in it was not run) | ``crashed``
(the child process died or was killed while running this cell).

Probe status values: ``ok`` | ``error`` | ``timeout`` | ``crashed`` | ``not-run``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from typing import Any, Iterable, Literal, Mapping

from . import wire

Mode = Literal["definitions", "full"]
CELL_STATUSES = ("ok", "error", "timeout", "skipped", "blocked", "crashed")
DISK_NOTE = "disk quota used up:"  # starts a cell's note when a write hit Limits.disk_mb or file_mb
PROBE_STATUSES = ("ok", "error", "timeout", "crashed", "not-run")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one notebook job (applied in the child before student code).

    - ``cell_seconds``: CPU time of one cell (``setitimer(ITIMER_PROF)`` in the child: all its
      threads), with a wall-clock net of ``wall_factor`` times it for code that sleeps; the
      server kills the child ``grace_seconds`` after the net if the cell ignores it.
    - ``notebook_seconds``: CPU time for all cells together (the same wall-clock net); cells
      after it is spent are ``skipped``. Probe timeouts count the same way.
    - ``wall_factor``: the wall-clock net in multiples of a CPU-time limit. CPU time is what
      a verdict may depend on: a loaded machine stretches the wall clock, not the CPU time
      (see grader/sandbox/timer.py).
    - ``cpu_seconds``: RLIMIT_CPU soft limit (hard = soft + 10 s); None: computed from the
      wall budgets times the thread count, plus 30 s.
    - ``memory_mb``: RLIMIT_AS. A process with torch imported already maps ~670 MiB.
    - ``file_mb``: RLIMIT_FSIZE (largest file the child may write).
    - ``disk_mb``: everything the run may write, in total: the scratch folder (an overlay
      over the submission's files), /tmp, /var/tmp and /dev/shm share one tmpfs of this
      size; writes past it fail with ENOSPC in the student's cell, and the cell's error
      says so.
    - ``reply_mb``: the largest probe reply the server accepts (a longer one ends the run:
      see grader.sandbox.expect).
    - ``nofile``: RLIMIT_NOFILE.
    - ``output_bytes``: stdout+stderr kept per cell and per probe.
    """

    cell_seconds: float = 60.0
    notebook_seconds: float = 600.0
    cpu_seconds: float | None = None
    memory_mb: int = 4096
    file_mb: int = 256
    disk_mb: int = 512
    reply_mb: int = 128
    nofile: int = 256
    output_bytes: int = 20_000
    grace_seconds: float = 2.0
    wall_factor: float = 4.0  # = timer.WALL_FACTOR

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Limits":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


DEFAULT_STAND_INS = (
    "torchvision", "torchaudio", "torchtext", "torchsummary", "torchinfo", "torchviz",
    "torchmetrics", "seaborn", "sklearn", "pandas", "scipy", "wandb", "d2l", "gdown",
    "kaggle", "ipywidgets", "tensorboard", "cv2", "plotly", "graphviz", "PIL", "skimage", "h5py",
)
FORCED_STAND_INS = ("torchvision", "torchaudio", "torchtext")


@dataclass(frozen=True)
class Shims:
    """Stand-ins installed in the child; every one actually used is listed in the result.

    - ``cuda_to_cpu``: ``.cuda()``, ``.to('cuda')``, ``torch.device('cuda')``, factory
      functions with ``device='cuda'``, ``torch.load`` without map_location all land on the
      CPU. ``torch.cuda.is_available()`` stays False.
    - ``colab``: ``google.colab`` (``drive.mount`` and ``files``/``output`` helpers: no-ops).
    - ``tqdm_plain``: ``tqdm.notebook``/``tqdm.auto`` give the plain console tqdm.
    - ``numpy_aliases``: names NumPy 2 removed (``np.unicode_``, ``np.float_``, ...).
    - ``stand_ins``: modules that, when their real import fails, import as a stand-in that
      raises a clear error only when used. ``forced_stand_ins`` always do (even if
      installed: torchvision built for another torch can crash the process at import).
    """

    cuda_to_cpu: bool = True
    colab: bool = True
    tqdm_plain: bool = True
    numpy_aliases: bool = True
    stand_ins: tuple[str, ...] = DEFAULT_STAND_INS
    forced_stand_ins: tuple[str, ...] = FORCED_STAND_INS

    def to_json(self) -> dict[str, Any]:
        return {
            "cuda_to_cpu": self.cuda_to_cpu,
            "colab": self.colab,
            "tqdm_plain": self.tqdm_plain,
            "numpy_aliases": self.numpy_aliases,
            "stand_ins": list(self.stand_ins),
            "forced_stand_ins": list(self.forced_stand_ins),
        }


@dataclass(frozen=True)
class ProbeRequest:
    """One probe to run on the student's namespace after the notebook ran.

    ``args`` may hold numpy arrays (sent as arrays) and :func:`wire.tensor` arrays (arrive
    as torch tensors), plus the probe markers ``{"$ref": NAME}``, ``{"$new": {...}}`` and
    ``{"$var": NAME}`` (see grader.sandbox.probes). ``timeout`` is the probe's wall time.
    """

    id: str
    probe: str
    args: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 10.0

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "probe": self.probe, "args": wire.to_plain(dict(self.args)), "timeout": self.timeout}


@dataclass(frozen=True)
class SnapshotRequest:
    """Record the weights of every nn.Module instance of class ``class_name`` that the
    optimizer updates, after every ``every`` optimizer steps (full mode only), at most
    ``max_count`` snapshots and ``max_mb`` MiB in all."""

    class_name: str
    every: int = 1
    max_count: int = 20
    max_mb: float = 64.0

    def to_json(self) -> dict[str, Any]:
        return {"class_name": self.class_name, "every": self.every, "max_count": self.max_count, "max_mb": self.max_mb}


# Probes that neither train, step an optimizer nor export: a definitions-mode job asking only
# these does not need torch's compiler stack (dynamo, export), whose import and first use
# cost the server ~1.8 s of CPU. The server prepares that stack before it forks any other
# job (server.ensure_compiler), so a child never pays for it under its own time limits.
# An unknown probe (a course's own) counts as needing it.
LIGHT_PROBES = frozenset({"call", "value", "names", "draw", "call_stubbed", "forward_with_state", "module",
                          "module_outputs"})


def needs_compiler(mode: str, probes: Iterable[tuple[str, Mapping[str, Any]]], snapshot: bool = False) -> bool:
    """Whether a job may use torch's compiler stack: a full run (training cells step
    optimizers, whose first ``zero_grad`` imports dynamo), weight snapshots, a probe outside
    :data:`LIGHT_PROBES`, or a ``module`` probe asked for its program (``torch.export``)."""
    if mode != "definitions" or snapshot:
        return True
    return any(name not in LIGHT_PROBES or (name == "module" and bool(args.get("program"))) for name, args in probes)


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to run. ``scratch_dir`` holds a copy of this submission's files only:
    the child's working folder and the only place it may write (besides a private /tmp).

    ``mode``: ``definitions`` runs imports, def/class and simple assignments only (see
    grader.sandbox.definitions); ``full`` runs every cell in order. ``stop_on_error``:
    stop at the first failing cell like Jupyter's "run all" (default: go on).
    ``threads``: torch threads in the child (None: the server's setting).
    ``recover_probes``: when the child dies (a cell that had to be killed, a segfault...)
    with probes unanswered, answer them from a fresh child that re-runs the notebook in
    definitions mode. Always done in definitions mode; in full mode only when this is True
    (by default the remaining probes are ``not-run``, as they may need the full run's state).
    """

    notebook_path: str
    scratch_dir: str
    mode: Mode = "definitions"
    limits: Limits = field(default_factory=Limits)
    shims: Shims = field(default_factory=Shims)
    probes: tuple[ProbeRequest, ...] = ()
    snapshot: SnapshotRequest | None = None
    threads: int | None = None
    stop_on_error: bool = False
    recover_probes: bool = False
    label: str = ""

    def __post_init__(self) -> None:
        if self.mode not in ("definitions", "full"):
            raise ValueError(f"mode must be 'definitions' or 'full', not {self.mode!r}")
        ids = [p.id for p in self.probes]
        if len(set(ids)) != len(ids):
            raise ValueError("probe ids must be unique")
        if not isinstance(self.probes, tuple):
            object.__setattr__(self, "probes", tuple(self.probes))

    @property
    def compiler(self) -> bool:
        """Whether this job may need torch's compiler stack (see :func:`needs_compiler`)."""
        return needs_compiler(self.mode, ((p.probe, p.args) for p in self.probes), self.snapshot is not None)

    def budget_seconds(self) -> float:
        """Upper bound of the wall time the job may take (for the grader-side watchdog): the
        limits count CPU time, so the wall clock may run `wall_factor` times longer."""
        lim = self.limits
        k = max(1.0, lim.wall_factor)
        probes = sum(p.timeout * k + lim.grace_seconds for p in self.probes)
        # a child that dies with probes unanswered is replaced by a definitions-mode re-run
        restarts = 0.0
        if self.probes and (self.mode == "definitions" or self.recover_probes):
            restarts = min(len(self.probes), 3) * (lim.cell_seconds * k + 2 * lim.grace_seconds + 20.0)
        return lim.notebook_seconds * k + lim.grace_seconds + probes + restarts + 30.0

    def max_result_bytes(self) -> int:
        """The largest result the server may send back for this job: what it asked for
        (replies, snapshots) plus room for the cells' texts; the grader reads no more."""
        replies = len(self.probes) * ((self.limits.reply_mb << 20) + (9 << 20))
        snaps = int(self.snapshot.max_mb * (1 << 20)) + self.snapshot.max_count * 65536 if self.snapshot else 0
        return replies + snaps + (64 << 20)

    def to_json(self) -> dict[str, Any]:
        return {
            "notebook_path": self.notebook_path,
            "scratch_dir": self.scratch_dir,
            "mode": self.mode,
            "limits": self.limits.to_json(),
            "shims": self.shims.to_json(),
            "probes": [p.to_json() for p in self.probes],
            "snapshot": self.snapshot.to_json() if self.snapshot else None,
            "threads": self.threads,
            "stop_on_error": self.stop_on_error,
            "recover_probes": self.recover_probes,
            "label": self.label,
        }


# ---------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class ErrorInfo:
    """An exception raised by student code: type name, message, last traceback lines."""

    type: str
    message: str
    traceback: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, "traceback": self.traceback}

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type

    @classmethod
    def from_json(cls, data: Any) -> "ErrorInfo | None":
        if not isinstance(data, Mapping):
            return None
        return cls(_s(data.get("type"), 200), _s(data.get("message"), 2000), _s(data.get("traceback"), 8000))


def _s(value: Any, cap: int) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    return text if len(text) <= cap else text[: cap - 15] + "...[truncated]"


def _f(value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return 0.0
    return v if math.isfinite(v) else 0.0


@dataclass(frozen=True)
class CellResult:
    """One code cell. ``index`` is the cell's position in the notebook's cell list (markdown
    cells included), ``code_index`` its position among code cells."""

    index: int
    code_index: int
    status: str
    seconds: float = 0.0
    error: ErrorInfo | None = None
    stdout: str = ""
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "blocked")

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "code_index": self.code_index,
            "status": self.status,
            "seconds": round(self.seconds, 4),
            "error": self.error.to_json() if self.error else None,
            "stdout": self.stdout,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ProbeReply:
    """What one probe returned. ``value`` is the decoded wire value (numpy arrays,
    :class:`wire.TensorArray` for tensors, :class:`wire.Unencodable` markers, dicts, lists,
    tuples, scalars). ``ok`` is True only for status ``ok``."""

    id: str
    probe: str
    status: str
    value: Any = None
    error: ErrorInfo | None = None
    seconds: float = 0.0
    stdout: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "probe": self.probe,
            "status": self.status,
            "ok": self.ok,
            "value": wire.to_plain(self.value),
            "error": self.error.to_json() if self.error else None,
            "seconds": round(self.seconds, 4),
            "stdout": self.stdout,
        }


@dataclass(frozen=True)
class Snapshot:
    """Weights (state_dict as arrays) of one module instance after optimizer step ``step``."""

    step: int
    instance: int
    class_name: str
    state: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "instance": self.instance,
            "class_name": self.class_name,
            "state": {k: wire.to_plain(v) for k, v in self.state.items()},
        }


@dataclass(frozen=True)
class Crash:
    """The child (or the server) died or was killed. ``phase`` says where: ``setup``,
    ``cell N``, ``probe ID``, ``between``, or ``server``."""

    reason: str
    phase: str = ""
    exit_code: int | None = None
    signal: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"reason": self.reason, "phase": self.phase, "exit_code": self.exit_code, "signal": self.signal}


@dataclass(frozen=True)
class NotebookRun:
    """The outcome of one :class:`NotebookJob`.

    - ``cells``: one :class:`CellResult` per code cell, in order.
    - ``blocked``: shell escapes and magics that were refused (``"cell 3: blocked: !wget ..."``).
    - ``shims_used``: stand-ins the student code actually touched.
    - ``protections``: what confinement was applied (see grader.sandbox.confine).
    - ``replies``: probe id -> :class:`ProbeReply` (every requested probe has one).
    - ``crashed``: set when the child died or was killed (the cells/probes then tell where).
    - ``snapshots``: weight snapshots (full mode with a SnapshotRequest).
    - ``raw_output``: what reached the child's real stdout/stderr file descriptors
      (C-level prints, fault handler dumps), truncated.
    - ``restarts``: how many times a fresh child re-ran the notebook to finish probes.
    """

    notebook: str
    mode: str
    cells: tuple[CellResult, ...] = ()
    blocked: tuple[str, ...] = ()
    shims_used: tuple[str, ...] = ()
    protections: Mapping[str, Any] = field(default_factory=dict)
    replies: Mapping[str, ProbeReply] = field(default_factory=dict)
    crashed: Crash | None = None
    seconds: float = 0.0
    snapshots: tuple[Snapshot, ...] = ()
    warnings: tuple[str, ...] = ()
    raw_output: str = ""
    restarts: int = 0
    label: str = ""

    @property
    def executed_ok(self) -> bool:
        """True when every cell that was run finished without error, timeout or crash."""
        ran = [c for c in self.cells if c.status != "skipped"]
        return all(c.ok for c in ran) and not (self.crashed and self.crashed.phase.startswith("cell"))

    def cell(self, index: int) -> CellResult | None:
        for c in self.cells:
            if c.index == index:
                return c
        return None

    def reply(self, probe_id: str) -> ProbeReply:
        return self.replies[probe_id]

    def to_json(self) -> dict[str, Any]:
        return {
            "notebook": self.notebook,
            "label": self.label,
            "mode": self.mode,
            "executed_ok": self.executed_ok,
            "seconds": round(self.seconds, 4),
            "cells": [c.to_json() for c in self.cells],
            "blocked": list(self.blocked),
            "shims_used": list(self.shims_used),
            "protections": json.loads(json.dumps(self.protections, default=str)),
            "replies": {k: v.to_json() for k, v in sorted(self.replies.items())},
            "crashed": self.crashed.to_json() if self.crashed else None,
            "snapshots": [s.to_json() for s in self.snapshots],
            "warnings": list(self.warnings),
            "raw_output": self.raw_output,
            "restarts": self.restarts,
        }


__all__ = [
    "CELL_STATUSES",
    "PROBE_STATUSES",
    "CellResult",
    "Crash",
    "ErrorInfo",
    "Limits",
    "NotebookJob",
    "NotebookRun",
    "ProbeReply",
    "ProbeRequest",
    "Shims",
    "Snapshot",
    "SnapshotRequest",
]
