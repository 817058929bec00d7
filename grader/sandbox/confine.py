"""Confinement of the sandbox child, applied after fork and before any student code.

What is applied, in order (each step that cannot be done on a machine is skipped with a
warning, and :func:`apply` returns a ``protections`` dict saying what was done):

0. (the server forks with :func:`fork_in_pid_namespace`): the child is pid 1 of a PID
   namespace of its own; it sees and can name no other process. As any pid 1, it ignores
   signals it sends itself whose action is the default (``os.kill(os.getpid(), 9)``, the
   Colab "restart" idiom, is a no-op); faults (SIGSEGV...), rlimit kills and the server's
   SIGKILL still end it.
1. ``setsid()``: the child leads its own process group, so the server can kill all of it.
   The scratch folder is chowned to the run's uid (before the mounts: the overlay below
   must not copy every file up to do it).
2. rlimits: RLIMIT_AS (memory), RLIMIT_CPU (soft < hard: SIGXCPU first, SIGKILL at hard),
   RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_CORE = 0.
3. Namespaces (``unshare``): a new *network* namespace (only a down loopback: no network
   at all, not even 127.0.0.1), a new *IPC* namespace (SysV shared memory, semaphores and
   message queues, POSIX queues: private, and gone with the child), and a private *mount*
   namespace in which

   - every hidden folder gets an empty read-only tmpfs over it: the grader's project
     folder (or its installed package folders), the reference solutions, the registry,
     the folder holding the job's scratch folder (so sibling scratch folders of other
     students are hidden) and the ``scratch_root`` if given, any ``hidden=[...]`` folder,
     and /root, /home, /run, /srv, /opt;
   - one private tmpfs of ``disk_mb`` is the run's whole disk: /tmp is its root, /var/tmp
     and /dev/shm are folders in it, and the scratch folder becomes an overlay whose
     writable layer lies in it (the submission's files are read from the real folder,
     every write lands in the tmpfs). Writes past ``disk_mb`` in total fail with ENOSPC,
     and all of it vanishes with the child;
   - /proc is a fresh proc of the child's PID namespace (it lists only the child);
   - the folders the child needs (the Python prefix and its site-packages, and the job's
     scratch folder) are bound back where they were when they lie under a hidden one;
     Python folders read-only, the scratch folder under the overlay above;
   - ``/`` is remounted read-only (in this namespace only).

   As root this uses CAP_SYS_ADMIN; when not root it tries an unprivileged user namespace
   first.
4. Identity: when root, the child switches to the uid/gid the server leased for this run
   (``grader.sandbox.uids``: distinct for every child running at the same time on the
   machine, across servers and batch workers; no groups), so it can neither write
   root-owned files, nor signal or trace the server or another child, nor use any
   capability.
5. ``PR_SET_PDEATHSIG``: the child is killed when the server dies.
6. seccomp (libseccomp through pyseccomp), default allow, refusing with EPERM: execve,
   execveat, fork, vfork, clone without CLONE_THREAD (threads still work; clone3 answers
   ENOSYS so glibc falls back to clone), ptrace and process_vm_*, mount and friends,
   unshare/setns, kill/tgkill/rt_sigqueueinfo/rt_tgsigqueueinfo aimed at another process,
   tkill, pidfd_*, ``fcntl`` F_SETOWN/F_SETOWN_EX/F_SETSIG and ``ioctl`` FIOSETOWN/SIOCSPGRP
   (the "deliver a signal of my choice to that pid when this pipe is ready" path), socket()
   outside AF_UNIX, module/kexec/bpf/perf/keyctl/io_uring and clock/host changes.

Enforced on this kind of machine (root, CAP_SYS_ADMIN, libseccomp 2.5): all of the above.
Best effort / not covered: reads of world-readable files outside the hidden folders
(system files, the venv) are allowed; /sys is the machine's; the student's code runs in
the same process as the probe harness, so it can tamper with the harness itself (but the
grader only trusts values it decodes and checks in its own process); CPU and memory
bandwidth are shared with the other children (a busy child slows its neighbours).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_THREAD = 0x00010000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

NOBODY = 65534
MS_NOEXEC = 8

WRITABLE_TMP = ("/tmp", "/var/tmp", "/dev/shm")
QUOTA_DIR = "/tmp/.sandbox"  # root-only folder in the quota tmpfs: /var/tmp, /dev/shm, the overlay's layers
SYSTEM_HIDDEN = ("/root", "/home", "/run", "/srv", "/opt")

_libc: Any = None
PR_SET_PDEATHSIG = 1


def libc() -> Any:
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        lib.mount.restype = ctypes.c_int
        lib.unshare.argtypes = [ctypes.c_int]
        lib.unshare.restype = ctypes.c_int
        _libc = lib
    return _libc


def _seccomp_module() -> Any:
    try:
        import pyseccomp

        return pyseccomp
    except Exception:  # noqa: BLE001 - missing library: degrade
        return None


def preload() -> dict[str, Any]:
    """Load libc and libseccomp in the (trusted) server, before any fork. Returns facts."""
    facts: dict[str, Any] = {"libc": True}
    try:
        libc()
    except OSError as exc:  # pragma: no cover
        facts["libc"] = f"unavailable: {exc}"
    sc = _seccomp_module()
    facts["seccomp"] = bool(sc)
    facts["root"] = os.geteuid() == 0
    global _own_pid_ns
    try:
        _own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # pragma: no cover - no /proc: children share the server's namespace
        _own_pid_ns = -1
    facts["seccomp_precompiled"] = bool(sc) and precompile_seccomp()
    return facts


@dataclass
class Plan:
    scratch_dir: str
    hidden: list[str] = field(default_factory=list)
    keep_ro: list[str] = field(default_factory=list)
    memory_mb: int = 4096
    cpu_seconds: float = 600.0
    file_mb: int = 256
    disk_mb: int = 512
    nofile: int = 256
    uid: int = NOBODY
    parent_fd: int = -1  # a pipe from the server (hangs up when it dies)
    drop_to_nobody: bool = True
    network: bool = False  # False: new empty network namespace
    mount_namespace: bool = True
    use_seccomp: bool = True


class Confinement:
    def __init__(self) -> None:
        self.applied: dict[str, Any] = {}
        self.warnings: list[str] = []
        self.timings: dict[str, float] = {}

    def warn(self, text: str) -> None:
        self.warnings.append(text)

    def result(self) -> dict[str, Any]:
        out = dict(self.applied)
        out["warnings"] = list(self.warnings)
        out["setup_ms"] = {k: round(v * 1000, 3) for k, v in self.timings.items()}
        return out


def _mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    lib = libc()
    r = lib.mount(src.encode() if src else None, target.encode(), fstype.encode() if fstype else None, flags,
                  data.encode() if data else None)
    if r != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"mount {target}: {os.strerror(e)}")


def _unshare(flags: int) -> None:
    if libc().unshare(flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


_SYSTEM_PREFIXES = ("/usr", "/lib", "/lib32", "/lib64", "/libx32", "/bin", "/sbin", "/etc", "/proc", "/sys",
                    "/dev", "/boot", "/var/lib", "/snap", "/nix")


def safe_to_hide(path: str) -> bool:
    """Whether a folder may be hidden automatically (the scratch folder's parent): not /,
    not a top-level folder, nothing the system or Python may still load from."""
    path = os.path.realpath(path)
    if path.count("/") < 2:
        return path in SYSTEM_HIDDEN or path in WRITABLE_TMP
    return not any(_inside(path, p) for p in _SYSTEM_PREFIXES)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def set_rlimits(plan: Plan, conf: Confinement) -> None:
    t = time.perf_counter()
    done = {}
    mem = int(plan.memory_mb) << 20
    cpu = max(1, int(plan.cpu_seconds))
    fsz = int(plan.file_mb) << 20
    for name, res, soft, hard in (
        ("as_mb", resource.RLIMIT_AS, mem, mem),
        ("cpu_seconds", resource.RLIMIT_CPU, cpu, cpu + 10),
        ("fsize_mb", resource.RLIMIT_FSIZE, fsz, fsz),
        ("nofile", resource.RLIMIT_NOFILE, int(plan.nofile), int(plan.nofile)),
        ("core", resource.RLIMIT_CORE, 0, 0),
    ):
        try:
            cur_soft, cur_hard = resource.getrlimit(res)
            if cur_hard != resource.RLIM_INFINITY and hard > cur_hard:
                hard = cur_hard
                soft = min(soft, hard)
            resource.setrlimit(res, (soft, hard))
            done[name] = soft if name not in ("as_mb", "fsize_mb") else soft >> 20
        except (ValueError, OSError) as exc:
            conf.warn(f"rlimit {name} not set: {exc}")
    conf.applied["rlimits"] = done
    conf.timings["rlimits"] = time.perf_counter() - t


def enter_namespaces(plan: Plan, conf: Confinement) -> bool:
    """unshare(NEWNET | NEWIPC | NEWNS). Returns True when a private mount namespace is in place."""
    t = time.perf_counter()
    want = (0 if plan.network else CLONE_NEWNET) | CLONE_NEWIPC | (CLONE_NEWNS if plan.mount_namespace else 0)
    conf.applied["network_namespace"] = False
    conf.applied["ipc_namespace"] = False
    conf.applied["mount_namespace"] = False
    conf.applied["user_namespace"] = False
    if not want:
        return False
    try:
        _unshare(want)
        conf.applied["network_namespace"] = bool(want & CLONE_NEWNET)
        conf.applied["ipc_namespace"] = True
        conf.applied["mount_namespace"] = bool(want & CLONE_NEWNS)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EINVAL) and os.geteuid() != 0:
            # unprivileged: a user namespace brings the capabilities for the other two
            uid, gid = os.geteuid(), os.getegid()
            try:
                _unshare(CLONE_NEWUSER | want)
                with open("/proc/self/setgroups", "w") as f:
                    f.write("deny")
                with open("/proc/self/uid_map", "w") as f:
                    f.write(f"{uid} {uid} 1")
                with open("/proc/self/gid_map", "w") as f:
                    f.write(f"{gid} {gid} 1")
                conf.applied["user_namespace"] = True
                conf.applied["network_namespace"] = bool(want & CLONE_NEWNET)
                conf.applied["ipc_namespace"] = True
                conf.applied["mount_namespace"] = bool(want & CLONE_NEWNS)
            except OSError as exc2:
                conf.warn(f"no namespaces (unshare: {exc}; user namespace: {exc2}): network and hidden folders are not enforced")
        else:
            # try them one by one so one missing feature does not cost the other
            for flag, key in ((CLONE_NEWNET, "network_namespace"), (CLONE_NEWIPC, "ipc_namespace"),
                              (CLONE_NEWNS, "mount_namespace")):
                if want & flag:
                    try:
                        _unshare(flag)
                        conf.applied[key] = True
                    except OSError as exc3:
                        conf.warn(f"{key} not available: {exc3}")
    conf.timings["unshare"] = time.perf_counter() - t
    return bool(conf.applied["mount_namespace"])


def setup_mounts(plan: Plan, conf: Confinement) -> None:
    """Hide folders behind empty tmpfs, bind back what the child needs, make / read-only."""
    t = time.perf_counter()
    scratch = os.path.realpath(plan.scratch_dir)
    hidden: list[str] = []
    for h in list(plan.hidden) + list(SYSTEM_HIDDEN) + list(WRITABLE_TMP):
        try:
            r = os.path.realpath(h)
        except OSError:  # pragma: no cover
            continue
        if r == "/" or not os.path.isdir(r) or r in hidden:
            continue
        hidden.append(r)
    keep: list[tuple[str, bool]] = []  # (path, writable)
    for k in plan.keep_ro:
        r = os.path.realpath(k)
        if os.path.isdir(r) and all(r != p for p, _ in keep):
            keep.append((r, False))
    # a read-only folder needs binding back only when it lies under a hidden one; the
    # scratch folder is always bound onto itself so it stays writable under a read-only /
    keep = [(p, w) for p, w in keep if p != scratch and any(_inside(p, h) for h in hidden)]
    keep.append((scratch, True))
    fds: dict[str, int] = {}
    for p, _ in keep:
        try:
            fds[p] = os.open(p, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            conf.warn(f"cannot keep {p}: {exc}")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    ops = sorted([(h.count("/"), 0, h) for h in hidden if h not in fds] + [(p.count("/"), 1, p) for p in fds],
                 key=lambda x: (x[0], x[1], x[2]))
    writable = {p for p, w in keep if w}
    size = max(1, int(plan.disk_mb))
    quota = False  # the quota tmpfs is on /tmp (sorted first of the three: depth 1)
    done_hidden: list[str] = []
    tmpfs_ro: list[str] = []
    for _, kind, path in ops:
        try:
            if kind == 0:
                if not os.path.isdir(path):
                    continue  # already under an earlier tmpfs: hidden anyway
                if path == "/tmp":
                    _quota_tmpfs(size)
                    quota = True
                elif path in WRITABLE_TMP and quota:
                    _mount(os.path.join(QUOTA_DIR, path.strip("/").replace("/", "_")), path, None, MS_BIND)
                elif path in WRITABLE_TMP:
                    _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size}m,mode=1777")
                else:
                    _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=755")
                    tmpfs_ro.append(path)
                done_hidden.append(path)
            else:
                os.makedirs(path, mode=0o755, exist_ok=True)
                _mount(f"/proc/self/fd/{fds[path]}", path, None, MS_BIND | MS_REC)
                if path not in writable:
                    _mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        except OSError as exc:
            conf.warn(f"{'hide' if kind == 0 else 'keep'} {path}: {exc}")
    for fd in fds.values():
        os.close(fd)
    conf.applied["disk_quota_mb"] = None
    if quota and scratch in fds:
        try:
            _overlay_scratch(scratch)
            conf.applied["disk_quota_mb"] = size
        except OSError as exc:
            conf.warn(f"the scratch folder writes to the real disk (no overlay: {exc}): only /tmp is within disk_mb")
    conf.applied["private_proc"] = False
    if os.getpid() == 1:  # in a PID namespace of its own: a /proc that lists only this process
        try:
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
            conf.applied["private_proc"] = True
        except OSError as exc:
            conf.warn(f"/proc still lists the machine's processes: {exc}")
    for path in tmpfs_ro:
        try:
            _mount(None, path, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=1m,mode=755")
        except OSError as exc:
            conf.warn(f"tmpfs over {path} stays writable: {exc}")
    try:
        _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
        conf.applied["readonly_root"] = True
    except OSError as exc:
        conf.applied["readonly_root"] = False
        conf.warn(f"/ not read-only: {exc}")
    conf.applied["hidden"] = sorted(set(done_hidden) - set(WRITABLE_TMP))
    conf.applied["private_tmp"] = sorted(set(done_hidden) & set(WRITABLE_TMP))
    conf.applied["bound_back"] = sorted(fds)
    conf.timings["mounts"] = time.perf_counter() - t


def _quota_tmpfs(size_mb: int) -> None:
    """One tmpfs of ``size_mb`` on /tmp, holding (in a root-only folder) what /var/tmp and
    /dev/shm are bound to and the overlay layers of the scratch folder: the run's whole disk."""
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={size_mb}m,nr_inodes=131072,mode=1777")
    os.mkdir(QUOTA_DIR, 0o700)
    for name in ("var_tmp", "dev_shm"):
        os.mkdir(os.path.join(QUOTA_DIR, name))
        os.chmod(os.path.join(QUOTA_DIR, name), 0o1777)
    os.mkdir(os.path.join(QUOTA_DIR, "work"), 0o700)
    os.mkdir(os.path.join(QUOTA_DIR, "upper"))


def _overlay_scratch(scratch: str) -> None:
    """The scratch folder (already bound back) becomes an overlay: reads from it, writes to
    the quota tmpfs. The upper layer's root takes the folder's owner and mode (the overlay's
    root shows them)."""
    upper = os.path.join(QUOTA_DIR, "upper")
    st = os.stat(scratch)
    os.chown(upper, st.st_uid, st.st_gid)
    os.chmod(upper, st.st_mode & 0o7777)

    def esc(path: str) -> str:
        return path.replace("\\", "\\\\").replace(",", "\\,").replace(":", "\\:")

    _mount("overlay", scratch, "overlay", MS_NOSUID | MS_NODEV,
           f"lowerdir={esc(scratch)},upperdir={esc(upper)},workdir={esc(os.path.join(QUOTA_DIR, 'work'))}")


def chown_scratch(plan: Plan, conf: Confinement) -> None:
    """Give the scratch folder's files to the run's uid (on the real disk, before the overlay
    hides it: chowning through the overlay would copy every file into the quota)."""
    if not plan.drop_to_nobody or os.geteuid() != 0:
        return
    t = time.perf_counter()
    uid = int(plan.uid)
    try:
        os.chown(plan.scratch_dir, uid, uid, follow_symlinks=False)
        for root, dirs, files in os.walk(plan.scratch_dir):
            for name in dirs + files:
                try:
                    os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)
                except OSError:
                    pass
    except OSError as exc:
        conf.warn(f"scratch folder not given to uid {uid}: {exc}")
    conf.timings["chown"] = time.perf_counter() - t


