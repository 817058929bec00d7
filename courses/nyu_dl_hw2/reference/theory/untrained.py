"""Loss and accuracy of a k-class classifier before training (HW2 1.3(d)).

A freshly initialised network gives nearly equal logits, so its softmax is close to uniform:
the cross-entropy is -ln(1/k) = ln k whatever the label, and its arg-max is unrelated to the
label, right 1/k of the time on balanced classes. For the 4-class temporal-order task
(classes Q, R, S, U) that is ln 4 ~ 1.386 and 25 %.
"""

from __future__ import annotations

import math

from ..errors import ReferenceInputError


def _classes(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 2:
        raise ReferenceInputError(f"the number of classes must be an integer >= 2, got {k!r}")
    return k


def untrained_loss(k: int) -> float:
    """Cross-entropy (natural log) of the uniform prediction: ln k."""
    return -math.log(1.0 / _classes(k))


def untrained_accuracy(k: int) -> float:
    """Expected accuracy of a prediction unrelated to the label, on balanced classes: 1 / k."""
    return 1.0 / _classes(k)
