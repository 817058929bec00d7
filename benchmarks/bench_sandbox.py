"""Per-notebook overhead of the sandbox (not a test): ``python benchmarks/bench_sandbox.py``.

Starts one SandboxServer, then runs small notebooks many times and prints:
- server start (imports + warm-up, paid once per grader worker);
- wall time per notebook job as the grader sees it (fork, confinement, IPython cells,
  probes, result decoding), for trivial notebooks in both modes, with and without probes,
  and the CPU time it cost the server and the child (steadier than wall time on a busy
  machine);
- the confinement steps measured inside the child (chown, unshare, mounts, seccomp...);
- what the child was confined with (PID/IPC namespaces, disk quota, uid).

Options: ``--runs N`` (default 30), ``--threads N`` (torch threads per child),
``--no-pid-namespace`` (the cost of the PID namespace, by difference).

Before/after a change, run this file from both checkouts one after the other, twice
(``python benchmarks/bench_sandbox.py`` in each): on a shared machine only medians of
interleaved runs compare.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader.sandbox import Limits, NotebookJob, ProbeRequest, SandboxServer, tensor  # noqa: E402

CELLS = [
    "import numpy as np\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n%matplotlib inline",
    "def double(x):\n    return x * 2\n",
    "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.c = nn.Conv2d(1, 4, 3)\n"
    "        self.l = nn.Linear(4 * 6 * 6, 10)\n    def forward(self, x):\n        return self.l(F.relu(self.c(x)).flatten(1))\n",
    "HIDDEN = 32\nprint('ready')",
]


def write(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# bench")] + [nbformat.v4.new_code_cell(c) for c in CELLS]
    nbformat.write(nb, str(path))
    return path


def cpu_seconds(pid: int) -> float:
    """CPU time of the server and of its reaped children (the notebooks' children)."""
    import os

    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def stats(xs: list[float]) -> str:
    xs = sorted(xs)
    p90 = xs[int(0.9 * (len(xs) - 1))]
    return f"median {statistics.median(xs) * 1000:7.1f} ms   mean {statistics.mean(xs) * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-pid-namespace", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        scratch = Path(tmp) / "scratch"
        scratch.mkdir()
        nb = write(scratch / "hw.ipynb")
        t = time.perf_counter()
        kw = {"pid_namespace": False} if a.no_pid_namespace else {}
        server = SandboxServer(threads=a.threads, **kw)
        server.start()
        print(f"server start (imports + warm-up, once per worker): {time.perf_counter() - t:.2f} s "
              f"(preload {server.facts.get('preload_seconds')} s)")
        probes = (
            ProbeRequest("d", "call", {"target": "double", "args": [tensor(np.arange(8.0), "float32")]}),
            ProbeRequest("m", "module", {"class": "Net", "inputs": [tensor(np.zeros((2, 1, 8, 8)), "float32")]}),
        )
        limits = Limits(cell_seconds=10, notebook_seconds=60)
        setup: dict[str, list[float]] = {}
        protections: dict = {}
        try:
            for label, mode, pr in (("definitions, no probes", "definitions", ()),
                                    ("full, no probes", "full", ()),
                                    ("definitions + call & module probes", "definitions", probes)):
                times = []
                cpu0 = cpu_seconds(server.proc.pid)
                for _ in range(a.runs):
                    job = NotebookJob(str(nb), str(scratch), mode=mode, limits=limits, probes=pr)
                    t = time.perf_counter()
                    run = server.run_notebook(job)
                    times.append(time.perf_counter() - t)
                    assert run.executed_ok and all(r.ok for r in run.replies.values()), run.to_json()
                    for k, v in run.protections.get("setup_ms", {}).items():
                        setup.setdefault(k, []).append(v)
                    protections = run.protections
                cpu = (cpu_seconds(server.proc.pid) - cpu0) / a.runs
                print(f"{label:38s} {stats(times)}   CPU {cpu * 1000:6.1f} ms")
        finally:
            server.close()
        print("confinement inside the child (median ms): "
              + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in setup.items()))
        print("confined with: " + ", ".join(f"{k}={protections.get(k)}" for k in (
            "pid_namespace", "ipc_namespace", "private_proc", "disk_quota_mb", "uid", "seccomp")))


if __name__ == "__main__":
    main()
