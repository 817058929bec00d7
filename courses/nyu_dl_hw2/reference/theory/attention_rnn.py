"""AttentionRNN(k) and AttentionRNN(inf) of HW2 1.2.2.

At each step the network attends over its input and its last k states, with separate
query/key/value matrices per slot:

    s_0 = x[t],  s_i = h[t-i] (i = 1..k)
    q_i, k_i, v_i = Q_i s_i, K_i s_i, V_i s_i
    w_i = q_i . k_i,   a = softmax(w_0..w_k),   h[t] = sum_i a_i v_i.

Q, K, V are sequences of k + 1 (n, n) matrices; index i is the slot (0: input). AttentionRNN(2)
is k = 2, and a[t] has k + 1 = 3 entries (1.2.2(a)).

States before the start. The homework sets h[t] = 0 for t < 1. A zero state still takes
part in the softmax (score 0, value 0): it takes attention weight away from the others.
That is `missing="zero"`, the homework's AttentionRNN(k). `missing="skip"` leaves such slots
out; AttentionRNN(inf) needs it ("every past state" can only mean the states that exist,
else infinitely many zero slots would absorb all the weight), and it is the untied
AttentionRNN(inf) on a finite sequence when k >= T - 1. The weight-tied AttentionRNN(inf)
has one (Q_x, K_x, V_x) for the input and one shared (Q_h, K_h, V_h) for every past state:
6 matrices instead of 3 per past state (1.2.2(c)).

Time: array row t (0-based) is the course's step t + 1; x has shape (T, n). Jacobians are
numerator layout by default, [a, b] = d h_a[t] / d h_b[t-i]; loss gradients are vectors
shaped like h[t].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..errors import ReferenceInputError
from .layout import check_layout

MISSING = ("zero", "skip")


class AttentionTrace(NamedTuple):
    h: np.ndarray  # (T, n)
    a: np.ndarray  # (T, k+1): attention weights; 0 for a skipped slot
    w: np.ndarray  # (T, k+1): scores q_i . k_i; 0 for a skipped slot


class AttentionInfTrace(NamedTuple):
    h: np.ndarray  # (T, n)
    a: tuple[np.ndarray, ...]  # a[t] has t + 1 entries: x[t], then h[t-1], ..., h[0] (0-based rows)


def _matrices(Q, K, V, n: int | None = None) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    out = []
    for name, mats in (("Q", Q), ("K", K), ("V", V)):
        if isinstance(mats, np.ndarray) and mats.ndim == 2:
            raise ReferenceInputError(f"{name} must be a sequence of (n, n) matrices, one per slot, got one matrix")
        mats = [np.asarray(m, dtype=np.float64) for m in mats]
        out.append(mats)
    if not (len(out[0]) == len(out[1]) == len(out[2])) or not out[0]:
        raise ReferenceInputError(
            f"Q, K and V must hold the same number (k + 1 >= 1) of matrices, got {len(out[0])}, {len(out[1])}, {len(out[2])}"
        )
    if n is None:
        n = out[0][0].shape[0] if out[0][0].ndim == 2 else -1
    for name, mats in zip("QKV", out):
        for i, m in enumerate(mats):
            if m.shape != (n, n):
                raise ReferenceInputError(f"{name}[{i}] must have shape ({n}, {n}), got {m.shape}")
    return out[0], out[1], out[2]


def _check_missing(missing: str) -> str:
    if missing not in MISSING:
        raise ReferenceInputError(f"missing must be 'zero' or 'skip', got {missing!r}")
    return missing


def _sequence(x) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ReferenceInputError(f"x must have shape (T, n) (one row per time step), got {x.shape}")
    return x


def _softmax(w: np.ndarray) -> np.ndarray:
    e = np.exp(w - w.max())
    return e / e.sum()


def _step(x_t: np.ndarray, past: Sequence[np.ndarray], Q, K, V):
    """One step over slots 0..len(past): returns h[t], a, w, v (values per slot)."""
    states = [x_t, *past]
    w = np.array([(Q[i] @ s) @ (K[i] @ s) for i, s in enumerate(states)])
    v = np.array([V[i] @ s for i, s in enumerate(states)])
    a = _softmax(w)
    return a @ v, a, w, v


def _past(h: np.ndarray, t: int, k: int, missing: str) -> list[np.ndarray]:
    """h[t-1], ..., h[t-k] (0-based rows); zeros or nothing for rows before 0."""
    past = [h[t - i] for i in range(1, k + 1) if t - i >= 0]
    if missing == "zero":
        past += [np.zeros(h.shape[1])] * (k - len(past))
    return past


def attention_rnn_forward(x, Q, K, V, *, missing: str = "zero") -> AttentionTrace:
    """Run AttentionRNN(k), k = len(Q) - 1, over the T rows of x."""
    x = _sequence(x)
    Q, K, V = _matrices(Q, K, V, x.shape[1])
    _check_missing(missing)
    T, n = x.shape
    k = len(Q) - 1
    h = np.zeros((T, n))
    a_all, w_all = np.zeros((T, k + 1)), np.zeros((T, k + 1))
    for t in range(T):
        past = _past(h, t, k, missing)
        h[t], a, w, _ = _step(x[t], past, Q, K, V)
        a_all[t, : len(a)], w_all[t, : len(w)] = a, w
    return AttentionTrace(h, a_all, w_all)


def attention_rnn2_forward(x, Q, K, V) -> AttentionTrace:
    """AttentionRNN(2) as the homework defines it (three slots, zero states before t = 1)."""
    if len(Q) != 3 or len(K) != 3 or len(V) != 3:
        raise ReferenceInputError("AttentionRNN(2) takes exactly 3 matrices each for Q, K and V")
    return attention_rnn_forward(x, Q, K, V, missing="zero")


def attention_rnn_inf_forward(x, Q_x, K_x, V_x, Q_h, K_h, V_h) -> AttentionInfTrace:
    """Weight-tied AttentionRNN(inf): at step t attend over x[t] and every earlier state.

    The first step has no earlier state, so h[0] = V_x x[0] (0-based rows).
    """
    x = _sequence(x)
    T, n = x.shape
    (Qx, Qh), (Kx, Kh), (Vx, Vh) = _matrices((Q_x, Q_h), (K_x, K_h), (V_x, V_h), n)
    h = np.zeros((T, n))
    weights = []
    for t in range(T):
        past = [h[t - i] for i in range(1, t + 1)]
        h[t], a, _, _ = _step(x[t], past, [Qx] + [Qh] * t, [Kx] + [Kh] * t, [Vx] + [Vh] * t)
        weights.append(a)
    return AttentionInfTrace(h, tuple(weights))


def attention_rnn_weight_count(k: int | float, *, tied: bool = False) -> int | float:
    """Weight matrices of AttentionRNN(k): 3 per slot, 3 (k + 1) in all (9 for k = 2).

    Untied AttentionRNN(inf) needs 3 for every past state, so math.inf (a sequence of T
    steps uses 3 T of them); tying every past slot to one (Q_h, K_h, V_h) leaves 6,
    whatever k is (for k >= 1).
    """
    if k != math.inf and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
        raise ReferenceInputError(f"k must be a non-negative integer or math.inf, got {k!r}")
    if tied:
        return 3 if k == 0 else 6
    return math.inf if k == math.inf else 3 * (k + 1)


def attention_rnn_step_jacobians(x_t, past, Q, K, V, *, layout: str = "numerator") -> np.ndarray:
    """d h[t] / d h[t-i] for i = 1..j, shape (j, n, n), each partial (other slots held fixed).

    `past` (j, n) holds h[t-1], ..., h[t-j]; slot i uses Q[i], K[i], V[i]. With S_i = Q_i^T K_i
    + K_i^T Q_i (so that d w_i / d s_i = s_i^T S_i),

        d h[t] / d h[t-i] = a_i (V_i + (v_i - h[t]) h[t-i]^T S_i).
    """
    check_layout(layout)
    x_t = np.asarray(x_t, dtype=np.float64)
    if x_t.ndim != 1:
        raise ReferenceInputError(f"x_t must be one vector (n,), got shape {x_t.shape}")
    n = x_t.shape[0]
    past = np.asarray(past, dtype=np.float64) if np.size(past) else np.zeros((0, n))
    if past.ndim != 2 or past.shape[1] != n:
        raise ReferenceInputError(f"past must have shape (j, {n}) (h[t-1], ..., h[t-j]), got {past.shape}")
    Q, K, V = _matrices(Q, K, V, x_t.shape[0])
    if past.shape[0] > len(Q) - 1:
        raise ReferenceInputError(f"{past.shape[0]} past states but only {len(Q) - 1} past slots in Q, K, V")
    h, a, _, v = _step(x_t, list(past), Q, K, V)
    jac = np.zeros((past.shape[0], n, n))
    for j, s in enumerate(past, start=1):
        S = Q[j].T @ K[j] + K[j].T @ Q[j]
        jac[j - 1] = a[j] * (V[j] + np.outer(v[j] - h, S.T @ s))
    return jac if layout == "numerator" else np.swapaxes(jac, 1, 2)


def attention_rnn2_step_jacobian(x_t, h_prev1, h_prev2, Q, K, V, *, layout: str = "numerator") -> np.ndarray:
    """d h[t] / d h[t-1] of AttentionRNN(2), shape (n, n) (1.2.2(d)); h_prev1 = h[t-1], h_prev2 = h[t-2]."""
    if len(Q) != 3 or len(K) != 3 or len(V) != 3:
        raise ReferenceInputError("AttentionRNN(2) takes exactly 3 matrices each for Q, K and V")
    return attention_rnn_step_jacobians(x_t, [h_prev1, h_prev2], Q, K, V, layout=layout)[0]


def _partials(x, Q, K, V, missing):
    """partial[t][i-1] = d h[t] / d h[t-i] for the rows t - i >= 0 (numerator layout)."""
    h = attention_rnn_forward(x, Q, K, V, missing=missing).h
    k = len(Q) - 1
    out = []
    for t in range(x.shape[0]):
        past = _past(h, t, k, missing)
        out.append(attention_rnn_step_jacobians(x[t], past, Q, K, V)[: min(k, t)])
    return out


def attention_rnn_state_grads(x, Q, K, V, g, *, missing: str = "zero") -> np.ndarray:
    """Total d l / d h[t] for every row t, shape (T, n), for l = sum_t g[t] . h[t].

    delta[T] = g[T] + sum_{i=1..k} delta[T+i] d h[T+i] / d h[T] (partial): a state reaches the
    loss directly and through the next k steps, which see it in slots 1..k (1.2.2(e)).
    """
    x = _sequence(x)
    Q, K, V = _matrices(Q, K, V, x.shape[1])
    _check_missing(missing)
    g = np.asarray(g, dtype=np.float64)
    if g.shape != x.shape:
        raise ReferenceInputError(f"g must have the shape of h, {x.shape}, got {g.shape}")
    partial = _partials(x, Q, K, V, missing)
    T = x.shape[0]
    delta = np.zeros_like(g)
    for t in range(T - 1, -1, -1):
        delta[t] = g[t]
        for i in range(1, len(Q)):
            if t + i < T:
                delta[t] += delta[t + i] @ partial[t + i][i - 1]
    return delta


def attention_rnn_total_jacobians(x, Q, K, V, T0: int, *, missing: str = "zero", layout: str = "numerator") -> np.ndarray:
    """d h[t] / d h[T0] through every path, for rows t = T0 + 1 .. T - 1; shape (T - T0 - 1, n, n).

    J[T0] = I and J[t] = sum_{i=1..k} (d h[t] / d h[t-i]) J[t-i], with J = 0 before T0.
    """
    x = _sequence(x)
    Q, K, V = _matrices(Q, K, V, x.shape[1])
    _check_missing(missing)
    check_layout(layout)
    T, n = x.shape
    if isinstance(T0, bool) or not isinstance(T0, (int, np.integer)) or not 0 <= T0 < T:
        raise ReferenceInputError(f"T0 must be a row index 0..{T - 1}, got {T0!r}")
    partial = _partials(x, Q, K, V, missing)
    J = {T0: np.eye(n)}
    for t in range(T0 + 1, T):
        J[t] = sum(
            (partial[t][i - 1] @ J[t - i] for i in range(1, len(Q)) if t - i >= T0), np.zeros((n, n))
        )
    out = np.array([J[t] for t in range(T0 + 1, T)]).reshape(T - T0 - 1, n, n)
    return out if layout == "numerator" else np.swapaxes(out, 1, 2)


def state_grad(direct, downstream, jacobians, *, layout: str = "numerator") -> np.ndarray:
    """d l / d h[T] = direct + sum_j downstream[j] . jacobians[j] (1.2.2(e)), shape (n,).

    Two correct pairings: `downstream` the direct terms d l / d h[t] of every later step with
    `jacobians` the total d h[t] / d h[T] (`attention_rnn_total_jacobians`); or `downstream`
    the total d l / d h[t] of the next k steps with `jacobians` the partial d h[t] / d h[T]
    (`attention_rnn_step_jacobians`). Mixing totals with totals counts paths twice.
    """
    check_layout(layout)
    direct = np.asarray(direct, dtype=np.float64)
    downstream = np.asarray(downstream, dtype=np.float64).reshape(-1, direct.shape[0])
    jacobians = np.asarray(jacobians, dtype=np.float64).reshape(-1, direct.shape[0], direct.shape[0])
    if downstream.shape[0] != jacobians.shape[0]:
        raise ReferenceInputError(
            f"{downstream.shape[0]} downstream gradients but {jacobians.shape[0]} Jacobians"
        )
    spec = "ja,jab->b" if layout == "numerator" else "ja,jba->b"
    return direct + np.einsum(spec, downstream, jacobians)
