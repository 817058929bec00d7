"""Errors raised by the reference solutions."""

from __future__ import annotations


class ReferenceInputError(ValueError):
    """The arguments describe something that does not exist (a kernel wider than its padded
    input, stride 0, arrays whose shapes disagree). The message says which argument and why,
    so a caller (the answer key, a check) can pass it on unchanged."""
