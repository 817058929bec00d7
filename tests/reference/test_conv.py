"""The 1-D convolution layer and its derivatives against torch.nn.functional.conv1d + autograd."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.autograd.functional import jacobian

from nyu_dl_hw2.reference.errors import ReferenceInputError
from nyu_dl_hw2.reference.theory.conv import (
    conv1d_grad_input,
    conv1d_grad_weight,
    conv1d_jacobian_input,
    conv1d_jacobian_weight,
    convolve1d,
    cross_correlate1d,
)

from . import assert_close


def _cases(seed: int, count: int):
    """Random layers (x, W, settings) that torch accepts."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    for _ in range(count):
        C, Fn, K = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 4)
        S, D, P = rng.randint(1, 3), rng.randint(1, 3), rng.randint(0, 2)
        span = D * (K - 1) + 1
        L = rng.randint(max(1, span - 2 * P), max(1, span - 2 * P) + 7)
        yield (np_rng.standard_normal((C, L)), np_rng.standard_normal((Fn, C, K)),
               dict(stride=S, dilation=D, padding=P))


def _t(a):
    return torch.tensor(a, dtype=torch.float64)


def _torch_layer(x, W, settings):
    return F.conv1d(x[None], W, **settings)[0]


def test_forward_and_flipped_kernel_match_torch():
    for x, W, s in _cases(1, 150):
        expected = _torch_layer(_t(x), _t(W), s)
        assert_close(cross_correlate1d(x, W, **s), expected, f"forward {s}")
        assert_close(convolve1d(x, W, **s), _torch_layer(_t(x), _t(W).flip(-1), s), f"convolve {s}")


def test_convolve_is_textbook_convolution():
    # s[n] = sum_m x[n - m] k[m] over the fully overlapping part: numpy's 'valid' convolution
    rng = np.random.default_rng(7)
    for _ in range(50):
        L, K = rng.integers(3, 12), rng.integers(1, 4)
        x, k = rng.standard_normal(int(L)), rng.standard_normal(int(K))
        assert_close(convolve1d(x[None], k[None, None])[0], np.convolve(x, k, mode="valid"), "convolve")
        assert_close(cross_correlate1d(x[None], k[None, None])[0], np.correlate(x, k, mode="valid"), "correlate")


def test_jacobians_match_autograd():
    count = 0
    for x, W, s in _cases(2, 120):
        xt, Wt = _t(x), _t(W)
        jw = jacobian(lambda w: _torch_layer(xt, w, s), Wt)
        jx = jacobian(lambda v: _torch_layer(v, Wt, s), xt)
        assert_close(conv1d_jacobian_weight(x, W, **s), jw, f"df/dW {s}")
        assert_close(conv1d_jacobian_input(x, W, **s), jx, f"df/dx {s}")
        out_ndim = 2
        assert_close(conv1d_jacobian_weight(x, W, layout="denominator", **s),
                     jw.permute(*range(out_ndim, jw.ndim), *range(out_ndim)), "df/dW denominator")
        assert_close(conv1d_jacobian_input(x, W, layout="denominator", **s),
                     jx.permute(2, 3, 0, 1), "df/dx denominator")
        count += 1
    assert count == 120


def test_loss_gradients_match_backward():
    rng = np.random.default_rng(3)
    for x, W, s in _cases(4, 150):
        xt, Wt = _t(x).requires_grad_(), _t(W).requires_grad_()
        out = _torch_layer(xt, Wt, s)
        g = rng.standard_normal(tuple(out.shape))
        (out * _t(g)).sum().backward()
        assert_close(conv1d_grad_weight(x, W, g, **s), Wt.grad, f"dl/dW {s}")
        assert_close(conv1d_grad_input(x, W, g, **s), xt.grad, f"dl/dx {s}")


def test_grad_weight_is_a_correlation_with_stride_and_dilation_swapped():
    # 1.1(c)(iv): dl/dW[g, c, :] = x[c] correlated with dl/df[g] as kernel, dilation S, stride D
    for x, W, s in _cases(5, 60):
        out = cross_correlate1d(x, W, **s)
        g = np.cos(np.arange(out.size)).reshape(out.shape)
        swapped = dict(stride=s["dilation"], dilation=s["stride"], padding=s["padding"])
        for gi in range(W.shape[0]):
            rows = [cross_correlate1d(x[c:c + 1], g[gi][None, None], **swapped)[0, : W.shape[2]]
                    for c in range(x.shape[0])]
            assert_close(conv1d_grad_weight(x, W, g, **s)[gi], np.array(rows), "swap")


def test_homework_2025_shapes():
    x, W = np.ones((7, 11)), np.ones((1, 7, 3))
    assert cross_correlate1d(x, W, stride=2).shape == (1, 5)
    assert conv1d_jacobian_weight(x, W, stride=2).shape == (1, 5, 1, 7, 3)
    assert conv1d_jacobian_weight(x, W, stride=2, layout="denominator").shape == (1, 7, 3, 1, 5)
    assert conv1d_jacobian_input(x, W, stride=2).shape == (1, 5, 7, 11)


def test_bad_arrays_raise():
    with pytest.raises(ReferenceInputError, match="input channels"):
        cross_correlate1d(np.ones((3, 8)), np.ones((1, 2, 3)))
    with pytest.raises(ReferenceInputError, match="shape"):
        cross_correlate1d(np.ones(8), np.ones((1, 1, 3)))
    with pytest.raises(ReferenceInputError, match="grad_out"):
        conv1d_grad_weight(np.ones((1, 8)), np.ones((1, 1, 3)), np.ones((1, 5)))
    with pytest.raises(ReferenceInputError, match="kernel covers"):
        cross_correlate1d(np.ones((1, 2)), np.ones((1, 1, 3)))
    with pytest.raises(ReferenceInputError, match="layout"):
        conv1d_jacobian_weight(np.ones((1, 8)), np.ones((1, 1, 3)), layout="row")
