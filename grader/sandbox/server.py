"""The sandbox server: a clean process the grader starts once (``SandboxServer``) and
reuses for many notebooks. It imports only what student code uses (torch, numpy,
matplotlib on Agg, IPython, tqdm) plus this harness, never ``reference`` or the grader's
checking code, and forks one child per notebook job (grader.sandbox.child).

Protocol with the grader: length-prefixed wire messages on the server's stdin/stdout
(stdout is moved to a private fd at start; anything printed goes to stderr).

grader -> server: ``{"op": "config", ...}`` once, then ``{"op": "run", "job": {...}}``
(blobs: one encoded argument value per probe), ``{"op": "clone", ...}``, ``{"op": "ping"}``,
``{"op": "compiler"}``, ``{"op": "exit"}``. server -> grader: ``{"op": "ready", ...}``,
``{"op": "result", "run": {...}}`` (blobs: encoded probe replies and snapshots, decoded
strictly by the grader), ``{"op": "cloned"}``, ``{"op": "pong"}``, ``{"op": "compiler"}``.
torch's compiler stack is prepared (:func:`ensure_compiler`, once) on ``compiler`` and
before a job whose ``"compiler"`` is true.

The server supervises the child: it holds a deadline for every phase (setup, each cell,
each probe, the harness between them) and kills the child's process group when one
passes. In definitions mode, a child that dies or is killed during a probe is replaced by
a fresh one that re-runs the cells and goes on with the next probe (at most 3 times).
"""

from __future__ import annotations

import os
import sys

# Before numpy/torch load: one BLAS/OpenMP thread in the server (a forked child must not
# inherit a live OpenMP pool); children set their own torch thread count.
for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_k] = "1"

import errno  # noqa: E402
import selectors  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from typing import Any  # noqa: E402

SETUP_SECONDS = 15.0
BETWEEN_SECONDS = 15.0
MAX_RESTARTS = 3
RAW_OUTPUT_CAP = 20_000
CHILD_CAPS = None  # set in preload (wire.Caps)

SHELL: Any = None
SERVER_CFG: dict[str, Any] = {}


def preload() -> dict[str, Any]:
    """Import everything children need, once. Returns facts for the ready message."""
    global SHELL, CHILD_CAPS
    t = time.perf_counter()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot  # noqa: F401
    import numpy
    import torch

    torch.set_num_threads(1)
    import torch.fx  # noqa: F401
    import torch.nn  # noqa: F401
    import torch.nn.functional  # noqa: F401
    import torch.optim  # noqa: F401
    import torch.utils.data  # noqa: F401
    import tqdm  # noqa: F401
    import tqdm.std  # noqa: F401

    tqdm.std.tqdm.monitor_interval = 0  # no monitor thread (the server forks; children stay single-threaded)
    from IPython.core import magics  # noqa: F401
    import IPython.display  # noqa: F401
    import IPython.core.magics.execution  # noqa: F401

    try:
        import PIL.Image  # noqa: F401
    except Exception:  # noqa: BLE001 - optional
        pass
    for name in ("json", "math", "random", "collections", "itertools", "functools", "string", "typing",
                 "dataclasses", "copy", "pickle", "csv", "re", "glob", "shutil", "zipfile", "timeit", "statistics",
                 "cProfile", "pstats", "textwrap", "inspect", "warnings", "abc", "enum", "pathlib", "io", "struct",
                 "torch.nn.init", "torch.utils.data.dataloader", "torch.distributions", "torch.autograd",
                 "matplotlib.animation", "matplotlib.colors", "matplotlib.cm", "matplotlib.gridspec",
                 "matplotlib.ticker", "numpy.linalg", "numpy.random", "IPython.extensions.autoreload"):
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - best effort
            pass
    from . import child, confine, shims, snapshot, timer, wire  # noqa: F401
    from . import probes
    from .shell import make_shell

    probes.load_all(SERVER_CFG.get("probe_files", ()))
    wire._torch()
    warm_up()  # torch's compiler stack is prepared later, by the first job that may need it
    CHILD_CAPS = wire.Caps(max_message_bytes=768 << 20, max_header_bytes=32 << 20)
    facts = confine.preload()
    SHELL = make_shell()
    import gc

    # children's garbage collections skip (and so do not copy) the server's objects; no
    # gc.collect() first: it took 0.2 s of the start-up to free under a hundred objects
    gc.freeze()
    leaked = sorted(m for m in sys.modules if m.startswith((*SERVER_CFG.get("private", ()), "grader.checks",
                                                                               "grader.registry", "grader.grading")))
    threads = len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else -1
    return {
        "pid": os.getpid(),
        "os_threads": threads,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "preload_seconds": round(time.perf_counter() - t, 3),
        "compiler": COMPILER["ready"],
        "probes": sorted(probes.PROBES),
        "drivers": sorted(__import__("grader.sandbox.probes.drivers", fromlist=["DRIVERS"]).DRIVERS),
        "leaked_modules": leaked,
        **facts,
    }


