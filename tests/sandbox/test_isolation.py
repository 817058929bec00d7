"""One student's cells may only ever affect that student's run (issue 10 §1-4).

One purpose-built hostile notebook per attack a simulated student ran against the
sandbox: killing another child running at the same time (fcntl F_SETOWN/F_SETSIG, kill,
tgkill of pids found in /proc), leaving SysV shared memory behind, filling the disk, flooding
the grader with messages it did not ask for, and reading probe arguments (hidden points)
before the probes run.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from grader.sandbox import ProbeRequest, SandboxServer, SnapshotRequest, tensor
from grader.sandbox.expect import UNASKED

from .conftest import FAST, make_job

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and uid changes need root")
pytestmark = needs_root


def value(name: str) -> ProbeRequest:
    return ProbeRequest(name, "value", {"name": name})


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
        except (OSError, ValueError, IndexError):
            pass
    return out


def status_kb(pid: int | str, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


# ---------------------------------------------------------------------------------------
# 1. a saboteur and a victim at the same time


SABOTEUR = r'''
import ctypes, fcntl, os, signal, struct
libc = ctypes.CDLL(None, use_errno=True)
def syscall(number, *args):
    if libc.syscall(number, *args) < 0:
        raise OSError(ctypes.get_errno(), 'refused')
seen = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
outcome = {}
r, w = os.pipe()
def sigio_kill(pid):  # the attack that worked: SIGKILL delivered by the kernel when the pipe is ready
    fcntl.fcntl(r, fcntl.F_SETOWN, pid)
    fcntl.fcntl(r, 10, signal.SIGKILL)  # F_SETSIG
    fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
    os.write(w, b'x')
# only the victim is attacked (a broken sandbox must not let this test hurt anything else)
for name, attempt in (
        ('F_SETOWN+F_SETSIG+O_ASYNC', sigio_kill),
        ('F_SETSIG', lambda pid: fcntl.fcntl(r, 10, signal.SIGKILL)),
        ('F_SETOWN_EX', lambda pid: fcntl.fcntl(r, 15, struct.pack('ii', 1, pid))),
        ('FIOSETOWN', lambda pid: fcntl.ioctl(r, 0x8901, struct.pack('i', pid))),
        ('kill', lambda pid: os.kill(pid, signal.SIGKILL)),
        ('tgkill', lambda pid: syscall(234, pid, pid, 9)),
        ('tkill', lambda pid: syscall(200, pid, 9)),
        ('rt_sigqueueinfo', lambda pid: syscall(129, pid, 9, bytes(128))),
        ('pidfd_open', lambda pid: syscall(434, pid, 0)),
        ('ptrace', lambda pid: syscall(101, 0x4206, pid, 0, 0))):  # PTRACE_SEIZE
    try:
        attempt(VICTIM)
        outcome[name] = 'done'
    except OSError as e:
        outcome[name] = e.errno
'''

VICTIM = "import time\nfor _ in range(30):\n    time.sleep(0.1)\ndef answer():\n    return 42\n"


def test_a_saboteur_cannot_touch_a_child_running_beside_it(tmp_path):
    """The F_SETOWN + F_SETSIG(SIGKILL) + O_ASYNC attack, and kill/tgkill/tkill/pidfd/ptrace,
    against the victim's real pid (found by the test: the saboteur's /proc lists only
    itself): the victim finishes with full results."""
    for who in ("victim", "saboteur"):
        (tmp_path / who).mkdir()
    with SandboxServer(threads=1) as victim_server, SandboxServer(threads=1) as saboteur_server:
        victim_result = {}
        job = make_job(tmp_path / "victim", [VICTIM], probes=(ProbeRequest("a", "call", {"target": "answer"}),),
                       limits=replace(FAST, cell_seconds=15))
        thread = threading.Thread(target=lambda: victim_result.update(run=victim_server.run_notebook(job)))
        thread.start()
        deadline = time.monotonic() + 10
        victims: list[int] = []
        while not victims and time.monotonic() < deadline:
            victims = children_of(victim_server.proc.pid)
            time.sleep(0.02)
        assert victims, "the victim's child did not start"
        time.sleep(0.3)  # past its confinement, inside its cell
        sab = saboteur_server.run_notebook(make_job(
            tmp_path / "saboteur", [SABOTEUR.replace("VICTIM", str(victims[0]))],
            probes=(value("seen"), value("outcome")), limits=replace(FAST, cell_seconds=10)))
        thread.join(30)
    victim = victim_result["run"]
    assert victim.crashed is None, victim.crashed
    assert victim.executed_ok and victim.replies["a"].value == 42
    assert sab.executed_ok, sab.cells
    assert sab.replies["seen"].value == [1]  # pid 1 of its own namespace: nobody else to see
    import errno

    # refused by seccomp (EPERM), whatever the pid names
    assert sab.replies["outcome"].value == {name: errno.EPERM for name in sab.replies["outcome"].value}
    assert len(sab.replies["outcome"].value) == 10
    assert victim.protections["uid"] != sab.protections["uid"]  # a distinct uid per concurrent child


def test_uid_leases_are_distinct_and_released(tmp_path):
    from grader.sandbox import uids

    folder = str(tmp_path / "locks")
    a = uids.lease(61000, 3, folder)
    b = uids.lease(61000, 3, folder)
    assert a.uid != b.uid
    a.release()
    c = uids.lease(61000, 3, folder)
    d = uids.lease(61000, 3, folder)
    assert len({b.uid, c.uid, d.uid}) == 3
    with pytest.raises(uids.UidPoolError):
        uids.lease(61000, 3, folder)
    for x in (b, c, d):
        x.release()


# ---------------------------------------------------------------------------------------
# 2. SysV shared memory dies with the child

SHM_KEY = 0x48573257
SHM = f'''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
shmid = libc.shmget({SHM_KEY}, 64 << 20, 0o1000 | 0o666)   # IPC_CREAT | 0666
addr = libc.shmat(shmid, None, 0)
assert shmid >= 0 and addr not in (None, ctypes.c_void_p(-1).value), ctypes.get_errno()
ctypes.memset(addr, 7, 64 << 20)
made = shmid
'''


def _host_shm_keys() -> set[int]:
    with open("/proc/sysvipc/shm") as f:
        next(f)
        return {int(line.split()[0]) for line in f if line.strip()}


def test_shared_memory_is_gone_after_the_run(run):
    try:
        r = run([SHM], probes=(value("made"),))
        assert r.executed_ok, r.cells
        assert isinstance(r.replies["made"].value, int) and r.replies["made"].value >= 0
        assert SHM_KEY not in _host_shm_keys()  # the segment lived in the child's IPC namespace
    finally:  # on a sandbox without an IPC namespace the segment would outlive the run: clean up
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        shmid = libc.shmget(SHM_KEY, 0, 0)
        if shmid >= 0:
            libc.shmctl(shmid, 0, None)  # IPC_RMID


# ---------------------------------------------------------------------------------------
# 3. a total disk quota per notebook run

DISK = '''
import os
written = []
for i in range(6):
    folder = ('.', '/tmp', '/var/tmp', '/dev/shm')[i % 4]
    with open(os.path.join(folder, f'block{i}.bin'), 'wb') as f:
        f.write(b'x' * (4 << 20))
    written.append(i)
'''


def test_writes_past_the_disk_quota_fail_in_the_cell(run, tmp_path):
    r = run([DISK, "ok = 1"], probes=(value("written"), value("ok")),
            limits=replace(FAST, disk_mb=16, file_mb=8))
    cell = r.cells[0]
    assert cell.status == "error" and cell.error.type == "OSError"
    assert "No space left on device" in cell.error.message
    assert "disk quota used up" in cell.error.message and "16 MiB" in cell.error.message
    assert any("sandbox.disk_mb" in n for n in cell.notes)
    # 16 MiB in all, across the scratch folder, /tmp, /var/tmp and /dev/shm: the fifth 4 MiB file fails
    assert r.replies["written"].value == [0, 1, 2, 3]
    assert r.replies["ok"].value == 1  # the notebook goes on
    assert not any(p.name.startswith("block") for p in (tmp_path / "scratch").iterdir())
    assert r.protections["disk_quota_mb"] == 16


# ---------------------------------------------------------------------------------------
# 4. messages the grader did not ask for

FLOOD = '''
import json, os, struct
def message(header, blob):
    head = json.dumps(header).encode()
    body = b"HW2W" + struct.pack("<II", len(head), 1) + struct.pack("<Q", len(blob)) + head + blob
    return struct.pack("<Q", len(body)) + body
blob = b"\\x93NUMPY" + bytes(SIZE)
for step in range(16):
    os.write(3, message({"t": "snapshot", "step": step, "instance": 0, "class_name": "Net"}, blob))
'''


@pytest.mark.parametrize("size_mb", [60, 1])
def test_unasked_messages_end_the_run_and_memory_stays_flat(server, tmp_path, size_mb):
    """16 x 60 MiB (and 16 x 1 MiB) snapshot messages nobody requested: the run ends with a
    clear verdict at the first one, and neither the grader nor the server keeps them."""
    rss_before = status_kb("self", "VmRSS")
    server_hwm_before = status_kb(server.proc.pid, "VmHWM")
    job = make_job(tmp_path, [FLOOD.replace("SIZE", str(size_mb << 20)), "after = 1"], probes=(value("after"),),
                   limits=replace(FAST, memory_mb=3072))
    r = server.run_notebook(job)
    assert r.crashed is not None and UNASKED in r.crashed.reason, r.crashed
    assert r.snapshots == ()
    assert r.replies["after"].status == "not-run" and UNASKED in r.replies["after"].error.message
    grown_mb = (status_kb("self", "VmRSS") - rss_before) / 1024
    server_grown_mb = (status_kb(server.proc.pid, "VmHWM") - server_hwm_before) / 1024
    assert grown_mb < 50, grown_mb
    assert server_grown_mb < 50, server_grown_mb


def test_requested_snapshots_are_bounded_by_the_request(server, tmp_path):
    """With a snapshot request, more snapshots than its max_count end the run too."""
    job = make_job(tmp_path, [FLOOD.replace("SIZE", "1000"), "after = 1"], probes=(value("after"),),
                   snapshot=SnapshotRequest("Net", max_count=3, max_mb=1))
    r = server.run_notebook(job)
    assert r.crashed is not None and UNASKED in r.crashed.reason
    assert "more than requested" in r.crashed.reason


def test_a_reply_for_a_probe_that_is_not_running_ends_the_run(run):
    forged = FLOOD.split("blob = ")[0] + (
        "os.write(3, message({'t': 'probe_end', 'reply': {'id': 'x', 'status': 'ok'}}, b''))\n")
    r = run([forged, "x = 2"], probes=(value("x"),))
    assert r.crashed is not None and UNASKED in r.crashed.reason
    assert r.replies["x"].status == "not-run"


# ---------------------------------------------------------------------------------------
# 5. probe arguments reach the child only when their probe starts

MARKER = np.array([31337.25, -4.0625e-7, 271828.5, 1.5e300], dtype=np.float64)
SCAN = '''
import ctypes, gc
MARK = bytes.fromhex("HEX")
class Sneaky:
    found = []
    for o in gc.get_objects():
        items = o.values() if type(o) is dict else o if type(o) in (list, tuple) else ()
        for x in items:
            if type(x) in (bytes, bytearray) and MARK in x:
                found.append(type(o).__name__)
    # and the whole address space, through /proc/self/mem (apart from the needle itself)
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: /proc/self/mem is readable to its owner
    needle = ctypes.cast(ctypes.c_char_p(MARK), ctypes.c_void_p).value
    in_memory = []
    with open('/proc/self/maps') as maps:
        regions = [line.split() for line in maps]
    with open('/proc/self/mem', 'rb', buffering=0) as mem:
        for fields in regions:
            if not fields[1].startswith('rw') or (len(fields) > 5 and fields[5].startswith('[v')):
                continue
            lo, hi = (int(v, 16) for v in fields[0].split('-'))
            for at in range(lo, hi, 8 << 20):
                try:
                    mem.seek(at)
                    chunk = mem.read(min(8 << 20, hi - at))
                except OSError:
                    continue
                i = chunk.find(MARK)
                while i >= 0:
                    if at + i != needle:
                        in_memory.append(hex(at + i))
                    i = chunk.find(MARK, i + 1)
                chunk = None
found = Sneaky.found
in_memory = Sneaky.in_memory
def total(x):
    return float(x.sum())
'''


def test_a_class_body_finds_no_probe_arguments(run):
    r = run([SCAN.replace("HEX", MARKER.tobytes().hex())],
            probes=(ProbeRequest("hidden", "call", {"target": "total", "args": [tensor(MARKER)]}),
                    value("found"), value("in_memory")),
            limits=replace(FAST, cell_seconds=20, notebook_seconds=30))
    assert r.executed_ok, r.cells
    assert r.replies["found"].value == []
    assert r.replies["in_memory"].value == []
    assert r.replies["hidden"].value == pytest.approx(float(MARKER.sum()))  # the probe itself got them
