"""The course's original starter notebooks (the "handout"): the source of truth for provided code.

A TA names the folder with `grader --starters DIR` (env `HW2_GRADER_STARTERS`, or the
registry key `starters_dir:`, relative to the YAML file; the option wins over the
environment, which wins over the registry). Provided-code checks then compare the
student's definitions with the handout's definitions of the same names, taken from the
handout notebook of the same file name as the student's.

The folder is read once and identified by a content hash over every file in it (helper
modules such as `res/` included), which goes into the batch cache key: another handout
means other verdicts. A `Starters` is plain data (picklable), so batch workers get it
explicitly with the grading options.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from .errors import UsageError
from .pysource import top_level

ENV_STARTERS = "HW2_GRADER_STARTERS"
MAX_FILES = 2000  # a handout is a few notebooks and helper modules, not a data set
MAX_BYTES = 200 << 20


@dataclass(frozen=True)
class Starters:
    """A handout folder: where it is, what its bytes hash to, the code cells of its notebooks."""

    folder: str
    digest: str  # sha256 over relative paths and bytes of every file
    notebooks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # file name -> code cell sources
    unreadable: Mapping[str, str] = field(default_factory=dict)  # file name -> why it could not be read

    def cells(self, notebook: str) -> tuple[str, ...] | None:
        """The code cells of the handout notebook with this file name (None: not in the folder)."""
        return self.notebooks.get(notebook)

    @property
    def mode_line(self) -> str:
        return f"provided code compared with the handout in {self.folder}"


BEHAVIOUR_MODE_LINE = "provided code judged by behaviour (no handout given: --starters DIR)"
SOURCES_MODE_LINE = "provided code compared with the registry's own sources (no handout given: --starters DIR)"


def load_starters(folder: str | os.PathLike[str], origin: str = "--starters") -> Starters:
    """Read a handout folder; a missing folder or one without notebooks is a usage error."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise UsageError(f"{origin} {folder}: no such folder (give the folder holding the course's starter notebooks)")
    path = path.resolve()
    files = sorted(p for p in path.rglob("*") if p.is_file() and not any(part.startswith(".") for part in
                                                                          p.relative_to(path).parts))
    if len(files) > MAX_FILES:
        raise UsageError(f"{origin} {folder}: {len(files)} files; a handout folder holds the starter notebooks "
                         f"and their helper modules only")
    h = hashlib.sha256()
    total = 0
    notebooks: dict[str, tuple[str, ...]] = {}
    unreadable: dict[str, str] = {}
    for p in files:
        data = p.read_bytes()
        total += len(data)
        if total > MAX_BYTES:
            raise UsageError(f"{origin} {folder}: more than {MAX_BYTES >> 20} MB; give the starter notebooks only")
        rel = p.relative_to(path).as_posix()
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        if p.suffix == ".ipynb" and p.parent == path:
            try:
                notebooks[p.name] = _code_cells(data)
            except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds; say which file
                unreadable[p.name] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if not notebooks and not unreadable:
        raise UsageError(f"{origin} {folder}: no .ipynb notebooks in this folder (the handout's notebooks "
                         f"go directly in it)")
    return Starters(folder=str(path), digest=h.hexdigest()[:32], notebooks=notebooks, unreadable=unreadable)


def _code_cells(data: bytes) -> tuple[str, ...]:
    import nbformat

    nb = nbformat.reads(data.decode("utf-8"), as_version=4)
    return tuple(c.source for c in nb.cells if c.cell_type == "code")


def choose_folder(option: str | None, registry_dir: str | None, registry_source: str | None) -> tuple[str, str] | None:
    """(folder, origin) by precedence: the option (click folds the environment into it), then the registry.

    `registry_dir` is relative to the folder of the registry file `registry_source`.
    """
    if option:
        return option, f"--starters ({ENV_STARTERS})"
    if registry_dir:
        base = Path(registry_source).parent if registry_source else Path.cwd()
        return str(base / registry_dir), f"starters_dir: in {Path(registry_source or '').name}"
    return None


def missing_in_handout(starters: Starters, wanted: Iterable[tuple[str, str, Iterable[str]]]) -> list[str]:
    """Problems with the handout for the wanted (check id, notebook, names): one line each."""
    problems = []
    for check_id, notebook, names in wanted:
        cells = starters.cells(notebook)
        if cells is None:
            why = starters.unreadable.get(notebook)
            problems.append(f"{check_id}: the handout {starters.folder} has no readable `{notebook}`"
                            + (f" ({why})" if why else f" (it has: {', '.join(sorted(starters.notebooks)) or 'none'})"))
            continue
        defined = top_level(cells)
        absent = [n for n in names if n not in defined]
        if absent:
            problems.append(f"{check_id}: `{notebook}` of the handout defines no {', '.join(f'`{n}`' for n in absent)}")
    return problems


def require_complete(starters: Starters, assignment: Any) -> None:
    """Every provided-code check of the assignment finds its notebook and names in the handout.

    A wrong folder is the TA's usage error, said before any grading: skipping the check for
    hundreds of students (or failing them) on a typo would be worse.
    """
    wanted = [(c.id, c.notebook, tuple(c.params.get("names") or ())) for c in assignment.checks
              if c.kind == "integrity"]
    problems = missing_in_handout(starters, wanted)
    if problems:
        raise UsageError("\n".join(problems + ["give the folder of the course's original starter notebooks "
                                               "(--starters DIR), or none to judge provided code by behaviour"]))