def drop_identity(plan: Plan, conf: Confinement, mounts_ok: bool) -> None:
    t = time.perf_counter()
    conf.applied["uid"] = os.geteuid()
    if not plan.drop_to_nobody:
        return
    if os.geteuid() != 0:
        conf.applied["uid"] = os.geteuid()
        return
    if not mounts_ok:
        # without the mount namespace the Python folders under /root stay unreachable for
        # another uid; stay root (seccomp still applies)
        conf.warn("staying root: no private mount namespace to make Python reachable for another uid")
        return
    uid = int(plan.uid)
    try:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        conf.applied["uid"] = uid
    except OSError as exc:
        conf.warn(f"could not switch to uid {uid}: {exc}")
    conf.timings["identity"] = time.perf_counter() - t


EPERM_SYSCALLS = (
    "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev",
    "mount", "umount2", "pivot_root", "chroot", "unshare", "setns", "move_mount", "open_tree",
    "fsopen", "fsmount", "fsconfig", "fspick", "mount_setattr",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "bpf", "perf_event_open", "keyctl", "add_key", "request_key",
    "userfaultfd", "acct", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
    "sethostname", "setdomainname", "quotactl", "open_by_handle_at", "name_to_handle_at",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init", "syslog",
    "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "kcmp", "tkill", "iopl", "ioperm",
    "lookup_dcookie", "vhangup", "personality",
)
# fcntl/ioctl commands that make the kernel signal a process of the caller's choosing when a
# file is ready (F_SETOWN + F_SETSIG + O_ASYNC delivered SIGKILL to another child once)
F_SETOWN, F_SETSIG, F_SETOWN_EX = 8, 10, 15
FIOSETOWN, SIOCSPGRP = 0x8901, 0x8902


