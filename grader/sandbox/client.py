"""Grader side: start the sandbox server once, send it notebook jobs, decode the results.

::

    with SandboxServer(hidden=[...], threads=1) as server:
        run = server.run_notebook(NotebookJob(notebook_path=..., scratch_dir=..., mode="full",
                                              probes=(ProbeRequest("p1", "call", {...}),)))
        run.cells, run.replies["p1"].value, run.crashed, run.protections

The server is a separate, clean process (``python -I -m grader.sandbox.server`` in
effect); if it dies or stops answering, the current job comes back with
``crashed.phase == "server"`` and the next job starts a fresh server.
"""

from __future__ import annotations

import importlib.util
import os
import selectors
import subprocess
import sys
import time
from typing import Any, Iterable, Mapping

from ..errors import SandboxError
from ..numerics import from_environ as numeric_settings
from . import wire
from .jobs import (
    CellResult,
    Crash,
    ErrorInfo,
    NotebookJob,
    NotebookRun,
    ProbeReply,
    Snapshot,
    _f,
    _s,
)

_BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from grader.sandbox.server import main; main()"
_ENV_PASS = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "HOME", "TZ", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TMPDIR",
             "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")  # kernel variants (the env helper owns this)


def _is_site_dir(path: str) -> bool:
    base = os.path.basename(path.rstrip("/"))
    return base in ("site-packages", "dist-packages")


def package_root() -> str:
    """The folder holding the ``grader`` package (put on the server's sys.path)."""
    import grader

    return os.path.dirname(os.path.dirname(os.path.realpath(grader.__file__)))


def default_hidden() -> list[str]:
    """Folders the child must not see: the project folder of a source checkout (or, when
    installed into site-packages, the ``grader`` and course package
    folders themselves)."""
    from ..courses import known

    out: list[str] = []
    for name in ("grader",):
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        locs = list(spec.submodule_search_locations or []) if spec is not None else []
        for loc in locs:
            pkg = os.path.realpath(loc)
            parent = os.path.dirname(pkg)
            target = pkg if _is_site_dir(parent) else parent
            if target not in out and target != "/":
                out.append(target)
    for course in known():  # every course package folder (its references, judges, probes' source)
        folder = os.path.realpath(course.folder)
        if folder not in out:
            out.append(folder)
    return out


