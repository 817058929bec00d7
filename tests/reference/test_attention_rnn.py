"""AttentionRNN(k) / AttentionRNN(inf) of HW2 1.2.2 against an unrolled torch network and autograd."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from nyu_dl_hw2.reference.errors import ReferenceInputError
from nyu_dl_hw2.reference.theory.attention_rnn import (
    attention_rnn2_forward,
    attention_rnn2_step_jacobian,
    attention_rnn_forward,
    attention_rnn_inf_forward,
    attention_rnn_state_grads,
    attention_rnn_step_jacobians,
    attention_rnn_total_jacobians,
    attention_rnn_weight_count,
    state_grad,
)

from . import assert_close


def _t(a):
    return torch.tensor(np.asarray(a), dtype=torch.float64)


def _torch_run(x, Q, K, V, missing="zero", leaf=None):
    """Unrolled network in torch, written from the homework's equations.

    `leaf` = (T, tensor) replaces the computed h[T] by `tensor` (to differentiate through it).
    """
    T, n = x.shape
    k = len(Q) - 1
    h = []
    for t in range(T):
        states = [x[t]]
        for i in range(1, k + 1):
            if t - i >= 0:
                states.append(h[t - i])
            elif missing == "zero":
                states.append(torch.zeros(n, dtype=torch.float64))
        w = torch.stack([(Q[i] @ s) @ (K[i] @ s) for i, s in enumerate(states)])
        a = torch.softmax(w, dim=0)
        out = sum(a[i] * (V[i] @ s) for i, s in enumerate(states))
        if leaf is not None and leaf[0] == t:
            out = leaf[1]
        h.append(out)
    return torch.stack(h)


def _cases(seed: int, count: int, k_max: int = 4):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        k, T, n = int(rng.integers(0, k_max + 1)), int(rng.integers(1, 7)), int(rng.integers(1, 5))
        scale = rng.uniform(0.3, 1.0)
        mats = [[scale * rng.standard_normal((n, n)) for _ in range(k + 1)] for _ in range(3)]
        yield rng.standard_normal((T, n)), *mats, rng


def test_forward_matches_torch():
    for x, Q, K, V, rng in _cases(20, 80):
        for missing in ("zero", "skip"):
            tr = attention_rnn_forward(x, Q, K, V, missing=missing)
            assert_close(tr.h, _torch_run(_t(x), [_t(q) for q in Q], [_t(k) for k in K], [_t(v) for v in V], missing),
                         f"h ({missing})")
            assert tr.a.shape == (x.shape[0], len(Q))
            assert_close(tr.a.sum(axis=1), np.ones(x.shape[0]), "softmax rows")


def test_zero_states_take_part_in_the_softmax():
    # at the first step AttentionRNN(2) sees x[1] and two zero states: a = softmax([w_0, 0, 0])
    for x, Q, K, V, rng in _cases(21, 20, k_max=0):
        n = x.shape[1]
        Q3, K3, V3 = ([m[0]] + [rng.standard_normal((n, n)) for _ in range(2)] for m in (Q, K, V))
        tr = attention_rnn2_forward(x, Q3, K3, V3)
        assert tr.a.shape[1] == 3
        w0 = (Q[0] @ x[0]) @ (K[0] @ x[0])
        assert_close(tr.a[0], torch.softmax(_t([w0, 0.0, 0.0]), 0), "a[1]")


def test_tied_infinite_network_matches_skip_mode_and_torch():
    for x, Q, K, V, rng in _cases(22, 40, k_max=1):
        T, n = x.shape
        Qx, Kx, Vx = Q[0], K[0], V[0]
        Qh, Kh, Vh = (rng.standard_normal((n, n)) * 0.7 for _ in range(3))
        inf = attention_rnn_inf_forward(x, Qx, Kx, Vx, Qh, Kh, Vh)
        reps = max(T - 1, 1)
        lists = [[a] + [b] * reps for a, b in ((Qx, Qh), (Kx, Kh), (Vx, Vh))]
        assert_close(inf.h, _torch_run(_t(x), *[[_t(m) for m in ms] for ms in lists], missing="skip"), "inf vs torch")
        assert_close(inf.h, attention_rnn_forward(x, *lists, missing="skip").h, "inf vs skip")
        assert [len(a) for a in inf.a] == list(range(1, T + 1))


def test_step_jacobians_match_autograd():
    for x, Q, K, V, rng in _cases(23, 100):
        n, k = x.shape[1], len(Q) - 1
        j = int(rng.integers(0, k + 1))
        past = rng.standard_normal((j, n))
        Qt, Kt, Vt = ([_t(m) for m in ms] for ms in (Q, K, V))

        def h_of(p):
            states = [_t(x[0])] + [p[i] for i in range(j)]
            w = torch.stack([(Qt[i] @ s) @ (Kt[i] @ s) for i, s in enumerate(states)])
            a = torch.softmax(w, dim=0)
            return sum(a[i] * (Vt[i] @ s) for i, s in enumerate(states))

        ours = attention_rnn_step_jacobians(x[0], past, Q, K, V)
        assert ours.shape == (j, n, n)
        if j:
            expected = jacobian(h_of, _t(past)).permute(1, 0, 2)  # (j, n_out, n_in)
            assert_close(ours, expected, "dh[t]/dh[t-i]")
            assert_close(attention_rnn_step_jacobians(x[0], past, Q, K, V, layout="denominator"),
                         expected.transpose(1, 2), "denominator")


def test_attention_rnn2_step_jacobian_matches_autograd():
    for x, Q, K, V, rng in _cases(24, 60, k_max=0):
        n = x.shape[1]
        Q3, K3, V3 = ([m[0]] + [rng.standard_normal((n, n)) for _ in range(2)] for m in (Q, K, V))
        h1, h2 = rng.standard_normal(n), rng.standard_normal(n)
        Qt, Kt, Vt = ([_t(m) for m in ms] for ms in (Q3, K3, V3))

        def h_of(prev):
            states = [_t(x[0]), prev, _t(h2)]
            w = torch.stack([(Qt[i] @ s) @ (Kt[i] @ s) for i, s in enumerate(states)])
            a = torch.softmax(w, dim=0)
            return sum(a[i] * (Vt[i] @ s) for i, s in enumerate(states))

        assert_close(attention_rnn2_step_jacobian(x[0], h1, h2, Q3, K3, V3), jacobian(h_of, _t(h1)), "1.2.2(d)")


def _leaf_grads(x, Q, K, V, g, T, missing):
    """Total dl/dh[T] and d h[t>T] / d h[T] of the unrolled torch network."""
    Qt, Kt, Vt = ([_t(m) for m in ms] for ms in (Q, K, V))
    h_T = _t(attention_rnn_forward(x, Q, K, V, missing=missing).h[T]).requires_grad_()
    h = _torch_run(_t(x), Qt, Kt, Vt, missing, leaf=(T, h_T))
    (h * _t(g)).sum().backward()
    if T + 1 == x.shape[0]:  # no later step; torch's jacobian cannot stack nothing
        return h_T.grad, torch.zeros((0, x.shape[1], x.shape[1]), dtype=torch.float64)
    jac = jacobian(lambda leaf: _torch_run(_t(x), Qt, Kt, Vt, missing, leaf=(T, leaf))[T + 1:], h_T.detach())
    return h_T.grad, jac


def test_state_gradients_and_total_jacobians_match_autograd():
    mixed_differs = 0
    for x, Q, K, V, rng in _cases(25, 60):
        missing = "zero" if rng.random() < 0.5 else "skip"
        Tn, n = x.shape
        g = rng.standard_normal((Tn, n))
        T = int(rng.integers(0, Tn))
        expected, jac = _leaf_grads(x, Q, K, V, g, T, missing)
        delta = attention_rnn_state_grads(x, Q, K, V, g, missing=missing)
        assert_close(delta[T], expected, "total dl/dh[T]")
        totals = attention_rnn_total_jacobians(x, Q, K, V, T, missing=missing)
        assert_close(totals, jac, "dh[t]/dh[T]")
        # 1.2.2(e), pairing 1: direct terms of every later step with total Jacobians
        assert_close(state_grad(g[T], g[T + 1:], totals), expected, "direct x total")
        assert_close(state_grad(g[T], g[T + 1:], np.swapaxes(totals, 1, 2), layout="denominator"), expected,
                     "direct x total (denominator)")
        # pairing 2: total gradients of the next k steps with partial Jacobians
        k = len(Q) - 1
        steps = range(T + 1, min(T + k, Tn - 1) + 1)
        h = attention_rnn_forward(x, Q, K, V, missing=missing).h
        partial = []
        for t in steps:
            past = [h[t - i] for i in range(1, k + 1) if t - i >= 0]
            if missing == "zero":
                past += [np.zeros(n)] * (k - len(past))
            partial.append(attention_rnn_step_jacobians(x[t], past, Q, K, V)[t - T - 1])
        assert_close(state_grad(g[T], delta[list(steps)], np.array(partial).reshape(-1, n, n)), expected,
                     "total x partial")
        if len(steps) > 1:
            mixed = state_grad(g[T], delta[T + 1:], totals)
            mixed_differs += not np.allclose(mixed, expected)
    assert mixed_differs > 0  # totals with totals double-counts: the test can tell the pairings apart


def test_weight_counts():
    assert attention_rnn_weight_count(2) == 3 * len(attention_rnn2_forward(np.ones((1, 1)), *[[np.eye(1)] * 3] * 3).a[0])
    assert attention_rnn_weight_count(math.inf) == math.inf
    assert attention_rnn_weight_count(math.inf, tied=True) == 6
    assert attention_rnn_weight_count(5, tied=True) == 6
    with pytest.raises(ReferenceInputError):
        attention_rnn_weight_count(-1)


def test_bad_inputs_raise():
    eye = [np.eye(2)] * 3
    with pytest.raises(ReferenceInputError, match="same number"):
        attention_rnn_forward(np.ones((3, 2)), eye, eye[:2], eye)
    with pytest.raises(ReferenceInputError, match=r"Q\[1\]"):
        attention_rnn_forward(np.ones((3, 2)), [np.eye(2), np.eye(3)], eye[:2], eye[:2])
    with pytest.raises(ReferenceInputError, match="missing"):
        attention_rnn_forward(np.ones((3, 2)), eye, eye, eye, missing="pad")
    with pytest.raises(ReferenceInputError, match="exactly 3"):
        attention_rnn2_forward(np.ones((3, 2)), eye[:2], eye[:2], eye[:2])
    with pytest.raises(ReferenceInputError, match="past slots"):
        attention_rnn_step_jacobians(np.ones(2), np.ones((3, 2)), eye, eye, eye)
    with pytest.raises(ReferenceInputError, match="T0"):
        attention_rnn_total_jacobians(np.ones((3, 2)), eye, eye, eye, 3)