def warm_up() -> None:
    """Run the lazy first-time paths of torch once (layers, backward, fx and the module
    probe's shape recorder and tracer, a figure saved) so each child does not pay for them.
    Single threaded: no OpenMP pool exists when the server forks. Optimizers and export
    are warmed later, by :func:`ensure_compiler`."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from .probes.module import Tracer, fx_nodes, structure
    from .probes.graph import find_skips

    class Warm(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c = nn.Conv2d(1, 2, 3, padding=1)
            self.b = nn.BatchNorm2d(2)
            self.p = nn.MaxPool2d(2)
            self.l = nn.Linear(8, 3)
            self.d = nn.Dropout(0.1)
            self.g = nn.GRU(3, 4, batch_first=True)
            self.r = nn.LSTM(3, 4, batch_first=True)
            self.c1 = nn.Conv1d(3, 3, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.p(F.relu(self.b(self.c(x))))
            y = self.d(self.l(y.flatten(1)))
            y = y + self.c1(y.unsqueeze(-1)).squeeze(-1)
            z, _ = self.g(y.unsqueeze(1))
            w, _ = self.r(y.unsqueeze(1))
            return torch.sigmoid(z).sum() + torch.tanh(w).sum() + F.cross_entropy(y, torch.zeros(2, dtype=torch.long))

    try:
        state = torch.random.get_rng_state()
        m = Warm()
        x = torch.randn(2, 1, 4, 4)
        m(x).backward()
        m.eval()
        tr = Tracer()
        with torch.no_grad(), tr:
            m(x)
        find_skips(tr.nodes)
        structure(m)
        find_skips(fx_nodes(m, [x], {}))
        import io

        import matplotlib.pyplot as plt

        fig = plt.figure()
        plt.plot([0, 1], [1, 0])
        fig.savefig(io.BytesIO(), format="png")
        plt.close("all")
        torch.random.set_rng_state(state)
    except Exception as exc:  # noqa: BLE001 - only a speed-up
        print(f"sandbox server: warm-up failed: {exc}", file=sys.stderr)


COMPILER = {"ready": False, "seconds": 0.0}


def ensure_compiler() -> None:
    """Prepare torch's compiler stack once, in this server, before forking a job that may
    need it (jobs.needs_compiler): an optimizer's first ``zero_grad``/``step`` imports
    dynamo, and the first ``torch.export`` sets up much more (~1.8 s of CPU together).
    Done here, every child forked afterwards inherits it and none pays for it under its own
    time limits; not done at start-up, because a grading whose jobs never need it (checks of
    definitions only) would wait for it. Only a speed-up: never fails."""
    if COMPILER["ready"]:
        return
    COMPILER["ready"] = True
    t = time.perf_counter()
    try:
        import gc

        import torch
        import torch.nn as nn

        state = torch.random.get_rng_state()
        m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        x = torch.randn(2, 3)
        for opt in (torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9), torch.optim.Adam(m.parameters())):
            opt.zero_grad()
            m(x).sum().backward()
            opt.step()
        from .probes.export import warm_up as warm_export  # the module probe's program (verify)

        warm_export()
        torch.random.set_rng_state(state)
        gc.freeze()  # as at start-up: children's collections skip what this made
    except Exception as exc:  # noqa: BLE001 - only a speed-up
        print(f"sandbox server: compiler warm-up failed: {exc}", file=sys.stderr)
    COMPILER["seconds"] = round(time.perf_counter() - t, 3)


# ---------------------------------------------------------------------------------------



_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def child_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process `pid`, all its threads (/proc/PID/stat); 0.0 when
    it cannot be read (the process is gone). The limits of a cell or probe count CPU time
    (timer.py); a child stuck in C code never sees its timer's signal, so the server applies
    the same CPU limit from outside, plus the grace period."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0

class ChildRun:
    """Supervise one forked child; collect what it reports."""

    def __init__(self, job: dict, payloads: list, resume: int, state: "JobState", uid: int):
        self.job = job
        self.payloads = payloads  # memoryviews into a mapping the child does not inherit
        self.resume = resume
        self.state = state
        self.uid = uid
        self.sending: list[memoryview] = []  # what is left to write to the child's argument pipe

    def spawn(self) -> int:
        from . import child, confine

        ctl_r, ctl_w = os.pipe()
        out_r, out_w = os.pipe()
        args_r, args_w = os.pipe()  # server -> child: each probe's arguments, when that probe starts
        sys.stdout.flush()
        sys.stderr.flush()
        if SERVER_CFG.get("pid_namespace", True):
            pid, pid_ns_warning = confine.fork_in_pid_namespace()
        else:
            pid, pid_ns_warning = os.fork(), ""
        if pid == 0:  # pragma: no cover - runs in the child (tests see its effects)
            try:
                # die with the server from the start (set again after the uid change, which clears it)
                confine.libc().prctl(confine.PR_SET_PDEATHSIG, 9, 0, 0, 0)
                os.close(ctl_r)
                os.close(out_r)
                os.close(args_w)
                devnull = os.open("/dev/null", os.O_RDONLY)
                os.dup2(devnull, 0)
                os.dup2(out_w, 1)
                os.dup2(out_w, 2)
                os.dup2(ctl_w, 3)
                os.dup2(args_r, 4)
                os.closerange(5, 65536)
                signal.signal(signal.SIGPIPE, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                job = dict(self.job, resume_probe=self.resume, uid=self.uid, pid_namespace_warning=pid_ns_warning)
                child.run(job, 3, 4, SHELL, SERVER_CFG)
            finally:
                os._exit(71)
        os.close(ctl_w)
        os.close(out_w)
        os.close(args_r)
        self.pid = pid
        self.ctl = ctl_r
        self.out = out_r
        self.args = args_w
        return pid

    def kill(self) -> None:
        try:
            if os.getpgid(self.pid) == self.pid:
                os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass

    def send_args(self, index: int) -> None:
        """Queue probe `index`'s arguments for the child (written as the pipe takes them)."""
        from . import wire

        blob = self.payloads[index] if 0 <= index < len(self.payloads) else memoryview(wire.encode_value({}))
        self.sending = [memoryview(wire.length_prefix(len(blob))), blob]

    def write_args(self) -> None:
        while self.sending:
            try:
                n = os.write(self.args, self.sending[0])
            except BlockingIOError:
                return
            except OSError:  # the child closed its end: its probe fails on its own
                self.sending = []
                return
            rest = self.sending[0][n:]
            if len(rest):
                self.sending[0] = rest
                return
            self.sending.pop(0)

    def supervise(self) -> None:
        from . import wire
        from .expect import UNASKED, Expect, Unasked

        st = self.state
        expect = Expect(self.job, self.resume)
        os.set_blocking(self.ctl, False)
        os.set_blocking(self.out, False)
        os.set_blocking(self.args, False)
        sel = selectors.DefaultSelector()
        sel.register(self.ctl, selectors.EVENT_READ, "ctl")
        sel.register(self.out, selectors.EVENT_READ, "out")
        writing = False
        reader = wire.MessageReader(CHILD_CAPS, limit=expect.max_message_bytes)
        start = time.monotonic()
        phase = "setup"
        deadline = start + SETUP_SECONDS
        wall = max(1.0, float(self.job["limits"].get("wall_factor") or 1.0))  # limits count CPU time
        cells_deadline = start + float(self.job["limits"]["notebook_seconds"]) * wall + SETUP_SECONDS + \
            2 * float(self.job["limits"]["grace_seconds"])
        in_cells = True
        killed = ""
        open_fds = {self.ctl, self.out}
        exit_deadline = None
        status = None

        cpu_limit: float | None = None  # the child's CPU seconds at which the current cell/probe is killed

        def stop(why: str) -> None:
            nonlocal killed, exit_deadline
            st.unasked = st.unasked or why
            killed = killed or f"{UNASKED} ({why}); the run was stopped in {phase}"
            self.kill()
            if self.ctl in open_fds:
                sel.unregister(self.ctl)
                open_fds.discard(self.ctl)
            exit_deadline = time.monotonic() + 5.0

        while True:
            now = time.monotonic()
            if status is None:
                try:
                    wpid, wstatus = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    wpid, wstatus = self.pid, 0
                if wpid == self.pid:
                    status = wstatus
                    exit_deadline = exit_deadline or now + 0.5  # drain what is left in the pipes
            if status is not None and (not open_fds or now >= (exit_deadline or now)):
                break
            if status is None and not killed:
                limit = deadline if not in_cells else min(deadline, cells_deadline)
                if now >= limit or (cpu_limit is not None and child_cpu_seconds(self.pid) >= cpu_limit):
                    grace = float(self.job["limits"]["grace_seconds"])
                    killed = f"killed by the sandbox server in {phase} (no answer within the time limit + {grace:g} s grace)"
                    self.kill()
                    exit_deadline = now + 5.0
                    continue
            if self.ctl not in open_fds and status is None and exit_deadline is None:
                exit_deadline = now + 2.0  # the child closed its channel: give it a moment, then kill
            if exit_deadline is not None and status is None and now >= exit_deadline:
                self.kill()
                exit_deadline = now + 5.0
            if self.sending and not writing and status is None:
                sel.register(self.args, selectors.EVENT_WRITE, "args")
                writing = True
            elif writing and (not self.sending or status is not None):
                sel.unregister(self.args)
                writing = False
            timeout = 0.05 if status is not None else 0.2
            if not open_fds and not writing:
                time.sleep(0.01)
                continue
            for key, _ in sel.select(timeout):
                fd = key.fd
                if key.data == "args":
                    self.write_args()
                    continue
                if fd not in open_fds:
                    continue
                try:
                    chunk = os.read(fd, 1 << 20)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    if exc.errno == errno.EAGAIN:
                        continue
                    chunk = b""
                if not chunk:
                    sel.unregister(fd)
                    open_fds.discard(fd)
                    continue
                if key.data == "out":
                    st.add_raw(chunk)
                    continue
                reader.add(chunk)
                while fd in open_fds:
                    try:
                        msg = reader.next()  # one at a time: the size it may have depends on the ones before
                    except wire.TooLong as exc:
                        stop(str(exc))
                        break
                    except wire.WireError as exc:
                        st.warn(f"child broke the protocol ({exc}); killed")
                        killed = killed or f"killed by the sandbox server in {phase}: protocol violation"
                        self.kill()
                        sel.unregister(fd)
                        open_fds.discard(fd)
                        exit_deadline = time.monotonic() + 5.0
                        break
                    if msg is None:
                        break
                    header, blobs = msg
                    try:
                        expect.check(header, blobs)
                    except Unasked as exc:
                        stop(str(exc))
                        break
                    try:
                        kind, nxt = st.on_message(header, blobs, self.resume)
                    except Exception as exc:  # noqa: BLE001 - never die for a bad message
                        st.warn(f"bad message from child: {type(exc).__name__}: {exc}")
                        continue
                    now = time.monotonic()
                    grace = float(self.job["limits"]["grace_seconds"])
                    cpu_limit = None
                    if kind == "cell_start":
                        phase = f"cell {nxt['index']}"
                        deadline = now + float(nxt["timeout"]) * wall + grace
                        cpu_limit = child_cpu_seconds(self.pid) + float(nxt["timeout"]) + grace
                    elif kind == "probe_start":
                        in_cells = False
                        phase = f"probe {nxt['id']}"
                        deadline = now + float(nxt["timeout"]) * wall + grace
                        cpu_limit = child_cpu_seconds(self.pid) + float(nxt["timeout"]) + grace
                        self.send_args(expect.next_probe - 1)
                        self.write_args()
                    elif kind == "cells_done":
                        in_cells = False
                        phase = "between"
                        deadline = now + BETWEEN_SECONDS
                    elif kind == "done":
                        phase = "done"
                        deadline = now + 10.0
                    elif kind in ("cell_end", "probe_end", "hello"):
                        phase = "between" if kind != "hello" else "cells"
                        deadline = now + BETWEEN_SECONDS
        for fd in list(open_fds):
            try:
                sel.unregister(fd)
            except Exception:  # noqa: BLE001
                pass
        sel.close()
        os.close(self.ctl)
        os.close(self.out)
        os.close(self.args)
        self.sending = []
        st.on_exit(status if status is not None else 0, killed, phase)


