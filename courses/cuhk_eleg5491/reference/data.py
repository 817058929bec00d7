"""CIFAR-like data the grader makes for problem 5's training check (no downloads).

Ten classes of 3 x 32 x 32 images. Class k has its own colour and its own grating
orientation (k x 18 degrees); every image draws a random phase, frequency, contrast,
brightness and position of a darker square patch, then Gaussian pixel noise, so neither a
single pixel nor the mean colour alone is a perfect answer, but a small CNN learns it in a
few hundred SGD steps. Values are normalised like the course's loader (mean 0.5, std 0.5
per channel: roughly -1..1). Same seed, same arrays (numpy's Generator only).
"""

from __future__ import annotations

import numpy as np

CLASSES = 10
SIZE = 32


def _colours() -> np.ndarray:
    """Ten distinct RGB colours: hues spread round the colour wheel, in 0..1."""
    hues = np.arange(CLASSES) / CLASSES
    k = (np.array([5.0, 3.0, 1.0])[None, :] + hues[:, None] * 6.0) % 6.0
    return 1.0 - np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


COLOURS = _colours()


def cifar_like(n: int, seed: int, noise: float = 0.2, colour_jitter: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(images float32 (n, 3, 32, 32), labels int64 (n,)), classes balanced then shuffled."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % CLASSES).astype(np.int64)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64) / SIZE
    angle = labels * (np.pi / CLASSES)
    freq = rng.uniform(2.0, 4.0, n) * 2 * np.pi
    phase = rng.uniform(0, 2 * np.pi, n)
    proj = np.cos(angle)[:, None, None] * xx + np.sin(angle)[:, None, None] * yy
    grating = np.sin(freq[:, None, None] * proj + phase[:, None, None])  # (n, 32, 32)
    contrast = rng.uniform(0.25, 0.5, n)[:, None, None]
    colour = COLOURS[labels] + rng.normal(0.0, colour_jitter, (n, 3))
    brightness = rng.uniform(0.8, 1.2, n)[:, None, None, None]
    img = (colour[:, :, None, None] * (0.55 + contrast[:, None] * grating[:, None])) * brightness
    # a darker 10 x 10 patch at a random place (occlusion: position carries no class)
    for i, (r, c) in enumerate(rng.integers(0, SIZE - 10, (n, 2))):
        img[i, :, r:r + 10, c:c + 10] *= 0.5
    img = img + rng.normal(0.0, noise, img.shape)
    img = (np.clip(img, 0.0, 1.0) - 0.5) / 0.5
    return img.astype(np.float32), labels
