"""Grader-side data for the HW2 training checks.

Every generator is a pure function of its arguments: it builds its own
``numpy.random.Generator`` from ``seed`` and returns plain numpy arrays (or a list of
strings), so the grader can make hidden data in its own process and ship it to the
sandboxed child as raw arrays. Nothing here imports torch.

The semantics follow the notebooks (see ``courses/nyu_dl_hw2/reference/hw2/nb_*.py``):

* echo task: tokens 1..26 are the letters a..z, 0 is the blank; the target is the input
  shifted right by ``delay`` with blanks in front;
* moe points: the course's ``generate_data`` of ``hw2_moe.ipynb`` (two Gaussians cut by a
  circle);
* temporal order: the Q/R/S/U task of ``seq_classification.ipynb``'s
  ``TemporalOrderExp6aSequence`` (same symbol order, same difficulty ranges, same
  pre-padding);
* cnn images: a synthetic two-class stand-in for cats vs dogs (horizontal vs vertical
  stripes under noise) that a small CNN learns in a few dozen CPU steps.
"""

from __future__ import annotations

import functools
import string as _string

import numpy as np

N_LETTERS = 26  # tokens 1..26; 0 is the blank

__all__ = [
    "N_LETTERS",
    "MOE_CENTERS",
    "MOE_RADIUS",
    "MOE_SHIFT",
    "TEMPORAL_ORDER_LEVELS",
    "TEMPORAL_ORDER_SYMBOLS",
    "TEMPORAL_ORDER_CLASSES",
    "cnn_images",
    "echo_batches",
    "echo_strings",
    "echo_targets",
    "variable_delay",
    "moe_points",
    "temporal_order",
    "temporal_order_length",
]