class JobState:
    """Everything learned about one job, across child restarts."""

    def __init__(self, job: dict):
        self.job = job
        self.probes = job.get("probes", [])
        self.cells: dict[int, dict] = {}
        self.cell_order: list[int] = []
        self.replies: dict[str, dict] = {}
        self.reply_blobs: dict[str, bytes] = {}
        self.snapshots: list[tuple[dict, bytes]] = []
        self.protections: dict = {}
        self.blocked: list[str] = []
        self.shims: list[str] = []
        self.warnings: list[str] = []
        self.raw = bytearray()
        self.raw_dropped = 0
        self.crash: dict | None = None
        self.done = False
        self.cells_done = False
        self.current_cell: dict | None = None
        self.current_probe: dict | None = None
        self.notebook_error = None
        self.plan: list[tuple[int, int]] = []
        self.unasked = ""  # why the run was stopped for a message the job did not ask for
        self.text_cap = 4 * int(job.get("limits", {}).get("output_bytes", 20_000)) + 20_000

    def warn(self, text: str) -> None:
        if len(self.warnings) < 50:
            self.warnings.append(text[:500])

    def add_raw(self, chunk: bytes) -> None:
        room = RAW_OUTPUT_CAP - len(self.raw)
        if room > 0:
            self.raw += chunk[:room]
        self.raw_dropped += max(0, len(chunk) - max(room, 0))

    def on_message(self, h: Any, blobs: list[bytes], resume: int) -> tuple[str, dict]:
        if not isinstance(h, dict) or not isinstance(h.get("t"), str):
            raise ValueError("message without a kind")
        kind = h["t"]
        if kind == "hello":
            if resume < 0:
                self.protections = h.get("protections") if isinstance(h.get("protections"), dict) else {}
                self.notebook_error = h.get("notebook_error")
                plan = h.get("cells") if isinstance(h.get("cells"), list) else []
                self.plan = [(int(p[0]), int(p[1])) for p in plan[:100_000]
                             if isinstance(p, list) and len(p) == 2 and all(type(v) is int for v in p)]
        elif kind == "cell_start":
            if resume < 0:  # a restarted child re-runs the cells only to rebuild the namespace
                self.current_cell = {"index": int(h["index"]), "code_index": int(h.get("code_index", -1)),
                                     "start": time.monotonic()}
            h = {"index": int(h["index"]), "timeout": float(h["timeout"])}
        elif kind == "cell_end":
            cell = h.get("cell")
            if isinstance(cell, dict) and resume < 0:
                idx = int(cell.get("index", -1))
                if idx not in self.cells:
                    self.cell_order.append(idx)
                self.cells[idx] = _trimmed(cell, self.text_cap)
            self.current_cell = None
        elif kind in ("cells_done", "done"):
            if isinstance(h.get("blocked"), list):
                self.blocked = [str(b)[:300] for b in h["blocked"][:200]]
            if isinstance(h.get("shims"), list):
                for s in h["shims"][:200]:
                    if str(s) not in self.shims:
                        self.shims.append(str(s)[:300])
            self.cells_done = True
            if kind == "done":
                self.done = True
        elif kind == "probe_start":
            self.current_probe = {"id": str(h["id"]), "index": int(h.get("index", -1)), "start": time.monotonic()}
            h = {"id": str(h["id"]), "timeout": float(h["timeout"])}
        elif kind == "probe_end":
            reply = h.get("reply")
            if isinstance(reply, dict) and isinstance(reply.get("id"), str):
                self.replies[reply["id"]] = _trimmed(reply, self.text_cap)
                if blobs:
                    self.reply_blobs[reply["id"]] = blobs[0]
            self.current_probe = None
        elif kind == "snapshot":
            if blobs:
                meta = {k: h.get(k) for k in ("step", "instance", "class_name")}
                self.snapshots.append((meta, blobs[0]))
        elif kind == "fatal":
            err = h.get("error") if isinstance(h.get("error"), dict) else {}
            self.warn(f"sandbox harness error in the child: {err.get('type')}: {err.get('message')}")
            tb = err.get("traceback")
            if isinstance(tb, str) and tb:
                self.warn(tb[-1500:])
        return kind, h

    def on_exit(self, status: int, killed: str, phase: str) -> None:
        if self.done and not killed:
            return
        code = sig = None
        if os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
        elif os.WIFEXITED(status):
            code = os.WEXITSTATUS(status)
        if killed:
            reason = killed
        elif sig is not None:
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            reason = f"sandbox child died from signal {name} in {phase}"
        elif code == 70:
            reason = (f"sandbox child lost its channel to the server in {phase} "
                      "(the student's code closed or replaced file descriptor 3)")
        else:
            reason = f"sandbox child exited with code {code} in {phase} before finishing"
        timeout_kill = bool(killed) and "time limit" in killed
        if self.current_cell is not None:
            idx = self.current_cell["index"]
            if idx not in self.cells:
                self.cell_order.append(idx)
            self.cells[idx] = {"index": idx, "code_index": self.current_cell.get("code_index", -1),
                               "status": "timeout" if timeout_kill else "crashed",
                               "seconds": round(time.monotonic() - self.current_cell["start"], 4),
                               "error": {"type": "Killed" if killed else "Crash", "message": reason, "traceback": ""},
                               "stdout": "", "notes": []}
            self.current_cell = None
        if self.current_probe is not None:
            pid = self.current_probe["id"]
            self.replies[pid] = {"id": pid, "probe": self._probe_name(pid),
                                 "status": "timeout" if timeout_kill else "crashed",
                                 "error": {"type": "Killed" if killed else "Crash", "message": reason,
                                           "traceback": ""},
                                 "seconds": round(time.monotonic() - self.current_probe["start"], 4), "stdout": ""}
            self.current_probe = None
        self.crash = {"reason": reason, "phase": phase, "exit_code": code, "signal": sig}

    def _probe_name(self, pid: str) -> str:
        for p in self.probes:
            if p.get("id") == pid:
                return str(p.get("probe"))
        return "?"

    def result(self, seconds: float, restarts: int) -> tuple[dict, list[bytes]]:
        blobs: list[bytes] = []
        replies = []
        for p in self.probes:
            pid = p["id"]
            r = self.replies.get(pid)
            if r is None:
                why = "not run: " + (self.crash["reason"] if self.crash else "the sandbox child stopped early")
                r = {"id": pid, "probe": p.get("probe"), "status": "not-run",
                     "error": {"type": "NotRun", "message": why, "traceback": ""}, "seconds": 0.0, "stdout": ""}
            r = dict(r)
            if pid in self.reply_blobs:
                blobs.append(self.reply_blobs[pid])
                r["blob"] = len(blobs) - 1
            else:
                r["blob"] = None
            replies.append(r)
        snaps = []
        for meta, blob in self.snapshots:
            blobs.append(blob)
            snaps.append(dict(meta, blob=len(blobs) - 1))
        raw = self.raw.decode("utf-8", errors="replace")
        if self.raw_dropped:
            raw += f"\n...[{self.raw_dropped} more bytes not kept]"
        warnings = list(self.warnings)
        if self.notebook_error:
            warnings.insert(0, str(self.notebook_error)[:500])
        cells = dict(self.cells)
        if self.crash:  # cells the dead child never reached
            for idx, code_index in self.plan:
                if idx not in cells:
                    cells[idx] = {"index": idx, "code_index": code_index, "status": "skipped", "seconds": 0.0,
                                  "error": None, "stdout": "", "notes": ["not run: the sandbox child died earlier"]}
        run = {
            "notebook": self.job.get("notebook_path"),
            "label": self.job.get("label", ""),
            "mode": self.job.get("mode"),
            "cells": [cells[i] for i in sorted(cells)],
            "blocked": self.blocked,
            "shims_used": self.shims,
            "protections": self.protections,
            "replies": replies,
            "snapshots": snaps,
            "crashed": self.crash,
            "seconds": round(seconds, 4),
            "warnings": warnings,
            "raw_output": raw,
            "restarts": restarts,
            "notebook_error": self.notebook_error,
        }
        return run, blobs


