"""Fixtures for the class notebook 08-seq_classification.ipynb (tests/classnb/): its test
registries, one sandbox runner per session, and zips made in code."""

from __future__ import annotations

import copy
import os
import zipfile
from pathlib import Path
from typing import Any, Mapping

import nbformat
import pytest

from grader import registry

HERE = Path(__file__).resolve().parent
NAME = "08-seq_classification.ipynb"
ZIP_TIME = (2022, 3, 1, 12, 0, 0)


def short(nb: Any, epochs: int = 4) -> Any:
    """A copy of `nb` whose Section 8 trains `epochs` epochs instead of 100."""
    nb = copy.deepcopy(nb)
    cell = next(c for c in nb.cells if c.cell_type == "code" and "max_epochs = 100" in c.source)
    cell.source = cell.source.replace("max_epochs = 100", f"max_epochs = {epochs}")
    return nb


def edited(nb: Any, old: str, new: str) -> Any:
    """A copy of `nb` with `old` replaced in the one code cell holding it."""
    nb = copy.deepcopy(nb)
    hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    assert len(hits) == 1, f"{old!r} is in {len(hits)} code cells"
    hits[0].source = hits[0].source.replace(old, new)
    return nb


def make_zip(folder: Path, nb: Any, extra: Mapping[str, bytes] = (), net_id: str = "abc1234") -> Path:
    """`<net_id>.zip` holding the notebook and `extra` entries (e.g. the zip's own `res/`)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{net_id}.zip"
    entries = {NAME: nbformat.writes(nb).encode()}
    entries.update(dict(extra))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
    return path


@pytest.fixture(scope="session")
def classnb() -> registry.Assignment:
    return registry.load_file(HERE / "classnb.yaml")


@pytest.fixture(scope="session")
def quick() -> registry.Assignment:
    return registry.load_file(HERE / "quick.yaml")


@pytest.fixture(scope="session")
def runner():
    if os.name != "posix":  # pragma: no cover
        pytest.skip("the sandbox needs Linux")
    from grader.sandbox_runner import open_runner

    with open_runner() as r:
        yield r
