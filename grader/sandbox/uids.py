"""A distinct uid for every sandbox child running at the same time on one machine.

Two children under the same uid can reach each other through whatever the kernel checks
by uid alone (signals, /proc, files one of them made world-writable). The server leases a
uid per job from a pool (``base`` .. ``base + count - 1``, default 60000..60999): one lock
file per uid in a root-only folder, held with ``flock`` for as long as the job runs. The
lock is per open file, so it is shared by nothing else: other sandbox servers (batch
workers, another grader on the same machine) skip a uid that is taken, and a server that
dies releases its lease with its file descriptors. uids that name an account in the
password database are never used.
"""

from __future__ import annotations

import fcntl
import os
import pwd
import tempfile
from dataclasses import dataclass

BASE = 60000
COUNT = 1000


def default_lock_dir() -> str:
    """A folder only root writes to; /run when it exists, else the system temp folder."""
    root = "/run" if os.path.isdir("/run") and os.access("/run", os.W_OK) else tempfile.gettempdir()
    return os.path.join(root, "hw2-grader-uids")


@dataclass
class Lease:
    uid: int
    fd: int

    def release(self) -> None:
        if self.fd >= 0:
            try:
                os.close(self.fd)  # closing the file drops the flock
            except OSError:  # pragma: no cover
                pass
            self.fd = -1


class UidPoolError(RuntimeError):
    pass


def _taken_by_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def lease(base: int = BASE, count: int = COUNT, lock_dir: str | None = None) -> Lease:
    """The first free uid of the pool, locked until :meth:`Lease.release` (or this process's
    death). Raises UidPoolError when all are taken or the lock folder is unusable."""
    folder = lock_dir or default_lock_dir()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError as exc:
        raise UidPoolError(f"uid lock folder {folder}: {exc}") from None
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise UidPoolError(f"uid lock folder {folder} is not owned by this user alone")
    # start at a pid-dependent slot: servers of one batch rarely contend for the same lock
    start = os.getpid() % max(1, count)
    for k in range(count):
        uid = base + (start + k) % count
        if _taken_by_account(uid):
            continue
        path = os.path.join(folder, f"{uid}.lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return Lease(uid, fd)
    raise UidPoolError(f"all {count} sandbox uids from {base} are in use")