def _trimmed(record: dict, cap: int) -> dict:
    """A cell or reply record with its texts capped (the child's harness caps them already;
    this holds when student code wrote the record)."""
    out: dict = {}
    for k, v in list(record.items())[:20]:
        if isinstance(v, str):
            v = v[:cap]
        elif isinstance(v, dict):
            v = {ek: ev[:cap] if isinstance(ev, str) else ev for ek, ev in list(v.items())[:10]
                 if isinstance(ev, (str, int, float, bool)) or ev is None}
        elif isinstance(v, list):
            v = [x[:300] if isinstance(x, str) else x for x in v[:50] if isinstance(x, (str, int, float))]
        elif not (isinstance(v, (int, float, bool)) or v is None):
            continue
        out[str(k)[:100]] = v
    return out


def lease_uid() -> Any:
    """A uid of its own for this job's children (see grader.sandbox.uids); None when the
    children do not change uid (not root, or switched off)."""
    from . import uids

    if os.geteuid() != 0 or not SERVER_CFG.get("drop_to_nobody", True):
        return None
    try:
        return uids.lease(int(SERVER_CFG.get("uid_base", uids.BASE)), int(SERVER_CFG.get("uid_count", uids.COUNT)),
                          SERVER_CFG.get("uid_lock_dir"))
    except uids.UidPoolError as exc:
        raise RuntimeError(f"no sandbox uid for this job: {exc}") from None