def _rng(seed: int | np.random.SeedSequence) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------
# CNN: horizontal (label 0) vs vertical (label 1) stripes
# ---------------------------------------------------------------------------
def cnn_images(n: int, seed: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """See :func:`_cnn_images`; the same (n, seed, size) is drawn once per process (the CNN's
    checks ask for the same batches for every submission of a batch: ~0.1 s each; sets of
    more than 16 images at 256 x 256 are not kept) and each caller gets its own copy."""
    if n * size * size > 16 * 256 * 256:  # large training sets: not kept
        return _cnn_images.__wrapped__(n, seed, size)
    X, y = _cnn_images(int(n), int(seed), int(size))
    return X.copy(), y.copy()


@functools.lru_cache(maxsize=8)
def _cnn_images(n: int, seed: int, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``n`` RGB images ``(n, 3, size, size)`` float32 and labels ``(n,)`` int64 in {0, 1}.

    Label 0: horizontal stripes; label 1: vertical stripes. Each image has its own stripe
    period (size/8 .. size/4 pixels), phase, two random colours and Gaussian pixel noise,
    so neither the mean colour nor any single pixel gives the label away: a model must
    see an orientation. Values are roughly standardised (mean 0, std about 1), like
    images after ``transforms.Normalize``. Balanced: labels alternate in a shuffled order.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = _rng(seed)
    y = np.arange(n, dtype=np.int64) % 2
    rng.shuffle(y)
    X = np.empty((n, 3, size, size), dtype=np.float32)
    coord = np.arange(size, dtype=np.float32)
    for i in range(n):
        period = rng.uniform(size / 8.0, size / 4.0)
        phase = rng.uniform(0.0, 2.0 * np.pi)
        wave = (np.sin(2.0 * np.pi * coord / period + phase) > 0).astype(np.float32)  # (size,)
        pattern = wave[:, None] if y[i] == 0 else wave[None, :]  # rows vary -> horizontal
        pattern = np.broadcast_to(pattern, (size, size))
        c0 = rng.uniform(-1.0, 1.0, size=3).astype(np.float32)
        c1 = rng.uniform(-1.0, 1.0, size=3).astype(np.float32)
        # make sure the two colours differ enough for the stripes to be visible
        if np.abs(c1 - c0).max() < 0.6:
            c1 = np.clip(c0 + np.sign(rng.standard_normal(3)).astype(np.float32) * 0.8, -1.5, 1.5)
        img = c0[:, None, None] + (c1 - c0)[:, None, None] * pattern[None]
        img += rng.normal(0.0, 0.5, size=(3, size, size)).astype(np.float32)
        X[i] = img
    return X, y


# ---------------------------------------------------------------------------
# Echo (fixed and variable delay)
# ---------------------------------------------------------------------------
def echo_targets(seq: np.ndarray, delays: np.ndarray | int) -> np.ndarray:
    """Targets for token sequences ``seq`` (n, L): each row shifted right by its delay."""
    seq = np.asarray(seq, dtype=np.int64)
    n, length = seq.shape
    d = np.broadcast_to(np.asarray(delays, dtype=np.int64), (n,))
    target = np.zeros_like(seq)
    for i in range(n):
        k = int(d[i])
        if k < 0:
            raise ValueError("delay must be >= 0")
        if k < length:
            target[i, k:] = seq[i, : length - k]
    return target


def echo_batches(n: int, seq_length: int, delay: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` echo sequences: (seq int64 (n, L) in 1..26, target int64 (n, L)).

    ``target[:, :delay] == 0`` and ``target[:, delay:] == seq[:, :-delay]``, as
    ``EchoDataset`` yields them.
    """
    rng = _rng(seed)
    seq = rng.integers(1, N_LETTERS + 1, size=(n, seq_length), dtype=np.int64)
    return seq, echo_targets(seq, delay)


def echo_strings(n: int, seed: int, min_len: int = 15, max_len: int = 25) -> list[str]:
    """``n`` random lowercase strings with lengths in [min_len, max_len] (inclusive)."""
    rng = _rng(seed)
    letters = np.array(list(_string.ascii_lowercase))
    lengths = rng.integers(min_len, max_len + 1, size=n)
    return ["".join(letters[rng.integers(0, 26, size=int(k))]) for k in lengths]


def variable_delay(
    n: int, seq_length: int, max_delay: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seq int64 (n, L) in 1..26, delays int64 (n,) in 0..max_delay, target int64 (n, L)).

    Delays are drawn independently per row (uniform on 0..max_delay), as
    ``VariableDelayEchoDataset`` does.
    """
    rng = _rng(seed)
    seq = rng.integers(1, N_LETTERS + 1, size=(n, seq_length), dtype=np.int64)
    delays = rng.integers(0, max_delay + 1, size=n, dtype=np.int64)
    return seq, delays, echo_targets(seq, delays)


# ---------------------------------------------------------------------------
# Mixture of experts: the course's generate_data
# ---------------------------------------------------------------------------
MOE_CENTERS = ((3.0, 2.0), (-3.0, 2.0))  # first half, second half (before the shift)
MOE_RADIUS = float(np.sqrt(13.0))  # each centre lies on this circle
MOE_SHIFT = 2.0  # subtracted from the second coordinate after labelling


def moe_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The course's ``generate_data(n)`` with a seed: X float32 (n, 2), y int64 (n,) in {0, 1}.

    The first ``n // 2`` points ~ N((3, 2), I), the rest ~ N((-3, 2), I); label 1 iff the
    point's Euclidean norm exceeds sqrt(13), computed *before* the second coordinate is
    shifted by -2 (so in the returned plane the boundary is the circle of radius sqrt(13)
    around (0, -2), through both centres). About 55 % of the labels are 1; a linear rule
    gets about 0.68 right, one linear expert per half about 0.95.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    rng = _rng(seed)
    half = n // 2
    centers = np.repeat(np.asarray(MOE_CENTERS, dtype=np.float64), [half, n - half], axis=0)
    X = (rng.standard_normal((n, 2)) + centers).astype(np.float32)
    # the course labels float32 points with torch's norm; float64 here decides the same up
    # to points within rounding of the circle (probability ~1e-7 per point)
    y = (np.linalg.norm(X.astype(np.float64), axis=1) > MOE_RADIUS).astype(np.int64)
    X[:, 1] -= np.float32(MOE_SHIFT)
    return X, y


# ---------------------------------------------------------------------------
# Temporal order (Hochreiter & Schmidhuber 1997, experiment 6a)
# ---------------------------------------------------------------------------
# Symbol order of the one-hot code: relevant X, Y; distractors a..d; start B; end E.
TEMPORAL_ORDER_SYMBOLS = ("X", "Y", "a", "b", "c", "d", "B", "E")
TEMPORAL_ORDER_CLASSES = ("Q", "R", "S", "U")  # XX, XY, YX, YY
# difficulty -> (length_range, t1_range, t2_range); ranges are half-open [lo, hi)
TEMPORAL_ORDER_LEVELS = {
    "EASY": ((7, 9), (1, 3), (4, 6)),
    "NORMAL": ((30, 41), (2, 6), (20, 28)),
    "MODERATE": ((60, 81), (10, 21), (45, 55)),
    "HARD": ((100, 111), (10, 21), (50, 61)),
    "NIGHTMARE": ((300, 501), (10, 81), (250, 291)),
}
_LEVEL_NAMES = tuple(TEMPORAL_ORDER_LEVELS)  # index = DifficultyLevel value


def _level(difficulty) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Accept a name ('MODERATE'), an int (2) or an enum-like object with .name/.value."""
    if isinstance(difficulty, str):
        key = difficulty.upper()
    elif isinstance(difficulty, (int, np.integer)):
        key = _LEVEL_NAMES[int(difficulty)]
    elif hasattr(difficulty, "name"):
        key = str(difficulty.name).upper()
    else:
        raise TypeError(f"unknown difficulty {difficulty!r}")
    if key not in TEMPORAL_ORDER_LEVELS:
        raise ValueError(f"unknown difficulty {difficulty!r}; known: {', '.join(_LEVEL_NAMES)}")
    return TEMPORAL_ORDER_LEVELS[key]


def temporal_order_length(difficulty) -> int:
    """Padded sequence length T of a difficulty (the upper end of its length range)."""
    return _level(difficulty)[0][1]


def temporal_order(n: int, difficulty, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` temporal-order sequences, encoded as the notebook's generator encodes them.

    Returns x float32 (n, T, 8) one-hot, pre-padded with all-zero rows to T (the upper end
    of the difficulty's length range), and y float32 (n, 4) one-hot over Q, R, S, U.
    Each sequence starts with B, ends with E, holds X/Y at t1 and t2 and distractors
    a..d elsewhere; class = order of the two relevant symbols.
    """
    (lo, hi), (t1lo, t1hi), (t2lo, t2hi) = _level(difficulty)
    rng = _rng(seed)
    n_sym = len(TEMPORAL_ORDER_SYMBOLS)
    x = np.zeros((n, hi, n_sym), dtype=np.float32)
    y = np.zeros((n, len(TEMPORAL_ORDER_CLASSES)), dtype=np.float32)
    b_idx, e_idx = TEMPORAL_ORDER_SYMBOLS.index("B"), TEMPORAL_ORDER_SYMBOLS.index("E")
    for i in range(n):
        length = int(rng.integers(lo, hi))
        t1 = int(rng.integers(t1lo, t1hi))
        t2 = int(rng.integers(t2lo, t2hi))
        tokens = rng.integers(2, 6, size=length)  # distractors a..d
        tokens[0] = b_idx
        tokens[-1] = e_idx
        cls = int(rng.integers(0, 4))
        tokens[t1] = cls // 2  # 0 -> X, 1 -> Y  (Q, R have X first)
        tokens[t2] = cls % 2
        x[i, hi - length + np.arange(length), tokens] = 1.0
        y[i, cls] = 1.0
    return x, y

