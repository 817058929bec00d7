"""The 1-D convolution layer of HW2 1.1(c) and its derivatives.

The layer is what deep-learning libraries call convolution and the homework calls
cross-correlation: with x of shape (C, L), W of shape (F, C, K), zero padding P on both
sides, stride S and dilation D, 0-based,

    f[g, i] = sum_c sum_k W[g, c, k] * xp[c, i*S + k*D],   xp[c, j] = x[c, j - P] (0 outside),

which is torch.nn.functional.conv1d without bias. In the course's 1-based notation this reads
f[g, i] = sum_{c=1}^{C} sum_{k=1}^{K} W[g, c, k] x[c, S(i-1) + D(k-1) + 1 - P].

`convolve1d` is the textbook convolution (flipped kernel); the grader uses it to recognise
a student who flipped the kernel in 1.1(c)(i). Jacobians follow `nyu_dl_hw2.reference.theory.layout`;
`conv1d_grad_weight` / `conv1d_grad_input` return arrays shaped like W / x.
"""

from __future__ import annotations

import numpy as np

from ..errors import ReferenceInputError
from .layout import arrange
from .shapes import conv1d_output_shape


def _prepare(x, W, stride, dilation, padding):
    x = np.asarray(x, dtype=np.float64)
    W = np.asarray(W, dtype=np.float64)
    if x.ndim != 2:
        raise ReferenceInputError(f"x must have shape (C, L), got shape {x.shape}")
    if W.ndim != 3:
        raise ReferenceInputError(f"W must have shape (F, C, K), got shape {W.shape}")
    if W.shape[1] != x.shape[0]:
        raise ReferenceInputError(
            f"W has {W.shape[1]} input channels (shape {W.shape}) but x has {x.shape[0]} (shape {x.shape})"
        )
    F, L_out = conv1d_output_shape(
        x.shape, W.shape[2], filters=W.shape[0], padding=padding, stride=stride, dilation=dilation
    )
    # index[i, k]: the padded input position that W[:, :, k] meets at output position i
    index = np.arange(L_out)[:, None] * stride + np.arange(W.shape[2])[None, :] * dilation
    return x, W, F, L_out, index


def _pad(x, padding):
    return np.pad(x, ((0, 0), (padding, padding)))


def _check_grad(grad_out, F, L_out):
    grad_out = np.asarray(grad_out, dtype=np.float64)
    if grad_out.shape != (F, L_out):
        raise ReferenceInputError(
            f"grad_out must have the output's shape ({F}, {L_out}), got shape {grad_out.shape}"
        )
    return grad_out


def cross_correlate1d(x, W, *, stride: int = 1, dilation: int = 1, padding: int = 0) -> np.ndarray:
    """f_W(x), shape (F, L_out): the layer of 1.1(c) (what torch calls conv1d, no bias)."""
    x, W, F, L_out, index = _prepare(x, W, stride, dilation, padding)
    patches = _pad(x, padding)[:, index]  # (C, L_out, K)
    return np.einsum("gck,cik->gi", W, patches)


def convolve1d(x, W, *, stride: int = 1, dilation: int = 1, padding: int = 0) -> np.ndarray:
    """True convolution s[n] = sum_m x[n - m] k[m]: the layer with each kernel reversed.

    Same shapes and settings as `cross_correlate1d`; a student whose formula indexes
    W[g, c, K + 1 - k] (1-based) computes this.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 3:
        raise ReferenceInputError(f"W must have shape (F, C, K), got shape {W.shape}")
    return cross_correlate1d(x, W[:, :, ::-1], stride=stride, dilation=dilation, padding=padding)


def conv1d_jacobian_weight(
    x, W, *, stride: int = 1, dilation: int = 1, padding: int = 0, layout: str = "numerator"
) -> np.ndarray:
    """d f_W(x) / d W as a full tensor.

    Numerator layout: shape (F, L_out, F, C, K), entry [g, i, g', c, k] = [g == g'] xp[c, i*S + k*D]
    (the layer is linear in W, so x alone fixes it). Denominator layout: (F, C, K, F, L_out).
    """
    x, W, F, L_out, index = _prepare(x, W, stride, dilation, padding)
    patches = _pad(x, padding)[:, index]  # (C, L_out, K)
    jac = np.zeros((F, L_out) + W.shape)
    for g in range(F):
        jac[g, :, g] = patches.transpose(1, 0, 2)
    return arrange(jac, 2, layout)


def conv1d_jacobian_input(
    x, W, *, stride: int = 1, dilation: int = 1, padding: int = 0, layout: str = "numerator"
) -> np.ndarray:
    """d f_W(x) / d x as a full tensor.

    Numerator layout: shape (F, L_out, C, L), entry [g, i, c, j] = W[g, c, k] for the k with
    i*S + k*D = j + P, and 0 when no tap of window i lands on x[:, j] (padding taps vanish).
    Only x's shape matters: the layer is linear in x. Denominator layout: (C, L, F, L_out).
    """
    x, W, F, L_out, index = _prepare(x, W, stride, dilation, padding)
    C, L = x.shape
    jac = np.zeros((F, L_out, C, L + 2 * padding))
    for i in range(L_out):
        for k in range(W.shape[2]):
            jac[:, i, :, index[i, k]] += W[:, :, k]
    return arrange(jac[:, :, :, padding:padding + L], 2, layout)


def conv1d_grad_weight(
    x, W, grad_out, *, stride: int = 1, dilation: int = 1, padding: int = 0
) -> np.ndarray:
    """d l / d W, shape (F, C, K), from grad_out = d l / d f_W(x) of shape (F, L_out).

    dl/dW[g, c, k] = sum_i grad_out[g, i] xp[c, i*S + k*D]: a cross-correlation of x with
    grad_out as the kernel, whose dilation is the forward stride and whose stride is the
    forward dilation (HW2 1.1(c)(iv)).
    """
    x, W, F, L_out, index = _prepare(x, W, stride, dilation, padding)
    grad_out = _check_grad(grad_out, F, L_out)
    patches = _pad(x, padding)[:, index]
    return np.einsum("gi,cik->gck", grad_out, patches)


def conv1d_grad_input(
    x, W, grad_out, *, stride: int = 1, dilation: int = 1, padding: int = 0
) -> np.ndarray:
    """d l / d x, shape (C, L), from grad_out = d l / d f_W(x) of shape (F, L_out).

    dl/dx[c, j] = sum_g sum_i sum_k grad_out[g, i] W[g, c, k] [i*S + k*D = j + P]: a
    transposed convolution (grad_out spread out by the stride, met by the flipped kernel).
    """
    x, W, F, L_out, index = _prepare(x, W, stride, dilation, padding)
    grad_out = _check_grad(grad_out, F, L_out)
    C, L = x.shape
    grad = np.zeros((C, L + 2 * padding))
    # contribution[i, k, c] = sum_g grad_out[g, i] W[g, c, k]
    contribution = np.einsum("gi,gck->ikc", grad_out, W)
    np.add.at(grad.T, index, contribution)
    return grad[:, padding:padding + L]