def run_job(job: dict, payloads: list) -> tuple[dict, list[bytes]]:
    """Run one job. When a child dies (or is killed) with probes still unanswered, a fresh
    child re-runs the notebook in definitions mode (cheap, deterministic, no training)
    and goes on from the first unanswered probe; at most MAX_RESTARTS times, and not again
    when a re-run itself dies before reaching its probes. In full mode only when the job
    says ``recover_probes``. ``crashed`` keeps the first death."""
    t0 = time.monotonic()
    state = JobState(job)
    probes = job.get("probes", [])
    resume = -1
    restarts = 0
    first_crash = None
    child_job = job
    lease = lease_uid()
    try:
        while True:
            state.crash = None
            state.done = False
            cr = ChildRun(child_job, payloads, resume, state, lease.uid if lease else -1)
            cr.spawn()
            cr.supervise()
            if state.done or state.crash is None or state.unasked:
                break
            first_crash = first_crash or state.crash
            pending = [i for i, p in enumerate(probes) if p["id"] not in state.replies]
            if not pending or restarts >= MAX_RESTARTS:
                break
            if job.get("mode") != "definitions" and not job.get("recover_probes"):
                break  # full mode: the probes may need the state the full run built; they stay "not-run"
            if resume >= 0 and not state.crash["phase"].startswith("probe"):
                break  # the definitions-mode re-run could not even rebuild the namespace
            state.warn(f"the sandbox child died ({state.crash['reason']}); a fresh child re-ran the notebook in "
                       f"definitions mode to answer the probes from {probes[pending[0]]['id']} on")
            restarts += 1
            resume = pending[0]
            child_job = dict(job, mode="definitions", snapshot=None)
    finally:
        if lease is not None:
            lease.release()
    if not state.unasked:
        state.crash = first_crash or state.crash
    return state.result(time.monotonic() - t0, restarts)


