"""Pure-Python judging helpers for the HW2 training checks (no torch, no numpy needed).

* ``echo_score``: accuracy of echo outputs (strings returned by a model's ``test_run``),
  without the course's delay-0 slicing bug;
* ``loss_spikes``: the epochs where a per-epoch training-loss curve spikes (the
  seq_classification check), with the thresholds calibrated by
  ``benchmarks/calibrate_hw2.py``.
"""

from __future__ import annotations

__all__ = ["echo_score", "loss_spikes", "SPIKE_RATIO", "SPIKE_MIN_RISE", "SPIKE_AFTER"]

# Calibrated on seq_classification Section 8 (see the calibration report): the course
# procedure jumps by ratios of 2.8 to 200+, the solution's largest ratio with a rise above
# SPIKE_MIN_RISE is 1.24 (6 seeds), and its largest ratio at all is 1.4 (at losses < 0.05).
SPIKE_RATIO = 1.5
SPIKE_MIN_RISE = 0.05
SPIKE_AFTER = 3


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


def loss_spikes(losses, ratio: float = SPIKE_RATIO, min_rise: float = SPIKE_MIN_RISE,
                after: int = SPIKE_AFTER) -> list[int]:
    """Epochs (0-based indices into ``losses``) at which the training-loss curve spikes.

    ``losses`` holds one mean training loss per epoch. Epoch ``t >= 1`` spikes when

    * ``L[t] > ratio * L[t-1]`` and ``L[t] - L[t-1] > min_rise`` (a jump; the absolute
      rise keeps jitter at tiny losses, e.g. 0.0004 -> 0.0007, from counting), or
    * ``t >= after`` and ``L[t] > L[0] + min_rise`` (back above where training started).

    Non-finite losses (nan, inf) count as spikes.
    """
    out = []
    values = [float(v) for v in losses]
    for t in range(1, len(values)):
        cur, prev = values[t], values[t - 1]
        if cur != cur or cur in (float("inf"), float("-inf")):
            out.append(t)
            continue
        jump = cur > ratio * prev and cur - prev > min_rise
        above = t >= after and cur > values[0] + min_rise
        if jump or above:
            out.append(t)
    return out