def _build_filter(sc: Any, me: int) -> tuple[Any, list[str]]:
    """The child's seccomp rules for a child whose pid is `me` (libseccomp filter context,
    syscall names this libseccomp does not know)."""
    f = sc.SyscallFilter(sc.ALLOW)
    eperm = sc.ERRNO(errno.EPERM)
    skipped = []
    for name in EPERM_SYSCALLS:
        try:
            f.add_rule(eperm, name)
        except (OSError, ValueError, RuntimeError):
            skipped.append(name)
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    f.add_rule(eperm, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    f.add_rule(eperm, "kill", sc.Arg(0, sc.NE, me))
    f.add_rule(eperm, "tgkill", sc.Arg(0, sc.NE, me))
    f.add_rule(eperm, "rt_sigqueueinfo", sc.Arg(0, sc.NE, me))
    f.add_rule(eperm, "rt_tgsigqueueinfo", sc.Arg(0, sc.NE, me))
    f.add_rule(eperm, "socket", sc.Arg(0, sc.NE, 1))  # AF_UNIX only
    for cmd in (F_SETOWN, F_SETSIG, F_SETOWN_EX):
        f.add_rule(eperm, "fcntl", sc.Arg(1, sc.EQ, cmd))
    for cmd in (FIOSETOWN, SIOCSPGRP):
        f.add_rule(eperm, "ioctl", sc.Arg(1, sc.EQ, cmd))
    return f, skipped


# The filter of a child that is pid 1 of its PID namespace (every child of a server with
# PID namespaces), compiled to BPF once by the server (`precompile_seccomp`): building it
# with libseccomp took 2-13 ms of every child's CPU. (program bytes, skipped names) or None.
_PID1_PROGRAM: tuple[bytes, tuple[str, ...]] | None = None
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


def precompile_seccomp() -> bool:
    """Compile the pid-1 child's filter to its BPF program, in the (trusted) server before
    any fork; `install_seccomp` loads that program as it is, which is what libseccomp's
    `load()` would generate and load for the same rules. False (children build their own)
    when libseccomp is missing or cannot export."""
    global _PID1_PROGRAM
    sc = _seccomp_module()
    if sc is None:
        return False
    try:
        f, skipped = _build_filter(sc, 1)
        prog = export_program(f)
        if not prog or len(prog) % 8 or len(prog) // 8 > 4096:  # sock_filter: 8 bytes each, at most 4096
            return False
        _PID1_PROGRAM = (prog, tuple(skipped))
        return True
    except Exception:  # noqa: BLE001 - children fall back to building their own filter
        _PID1_PROGRAM = None
        return False


def export_program(f: Any) -> bytes:
    """The BPF program libseccomp generates for filter `f` (its `export_bpf`, through a memfd)."""
    fd = os.memfd_create("hw2-grader-seccomp", 0)
    try:
        class _File:
            def fileno(self) -> int:
                return fd

        f.export_bpf(_File())
        size = os.lseek(fd, 0, os.SEEK_END)
        os.lseek(fd, 0, os.SEEK_SET)
        prog = b""
        while len(prog) < size:
            chunk = os.read(fd, size - len(prog))
            if not chunk:
                raise OSError(errno.EIO, "short read of the exported seccomp program")
            prog += chunk
        return prog
    finally:
        os.close(fd)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _load_program(prog: bytes) -> None:
    """Install a BPF seccomp program as libseccomp's `load()` does with its default
    attributes: no_new_privs first, then the filter, no flags."""
    lib, z = libc(), ctypes.c_ulong(0)
    if lib.prctl(PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), z, z, z) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = _SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if lib.prctl(PR_SET_SECCOMP, ctypes.c_ulong(SECCOMP_MODE_FILTER), ctypes.byref(fprog), z, z) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def install_seccomp(plan: Plan, conf: Confinement) -> None:
    t = time.perf_counter()
    conf.applied["seccomp"] = False
    if not plan.use_seccomp:
        return
    sc = _seccomp_module()
    if sc is None:
        conf.warn("seccomp not available (pyseccomp/libseccomp missing): fork/exec not blocked")
        return
    try:
        me = os.getpid()
        if me == 1 and _PID1_PROGRAM is not None:  # the server compiled this very filter
            prog, skipped = _PID1_PROGRAM
            _load_program(prog)
            conf.applied["seccomp_precompiled"] = True
        else:
            f, skipped = _build_filter(sc, me)
            f.load()
        conf.applied["seccomp"] = True
        if skipped:
            conf.warn(f"seccomp: unknown syscalls skipped: {', '.join(skipped)}")
    except Exception as exc:  # noqa: BLE001 - degrade, never crash
        conf.warn(f"seccomp filter not installed: {type(exc).__name__}: {exc}")
    conf.timings["seccomp"] = time.perf_counter() - t


