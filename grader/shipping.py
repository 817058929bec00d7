"""What a course's grading needs on another machine, as files: the registry file's folder
(its `extends:` bases are siblings) and folders such as the private references or the
handout. Used by the Gradescope autograder zip and by the Dask worker plugin, so both ship
the same files and leave out the same caches."""

from __future__ import annotations

from pathlib import Path

SKIP_PARTS = frozenset({"__pycache__", ".git", ".venv", ".pytest_cache", ".mypy_cache", ".ipynb_checkpoints"})
SKIP_SUFFIXES = (".pyc", ".pyo")


def folder_files(folder: Path) -> dict[str, Path]:
    """Every regular file under `folder` (no symbolic links, no caches): relative POSIX name -> path, sorted."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder)
        if p.is_file() and not p.is_symlink() and not SKIP_PARTS & set(rel.parts) and not p.name.endswith(SKIP_SUFFIXES):
            out[rel.as_posix()] = p
    return out


def registry_files(assignment_source: str | Path) -> dict[str, Path]:
    """The assignment's YAML file and its siblings (an `extends:` base is named relative to it)."""
    source = Path(assignment_source).resolve()
    return {p.name: p for p in sorted(source.parent.glob("*.y*ml")) if p.is_file()}
