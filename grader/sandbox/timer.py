"""Per-cell and per-probe time limits inside the child (the server's kill is the backstop).

``with deadline(seconds):`` arms ``setitimer(ITIMER_REAL)``; when it fires, the SIGALRM
handler raises :class:`Timeout` in the main thread, and keeps raising every 0.25 s in case
the student code swallows it (``except BaseException: pass``). A student who blocks
SIGALRM or loops in C for longer is killed by the server ``grace_seconds`` later.

SIGXCPU (RLIMIT_CPU soft limit) raises :class:`CpuLimit` the same way.
"""

from __future__ import annotations

import signal
from typing import Any


class Timeout(BaseException):
    """The cell or probe ran past its time limit."""


class CpuLimit(BaseException):
    """The child used up its CPU-time limit (RLIMIT_CPU)."""


class _State:
    armed = False
    fired = False
    seconds = 0.0


def _on_alarm(signum: int, frame: Any) -> None:
    if _State.armed:
        _State.fired = True
        raise Timeout(f"time limit of {_State.seconds:g} s exceeded")


def _on_xcpu(signum: int, frame: Any) -> None:
    raise CpuLimit("CPU time limit exceeded")


def install() -> None:
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGXCPU, _on_xcpu)


class deadline:
    def __init__(self, seconds: float):
        self.seconds = max(0.01, float(seconds))

    def __enter__(self) -> "deadline":
        _State.fired = False
        _State.seconds = self.seconds
        _State.armed = True
        signal.setitimer(signal.ITIMER_REAL, self.seconds, 0.25)
        return self

    def __exit__(self, *exc: Any) -> None:
        _State.armed = False
        signal.setitimer(signal.ITIMER_REAL, 0, 0)

    @property
    def fired(self) -> bool:
        return _State.fired


def disarm() -> None:
    _State.armed = False
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
