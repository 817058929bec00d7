"""The Elman RNN of ELEG 5491 problem 1 against torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nyu_dl_hw2.reference.errors import ReferenceInputError
from nyu_dl_hw2.reference.theory.elman_rnn import elman_backward, elman_forward

from . import assert_close

NAMES = ("W_xh", "W_hh", "b_h", "W_hz", "b_z", "h0")


def _cases(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        T, d, H, C = int(rng.integers(1, 7)), int(rng.integers(1, 5)), int(rng.integers(1, 6)), int(rng.integers(2, 6))
        scale = rng.uniform(0.3, 1.5)
        params = dict(
            W_xh=scale * rng.standard_normal((H, d)), W_hh=scale * rng.standard_normal((H, H)),
            b_h=rng.standard_normal(H), W_hz=scale * rng.standard_normal((C, H)), b_z=rng.standard_normal(C),
            h0=rng.standard_normal(H) if rng.random() < 0.5 else np.zeros(H),
        )
        yield rng.standard_normal((T, d)), rng.integers(0, C, size=T), params


def _torch_loss(x, y, p):
    h, loss = p["h0"], 0.0
    for t in range(x.shape[0]):
        h = torch.tanh(p["W_xh"] @ x[t] + p["W_hh"] @ h + p["b_h"])
        logits = p["W_hz"] @ h + p["b_z"]
        loss = loss - torch.log_softmax(logits, dim=0)[y[t]]
    return loss


def test_loss_and_gradients_match_autograd():
    for x, y, params in _cases(30, 150):
        tp = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
        loss = _torch_loss(torch.tensor(x, dtype=torch.float64), y, tp)
        loss.backward()
        trace = elman_forward(x, y, **params)
        assert_close(trace.loss, loss, "loss")
        assert_close(trace.z.sum(axis=1), np.ones(x.shape[0]), "softmax")
        grads = elman_backward(x, y, **params)
        for name in NAMES:
            assert_close(getattr(grads, name), tp[name].grad, f"dL/d{name}")


def test_default_initial_state_is_zero():
    for x, y, params in _cases(31, 5):
        p = dict(params, h0=np.zeros_like(params["h0"]))
        no_h0 = {k: v for k, v in params.items() if k != "h0"}
        assert_close(elman_forward(x, y, **no_h0).loss, elman_forward(x, y, **p).loss, "h0 default")


def test_bad_inputs_raise():
    x, y, p = next(_cases(32, 1))
    with pytest.raises(ReferenceInputError, match="class indices"):
        elman_forward(x, np.full(x.shape[0], p["W_hz"].shape[0]), **p)
    with pytest.raises(ReferenceInputError, match="class indices"):
        elman_forward(x, np.zeros(x.shape[0]) + 0.5, **p)
    with pytest.raises(ReferenceInputError, match="W_xh"):
        elman_forward(x, y, **dict(p, W_xh=np.ones((1, 99))))
