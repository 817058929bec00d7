"""Worked answers of the theory part of HW2 (CNN and RNN) and its siblings, as numpy code.

Conventions shared by every module:

* float64 numpy arrays in, float64 numpy arrays out; torch appears only in the tests, which
  check every derivative here against ``torch.autograd``.
* Arrays are 0-based. The course writes 1-based indices and time steps (``x[1]`` is the
  first input, ``h[0] = 0``); each function says how its array index maps to the course's.
* Jacobians of an array-valued function are full tensors. ``layout="numerator"`` (the
  default; Spring 2025 asks for it) puts the output's axes first, so d f / d W has shape
  ``f.shape + W.shape``; ``layout="denominator"`` (earlier terms) puts the input's axes
  first. The gradient of a scalar loss always has the shape of the variable, in either layout.

Modules: ``shapes`` (convolution output sizes), ``conv`` (1-D convolution layer and its
derivatives), ``gated_rnn`` (HW2 1.2.1), ``attention_rnn`` (HW2 1.2.2), ``elman_rnn``
(ELEG 5491 problem 1), ``counting`` (ELEG 5491 problem 4), ``initialisation`` (He variance),
``untrained`` (HW2 1.3(d)), ``layout`` (axis order of Jacobians).
"""