# ---------------------------------------------------------------------------------------


def main() -> None:
    from . import wire

    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)  # stray prints (from any library) go to stderr, never into the protocol
    os.set_inheritable(proto_in, False)
    os.set_inheritable(proto_out, False)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.chdir("/")
    try:
        header, _ = wire.read_message(proto_in)
        if not isinstance(header, dict) or header.get("op") != "config":
            raise SystemExit("sandbox server: expected a config message")
        SERVER_CFG.update(header.get("config", {}))
        facts = preload()
        wire.send_message(proto_out, {"op": "ready", "facts": facts})
    except Exception as exc:  # noqa: BLE001
        try:
            wire.send_message(proto_out, {"op": "failed", "error": f"{type(exc).__name__}: {exc}",
                                          "traceback": traceback.format_exc()[-3000:]})
        finally:
            os._exit(3)
    serve(proto_in, proto_out)
    reap_clones()
    os._exit(0)


CLONES: list[int] = []  # pids of this server's clones (the main server's only)


def reap_clones(seconds: float = 3.0) -> None:
    """Wait (briefly) for the clones the grader has told to exit, so their CPU time, and
    their children's, is counted in this server's and so in the grader's (`time`, rusage)."""
    end = time.monotonic() + seconds
    for pid in CLONES:
        while True:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                break
            if done or time.monotonic() > end:
                break
            time.sleep(0.01)


