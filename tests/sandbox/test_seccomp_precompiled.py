"""The server compiles the child's seccomp filter once (confine.precompile_seccomp); a child
that is pid 1 loads that BPF program as it is. Same rules as a filter built in the child:
the calls it refuses are refused either way."""

from __future__ import annotations

import errno
import os

import pytest

from grader.sandbox import ProbeRequest, SandboxServer

from .conftest import make_job

ATTEMPTS = """
import errno, os, socket, signal
out = {}
def attempt(name, fn):
    try:
        fn()
        out[name] = 0
    except OSError as exc:
        out[name] = exc.errno
attempt("fork", lambda: os._exit(0) if os.fork() == 0 else None)
attempt("execv", lambda: os.execv("/bin/true", ["true"]))
attempt("kill_other", lambda: os.kill(2, signal.SIGCONT))
attempt("inet_socket", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close())
attempt("unix_socket", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_STREAM).close())
attempt("kill_self", lambda: os.kill(os.getpid(), 0))
me = os.getpid()
"""

EXPECTED = {"fork": errno.EPERM, "execv": errno.EPERM, "kill_other": errno.EPERM, "inet_socket": errno.EPERM,
            "unix_socket": 0, "kill_self": 0}

pytestmark = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="needs Linux as root (seccomp)")


def _outcome(server, tmp_path):
    r = server.run_notebook(make_job(tmp_path, [ATTEMPTS], probes=(
        ProbeRequest("out", "value", {"name": "out"}), ProbeRequest("me", "value", {"name": "me"}))))
    assert r.executed_ok, r.cells
    return r.replies["out"].value, r.replies["me"].value, r.protections


def test_pid1_child_loads_the_servers_program(server, tmp_path):
    if not server.facts.get("seccomp_precompiled"):
        pytest.skip("libseccomp cannot export BPF here")
    out, me, p = _outcome(server, tmp_path)
    assert me == 1 and p["seccomp"] and p.get("seccomp_precompiled") is True
    assert out == EXPECTED


def test_child_without_pid_namespace_builds_its_own_filter(tmp_path):
    # not pid 1: the "kill another pid" rules name its own pid, so it cannot use the program
    with SandboxServer(threads=1, pid_namespace=False) as s:
        out, me, p = _outcome(s, tmp_path)
    assert me != 1 and p["seccomp"] and "seccomp_precompiled" not in p
    assert out == EXPECTED


def test_program_is_the_filter_libseccomp_builds():
    from grader.sandbox import confine

    sc = confine._seccomp_module()
    if sc is None:
        pytest.skip("no libseccomp")
    assert confine.precompile_seccomp()
    prog, skipped = confine._PID1_PROGRAM
    f, fresh_skipped = confine._build_filter(sc, 1)
    assert confine.export_program(f) == prog and tuple(fresh_skipped) == skipped
    other, _ = confine._build_filter(sc, 2)  # another pid: another program (the rules name the pid)
    assert confine.export_program(other) != prog
