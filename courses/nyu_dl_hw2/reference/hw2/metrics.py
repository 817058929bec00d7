"""Pure-Python judging helpers for the HW2 training checks (no torch, no numpy needed).

* ``echo_score``: accuracy of echo outputs (strings returned by a model's ``test_run``),
  without the course's delay-0 slicing bug;
* ``spikes`` / ``worst_climb``: the course's kind of loss spike in a loss curve (jumps
  back toward the initial loss), for the seq_classification checks; thresholds
  calibrated by ``benchmarks/calibrate_seq.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["echo_score", "spikes", "worst_climb", "Spike", "LN4", "SPIKE_ARMED", "SPIKE_CLIMB"]

LN4 = math.log(4)  # the initial cross-entropy of four balanced classes
# Defaults of `spikes`; the registry sets the calibrated values (benchmarks/calibrate_seq.py).
SPIKE_ARMED = 0.3
SPIKE_CLIMB = 0.5


def echo_score(inputs: list[str], outputs: list[str], delays) -> float:
    """Fraction of echoed letters that are right.

    For each input ``s`` with delay ``d``, position ``i >= d`` of the output must equal
    ``s[i - d]``: positions before ``d`` (where the echo is blank) are not scored, and a
    delay of 0 scores every position (unlike the course's ``s[:-d]`` slicing, which is
    empty for ``d = 0``). ``delays`` is one int for all inputs or one per input. An
    output of the wrong type or length only scores its matching positions. Returns 0.0
    when nothing is scored.
    """
    n = len(inputs)
    try:
        delays = [int(d) for d in delays]
    except TypeError:  # one delay for every input
        delays = [int(delays)] * n
    if len(outputs) != n or len(delays) != n:
        raise ValueError("inputs, outputs and delays must have the same length")
    correct = total = 0
    for s, out, d in zip(inputs, outputs, delays):
        if d < 0:
            raise ValueError("delay must be >= 0")
        scored = max(len(s) - d, 0)
        total += scored
        if not isinstance(out, str):
            continue
        for i in range(d, len(s)):
            if i < len(out) and out[i] == s[i - d]:
                correct += 1
    return correct / total if total else 0.0


@dataclass(frozen=True)
class Spike:
    """One excursion of a loss curve back up toward where training started."""

    start: int  # index of the first point of the excursion
    peak: int  # index of its highest point
    low: float  # the running minimum before it
    high: float  # the loss at its peak
    climb: float  # (high - low) / (initial - low): 1.0 is all the way back to the initial loss


def spikes(losses, initial: float = LN4, armed: float = SPIKE_ARMED, climb: float = SPIKE_CLIMB) -> list[Spike]:
    """The course's kind of loss spike in one curve: once the loss has fallen to
    ``armed * initial`` or below, a climb back at least ``climb`` of the way from its
    running minimum to ``initial`` (ln 4 for four balanced classes).

    Measured against the initial loss, not as ratios: jitter near zero (0.038 -> 0.126 is
    6 % of the way back) is no spike, a jump from 0.07 to 2.1 (121 %) is. One spike per
    excursion: it ends when the curve is back below half the threshold. A non-finite loss
    is a spike that climbs all the way (``climb`` = inf).
    """
    values = [float(v) for v in losses]
    out: list[Spike] = []
    low = math.inf
    open_: list | None = None  # [start, peak, low, high, climb]
    for t, v in enumerate(values):
        finite = math.isfinite(v)
        if low <= armed * initial:
            frac = (v - low) / (initial - low) if finite else math.inf
            if open_ is None and frac >= climb:
                open_ = [t, t, low, v, frac]
            elif open_ is not None and frac > open_[4]:
                open_[1], open_[3], open_[4] = t, v, frac
            elif open_ is not None and frac < climb / 2:
                out.append(Spike(*open_))
                open_ = None
        if finite and open_ is None:
            low = min(low, v)
    if open_ is not None:
        out.append(Spike(*open_))
    return out


def worst_climb(losses, initial: float = LN4, armed: float = SPIKE_ARMED) -> float:
    """The largest climb back toward ``initial`` (as a fraction of the way from the running
    minimum, once the loss has fallen to ``armed * initial``); 0.0 for a curve that never
    climbs or never got there. The continuous value behind :func:`spikes`."""
    found = spikes(losses, initial, armed, climb=1e-12)
    return max((s.climb for s in found), default=0.0)
