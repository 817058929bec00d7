"""The only room that runs student code.

Student notebooks run in a child process forked from a clean *sandbox server* (a separate
Python process that imports only torch/numpy/matplotlib/IPython/tqdm and this harness),
confined by rlimits, namespaces (no network, hidden grader folders), a switch to the
``nobody`` user and a seccomp filter (no exec, no fork). Cells run in an IPython
InteractiveShell; afterwards *probes* run student functions and classes on inputs the
grader sends and return raw facts over a pickle-free wire. The grader compares in its own
process.

Public API (grader side)::

    from grader.sandbox import (SandboxServer, NotebookJob, Limits, Shims, ProbeRequest,
                                SnapshotRequest, tensor)

    with SandboxServer(hidden=[...], threads=1) as server:
        run = server.run_notebook(NotebookJob(notebook_path, scratch_dir, mode="definitions",
                                              limits=Limits(cell_seconds=30),
                                              probes=(ProbeRequest("fwd", "module", {...}),)))

See jobs.py for the result fields, confine.py for what is enforced, probes/ for the
probes, wire.py for the value encoding.
"""

from .client import SandboxServer, default_hidden
from .jobs import (
    CellResult,
    Crash,
    ErrorInfo,
    Limits,
    NotebookJob,
    NotebookRun,
    ProbeReply,
    ProbeRequest,
    Shims,
    Snapshot,
    SnapshotRequest,
)
from .wire import TensorArray, Unencodable, WireError, is_tensor, tensor

__all__ = [
    "CellResult",
    "Crash",
    "ErrorInfo",
    "Limits",
    "NotebookJob",
    "NotebookRun",
    "ProbeReply",
    "ProbeRequest",
    "SandboxServer",
    "Shims",
    "Snapshot",
    "SnapshotRequest",
    "TensorArray",
    "Unencodable",
    "WireError",
    "default_hidden",
    "is_tensor",
    "tensor",
]
