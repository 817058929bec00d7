"""The Elman network of ELEG 5491 HW2 problem 1, with its full back-propagation through time.

    h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)
    z_t = softmax(W_hz h_t + b_z)
    L   = sum_t -log z_{t, y_t}

The problem asks for dL/dW_hz and dL/dW_hh "in detail"; the answer is the recursion

    do_t  = z_t - onehot(y_t)                          (softmax + cross-entropy)
    dh_t  = W_hz^T do_t + W_hh^T da_{t+1}              (da_{T+1} = 0)
    da_t  = dh_t * (1 - h_t^2)                         (tanh')
    dL/dW_hz = sum_t do_t h_t^T,  dL/db_z = sum_t do_t
    dL/dW_hh = sum_t da_t h_{t-1}^T,  dL/dW_xh = sum_t da_t x_t^T,  dL/db_h = sum_t da_t
    dL/dh_0  = W_hh^T da_1.

Time: array row t (0-based) is the course's step t + 1; x has shape (T, d), labels y are
class indices 0..C-1 (the course's y_t minus one when it counts classes from 1); h0 is the
initial state (zero unless given). Gradients have the shape of their parameter.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import ReferenceInputError


class ElmanTrace(NamedTuple):
    h: np.ndarray  # (T, H)
    z: np.ndarray  # (T, C) softmax outputs
    loss: float


class ElmanGrads(NamedTuple):
    W_xh: np.ndarray  # (H, d)
    W_hh: np.ndarray  # (H, H)
    b_h: np.ndarray  # (H,)
    W_hz: np.ndarray  # (C, H)
    b_z: np.ndarray  # (C,)
    h0: np.ndarray  # (H,)


def _check(x, y, W_xh, W_hh, b_h, W_hz, b_z, h0):
    x = np.asarray(x, dtype=np.float64)
    W_xh, W_hh, b_h, W_hz, b_z = (np.asarray(a, dtype=np.float64) for a in (W_xh, W_hh, b_h, W_hz, b_z))
    if x.ndim != 2:
        raise ReferenceInputError(f"x must have shape (T, d), got {x.shape}")
    T, d = x.shape
    if W_hh.ndim != 2 or W_hh.shape[0] != W_hh.shape[1]:
        raise ReferenceInputError(f"W_hh must be square (H, H), got {W_hh.shape}")
    H = W_hh.shape[0]
    if W_xh.shape != (H, d):
        raise ReferenceInputError(f"W_xh must have shape (H, d) = ({H}, {d}), got {W_xh.shape}")
    if b_h.shape != (H,):
        raise ReferenceInputError(f"b_h must have shape ({H},), got {b_h.shape}")
    if W_hz.ndim != 2 or W_hz.shape[1] != H:
        raise ReferenceInputError(f"W_hz must have shape (C, {H}), got {W_hz.shape}")
    C = W_hz.shape[0]
    if b_z.shape != (C,):
        raise ReferenceInputError(f"b_z must have shape ({C},), got {b_z.shape}")
    y = np.asarray(y)
    if y.shape != (T,) or not np.issubdtype(y.dtype, np.integer) or (T and (y.min() < 0 or y.max() >= C)):
        raise ReferenceInputError(f"y must hold {T} class indices in 0..{C - 1}, got {y!r}")
    h0 = np.zeros(H) if h0 is None else np.asarray(h0, dtype=np.float64)
    if h0.shape != (H,):
        raise ReferenceInputError(f"h0 must have shape ({H},), got {h0.shape}")
    return x, y, W_xh, W_hh, b_h, W_hz, b_z, h0


def elman_forward(x, y, W_xh, W_hh, b_h, W_hz, b_z, h0=None) -> ElmanTrace:
    """States, softmax outputs and the summed cross-entropy loss."""
    x, y, W_xh, W_hh, b_h, W_hz, b_z, h_prev = _check(x, y, W_xh, W_hh, b_h, W_hz, b_z, h0)
    T, H, C = x.shape[0], W_hh.shape[0], W_hz.shape[0]
    h, z = np.zeros((T, H)), np.zeros((T, C))
    loss = 0.0
    for t in range(T):
        h[t] = np.tanh(W_xh @ x[t] + W_hh @ h_prev + b_h)
        o = W_hz @ h[t] + b_z
        log_z = o - o.max() - np.log(np.exp(o - o.max()).sum())
        z[t] = np.exp(log_z)
        loss -= log_z[y[t]]
        h_prev = h[t]
    return ElmanTrace(h, z, float(loss))


def elman_backward(x, y, W_xh, W_hh, b_h, W_hz, b_z, h0=None) -> ElmanGrads:
    """Every parameter's gradient of L by back-propagation through time (module docstring)."""
    x, y, W_xh, W_hh, b_h, W_hz, b_z, h0 = _check(x, y, W_xh, W_hh, b_h, W_hz, b_z, h0)
    h, z, _ = elman_forward(x, y, W_xh, W_hh, b_h, W_hz, b_z, h0)
    T = x.shape[0]
    h_before = np.vstack([h0[None, :], h[:-1]]) if T else np.zeros((0, h0.shape[0]))
    grads = {name: np.zeros_like(p) for name, p in
             (("W_xh", W_xh), ("W_hh", W_hh), ("b_h", b_h), ("W_hz", W_hz), ("b_z", b_z))}
    from_next = np.zeros_like(h0)  # W_hh^T da_{t+1}
    for t in range(T - 1, -1, -1):
        do = z[t].copy()
        do[y[t]] -= 1.0
        grads["W_hz"] += np.outer(do, h[t])
        grads["b_z"] += do
        da = (W_hz.T @ do + from_next) * (1.0 - h[t] ** 2)
        grads["W_xh"] += np.outer(da, x[t])
        grads["W_hh"] += np.outer(da, h_before[t])
        grads["b_h"] += da
        from_next = W_hh.T @ da
    return ElmanGrads(h0=from_next, **grads)
