"""Convolution output sizes against torch.nn.Conv1d / Conv2d, valid and invalid settings."""

from __future__ import annotations

import random

import pytest
import torch

from nyu_dl_hw2.reference.errors import ReferenceInputError
from nyu_dl_hw2.reference.theory.shapes import conv1d_output_shape, conv2d_output_shape, conv_output_size


def _torch_shape(dims: int, input_shape, kernel, filters, padding, stride, dilation):
    """Output shape torch gives, or None when torch refuses the settings."""
    cls = torch.nn.Conv1d if dims == 1 else torch.nn.Conv2d
    try:
        layer = cls(input_shape[0], filters, kernel, stride=stride, padding=padding,
                    dilation=dilation, bias=False, dtype=torch.float64)
        with torch.no_grad():
            return tuple(layer(torch.zeros((1,) + tuple(input_shape), dtype=torch.float64)).shape[1:])
    except (RuntimeError, ValueError):
        return None


def _ours(dims, input_shape, kernel, filters, padding, stride, dilation):
    fn = conv1d_output_shape if dims == 1 else conv2d_output_shape
    try:
        return fn(input_shape, kernel, filters=filters, padding=padding, stride=stride, dilation=dilation)
    except ReferenceInputError:
        return None


def _setting(rng: random.Random, axes: int, low: int, high: int, per_axis: bool):
    if per_axis:
        return tuple(rng.randint(low, high) for _ in range(axes))
    return rng.randint(low, high)


@pytest.mark.parametrize("dims", [1, 2])
def test_output_shape_matches_torch(dims):
    rng = random.Random(1000 + dims)
    valid = invalid = 0
    for _ in range(250):
        per_axis = dims == 2 and rng.random() < 0.5
        C, F = rng.randint(1, 3), rng.randint(1, 4)
        spatial = tuple(rng.randint(1, 12) for _ in range(dims))
        kernel = _setting(rng, dims, 1, 6, per_axis)
        bad = rng.random() < 0.15  # now and then a setting torch refuses outright
        padding = _setting(rng, dims, -1 if bad else 0, 3, per_axis)
        stride = _setting(rng, dims, 0 if bad else 1, 4, per_axis)
        dilation = _setting(rng, dims, 0 if bad else 1, 3, per_axis)
        args = (dims, (C,) + spatial, kernel, F, padding, stride, dilation)
        expected = _torch_shape(*args)
        got = _ours(*args)
        assert got == expected, f"settings {args}: ours {got}, torch {expected}"
        valid += expected is not None
        invalid += expected is None
    assert valid > 100 and invalid > 20  # both branches really exercised


def test_homework_values_match_torch():
    cases = [((1, 19, 26), 4, 1, 2), ((1, 10, 11), 5, 0, 2), ((1, 10, 11), 3, 0, 2)]
    for shape, k, p, s in cases:
        assert conv2d_output_shape(shape, k, padding=p, stride=s) == _torch_shape(2, shape, k, 1, p, s, 1)
    for shape, k, s in [((7, 11), 3, 2), ((2, 7), 5, 2), ((2, 5), 3, 2)]:
        assert conv1d_output_shape(shape, k, stride=s) == _torch_shape(1, shape, k, 1, 0, s, 1)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(stride=0), "stride"),
        (dict(padding=-1), "padding"),
        (dict(dilation=0), "dilation"),
        (dict(kernel=9), "kernel covers 9"),
        (dict(kernel=3, dilation=4), "dilation 4"),
        (dict(stride=1.5), "integer"),
        (dict(stride=True), "integer"),
    ],
)
def test_invalid_settings_raise_clear_errors(kwargs, words):
    kernel = kwargs.pop("kernel", 3)
    with pytest.raises(ReferenceInputError, match=words):
        conv_output_size(8, kernel, **kwargs)
    assert issubclass(ReferenceInputError, ValueError)


def test_per_axis_values_and_bad_pairs():
    assert conv2d_output_shape((3, 9, 20), (3, 5), filters=6, stride=(1, 2), padding=(0, 2), dilation=(2, 1)) == \
        _torch_shape(2, (3, 9, 20), (3, 5), 6, (0, 2), (1, 2), (2, 1))
    with pytest.raises(ReferenceInputError, match="one per spatial axis"):
        conv2d_output_shape((3, 9, 20), (3, 5, 7))
    with pytest.raises(ReferenceInputError, match=r"\(C, H, W\)"):
        conv2d_output_shape((9, 20), 3)
    with pytest.raises(ReferenceInputError, match="filters"):
        conv1d_output_shape((2, 9), 3, filters=0)
    with pytest.raises(ReferenceInputError, match="width"):
        conv2d_output_shape((1, 9, 2), (3, 3))
