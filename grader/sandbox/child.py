"""The sandbox child: forked by the server for one notebook job; runs the cells, then the
probes, reporting each step to the server over a private pipe (never stdout), then ends
with ``os._exit``. It never returns into the server's code.

Messages (wire messages, header ``{"t": kind, ...}``): ``hello`` (protections),
``cell_start``/``cell_end``, ``cells_done``, ``probe_start``/``probe_end`` (+ the encoded
reply value as payload), ``snapshot`` (+ the encoded state_dict), ``done``, ``fatal``.
The server accepts only what the job asked for (grader.sandbox.expect).

A probe's arguments are not in the job: after ``probe_start`` the server writes them to
fd 4 (one length-prefixed value), so no cell ever has the arguments of a probe in its
process (a class body scanning ``gc.get_objects()`` finds none).
"""

from __future__ import annotations

import errno
import faulthandler
import json
import os
import sys
import time
import traceback
from typing import Any

from . import confine, shims, timer, wire
from .definitions import filter_cell
from .jobs import DISK_NOTE
from .probes import ProbeContext, ProbeError, run_probe, seed_all
from .shell import Capture, SandboxShell
from .snapshot import Snapshotter

_real_exit = os._exit
_MISSING = object()
_monotonic = time.monotonic
MAX_NOTEBOOK_BYTES = 64 << 20
ENV_KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")


class Channel:
    def __init__(self, fd: int):
        self.fd = fd

    def send(self, header: dict, payload: bytes | None = None) -> None:
        try:
            wire.send_message(self.fd, header, [payload] if payload is not None else [])
        except OSError:
            _real_exit(70)  # the server is gone: nothing left to report to


def read_notebook(path: str) -> list[dict]:
    with open(path, "rb") as f:
        data = f.read(MAX_NOTEBOOK_BYTES + 1)
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise ValueError(f"notebook larger than {MAX_NOTEBOOK_BYTES >> 20} MiB")
    nb = json.loads(data.decode("utf-8", errors="replace"))
    if not isinstance(nb, dict):
        raise ValueError("notebook JSON is not an object")
    cells = nb.get("cells")
    if cells is None and isinstance(nb.get("worksheets"), list):  # nbformat 3
        cells = [c for ws in nb["worksheets"] if isinstance(ws, dict) for c in ws.get("cells", [])]
    if not isinstance(cells, list):
        raise ValueError("notebook has no cell list")
    out = []
    for c in cells:
        if not isinstance(c, dict):
            out.append({"cell_type": "raw", "source": ""})
            continue
        src = c.get("source", c.get("input", ""))
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str):
            src = ""
        out.append({"cell_type": c.get("cell_type", "code"), "source": src})
    return out


def error_info(exc: BaseException, cap_lines: int = 12) -> dict[str, str]:
    """Type, message and the last traceback lines of a student exception (never raises)."""
    try:
        with timer.deadline(2.0):
            name = type(exc).__name__
            try:
                msg = str(exc)
            except BaseException:  # noqa: BLE001 - a hostile __str__
                msg = "<message could not be shown>"
            try:
                frames = exc.__traceback__
                # drop the harness/IPython frames above the student's code
                while frames is not None and frames.tb_next is not None and (
                        "/IPython/" in frames.tb_frame.f_code.co_filename
                        or "/grader/sandbox/" in frames.tb_frame.f_code.co_filename):
                    frames = frames.tb_next
                tb = "".join(traceback.format_exception(type(exc), exc, frames))
                lines = [ln for ln in tb.rstrip().splitlines() if ln.strip()]
                tb = "\n".join(lines[-cap_lines:])
            except BaseException:  # noqa: BLE001
                tb = ""
    except BaseException:  # noqa: BLE001 - timed out while formatting
        name, msg, tb = type(exc).__name__, "<message could not be shown>", ""
    return {"type": name[:200], "message": msg[:2000], "traceback": tb[-4000:]}


