"""Shared pieces of the scale tests: the mini assignment (function checks only, no training),
its private reference folder, and submissions made in code."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Iterable

import pytest

from tests.zipfactory import make_submission, notebook_bytes

HERE = Path(__file__).resolve().parent
MINI = HERE / "mini.yaml"
PRIVATE = HERE / "private"

RIGHT = ["import numpy as np", "def double(x):\n    return np.asarray(x) * 2",
         "def square(x):\n    return np.asarray(x) ** 2"]
WRONG_DOUBLE = ["import numpy as np", "def double(x):\n    return np.asarray(x) * 3",
                "def square(x):\n    return np.asarray(x) ** 2"]
SLOW = ["import time\ntime.sleep(3)"] + RIGHT  # long enough to kill its worker mid-task


def work_notebook(cells: Iterable[str]) -> bytes:
    return notebook_bytes(list(cells))


def make_zip(folder: Path, name: str, cells: Iterable[str] | None = RIGHT, **kw) -> Path:
    """`name` in `folder`, holding work.ipynb with `cells` (None: no notebook at all)."""
    files = {} if cells is None else {"work.ipynb": work_notebook(cells)}
    tmp = folder.parent / f".make-{name}"
    made = make_submission(tmp, name, files=files, **kw)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    shutil.move(str(made), target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


@pytest.fixture(scope="session")
def mini():
    from grader import registry
    from grader.checks.base import use_reference_folders

    use_reference_folders([str(PRIVATE)])
    return registry.load_file(MINI)
