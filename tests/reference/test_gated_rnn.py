"""The gated RNN of HW2 1.2.1 against a torch implementation and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.autograd.functional import jacobian

from nyu_dl_hw2.reference.errors import ReferenceInputError
from nyu_dl_hw2.reference.theory.gated_rnn import gated_rnn_backward, gated_rnn_forward, gated_rnn_step_jacobians

from . import assert_close


def _t(a):
    return torch.tensor(a, dtype=torch.float64)


def _torch_run(x, W_c, W_h, W_x, h0):
    h, hs, cs = h0, [], []
    for t in range(x.shape[0]):
        c = torch.sigmoid(W_c @ x[t] + W_h @ h)
        h = c * h + (1 - c) * (W_x @ x[t])
        hs.append(h)
        cs.append(c)
    return torch.stack(hs), torch.stack(cs)


def _cases(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        K, n, m = (int(v) for v in rng.integers(1, 7, size=3))
        scale = rng.uniform(0.3, 1.5)
        yield (rng.standard_normal((K, n)), scale * rng.standard_normal((m, n)),
               scale * rng.standard_normal((m, m)), scale * rng.standard_normal((m, n)),
               rng.standard_normal(m) if rng.random() < 0.5 else np.zeros(m), rng)


def test_forward_matches_torch():
    for x, W_c, W_h, W_x, h0, _ in _cases(10, 80):
        h, c = gated_rnn_forward(x, W_c, W_h, W_x, h0)
        th, tc = _torch_run(_t(x), _t(W_c), _t(W_h), _t(W_x), _t(h0))
        assert_close(h, th, "h")
        assert_close(c, tc, "c")
        assert h.shape == c.shape == (x.shape[0], W_h.shape[0])
    h, _ = gated_rnn_forward(np.ones((3, 2)), np.ones((4, 2)), np.ones((4, 4)), np.ones((4, 2)))
    assert h.shape == (3, 4)  # default h[0] = 0


def test_step_jacobians_match_autograd():
    for x, W_c, W_h, W_x, h0, rng in _cases(11, 100):
        x_t, h_prev = x[0], rng.standard_normal(W_h.shape[0])
        xt, Wc, Wh, Wx = _t(x_t), _t(W_c), _t(W_h), _t(W_x)

        def c_of(h):
            return torch.sigmoid(Wc @ xt + Wh @ h)

        def h_of(h):
            c = c_of(h)
            return c * h + (1 - c) * (Wx @ xt)

        dh, dc = gated_rnn_step_jacobians(x_t, h_prev, W_c, W_h, W_x)
        jh, jc = jacobian(h_of, _t(h_prev)), jacobian(c_of, _t(h_prev))
        assert_close(dh, jh, "dh[t]/dh[t-1]")
        assert_close(dc, jc, "dc[t]/dh[t-1]")
        dh_d, dc_d = gated_rnn_step_jacobians(x_t, h_prev, W_c, W_h, W_x, layout="denominator")
        assert_close(dh_d, jh.T, "dh/dh denominator")
        assert_close(dc_d, jc.T, "dc/dh denominator")


def test_bptt_matches_autograd():
    for x, W_c, W_h, W_x, h0, rng in _cases(12, 120):
        g = rng.standard_normal((x.shape[0], W_h.shape[0]))
        params = [_t(a).requires_grad_() for a in (W_c, W_h, W_x, h0)]
        h, _ = _torch_run(_t(x), *params)
        (h * _t(g)).sum().backward()
        ours = gated_rnn_backward(x, W_c, W_h, W_x, g, h0)
        for name, p in zip(("W_c", "W_h", "W_x", "h0"), params):
            assert_close(getattr(ours, name), p.grad, f"dl/d{name}")
            assert getattr(ours, name).shape == p.shape


def test_total_state_gradients_match_autograd():
    # delta[t] = dl/dh[t] through every later step: replace h[t] by a leaf and differentiate
    for x, W_c, W_h, W_x, h0, rng in _cases(13, 40):
        K = x.shape[0]
        g = rng.standard_normal((K, W_h.shape[0]))
        ours = gated_rnn_backward(x, W_c, W_h, W_x, g, h0).h
        T = int(rng.integers(0, K))
        h_T = _t(gated_rnn_forward(x, W_c, W_h, W_x, h0).h[T]).requires_grad_()
        loss = (h_T * _t(g[T])).sum()
        h = h_T
        for t in range(T + 1, K):
            c = torch.sigmoid(_t(W_c) @ _t(x[t]) + _t(W_h) @ h)
            h = c * h + (1 - c) * (_t(W_x) @ _t(x[t]))
            loss = loss + (h * _t(g[t])).sum()
        loss.backward()
        assert_close(ours[T], h_T.grad, f"delta[{T}]")


def test_bad_shapes_raise():
    with pytest.raises(ReferenceInputError, match="W_x"):
        gated_rnn_forward(np.ones((3, 2)), np.ones((4, 2)), np.ones((4, 4)), np.ones((4, 3)))
    with pytest.raises(ReferenceInputError, match="square"):
        gated_rnn_forward(np.ones((3, 2)), np.ones((4, 2)), np.ones((4, 3)), np.ones((4, 2)))
    with pytest.raises(ReferenceInputError, match="g must"):
        gated_rnn_backward(np.ones((3, 2)), np.ones((4, 2)), np.ones((4, 4)), np.ones((4, 2)), np.ones((3, 3)))
    with pytest.raises(ReferenceInputError, match="x_t"):
        gated_rnn_step_jacobians(np.ones((1, 2)), np.ones(4), np.ones((4, 2)), np.ones((4, 4)), np.ones((4, 2)))
