"""He initialisation (ELEG 5491 problem 5.2) and the untrained classifier (HW2 1.3(d)), empirically."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nyu_dl_hw2.reference.errors import ReferenceInputError
from nyu_dl_hw2.reference.theory.initialisation import he_std, he_variance, relu_variance_gain
from nyu_dl_hw2.reference.theory.untrained import untrained_accuracy, untrained_loss

WIDTH, DEPTH, BATCH = 256, 30, 512


def _pre_activation_variances(weight_variance: float, seed: int = 50) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, WIDTH))
    out = []
    for _ in range(DEPTH):
        W = rng.normal(0.0, math.sqrt(weight_variance), size=(WIDTH, WIDTH))
        y = x @ W.T
        out.append(y.var())
        x = np.maximum(y, 0.0)
    return np.array(out)


def test_he_keeps_the_variance_over_many_layers():
    v = _pre_activation_variances(he_variance(WIDTH))
    ratio = v / v[0]
    assert 0.5 < ratio.min() and ratio.max() < 2.0, ratio


@pytest.mark.parametrize("factor", [0.5, 1.5])
def test_other_variances_shrink_or_blow_up_as_predicted(factor):
    var = factor * he_variance(WIDTH)
    v = _pre_activation_variances(var)
    gain = relu_variance_gain(WIDTH, var)
    assert gain == pytest.approx(factor)
    measured = (v[-1] / v[0]) ** (1.0 / (DEPTH - 1))
    assert measured == pytest.approx(gain, rel=0.05)


def test_he_values():
    assert he_std(50) ** 2 == pytest.approx(he_variance(50))
    assert relu_variance_gain(128, he_variance(128)) == pytest.approx(1.0)
    with pytest.raises(ReferenceInputError):
        he_variance(0)
    with pytest.raises(ReferenceInputError):
        relu_variance_gain(4, -1.0)


@pytest.mark.parametrize("k", [2, 3, 4, 10])
def test_untrained_classifier_loss_and_accuracy(k):
    torch.manual_seed(k)
    n = 20000
    labels = torch.randint(0, k, (n,))
    # uniform prediction: exactly ln k
    assert untrained_loss(k) == pytest.approx(torch.nn.functional.cross_entropy(torch.zeros(n, k), labels).item(), abs=1e-6)
    # a freshly initialised network (small last layer, as at the start of training)
    net = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, k))
    with torch.no_grad():
        net[2].weight.mul_(0.01)
        net[2].bias.zero_()
        logits = net(torch.randn(n, 8))
    assert torch.nn.functional.cross_entropy(logits, labels).item() == pytest.approx(untrained_loss(k), abs=5e-3)
    accuracy = (logits.argmax(1) == labels).double().mean().item()
    assert accuracy == pytest.approx(untrained_accuracy(k), abs=0.02)


def test_untrained_bad_k():
    with pytest.raises(ReferenceInputError):
        untrained_loss(1)
    with pytest.raises(ReferenceInputError):
        untrained_accuracy(2.0)
