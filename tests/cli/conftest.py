"""A small assignment and submissions made by the tests, for driving the CLI end to end."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.zipfactory import make_submission, minimal_notebook, minimal_pdf

REGISTRY = """\
id: cli-demo
title: CLI demo
max_score: 10
deadline: {at: "2025-02-25 23:59", timezone: America/New_York}
submission:
  zip_pattern: '(?P<student>[a-z]+[0-9]+)\\.zip'
  zip_example: abc1234.zip
  files:
    - {name: theory.pdf}
    - {name: conv.ipynb}
sandbox: {cell_seconds: 3, notebook_seconds: 20, memory_mb: 2048}
manual:
  - {id: theory, points: 5, file: theory.pdf, description: "by hand"}
checks:
  - id: conv.shape
    notebook: conv.ipynb
    kind: function
    points: 2
    public: true
    timeout: 3
    target: out_shape
    reference: "nyu_dl_hw2.reference.theory.shapes:conv1d_output_shape"
    cases: [{args: [[7, 11], 3], kwargs: {stride: 2}}]
    compare: {mode: exact}
  - id: conv.xcorr
    notebook: conv.ipynb
    kind: function
    points: 3
    timeout: 3
    target: xcorr
    reference: "nyu_dl_hw2.reference.theory.conv:cross_correlate1d"
    generator: "tests.cli.conftest:xcorr_case"
    count: 3
    public_count: 1
    partial: {flipped: 0.5}
    alternatives: {flipped: {reference: "nyu_dl_hw2.reference.theory.conv:convolve1d"}}
"""

GOOD = textwrap.dedent("""\
    import numpy as np

    def out_shape(shape, k, stride=1):
        c, length = shape
        return (1, (length - k) // stride + 1)

    def xcorr(x, W):
        x, W = np.asarray(x, float), np.asarray(W, float)
        F, C, K = W.shape
        return np.array([[np.sum(x[:, i:i + K] * W[f]) for i in range(x.shape[1] - K + 1)] for f in range(F)])
    """)
WRONG = GOOD.replace("W[f])", "W[f][:, ::-1])").replace("// stride + 1", "// stride")


def xcorr_case(rng):
    c, length, k, f = (int(v) for v in rng.integers(1, 4, size=4)) 
    length += k + 2
    return {"args": [rng.normal(size=(c, length)), rng.normal(size=(f, c, k))]}


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "registry"
    folder.mkdir()
    (folder / "cli-demo.yaml").write_text(REGISTRY)
    return folder


def submission(folder: Path, name: str, source: str = GOOD, **kwargs) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"theory.pdf": minimal_pdf("Homework 2 theory answers, 1.1(a) the output is 9 x 13"), "conv.ipynb": minimal_notebook([source])}
    files.update(kwargs.pop("files", {}))
    return make_submission(folder, name=name, files=files, **kwargs)
