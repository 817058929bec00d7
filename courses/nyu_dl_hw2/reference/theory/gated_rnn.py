"""The gated recurrent network of HW2 1.2.1 (1.2 in 2021-2022).

    c[t] = sigmoid(W_c x[t] + W_h h[t-1])
    h[t] = c[t] * h[t-1] + (1 - c[t]) * (W_x x[t]),      h[0] = 0,

x[t] in R^n, h[t], c[t] in R^m. The gate c[t] interpolates between keeping the old state
and writing the new input, so dh[t]/dh[t-1] = diag(c[t]) + diag((h[t-1] - W_x x[t]) * c[t] *
(1 - c[t])) W_h has a diagonal "carry" term: gradients survive long spans where c is near 1
and can still vanish (c near 0) or grow (large W_h) elsewhere (1.2.1(e)).

Time: array row t (0-based) holds the course's step t + 1, so x has shape (K, n) with x[0]
the course's x[1]; `h0` is the course's h[0] (zero unless given). The Jacobians are in
numerator layout by default: entry [i, j] = d h_i[t] / d h_j[t-1]. The loss gradients have
the shape of their matrix.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ReferenceInputError
from .layout import arrange


class GatedRNNTrace(NamedTuple):
    h: np.ndarray  # (K, m): h[t] for course steps 1..K
    c: np.ndarray  # (K, m): c[t] for course steps 1..K


class GatedRNNGrads(NamedTuple):
    W_c: np.ndarray  # (m, n)
    W_h: np.ndarray  # (m, m)
    W_x: np.ndarray  # (m, n)
    h0: np.ndarray  # (m,)  d l / d h[0]
    h: np.ndarray  # (K, m): total d l / d h[t], the quantity back-propagated through time


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow warning for large |z|


def _check(x, W_c, W_h, W_x, h0):
    x = np.asarray(x, dtype=np.float64)
    W_c, W_h, W_x = (np.asarray(a, dtype=np.float64) for a in (W_c, W_h, W_x))
    if x.ndim != 2:
        raise ReferenceInputError(f"x must have shape (K, n) (one row per time step), got {x.shape}")
    K, n = x.shape
    if W_h.ndim != 2 or W_h.shape[0] != W_h.shape[1]:
        raise ReferenceInputError(f"W_h must be square (m, m), got shape {W_h.shape}")
    m = W_h.shape[0]
    for name, a in (("W_c", W_c), ("W_x", W_x)):
        if a.shape != (m, n):
            raise ReferenceInputError(f"{name} must have shape (m, n) = ({m}, {n}), got {a.shape}")
    h0 = np.zeros(m) if h0 is None else np.asarray(h0, dtype=np.float64)
    if h0.shape != (m,):
        raise ReferenceInputError(f"h0 must have shape ({m},), got {h0.shape}")
    return x, W_c, W_h, W_x, h0


def gated_rnn_forward(x, W_c, W_h, W_x, h0=None) -> GatedRNNTrace:
    """Run the network over the K rows of x; returns h and c, each of shape (K, m)."""
    x, W_c, W_h, W_x, h_prev = _check(x, W_c, W_h, W_x, h0)
    K, m = x.shape[0], W_h.shape[0]
    h, c = np.zeros((K, m)), np.zeros((K, m))
    for t in range(K):
        c[t] = _sigmoid(W_c @ x[t] + W_h @ h_prev)
        h[t] = c[t] * h_prev + (1.0 - c[t]) * (W_x @ x[t])
        h_prev = h[t]
    return GatedRNNTrace(h, c)


def gated_rnn_step_jacobians(
    x_t, h_prev, W_c, W_h, W_x, *, layout: str = "numerator"
) -> tuple[np.ndarray, np.ndarray]:
    """(dh[t]/dh[t-1], dc[t]/dh[t-1]), each (m, m), for one step from state h_prev on input x_t.

        dc[t]/dh[t-1] = diag(c * (1 - c)) W_h
        dh[t]/dh[t-1] = diag(c) + diag((h[t-1] - W_x x[t]) * c * (1 - c)) W_h
    """
    if np.ndim(x_t) != 1:
        raise ReferenceInputError(f"x_t must be one input vector (n,), got shape {np.shape(x_t)}")
    x, W_c, W_h, W_x, h_prev = _check(np.atleast_2d(x_t), W_c, W_h, W_x, h_prev)
    x_t = x[0]
    c = _sigmoid(W_c @ x_t + W_h @ h_prev)
    dc = (c * (1.0 - c))[:, None] * W_h
    dh = np.diag(c) + (h_prev - W_x @ x_t)[:, None] * dc
    return arrange(dh, 1, layout), arrange(dc, 1, layout)


def gated_rnn_backward(x, W_c, W_h, W_x, g, h0=None) -> GatedRNNGrads:
    """Back-propagation through time for l = sum_t g[t] . h[t].

    `g` (K, m) is the loss's direct dependence on each state, d l / d h[t] with the later
    states held fixed. The total derivative delta[t] = g[t] + delta[t+1] dh[t+1]/dh[t] runs
    backwards like the forward pass runs forwards (1.2.1(d)), and
        dl/dW_x = sum_t ((1 - c[t]) * delta[t]) x[t]^T
        dl/dW_c = sum_t (delta[t] * (h[t-1] - W_x x[t]) * c[t] * (1 - c[t])) x[t]^T
        dl/dW_h = sum_t (the same vector) h[t-1]^T.
    """
    x, W_c, W_h, W_x, h0 = _check(x, W_c, W_h, W_x, h0)
    K, m = x.shape[0], W_h.shape[0]
    g = np.asarray(g, dtype=np.float64)
    if g.shape != (K, m):
        raise ReferenceInputError(f"g must have shape (K, m) = ({K}, {m}), got {g.shape}")
    h, c = gated_rnn_forward(x, W_c, W_h, W_x, h0)
    h_before = np.vstack([h0[None, :], h[:-1]])  # h[t-1] for each row t
    dW_c, dW_h, dW_x = np.zeros_like(W_c), np.zeros_like(W_h), np.zeros_like(W_x)
    total = np.zeros((K, m))
    carry = np.zeros(m)  # delta[t+1] dh[t+1]/dh[t]
    for t in range(K - 1, -1, -1):
        delta = g[t] + carry
        total[t] = delta
        u = W_x @ x[t]
        dW_x += np.outer((1.0 - c[t]) * delta, x[t])
        d_pre = delta * (h_before[t] - u) * c[t] * (1.0 - c[t])
        dW_c += np.outer(d_pre, x[t])
        dW_h += np.outer(d_pre, h_before[t])
        carry = delta * c[t] + W_h.T @ d_pre
    return GatedRNNGrads(dW_c, dW_h, dW_x, carry, total)
