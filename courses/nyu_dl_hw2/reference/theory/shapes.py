"""Output sizes of convolutions (HW2 1.1(a), 1.1(b)).

Per axis, a kernel of size K with dilation D covers D (K - 1) + 1 input positions; with P
zeros padded on each side and stride S the layer fits

    floor((L + 2P - D (K - 1) - 1) / S) + 1

windows. The floor is the point of 1.1(a) in 2021 and 2022: the last incomplete window is
dropped (10 - 5 = 5 rows with stride 2 gives 3 outputs, not 3.5). This is exactly the size
torch.nn.Conv1d / Conv2d produce, and the settings torch refuses (a kernel wider than the
padded input, stride or dilation below 1, negative padding) raise ReferenceInputError here.
Sizes are counts, so 0- or 1-based indexing does not arise.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Union

from ..errors import ReferenceInputError

IntOrPair = Union[int, Sequence[int]]


def _integer(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ReferenceInputError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise ReferenceInputError(f"{name} must be at least {minimum}, got {value}")
    return value


def _per_axis(value: object, name: str, axes: int, minimum: int) -> tuple[int, ...]:
    """An int applies to every axis; a sequence gives one value per axis."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        return (_integer(value, name, minimum),) * axes
    if len(value) != axes:
        raise ReferenceInputError(
            f"{name} must be an integer or {axes} integer(s) (one per spatial axis), got {list(value)!r}"
        )
    return tuple(_integer(v, f"{name}[{i}]", minimum) for i, v in enumerate(value))


def conv_output_size(
    size: int, kernel: int, *, padding: int = 0, stride: int = 1, dilation: int = 1,
    axis: str = "input",
) -> int:
    """Number of outputs along one axis of length `size` (see the module docstring).

    `axis` only names the axis in error messages (e.g. "height").
    """
    size = _integer(size, f"{axis} size", 1)
    kernel = _integer(kernel, "kernel size", 1)
    padding = _integer(padding, "padding", 0)
    stride = _integer(stride, "stride", 1)
    dilation = _integer(dilation, "dilation", 1)
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    if span > padded:
        raise ReferenceInputError(
            f"kernel covers {span} positions (dilation {dilation} x (kernel {kernel} - 1) + 1) "
            f"but the padded {axis} has only {padded} ({size} + 2 x padding {padding})"
        )
    return (padded - span) // stride + 1


def conv1d_output_shape(
    input_shape: Sequence[int], kernel_size: IntOrPair, *, filters: int = 1,
    padding: IntOrPair = 0, stride: IntOrPair = 1, dilation: IntOrPair = 1,
) -> tuple[int, int]:
    """Shape (F, L_out) of a 1-D convolution of an input of shape (C, L) with F filters.

    Every setting is an int or a 1-element sequence, as torch.nn.Conv1d accepts.
    """
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence) or len(input_shape) != 2:
        raise ReferenceInputError(f"input_shape must be (C, L), got {input_shape!r}")
    _integer(input_shape[0], "channels C", 1)
    filters = _integer(filters, "filters F", 1)
    (k,) = _per_axis(kernel_size, "kernel size", 1, 1)
    (p,) = _per_axis(padding, "padding", 1, 0)
    (s,) = _per_axis(stride, "stride", 1, 1)
    (d,) = _per_axis(dilation, "dilation", 1, 1)
    return filters, conv_output_size(input_shape[1], k, padding=p, stride=s, dilation=d, axis="length")


def conv2d_output_shape(
    input_shape: Sequence[int], kernel_size: IntOrPair, *, filters: int = 1,
    padding: IntOrPair = 0, stride: IntOrPair = 1, dilation: IntOrPair = 1,
) -> tuple[int, int, int]:
    """Shape (F, H_out, W_out) of a 2-D convolution of an input of shape (C, H, W).

    Every setting is an int (both axes) or a pair (height, width), as torch.nn.Conv2d
    accepts; the kernel is H_K x W_K.
    """
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, Sequence) or len(input_shape) != 3:
        raise ReferenceInputError(f"input_shape must be (C, H, W), got {input_shape!r}")
    _integer(input_shape[0], "channels C", 1)
    filters = _integer(filters, "filters F", 1)
    ks = _per_axis(kernel_size, "kernel size", 2, 1)
    ps = _per_axis(padding, "padding", 2, 0)
    ss = _per_axis(stride, "stride", 2, 1)
    ds = _per_axis(dilation, "dilation", 2, 1)
    out = tuple(
        conv_output_size(n, k, padding=p, stride=s, dilation=d, axis=axis)
        for n, k, p, s, d, axis in zip(input_shape[1:], ks, ps, ss, ds, ("height", "width"))
    )
    return filters, out[0], out[1]
