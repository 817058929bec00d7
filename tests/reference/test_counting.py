"""Parameter and multiplication counts of a fully connected net (ELEG 5491 problem 4).

The multiplication counts are checked against scalar implementations of back-propagation and
of path enumeration that count every multiplication they do; their gradients are checked
against torch autograd, so a count of a wrong algorithm cannot pass.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
import torch

from nyu_dl_hw2.reference.errors import ReferenceInputError
from nyu_dl_hw2.reference.theory.counting import (
    bp_multiplications,
    fc_parameter_count,
    path_enumeration_multiplications,
    paths_to_cost,
)

from . import assert_close


class Counter:
    def __init__(self):
        self.count = 0

    def mul(self, a: float, b: float) -> float:
        self.count += 1
        return a * b


def f(v: float) -> float:  # activation; evaluating it and its derivative is free in the model
    return math.tanh(v)


def fp(v: float) -> float:
    return 1.0 - math.tanh(v) ** 2


def _net(rng: random.Random, sizes, bias):
    Ws = [[[rng.uniform(-1, 1) for _ in range(a)] for _ in range(b)] for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [[rng.uniform(-1, 1) for _ in range(b)] for b in sizes[1:]] if bias else None
    return Ws, bs


def _forward(Ws, bs, x, cnt):
    us, nets = [list(x)], []
    for layer, W in enumerate(Ws):
        net = []
        for j, row in enumerate(W):
            s = bs[layer][j] if bs is not None else 0.0
            for i, w in enumerate(row):
                s += cnt.mul(w, us[-1][i])
            net.append(s)
        nets.append(net)
        us.append([f(v) for v in net])
    return us, nets  # us[l] = outputs of layer l (0 = input); nets[l - 1] = net input of layer l


def _dJ_du(us, y):  # J = 1/2 |u_out - y|^2; its derivative is free
    return [u - t for u, t in zip(us[-1], y)]


def _update(Ws, bs, gW, gb, cnt, eta=0.1):
    for W, G in zip(Ws, gW):
        for row, grow in zip(W, G):
            for i in range(len(row)):
                row[i] -= cnt.mul(eta, grow[i])
    if bs is not None:
        for b, g in zip(bs, gb):
            for j in range(len(b)):
                b[j] -= cnt.mul(eta, g[j])


def bp_step(Ws, bs, x, y, cnt):
    us, nets = _forward(Ws, bs, x, cnt)
    delta = [cnt.mul(d, fp(v)) for d, v in zip(_dJ_du(us, y), nets[-1])]
    gW, gb = [None] * len(Ws), [None] * len(Ws)
    for layer in range(len(Ws) - 1, -1, -1):
        gW[layer] = [[cnt.mul(dj, ui) for ui in us[layer]] for dj in delta]
        gb[layer] = list(delta)
        if layer > 0:
            back = [sum(cnt.mul(Ws[layer][j][i], delta[j]) for j in range(len(delta))) for i in range(len(us[layer]))]
            delta = [cnt.mul(fp(v), b) for v, b in zip(nets[layer - 1], back)]
    _update(Ws, bs, gW, gb, cnt)
    return gW, gb


def path_step(Ws, bs, x, y, cnt, per_weight):
    us, nets = _forward(Ws, bs, x, cnt)
    top = len(Ws)  # output layer index L + 1
    dJ = _dJ_du(us, y)
    # local derivative du_b/du_a of every edge not leaving the input layer, once
    local = {layer: [[cnt.mul(fp(nets[layer - 1][b]), Ws[layer - 1][b][a]) for a in range(len(us[layer - 1]))]
                     for b in range(len(us[layer]))] for layer in range(2, top + 1)}

    def paths(layer, i):
        if layer == top:
            return [[dJ[i]]]
        return [[local[layer + 1][j][i]] + p for j in range(len(us[layer + 1])) for p in paths(layer + 1, j)]

    def dN_du(layer, i):
        total = 0.0
        for p in paths(layer, i):
            prod = p[0]
            for factor in p[1:]:
                prod = cnt.mul(prod, factor)
            total += prod
        return total

    cache = {}

    def node(layer, i):
        if per_weight:
            return dN_du(layer, i)
        if (layer, i) not in cache:
            cache[layer, i] = dN_du(layer, i)
        return cache[layer, i]

    gW, gb = [], []
    for layer in range(1, top + 1):
        gW.append([[cnt.mul(cnt.mul(node(layer, b), fp(nets[layer - 1][b])), us[layer - 1][a])
                    for a in range(len(us[layer - 1]))] for b in range(len(us[layer]))])
        if bs is not None:
            gb.append([cnt.mul(node(layer, b), fp(nets[layer - 1][b])) for b in range(len(us[layer]))])
    _update(Ws, bs, gW, gb if bs is not None else None, cnt)
    return gW, gb


def _torch_grads(Ws, bs, x, y):
    tW = [torch.tensor(W, dtype=torch.float64, requires_grad=True) for W in Ws]
    tb = [torch.tensor(b, dtype=torch.float64, requires_grad=True) for b in bs] if bs is not None else None
    u = torch.tensor(x, dtype=torch.float64)
    for layer, W in enumerate(tW):
        u = torch.tanh(W @ u + (tb[layer] if tb is not None else 0.0))
    (0.5 * ((u - torch.tensor(y, dtype=torch.float64)) ** 2).sum()).backward()
    return [W.grad for W in tW], ([b.grad for b in tb] if tb is not None else None)


def _configs():
    rng = random.Random(40)
    grid = list(itertools.product(range(1, 4), range(0, 4), range(1, 4), range(1, 4), (True, False)))
    return rng.sample(grid, 60)


def _copy(Ws, bs):
    return [[list(r) for r in W] for W in Ws], ([list(b) for b in bs] if bs is not None else None)


def test_bp_count_matches_a_counting_implementation():
    rng = random.Random(41)
    for d, L, n, c, bias in _configs():
        sizes = [d] + [n] * L + [c]
        Ws, bs = _net(rng, sizes, bias)
        x, y = [rng.uniform(-1, 1) for _ in range(d)], [rng.uniform(-1, 1) for _ in range(c)]
        expected_W, expected_b = _torch_grads(Ws, bs, x, y)
        cnt = Counter()
        gW, gb = bp_step(*_copy(Ws, bs), x, y, cnt)
        for a, b in zip(gW, expected_W):
            assert_close(a, b, "BP weight gradient")
        if bias:
            for a, b in zip(gb, expected_b):
                assert_close(a, b, "BP bias gradient")
        assert cnt.count == bp_multiplications(d, L, n, c, bias=bias).total, (d, L, n, c, bias)


@pytest.mark.parametrize("per_weight", [True, False])
def test_path_enumeration_count_matches_a_counting_implementation(per_weight):
    rng = random.Random(42 + per_weight)
    for d, L, n, c, bias in _configs():
        sizes = [d] + [n] * L + [c]
        Ws, bs = _net(rng, sizes, bias)
        x, y = [rng.uniform(-1, 1) for _ in range(d)], [rng.uniform(-1, 1) for _ in range(c)]
        expected_W, expected_b = _torch_grads(Ws, bs, x, y)
        cnt = Counter()
        gW, gb = path_step(*_copy(Ws, bs), x, y, cnt, per_weight)
        for a, b in zip(gW, expected_W):
            assert_close(a, b, "path-enumeration weight gradient")
        if bias:
            for a, b in zip(gb, expected_b):
                assert_close(a, b, "path-enumeration bias gradient")
        got = path_enumeration_multiplications(d, L, n, c, bias=bias, per_weight=per_weight).total
        assert cnt.count == got, (d, L, n, c, bias, per_weight)


def test_parameter_count_matches_torch():
    rng = random.Random(43)
    for _ in range(40):
        d, L, n, c = rng.randint(1, 9), rng.randint(0, 4), rng.randint(1, 9), rng.randint(1, 9)
        for bias in (True, False):
            sizes = [d] + [n] * L + [c]
            net = torch.nn.Sequential(*[torch.nn.Linear(a, b, bias=bias) for a, b in zip(sizes[:-1], sizes[1:])])
            assert fc_parameter_count(d, L, n, c, bias=bias) == sum(p.numel() for p in net.parameters())


def test_growth_linear_for_bp_exponential_for_paths():
    bp = [bp_multiplications(10, L, 10, 10).total for L in range(1, 8)]
    paths = [path_enumeration_multiplications(10, L, 10, 10).total for L in range(1, 8)]
    assert all(b2 - b1 == bp[1] - bp[0] for b1, b2 in zip(bp[1:], bp[2:]))  # constant increments
    assert all(p2 / p1 > 9 for p1, p2 in zip(paths, paths[1:]))  # about n times more per layer
    assert paths_to_cost(1, 3, 4, 5) == 4 ** 2 * 5 and paths_to_cost(4, 3, 4, 5) == 1


def test_bad_sizes_raise():
    with pytest.raises(ReferenceInputError, match="L must"):
        fc_parameter_count(3, -1, 4, 2)
    with pytest.raises(ReferenceInputError, match="n must"):
        bp_multiplications(3, 2, 0, 2)
    with pytest.raises(ReferenceInputError, match="layer"):
        paths_to_cost(0, 2, 3, 4)