def write_limit(exc: BaseException | None) -> int:
    """The errno when an exception (or its cause/context) is a write that hit a limit:
    ENOSPC/EDQUOT (the run's disk quota) or EFBIG (the file size limit); else 0."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            return exc.errno
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return 0


class Child:
    def __init__(self, job: dict, ctl_fd: int, args_fd: int, shell: SandboxShell, server: dict):
        self.job = job
        self.args_fd = args_fd
        self.ch = Channel(ctl_fd)
        self.shell = shell
        self.server = server
        self.limits = job["limits"]
        # a limit counts CPU seconds; the wall clock is a net at this many times the limit
        self.wall_factor = float(self.limits.get("wall_factor") or timer.WALL_FACTOR)
        self.disk_mb: int | None = None
        self.last_disk_note = ""
        self.cap = int(self.limits.get("output_bytes", 20_000))
        self.resume = int(job.get("resume_probe", -1))
        import builtins

        self.builtins = dict(builtins.__dict__)

    # -- setup ---------------------------------------------------------------------------
    def setup(self) -> dict:
        lim = self.limits
        threads = int(self.job.get("threads") or self.server.get("threads", 1))
        probes_total = sum(float(p.get("timeout", 10)) for p in self.job.get("probes", []))
        cpu = lim.get("cpu_seconds")
        if cpu is None:
            cpu = (float(lim["notebook_seconds"]) + probes_total) * max(1, threads) + 30
        scratch_parent = os.path.dirname(os.path.realpath(self.job["scratch_dir"]))
        hidden = list(self.server.get("hidden", []))
        if confine.safe_to_hide(scratch_parent) and self.server.get("hide_scratch_siblings", True):
            hidden.append(scratch_parent)  # other students' scratch folders next to this one
        plan = confine.Plan(
            scratch_dir=self.job["scratch_dir"],
            hidden=hidden,
            keep_ro=list(self.server.get("keep", [])),
            memory_mb=int(lim["memory_mb"]),
            cpu_seconds=float(cpu),
            file_mb=int(lim["file_mb"]),
            disk_mb=int(lim.get("disk_mb", 512)),
            nofile=int(lim["nofile"]),
            uid=int(self.job.get("uid", -1)) if int(self.job.get("uid", -1)) >= 0 else confine.NOBODY,
            parent_fd=self.args_fd,
            drop_to_nobody=bool(self.server.get("drop_to_nobody", True)),
            use_seccomp=bool(self.server.get("seccomp", True)),
            mount_namespace=bool(self.server.get("mount_namespace", True)),
        )
        conf = confine.apply(plan)
        if self.job.get("pid_namespace_warning"):
            conf.warn(str(self.job["pid_namespace_warning"]))
        self.disk_mb = conf.applied.get("disk_quota_mb")
        for k in list(os.environ):
            if k not in ENV_KEEP and not k.startswith("LC_"):
                del os.environ[k]
        scratch = self.job["scratch_dir"]
        os.environ.update(HOME=scratch, TMPDIR="/tmp", MPLBACKEND="Agg", MPLCONFIGDIR="/tmp/.matplotlib",
                          XDG_CACHE_HOME="/tmp/.cache", TORCH_HOME="/tmp/.torch", PYTHONUNBUFFERED="1",
                          OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS=str(threads))
        sys.argv = ["notebook.ipynb"]
        sys.path.insert(0, "")  # as in Jupyter: the notebook's folder (the scratch copy) is importable
        import torch

        torch.set_num_threads(threads)
        timer.install()
        shims.install(self.job.get("shims", {}), _real_exit)
        try:
            faulthandler.enable(file=sys.__stderr__, all_threads=True)
        except Exception:  # noqa: BLE001
            pass
        protections = conf.result()
        protections["threads"] = threads
        protections["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        protections["process"] = "forked child of a clean server (no grader/reference modules loaded)"
        protections["shell_escapes"] = "blocked"
        return protections

    # -- cells ---------------------------------------------------------------------------
    def run_source(self, src: str, seconds: float) -> tuple[str, dict | None, str, float]:
        shell = self.shell
        self.last_disk_note = ""
        timer.install()  # a student may have replaced the handlers in an earlier cell
        err: BaseException | None = None
        fired = ""
        t = _monotonic()
        d = timer.deadline(seconds, self.wall_factor)
        with Capture(self.cap) as buf:
            try:
                with d:
                    r = shell.run_cell(src, store_history=True)
                    err = r.error_before_exec or r.error_in_exec
                fired = d.fired
            except BaseException as exc:  # noqa: BLE001 - Timeout outside exec, etc.
                timer.disarm()
                err = exc
                fired = fired or d.fired or ("cpu" if isinstance(exc, timer.Timeout) else "")
        dt = _monotonic() - t
        shims.close_figures()
        out = buf.text()
        if fired or isinstance(err, timer.Timeout):
            return "timeout", {"type": "Timeout", "message": d.message("cell"),
                               "traceback": error_info(err)["traceback"] if err is not None else ""}, out, dt
        if isinstance(err, timer.CpuLimit):
            return "timeout", {"type": "CpuLimit", "message": "CPU time limit exceeded", "traceback": ""}, out, dt
        if err is not None:
            info = error_info(err)
            note = self.last_disk_note = self.disk_note(err)
            if note:
                info["message"] = f"{info['message'][:1500]} ({note})"
            return "error", info, out, dt
        return "ok", None, out, dt

    def disk_note(self, err: BaseException | None) -> str:
        """Why a write failed, when it hit the run's disk quota or the per-file limit."""
        hit = write_limit(err)
        if not hit:
            return ""
        if hit == errno.EFBIG:
            return f"{DISK_NOTE} one file may hold at most {self.limits['file_mb']} MiB (sandbox.file_mb)"
        if self.disk_mb:
            return f"{DISK_NOTE} the notebook's run may write {self.disk_mb} MiB in all (sandbox.disk_mb)"
        return f"{DISK_NOTE} the disk is full"

    def restore_builtins(self) -> list[str]:
        """Put back builtins the student replaced or deleted (the harness needs them)."""
        import builtins

        fixed = []
        current = builtins.__dict__
        for k, v in self.builtins.items():
            if current.get(k, _MISSING) is not v:
                current[k] = v
                fixed.append(k)
        return fixed

    def run_cells(self, cells: list[dict]) -> None:
        mode = self.job.get("mode", "definitions")
        # the notebook's budget counts this process's CPU time, with a wall-clock net (timer.py)
        nb_seconds = float(self.limits["notebook_seconds"])
        cpu0, wall_end = time.process_time(), _monotonic() + nb_seconds * self.wall_factor
        nb_spent = False
        cell_seconds = float(self.limits["cell_seconds"])
        stop = ""
        code_index = -1
        for idx, cell in enumerate(cells):
            if cell.get("cell_type") != "code":
                continue
            code_index += 1
            src = cell.get("source", "")
            self.shell.cell_notes = []
            self.shell.current_cell_label = f"cell {idx}"
            result = {"index": idx, "code_index": code_index, "status": "skipped", "seconds": 0.0, "error": None,
                      "stdout": "", "notes": []}
            remaining = min(nb_seconds - (time.process_time() - cpu0), (wall_end - _monotonic()) / self.wall_factor)
            if stop:
                result["notes"].append(stop)
            elif remaining <= 0 or nb_spent:
                result["notes"].append("not run: notebook time limit reached")
            elif not src.strip():
                result["notes"].append("empty cell")
            else:
                to_run = src
                if mode == "definitions":
                    try:
                        filt = filter_cell(src, self.shell.transform_cell, set(self.shell.user_ns))
                        to_run = filt.source
                        if filt.skipped:
                            shown = "; ".join(filt.skipped_what[:3]) + ("; ..." if len(filt.skipped_what) > 3 else "")
                            result["notes"].append(f"definitions mode: skipped {filt.skipped} statement(s): {shown}")
                    except Exception as exc:  # noqa: BLE001 - SyntaxError, null bytes, absurd nesting
                        to_run = ""
                        result["status"] = "error"
                        result["error"] = error_info(exc, cap_lines=6)
                if to_run.strip():
                    timeout = max(0.05, min(cell_seconds, remaining))
                    self.ch.send({"t": "cell_start", "index": idx, "code_index": code_index, "timeout": timeout})
                    status, err, out, dt = self.run_source(to_run, timeout)
                    # the notebook's budget, not the cell's, stopped it (CPU timers may fire a tick early)
                    nb_spent = status == "timeout" and timeout < cell_seconds
                    fixed = self.restore_builtins()
                    if fixed:
                        self.shell.cell_notes.append(f"restored builtins the cell replaced: {', '.join(fixed[:10])}")
                    result.update(status=status, error=err, stdout=out, seconds=round(dt, 4))
                    if self.last_disk_note:
                        self.shell.cell_notes.append(self.last_disk_note)
                    blocked = [n for n in self.shell.cell_notes if n.startswith("blocked:")]
                    if status == "ok" and blocked:
                        result["status"] = "blocked"
                    result["notes"].extend(self.shell.cell_notes)
                    if status != "ok" and self.job.get("stop_on_error"):
                        stop = f"not run: cell {idx} failed ({status})"
                elif result["status"] != "error" and mode == "definitions":
                    result["notes"].insert(0, "definitions mode: nothing to define")
            self.ch.send({"t": "cell_end", "cell": result})

    # -- probes --------------------------------------------------------------------------
    def run_probes(self) -> None:
        probes = self.job.get("probes", [])
        ctx = ProbeContext(self.shell.user_ns)
        for k, req in enumerate(probes):
            if 0 <= k < self.resume:
                continue  # a restarted child: these probes were answered before
            pid = req["id"]
            timeout = float(req.get("timeout", 10.0))
            self.ch.send({"t": "probe_start", "id": pid, "index": k, "timeout": timeout})
            reply: dict[str, Any] = {"id": pid, "probe": req.get("probe"), "status": "ok", "error": None}
            payload = None
            value: Any = None
            args: Any = None
            timer.install()
            t = _monotonic()
            t_cpu = time.process_time()
            with Capture(self.cap) as buf:
                d = timer.deadline(timeout, self.wall_factor)
                try:
                    with d:
                        args = wire.decode_value(wire.read_frame(self.args_fd), tensors="torch")
                        value = run_probe(ctx, str(req.get("probe")), args)
                    if d.fired:
                        raise timer.Timeout("late")
                except timer.Timeout:
                    timer.disarm()
                    reply["status"] = "timeout"
                    reply["error"] = {"type": "Timeout", "message": d.message("probe"), "traceback": ""}
                except timer.CpuLimit:
                    timer.disarm()
                    reply["status"] = "timeout"
                    reply["error"] = {"type": "CpuLimit", "message": "CPU time limit exceeded", "traceback": ""}
                except ProbeError as exc:
                    timer.disarm()
                    reply["status"] = "error"
                    reply["error"] = {"type": "ProbeError", "message": str(exc)[:2000], "traceback": ""}
                except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, anything
                    timer.disarm()
                    reply["status"] = "error"
                    reply["error"] = error_info(exc)
                if reply["status"] == "ok":
                    left = max(2.0, timeout - (time.process_time() - t_cpu))
                    try:
                        with timer.deadline(left, self.wall_factor):
                            payload = wire.encode_value(value)
                    except wire.WireError as exc:
                        reply["status"] = "error"
                        reply["error"] = {"type": "WireError", "message": f"reply not sent: {exc}", "traceback": ""}
                    except BaseException as exc:  # noqa: BLE001
                        timer.disarm()
                        reply["status"] = "timeout" if isinstance(exc, timer.Timeout) else "error"
                        reply["error"] = error_info(exc)
            self.restore_builtins()
            reply["seconds"] = round(_monotonic() - t, 4)
            reply["stdout"] = buf.text()
            value = args = None
            ctx.vars = {}
            self.ch.send({"t": "probe_end", "reply": reply}, payload)
            payload = None

    # -- all -----------------------------------------------------------------------------
    def main(self) -> None:
        try:
            try:
                cells = read_notebook(self.job["notebook_path"])
                nb_error = None
            except Exception as exc:  # noqa: BLE001 - the notebook file is student data
                cells, nb_error = [], f"notebook could not be read: {type(exc).__name__}: {exc}"
            protections = self.setup()
            plan = []
            k = 0
            for idx, c in enumerate(cells):
                if c.get("cell_type") == "code":
                    plan.append([idx, k])
                    k += 1
            self.ch.send({"t": "hello", "protections": protections, "notebook_error": nb_error,
                          "resume": self.resume, "cells": plan})
            snap = self.job.get("snapshot")
            if snap and self.job.get("mode") == "full" and self.resume < 0:
                def send_snapshot(meta: dict, state: Any) -> None:
                    try:
                        payload = wire.encode_value(state)
                    except wire.WireError:
                        return
                    self.ch.send({"t": "snapshot", **meta}, payload)

                Snapshotter(snap, send_snapshot).install()
            # A notebook that draws random numbers without seeding (the MoE handout) must draw the
            # same ones on every run and machine: the forked child inherits what the server drew,
            # and numpy and random seed themselves from the OS. So every run starts from one seed.
            seed_all(self.job.get("seed", 0))
            self.run_cells(cells)
            self.ch.send({"t": "cells_done", "blocked": list(self.shell.blocked), "shims": list(shims.RECORDER.used)})
            self.run_probes()
            self.ch.send({"t": "done", "blocked": list(self.shell.blocked), "shims": list(shims.RECORDER.used)})
        except BaseException as exc:  # noqa: BLE001 - report, then leave
            try:
                self.ch.send({"t": "fatal", "error": error_info(exc)})
            except BaseException:  # noqa: BLE001
                pass
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except BaseException:  # noqa: BLE001
                pass
            _real_exit(0)


def run(job: dict, ctl_fd: int, args_fd: int, shell: SandboxShell, server: dict) -> None:
    """Entry point in the forked child. Never returns."""
    try:
        Child(job, ctl_fd, args_fd, shell, server).main()
    finally:
        _real_exit(0)