def serve(proto_in: int, proto_out: int) -> None:
    """Answer jobs on one pair of protocol fds until EOF or ``exit`` (the server, or a clone)."""
    from . import wire

    while True:
        try:
            # probe arguments stay out of the children's memory (see read_message_unforked)
            header, blobs = wire.read_message_unforked(proto_in)
        except (EOFError, OSError, wire.WireError):
            break
        op = header.get("op") if isinstance(header, dict) else None
        if op == "exit":
            break
        if op == "compiler":
            ensure_compiler()
            wire.send_message(proto_out, {"op": "compiler", "ready": True, "seconds": COMPILER["seconds"]})
            continue
        if op == "clone":
            pid = clone(proto_in, proto_out, str(header.get("requests", "")), str(header.get("replies", "")))
            wire.send_message(proto_out, {"op": "cloned", "pid": pid})
            continue
        if op == "ping":
            wire.send_message(proto_out, {"op": "pong", "compiler": COMPILER["ready"],
                                          "modules": sorted(sys.modules) if header.get("modules") else None})
            continue
        if op != "run":
            wire.send_message(proto_out, {"op": "error", "error": f"unknown op {op!r}"})
            continue
        try:
            if header["job"].get("compiler", True):
                ensure_compiler()
            run, out_blobs = run_job(header["job"], blobs)
            wire.send_message(proto_out, {"op": "result", "run": run}, out_blobs)
        except Exception as exc:  # noqa: BLE001 - report and keep serving
            wire.send_message(proto_out, {"op": "result", "error": f"{type(exc).__name__}: {exc}",
                                          "traceback": traceback.format_exc()[-3000:]})


