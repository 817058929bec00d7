"""The grader-side HW2 data generators: deterministic, well-typed, with the notebooks' semantics."""

from __future__ import annotations

import numpy as np
import pytest

from nyu_dl_hw2.reference.hw2 import data


def test_deterministic_and_seed_dependent():
    for make in (
        lambda s: data.echo_batches(5, 12, 3, s),
        lambda s: data.variable_delay(5, 12, 6, s),
        lambda s: data.moe_points(10, s),
        lambda s: data.temporal_order(4, "EASY", s),
        lambda s: data.cnn_images(2, s, size=32),
    ):
        a, b, c = make(7), make(7), make(8)
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    assert data.echo_strings(4, 1) == data.echo_strings(4, 1) != data.echo_strings(4, 2)


def test_echo_batches():
    seq, target = data.echo_batches(50, 15, 4, seed=0)
    assert seq.shape == target.shape == (50, 15)
    assert seq.dtype == target.dtype == np.int64
    assert seq.min() >= 1 and seq.max() <= 26
    assert (target[:, :4] == 0).all()
    assert np.array_equal(target[:, 4:], seq[:, :-4])
    _, t0 = data.echo_batches(3, 5, 0, seed=0)
    s0, _ = data.echo_batches(3, 5, 0, seed=0)
    assert np.array_equal(t0, s0)


def test_echo_strings():
    strings = data.echo_strings(500, seed=0)
    assert len(strings) == 500
    assert all(15 <= len(s) <= 25 and s.isalpha() and s.islower() for s in strings)
    assert {len(s) for s in strings} == set(range(15, 26))
    assert all(len(s) == 20 for s in data.echo_strings(10, seed=0, min_len=20, max_len=20))


def test_variable_delay():
    seq, delays, target = data.variable_delay(400, 20, 12, seed=0)
    assert seq.shape == target.shape == (400, 20) and delays.shape == (400,)
    assert delays.dtype == np.int64 and set(delays.tolist()) == set(range(13))
    for s, d, t in zip(seq, delays, target):
        assert (t[:d] == 0).all() and np.array_equal(t[d:], s[: 20 - d])


def test_moe_points_follow_the_course_generate_data():
    X, y = data.moe_points(20000, seed=0)
    assert X.shape == (20000, 2) and X.dtype == np.float32
    assert y.shape == (20000,) and y.dtype == np.int64 and set(y.tolist()) == {0, 1}
    # first half around (3, 0), second half around (-3, 0) after the shift of the second coordinate
    assert np.allclose(X[:10000].mean(0), (3, 0), atol=0.05) and np.allclose(X[10000:].mean(0), (-3, 0), atol=0.05)
    assert np.allclose(X.std(0)[1], 1.0, atol=0.05)
    # label 1 outside the circle of radius sqrt(13), measured before the shift (centre (0, -2) after it)
    assert np.array_equal(y, (np.hypot(X[:, 0], X[:, 1] + 2) > np.sqrt(13)).astype(np.int64))
    assert 0.53 < y.mean() < 0.57  # the handout's label-1 fraction, about 0.55
    # a straight line gets about two thirds right (the notebook's first question)
    best = max(((np.sign(a) * X[:, 0] > 0) == y).mean() for a in (-1, 1))
    assert best < 0.75
    assert data.moe_points(7, seed=1)[0].shape == (7, 2)  # odd sizes: the second half has one more
    with pytest.raises(ValueError):
        data.moe_points(-1, seed=0)


def test_cnn_images():
    X, y = data.cnn_images(40, seed=0, size=64)
    assert X.shape == (40, 3, 64, 64) and X.dtype == np.float32
    assert y.shape == (40,) and y.dtype == np.int64 and y.sum() == 20
    assert abs(float(X.mean())) < 0.3 and 0.5 < float(X.std()) < 1.5
    # orientation is in the image: horizontal stripes vary along rows (axis 2)
    row_var = X.mean(axis=(1, 3)).var(axis=1)  # variance of row means
    col_var = X.mean(axis=(1, 2)).var(axis=1)  # variance of column means
    assert ((row_var > col_var) == (y == 0)).all()
    X256, _ = data.cnn_images(1, seed=0)
    assert X256.shape == (1, 3, 256, 256)


def test_temporal_order():
    x, y = data.temporal_order(200, "MODERATE", seed=0)
    T = data.temporal_order_length("MODERATE")
    assert T == 81 and x.shape == (200, T, 8) and y.shape == (200, 4)
    assert x.dtype == y.dtype == np.float32
    assert np.allclose(y.sum(1), 1)
    sym = np.array(data.TEMPORAL_ORDER_SYMBOLS)
    for xi, yi in zip(x, y):
        rows = xi.sum(1)
        assert set(rows.tolist()) <= {0.0, 1.0}
        k = int(rows.argmax())  # first non-padding row
        assert (rows[:k] == 0).all() and (rows[k:] == 1).all() and 60 <= T - k <= 80
        s = "".join(sym[xi[k:].argmax(1)])
        assert s[0] == "B" and s[-1] == "E"
        pos = [i for i, c in enumerate(s) if c in "XY"]
        assert len(pos) == 2 and 10 <= pos[0] <= 20 and 45 <= pos[1] <= 54
        cls = data.TEMPORAL_ORDER_CLASSES[int(yi.argmax())]
        assert {"XX": "Q", "XY": "R", "YX": "S", "YY": "U"}[s[pos[0]] + s[pos[1]]] == cls
    assert set(y.argmax(1).tolist()) == {0, 1, 2, 3}
    # difficulty given as a name, an int or an enum-like object
    assert data.temporal_order(2, 2, seed=1)[0].shape == (2, 81, 8)
    with pytest.raises(ValueError):
        data.temporal_order(2, "IMPOSSIBLE", seed=1)