class SandboxServer:
    """A reusable sandbox server process.

    - ``hidden``: extra folders to hide from student code (added to :func:`default_hidden`).
    - ``scratch_root``: the folder holding every submission's scratch folder (hidden; the
      job's own scratch folder is bound back).
    - ``threads``: torch threads in each child (a job may override).
    - ``drop_to_nobody``: when root, run student code under a uid of its own (leased per job
      from ``uid_base`` .. ``uid_base + uid_count - 1``, distinct across every sandbox server
      on the machine that shares ``uid_lock_dir``; see grader.sandbox.uids).
    - ``pid_namespace``: run each child as pid 1 of a PID namespace of its own.
    - ``stderr``: where the server's own stderr goes (None: inherit).
    """

    def __init__(self, hidden: Iterable[str] = (), threads: int = 1, scratch_root: str | None = None,
                 drop_to_nobody: bool = True, python: str | None = None, startup_timeout: float = 120.0,
                 stderr: Any = None, seccomp: bool = True, mount_namespace: bool = True,
                 pid_namespace: bool = True, uid_base: int = 60000, uid_count: int = 1000,
                 uid_lock_dir: str | None = None, probe_files: Iterable[str] | None = None):
        self.hidden = [os.path.realpath(h) for h in list(default_hidden()) + list(hidden)]
        if scratch_root:
            self.hidden.append(os.path.realpath(scratch_root))
        self.threads = int(threads)
        from ..courses import known

        # the courses' probe files (imported by the server before it forks) and their
        # package names (which must never be imported there: see the server's leak check)
        self.probe_files = [str(p) for c in known() for p in c.probes] if probe_files is None else list(probe_files)
        self.private = [c.name for c in known()]
        self.drop_to_nobody = drop_to_nobody
        self.python = python or sys.executable
        self.startup_timeout = startup_timeout
        self.stderr = stderr
        self.seccomp = seccomp
        self.mount_namespace = mount_namespace
        self.pid_namespace = pid_namespace
        self.uids = {"uid_base": int(uid_base), "uid_count": int(uid_count), "uid_lock_dir": uid_lock_dir}
        self.proc: subprocess.Popen | None = None
        self.facts: dict[str, Any] = {}
        self.starts = 0
        self.jobs = 0
        self._booting = False  # launched, its "ready" not read yet (start(wait=False))

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "SandboxServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait: bool = True) -> None:
        """Launch the server process. ``wait=False`` returns at once: the server imports torch
        and warms up while the caller does other work; the first job (or ``ready()``) waits
        for it. A cold `grader grade` overlaps the two start-ups this way."""
        if self.alive:
            if wait:
                self.ready()
            return
        env = {k: os.environ[k] for k in _ENV_PASS if k in os.environ}
        env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", MPLBACKEND="Agg",
                   PYTHONDONTWRITEBYTECODE="1",
                   # str/bytes hashes (a set's iteration order) the same in every server: a
                   # notebook building its vocabulary from a set of characters trains the same
                   PYTHONHASHSEED="0",
                   # idle OpenMP threads sleep instead of spinning: on a loaded machine spinning
                   # spends the CPU-time training budgets of multi-threaded children (same numbers)
                   OMP_WAIT_POLICY="PASSIVE")
        env.update(numeric_settings().env())  # kernel choices (validated): torch/oneDNN/MKL read them at load
        self.proc = subprocess.Popen(
            # -s -P: no user site, no script folder on sys.path; not -I, whose -E would drop
            # PYTHONHASHSEED (the environment is built here from a whitelist: nothing else
            # PYTHON* reaches the server)
            [self.python, "-s", "-P", "-c", _BOOT, package_root()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, cwd="/", env=env,
            start_new_session=True, close_fds=True,
        )
        self.starts += 1
        self._send({"op": "config", "config": {
            "hidden": self.hidden,
            "keep": _python_folders(),
            "threads": self.threads,
            "probe_files": self.probe_files,
            "private": self.private,
            "drop_to_nobody": self.drop_to_nobody,
            "seccomp": self.seccomp,
            "mount_namespace": self.mount_namespace,
            "pid_namespace": self.pid_namespace,
            **self.uids,
        }})
        self._booting = True
        if wait:
            self.ready()

    def ready(self) -> None:
        """Wait for a launched server's "ready" (no-op once read); a failed start raises SandboxError."""
        if not self._booting:
            return
        self._booting = False
        header, _ = self._recv(self.startup_timeout)
        if header is None or header.get("op") != "ready":
            detail = header.get("error") if isinstance(header, dict) else "no answer"
            self._kill()
            raise SandboxError(f"sandbox server did not start: {detail}")
        self.facts = header.get("facts", {})

    def close(self) -> None:
        if self.proc is None:
            return
        if self.alive and not self._booting:
            try:
                self._send({"op": "exit"})
                self.proc.wait(timeout=5)
            except Exception:  # noqa: BLE001
                pass
        self._kill()

    def _kill(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 9)
            except OSError:
                self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                if f:
                    f.close()
            except OSError:
                pass
        self.proc = None
        self._booting = False

    # -- I/O -------------------------------------------------------------------------------
    def _send(self, header: Any, blobs: list[bytes] | tuple = ()) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(wire.frame(wire.pack_message(header, list(blobs))))
        self.proc.stdin.flush()

    def _recv(self, timeout: float, max_bytes: int = 2 << 30) -> tuple[Any, list[bytes]]:
        """One message from the server (at most `max_bytes`), or (None, []) on EOF/timeout."""
        fd = self._reply_fd()
        reader = wire.MessageReader(wire.Caps(max_message_bytes=max_bytes, max_total_array_bytes=2 << 30))
        end = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    return None, []
                if not sel.select(min(left, 1.0)):
                    continue
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return None, []
                msgs = reader.feed(chunk)
                if msgs:
                    return msgs[0]

    def _reply_fd(self) -> int:
        assert self.proc is not None and self.proc.stdout is not None
        return self.proc.stdout.fileno()

    def ping(self, modules: bool = False, timeout: float = 10.0) -> dict[str, Any]:
        """A round trip to the server (``modules=True``: list its sys.modules)."""
        self.start()
        self.ready()
        self._send({"op": "ping", "modules": modules})
        header, _ = self._recv(timeout)
        if header is None:
            raise SandboxError("sandbox server did not answer a ping")
        return header

    # -- jobs ------------------------------------------------------------------------------
    def run_notebook(self, job: NotebookJob) -> NotebookRun:
        """Run one notebook job; never raises for anything the student's code did."""
        t0 = time.monotonic()
        payloads = []
        for p in job.probes:
            try:
                payloads.append(wire.encode_value(dict(p.args)))
            except wire.WireError as exc:
                raise ValueError(f"probe {p.id}: arguments cannot be sent: {exc}") from None
        restarted = ""
        if not self.alive:
            if self.proc is not None or self.starts:
                restarted = "the sandbox server was restarted before this job"
            self._kill()
            self.start()
        self.ready()
        job_json = job.to_json()
        job_json["probes"] = [{"id": p.id, "probe": p.probe, "timeout": p.timeout} for p in job.probes]
        job_json["compiler"] = job.compiler  # the server prepares torch's compiler stack first (or not)
        self.jobs += 1
        try:
            self._send({"op": "run", "job": job_json}, payloads)
            header, blobs = self._recv(job.budget_seconds(), job.max_result_bytes())
        except (OSError, ValueError, wire.WireError) as exc:
            header, blobs = None, []
            restarted = f"{type(exc).__name__}: {exc}"
        if header is None or header.get("op") != "result" or "run" not in header:
            if isinstance(header, dict) and header.get("error"):
                reason = f"sandbox server failed on this job: {header['error']}"
                tail = str(header.get("traceback", ""))[-1500:]
            else:
                try:
                    if self.proc is not None:
                        self.proc.wait(timeout=2)  # EOF: give the dead server a moment to be reaped
                except subprocess.TimeoutExpired:
                    pass
                alive = self.alive
                reason = ("sandbox server did not answer within the job's time budget" if alive
                          else "sandbox server died during this job") + (f" ({restarted})" if restarted else "")
                tail = ""
                self._kill()  # the next job starts a fresh one
            return _failed_run(job, reason, time.monotonic() - t0, tail)
        run = decode_run(job, header["run"], blobs)
        if restarted:
            run = _add_warning(run, restarted)
        return run

    def prepare_compiler(self, timeout: float = 300.0) -> None:
        """Have this server prepare torch's compiler stack now (server.ensure_compiler;
        a no-op the second time), e.g. before cloning it for jobs that all need it: the
        clones inherit it, one warm-up instead of one per server. Call it only while the
        server is idle. Only a speed-up: a server that does not answer in time is stopped,
        so that a late answer can never be read as the next job's result (the next job
        starts a fresh server)."""
        self.start()
        self.ready()
        self._send({"op": "compiler"})
        header, _ = self._recv(timeout)
        if not isinstance(header, dict) or header.get("op") != "compiler":
            self._kill()

    def clone(self, timeout: float = 30.0) -> "ServerClone":
        """A second server forked from this warm one (server.clone), for a job at the same
        time as this server's: no second torch import or warm-up. Call it only while this
        server is idle (no job in flight). Raises SandboxError when the clone does not come up."""
        self.start()
        return ServerClone(self, timeout)


class ServerClone(SandboxServer):
    """A fork of a running SandboxServer answering on two FIFOs of its own (same config,
    same hidden folders, same uid pool). It dies with its parent server; a dead clone is
    not restarted (its jobs come back as "sandbox server died"), the caller drops it."""

    def __init__(self, parent: SandboxServer, timeout: float = 30.0):
        import tempfile

        self.__dict__.update({k: v for k, v in parent.__dict__.items() if k != "proc"})
        self.proc = None
        self.parent = parent
        self.pid = -1
        self.starts = self.jobs = 0
        self._booting = False
        self._rfd = self._wfd = -1
        folder = tempfile.mkdtemp(prefix="hw2-grader-clone-")  # 0700: ours alone
        requests, replies = os.path.join(folder, "requests"), os.path.join(folder, "replies")
        try:
            os.mkfifo(requests, 0o600)
            os.mkfifo(replies, 0o600)
            # read end first and non-blocking: the clone opens its write end, then its read end
            self._rfd = os.open(replies, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            parent._send({"op": "clone", "requests": requests, "replies": replies})
            header, _ = parent._recv(timeout)
            if not isinstance(header, dict) or header.get("op") != "cloned" or int(header.get("pid", -1)) <= 0:
                raise SandboxError(f"sandbox server could not clone itself: {header!r}"[:300])
            self.pid = int(header["pid"])
            end = time.monotonic() + timeout
            while self._wfd < 0:
                try:
                    self._wfd = os.open(requests, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                except OSError:  # ENXIO: the clone has not opened its end yet
                    if time.monotonic() > end or not _running(self.pid):
                        raise SandboxError("the sandbox server's clone did not open its FIFOs") from None
                    time.sleep(0.005)
            os.set_blocking(self._wfd, True)
            os.set_blocking(self._rfd, True)
            header, _ = self._recv(timeout)
            if not isinstance(header, dict) or header.get("op") != "ready":
                raise SandboxError("the sandbox server's clone did not start")
            self.facts = {**parent.facts, **header.get("facts", {})}
        except BaseException:
            self._kill()
            raise
        finally:
            for path in (requests, replies):  # both ends are open (or given up): the names can go
                try:
                    os.unlink(path)
                except OSError:
                    pass
            os.rmdir(folder)

    @property
    def alive(self) -> bool:
        return self._rfd >= 0 and self._wfd >= 0 and _running(self.pid)

    def start(self, wait: bool = True) -> None:  # a dead clone stays dead (see the class)
        return

    def close(self) -> None:
        if self.alive:
            try:
                self._send({"op": "exit"})
                end = time.monotonic() + 1.0
                while _running(self.pid) and time.monotonic() < end:
                    time.sleep(0.005)
            except OSError:
                pass
        self._kill()

    def _kill(self) -> None:
        if self.pid > 0 and _running(self.pid):
            try:
                os.kill(self.pid, 9)  # its children die with it (PR_SET_PDEATHSIG)
            except OSError:
                pass
        for fd in (self._rfd, self._wfd):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._rfd = self._wfd = -1

    def _send(self, header: Any, blobs: list[bytes] | tuple = ()) -> None:
        wire.write_all(self._wfd, wire.frame(wire.pack_message(header, list(blobs))))

    def _reply_fd(self) -> int:
        return self._rfd


def _running(pid: int) -> bool:
    """Whether `pid` is a live process (not gone, not a zombie: a clone is its server's child, not ours)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def _python_folders() -> list[str]:
    out: list[str] = []
    for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        if p and os.path.isdir(p) and p not in out:
            out.append(os.path.realpath(p))
    for p in sys.path:
        if p and os.path.isdir(p) and _is_site_dir(p):
            rp = os.path.realpath(p)
            if rp not in out:
                out.append(rp)
    return out


def _failed_run(job: NotebookJob, reason: str, seconds: float, tail: str = "") -> NotebookRun:
    replies = {
        p.id: ProbeReply(p.id, p.probe, "not-run", None, ErrorInfo("NotRun", f"not run: {reason}"), 0.0, "")
        for p in job.probes
    }
    return NotebookRun(
        notebook=job.notebook_path, mode=job.mode, replies=replies, crashed=Crash(reason, "server"),
        seconds=seconds, warnings=(tail,) if tail else (), label=job.label,
    )


def _add_warning(run: NotebookRun, text: str) -> NotebookRun:
    from dataclasses import replace

    return replace(run, warnings=run.warnings + (text,))


def _cell(data: Any) -> CellResult | None:
    if not isinstance(data, Mapping):
        return None
    status = data.get("status")
    if status not in ("ok", "error", "timeout", "skipped", "blocked", "crashed"):
        status = "error"
    notes = data.get("notes") if isinstance(data.get("notes"), list) else []
    try:
        index = int(data.get("index", -1))
        code_index = int(data.get("code_index", -1))
    except (TypeError, ValueError):
        return None
    return CellResult(
        index=index, code_index=code_index, status=status, seconds=_f(data.get("seconds")),
        error=ErrorInfo.from_json(data.get("error")), stdout=_s(data.get("stdout"), 40_000),
        notes=tuple(_s(n, 300) for n in notes[:50]),
    )


def decode_run(job: NotebookJob, data: Mapping[str, Any], blobs: list[bytes]) -> NotebookRun:
    """Build a NotebookRun from the server's JSON; decode probe values strictly."""
    cells = tuple(c for c in (_cell(d) for d in (data.get("cells") or [])) if c is not None)
    replies: dict[str, ProbeReply] = {}
    wanted = {p.id: p for p in job.probes}
    for r in data.get("replies") or []:
        if not isinstance(r, Mapping) or r.get("id") not in wanted:
            continue
        pid = r["id"]
        status = r.get("status") if r.get("status") in ("ok", "error", "timeout", "crashed", "not-run") else "error"
        value = None
        error = ErrorInfo.from_json(r.get("error"))
        blob = r.get("blob")
        if status == "ok":
            if isinstance(blob, int) and 0 <= blob < len(blobs):
                try:
                    value = wire.decode_value(blobs[blob])
                except wire.WireError as exc:
                    status, error = "error", ErrorInfo("WireError", f"reply rejected: {exc}")
            else:
                status, error = "error", ErrorInfo("WireError", "reply without a value")
        replies[pid] = ProbeReply(pid, wanted[pid].probe, status, value, error, _f(r.get("seconds")),
                                  _s(r.get("stdout"), 40_000))
    for pid, p in wanted.items():
        if pid not in replies:
            replies[pid] = ProbeReply(pid, p.probe, "not-run", None, ErrorInfo("NotRun", "no reply"), 0.0, "")
    snaps = []
    for s in data.get("snapshots") or []:
        if not isinstance(s, Mapping) or not isinstance(s.get("blob"), int) or not 0 <= s["blob"] < len(blobs):
            continue
        try:
            state = wire.decode_value(blobs[s["blob"]])
        except wire.WireError:
            continue
        if not isinstance(state, dict):
            continue
        try:
            snaps.append(Snapshot(int(s.get("step", 0)), int(s.get("instance", 0)), _s(s.get("class_name"), 200), state))
        except (TypeError, ValueError):
            continue
    crash = None
    c = data.get("crashed")
    if isinstance(c, Mapping):
        crash = Crash(_s(c.get("reason"), 1000), _s(c.get("phase"), 200),
                      c.get("exit_code") if isinstance(c.get("exit_code"), int) else None,
                      c.get("signal") if isinstance(c.get("signal"), int) else None)
    prot = data.get("protections") if isinstance(data.get("protections"), Mapping) else {}
    return NotebookRun(
        notebook=job.notebook_path,
        mode=job.mode,
        cells=cells,
        blocked=tuple(_s(b, 300) for b in (data.get("blocked") or [])[:200]),
        shims_used=tuple(_s(b, 300) for b in (data.get("shims_used") or [])[:200]),
        protections=dict(prot),
        replies=replies,
        crashed=crash,
        seconds=_f(data.get("seconds")),
        snapshots=tuple(snaps),
        warnings=tuple(_s(w, 2000) for w in (data.get("warnings") or [])[:60]),
        raw_output=_s(data.get("raw_output"), 25_000),
        restarts=int(data.get("restarts", 0)) if isinstance(data.get("restarts"), int) else 0,
        label=job.label,
    )