def clone(proto_in: int, proto_out: int, requests: str, replies: str) -> int:
    """Fork a second server from this warm one, serving jobs on two FIFOs the grader made
    (``requests`` to read, ``replies`` to write). Why: a grading that runs two notebooks at
    once needs two servers, and a fork of this one costs milliseconds where a fresh server
    imports torch and warms up again (seconds). Returns the clone's pid (-1 on failure).
    Called only between jobs, so no child, uid lease or probe argument is inherited."""
    import stat

    for path in (requests, replies):
        try:
            if not stat.S_ISFIFO(os.lstat(path).st_mode):
                return -1
        except OSError:
            return -1
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid:
        CLONES.append(pid)
        return pid
    code = 0
    try:  # the clone
        from . import confine

        CLONES.clear()  # not this process's children

        confine.libc().prctl(confine.PR_SET_PDEATHSIG, 9, 0, 0, 0)  # dies with the server
        os.close(proto_in)
        os.close(proto_out)
        out = os.open(replies, os.O_WRONLY | os.O_CLOEXEC)  # first: the grader already reads it
        inp = os.open(requests, os.O_RDONLY | os.O_CLOEXEC)
        from . import wire

        wire.send_message(out, {"op": "ready", "facts": {"pid": os.getpid(), "clone": True}})
        serve(inp, out)
    except BaseException:  # noqa: BLE001 - the grader sees EOF and says so
        code = 3
    finally:
        os._exit(code)


if __name__ == "__main__":
    main()
