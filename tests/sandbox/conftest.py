"""Shared helpers for the sandbox tests: notebooks built from cell sources, one sandbox
server per test module (starting it costs ~3 s; each notebook job then ~0.05 s)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

import nbformat
import pytest

from grader.sandbox import Limits, NotebookJob, SandboxServer, Shims

FAST = Limits(cell_seconds=3.0, notebook_seconds=20.0, grace_seconds=1.5, memory_mb=2048)


def write_notebook(path: Path, cells: Iterable[str], markdown_first: bool = False) -> Path:
    """Write a v4 notebook whose code cells have the given sources."""
    nb = nbformat.v4.new_notebook()
    out = []
    if markdown_first:
        out.append(nbformat.v4.new_markdown_cell("# Homework"))
    out.extend(nbformat.v4.new_code_cell(src) for src in cells)
    nb.cells = out
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def make_job(tmp_path: Path, cells: Iterable[str], mode: str = "full", name: str = "hw.ipynb", **kw) -> NotebookJob:
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    nb = write_notebook(scratch / name, cells)
    kw.setdefault("limits", FAST)
    return NotebookJob(notebook_path=str(nb), scratch_dir=str(scratch), mode=mode, **kw)


@pytest.fixture(scope="module")
def server():
    if os.name != "posix":  # pragma: no cover
        pytest.skip("the sandbox needs Linux")
    with SandboxServer(threads=1) as s:
        yield s


@pytest.fixture
def run(server, tmp_path):
    """run(cells, mode="full", **job kwargs) -> NotebookRun"""

    def _run(cells, mode="full", **kw):
        return server.run_notebook(make_job(tmp_path, cells, mode=mode, **kw))

    return _run


__all__ = ["FAST", "Shims", "make_job", "write_notebook"]
