"""He (Kaiming) initialisation for ReLU networks (ELEG 5491 HW2 problem 5.2).

For y_l = W_l x_l + b_l with x_l = relu(y_{l-1}), zero-mean independent weights and
pre-activations symmetric about 0,

    Var[y_l] = n_l Var[w_l] E[x_l^2]   and   E[x_l^2] = Var[y_{l-1}] / 2,

so each layer multiplies the variance by n_l Var[w_l] / 2 (`relu_variance_gain`). The gain is
1, and the signal neither dies nor explodes with depth, when Var[w_l] = 2 / n_l
(`he_variance`), n_l being the layer's fan-in (inputs per output unit).
"""

from __future__ import annotations

import math

from ..errors import ReferenceInputError


def _fan_in(fan_in: int) -> int:
    if isinstance(fan_in, bool) or not isinstance(fan_in, int) or fan_in < 1:
        raise ReferenceInputError(f"fan_in must be a positive integer, got {fan_in!r}")
    return fan_in


def he_variance(fan_in: int) -> float:
    """Var[w] = 2 / n_l."""
    return 2.0 / _fan_in(fan_in)


def he_std(fan_in: int) -> float:
    """Standard deviation sqrt(2 / n_l), what a normal sampler takes."""
    return math.sqrt(he_variance(fan_in))


def relu_variance_gain(fan_in: int, weight_variance: float) -> float:
    """Var[y_l] / Var[y_{l-1}] = n_l Var[w_l] / 2 through one linear + ReLU layer."""
    if weight_variance < 0:
        raise ReferenceInputError(f"weight_variance must be >= 0, got {weight_variance!r}")
    return _fan_in(fan_in) * float(weight_variance) / 2.0
