"""Axis order of a Jacobian: numerator layout or denominator layout.

The course moved between conventions: Spring 2025 says "please use numerator layout", so
d f / d W of a 1 x 5 output by a 1 x 7 x 3 weight lives in R^{(1 x 5) x (1 x 7 x 3)};
earlier terms used denominator layout, R^{(1 x 7 x 3) x (1 x 5)}. The two hold the same
numbers with the two groups of axes swapped, so every reference computes the numerator form
and `arrange` moves the axes when asked for the other.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..errors import ReferenceInputError

Layout = Literal["numerator", "denominator"]
LAYOUTS: tuple[str, ...] = ("numerator", "denominator")


def check_layout(layout: str) -> str:
    """Return `layout` if it names a known layout, else raise ReferenceInputError."""
    if layout not in LAYOUTS:
        raise ReferenceInputError(
            f"layout must be 'numerator' or 'denominator', got {layout!r}"
        )
    return layout


def arrange(jacobian: np.ndarray, output_ndim: int, layout: str = "numerator") -> np.ndarray:
    """Put a numerator-layout Jacobian (output axes first) into `layout`.

    `output_ndim` is how many leading axes belong to the output. For "denominator" those
    axes move to the end; the result is a view when numpy can make one.
    """
    check_layout(layout)
    jacobian = np.asarray(jacobian)
    if not 0 <= output_ndim <= jacobian.ndim:
        raise ReferenceInputError(
            f"output_ndim={output_ndim} does not fit a Jacobian with {jacobian.ndim} axes"
        )
    if layout == "numerator":
        return jacobian
    axes = tuple(range(output_ndim, jacobian.ndim)) + tuple(range(output_ndim))
    return np.transpose(jacobian, axes)


def jacobian_blocks(
    output_shape: tuple[int, ...], input_shape: tuple[int, ...], layout: str = "numerator"
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The two groups of axes of d output / d input, in the order `layout` writes them."""
    check_layout(layout)
    out, inp = tuple(int(s) for s in output_shape), tuple(int(s) for s in input_shape)
    return (out, inp) if layout == "numerator" else (inp, out)