def die_with_parent(conf: Confinement, parent_fd: int = -1) -> None:
    """SIGKILL this child when its parent dies (set after the uid change, which clears it).
    `parent_fd`: the read end of a pipe the parent writes to; it hangs up when the parent
    died before this call (in a PID namespace getppid() cannot tell: it is 0 either way)."""
    parent = os.getppid()
    try:
        libc().prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
        conf.applied["dies_with_server"] = True
    except Exception as exc:  # noqa: BLE001
        conf.warn(f"parent-death signal not set: {exc}")
        conf.applied["dies_with_server"] = False
    if os.getppid() != parent:  # the server died in between (pid 1 ignores its own SIGKILL: exit)
        os._exit(9)
    if parent_fd >= 0:
        import select

        poller = select.poll()
        poller.register(parent_fd, select.POLLHUP)
        if any(ev & (select.POLLHUP | select.POLLERR) for _, ev in poller.poll(0)):
            os._exit(9)


_own_pid_ns = -1  # the server's own PID namespace (opened by preload, before any unshare)


def fork_in_pid_namespace() -> tuple[int, str]:
    """``os.fork()`` whose child is pid 1 of a new PID namespace: it sees and can name no
    other process. Called by the server: ``unshare(CLONE_NEWPID)`` applies to the caller's
    next child only, and ``setns`` back to its own namespace right after the fork readies
    the server for the next job (one fork per child, as without a namespace). Returns
    (pid, warning); the warning says why there is no namespace when it could not be made
    (the fork happens anyway)."""
    try:
        if _own_pid_ns < 0:
            raise OSError(errno.ENOENT, "the server's PID namespace was not opened")
        _unshare(CLONE_NEWPID)
    except OSError as exc:
        return os.fork(), f"no PID namespace ({exc}): the child sees the machine's processes in /proc"
    pid = -1
    try:
        pid = os.fork()
    finally:
        if pid != 0 and libc().setns(_own_pid_ns, CLONE_NEWPID) != 0:  # pragma: no cover
            raise OSError(ctypes.get_errno(), "setns back to the server's PID namespace failed")
    return pid, ""


def apply(plan: Plan) -> Confinement:
    """Apply every protection in order; never raises for a missing feature."""
    conf = Confinement()
    t0 = time.perf_counter()
    conf.applied["pid_namespace"] = os.getpid() == 1
    try:
        os.setsid()
        conf.applied["own_process_group"] = True
    except OSError:
        conf.applied["own_process_group"] = os.getpgrp() == os.getpid()
    chown_scratch(plan, conf)
    set_rlimits(plan, conf)
    mounts_ok = enter_namespaces(plan, conf)
    if mounts_ok:
        try:
            setup_mounts(plan, conf)
        except OSError as exc:
            conf.warn(f"mount setup failed: {exc}")
            mounts_ok = False
    else:
        conf.applied["hidden"] = []
    try:
        os.chdir(plan.scratch_dir)
    except OSError as exc:
        conf.warn(f"cannot enter the scratch folder: {exc}")
    drop_identity(plan, conf, mounts_ok)
    die_with_parent(conf, plan.parent_fd)
    install_seccomp(plan, conf)
    conf.timings["total"] = time.perf_counter() - t0
    return conf
