"""Per-cell and per-probe time limits inside the child (the server's kill is the backstop).

A limit counts the child's **CPU time** (``setitimer(ITIMER_PROF)``: user + system time of
all its threads), not the wall clock: on a loaded machine (a batch on a shared node, a TA's
laptop running other work) a process gets a fraction of a core, and a wall-clock limit
would fail there code that passes on an idle machine, a verdict that depends on the
machine. The wall clock still bounds code that sleeps or blocks without using the CPU: a
safety net of ``wall_factor`` times the limit (``ITIMER_REAL``), whose verdict says which
net caught the code.

``with deadline(seconds, wall_factor):`` arms both timers; when one fires, its handler
raises :class:`Timeout` in the main thread, and keeps raising every 0.25 s in case the
student code swallows it (``except BaseException: pass``). A student who blocks the
signals or loops in C for longer is killed by the server (wall net + ``grace_seconds``).

SIGXCPU (RLIMIT_CPU soft limit) raises :class:`CpuLimit` the same way.
"""

from __future__ import annotations

import signal
from typing import Any

WALL_FACTOR = 4.0  # the wall-clock net, in multiples of a CPU-time limit (Limits.wall_factor)


class Timeout(BaseException):
    """The cell or probe ran past its time limit."""


class CpuLimit(BaseException):
    """The child used up its CPU-time limit (RLIMIT_CPU)."""


class _State:
    armed = False
    fired = ""  # "" | "cpu" | "wall": which limit fired
    seconds = 0.0


def _raise(kind: str) -> None:
    if _State.armed:
        _State.fired = _State.fired or kind
        raise Timeout(f"time limit of {_State.seconds:g} s exceeded")


def _on_alarm(signum: int, frame: Any) -> None:
    _raise("wall")


def _on_prof(signum: int, frame: Any) -> None:
    _raise("cpu")


def _on_xcpu(signum: int, frame: Any) -> None:
    raise CpuLimit("CPU time limit exceeded")


def install() -> None:
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.signal(signal.SIGPROF, _on_prof)
    signal.signal(signal.SIGXCPU, _on_xcpu)


def _stop() -> None:
    _State.armed = False
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    signal.setitimer(signal.ITIMER_PROF, 0, 0)


class deadline:
    """CPU-time limit `seconds` with a wall-clock net of `seconds * wall_factor`."""

    def __init__(self, seconds: float, wall_factor: float = WALL_FACTOR):
        self.seconds = max(0.01, float(seconds))
        self.wall = self.seconds * max(1.0, float(wall_factor))

    def __enter__(self) -> "deadline":
        _State.fired = ""
        _State.seconds = self.seconds
        _State.armed = True
        signal.setitimer(signal.ITIMER_PROF, self.seconds, 0.25)
        signal.setitimer(signal.ITIMER_REAL, self.wall, 0.25)
        return self

    def __exit__(self, *exc: Any) -> None:
        _stop()

    @property
    def fired(self) -> str:
        """"" when no limit fired, else "cpu" or "wall" (truthy)."""
        return _State.fired

    def message(self, what: str) -> str:
        """Why `what` (a cell, a probe) was stopped, naming the limit that fired."""
        if _State.fired == "wall":
            return (f"{what} ran {self.wall:g} s of wall-clock time (the safety net: {self.wall / self.seconds:g} x its "
                    f"CPU-time limit of {self.seconds:g} s) without using that much CPU: it sleeps or waits, or the "
                    "machine was overloaded (regrade on a quieter machine)")
        return f"{what} exceeded its time limit of {self.seconds:g} s of CPU time"


def disarm() -> None:
    _stop()
