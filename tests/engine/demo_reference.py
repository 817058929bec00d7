"""Reference functions, case generators, data and metrics for the engine's demo registries.

Importable as ``tests.engine.demo_reference:NAME`` from the YAML files next to this one.
Everything here runs in the grader's (test) process only: the sandbox child never sees
these functions, only the inputs the generators draw.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

# ----------------------------------------------------------------------------- conv.ipynb


def xcorr_case(rng: np.random.Generator) -> dict[str, Any]:
    """x of shape (C, L), W of shape (F, C, K) for `cross_correlate1d`/`conv1d_jacobian_weight`."""
    C, L, F, K = 2, int(rng.integers(5, 8)), 2, 3
    return {"args": [rng.normal(size=(C, L)).round(3), rng.normal(size=(F, C, K)).round(3)]}


def batched_xcorr(x: Any, W: Any) -> np.ndarray:
    """(N, C, L) and (F, C, K) -> (N, F, L_out): the 1-D layer over a batch, no padding."""
    x, W = np.asarray(x, dtype=np.float64), np.asarray(W, dtype=np.float64)
    K = W.shape[2]
    L_out = x.shape[2] - K + 1
    windows = np.stack([x[:, :, i:i + K] for i in range(L_out)], axis=2)  # (N, C, L_out, K)
    return np.einsum("fck,nclk->nfl", W, windows)


def batched_case(rng: np.random.Generator) -> dict[str, Any]:
    return {"args": [rng.normal(size=(2, 2, 6)).round(3), rng.normal(size=(3, 2, 3)).round(3)]}


def prefix_sums(x: Any) -> np.ndarray:
    """Inclusive running sums: out[i] = x[0] + ... + x[i]."""
    return np.cumsum(np.asarray(x, dtype=np.float64))


def prefix_case(rng: np.random.Generator) -> dict[str, Any]:
    return {"args": [rng.normal(size=int(rng.integers(5, 9))).round(3)]}


def linear_jacobian(W: Any, x: Any) -> np.ndarray:
    """d(Wx)/dx in numerator layout: W itself, shape (m, n)."""
    return np.asarray(W, dtype=np.float64) + 0.0 * np.sum(x)


def linear_case(rng: np.random.Generator) -> dict[str, Any]:
    return {"args": [rng.normal(size=(2, 4)).round(3), rng.normal(size=4).round(3)]}


def double(x: Any) -> Any:
    return np.asarray(x, dtype=np.float64) * 2.0


def fixed_vector(rng: np.random.Generator) -> dict[str, Any]:
    """The same input whatever the seed (so two checks can send identical numbers)."""
    return {"args": [np.array([1.0, 2.0, 3.0])]}


def zero(x: Any) -> float:
    return 0.0


def one(x: Any) -> float:
    return 1.0


# ----------------------------------------------------------------------------- nets.ipynb


TRUE_W = np.array([[1.0], [-2.0], [0.5]])


def regression_data(rng: np.random.Generator, n: int = 64) -> dict[str, np.ndarray]:
    """y = x @ TRUE_W + 0.3 + small noise; the same law for training and evaluation data."""
    x = rng.normal(size=(n, TRUE_W.shape[0]))
    y = x @ TRUE_W + 0.3 + 0.01 * rng.normal(size=(n, 1))
    return {"x": x.astype(np.float32), "y": y.astype(np.float32)}


def r2(outputs: Any, data: Mapping[str, np.ndarray]) -> float:
    """Coefficient of determination of the model's outputs on the hidden labels."""
    pred = np.asarray(outputs, dtype=np.float64).reshape(-1)
    y = np.asarray(data["y"], dtype=np.float64).reshape(-1)
    if pred.shape != y.shape:
        raise ValueError(f"{pred.size} outputs for {y.size} labels")
    return float(1.0 - np.sum((pred - y) ** 2) / np.sum((y - y.mean()) ** 2))


PROVIDED = {
    "nets.ipynb": {
        "check_answer": "def check_answer(f):\n    assert f(2) == 4, 'wrong answer'\n    print('ok')\n",
    },
}


def provided() -> dict[str, dict[str, str]]:
    return PROVIDED
