"""Build the HW2 notebooks (solution and starter), the theory PDF and a full-score zip.

The cell sources live in ``nb_cnn.py``, ``nb_rnn.py``, ``nb_moe.py`` and ``nb_seq.py``;
this module only assembles them with nbformat. Everything is deterministic: cell ids
are derived from the notebook name and position, zip entries carry a fixed timestamp,
so the same code always yields byte-identical files (and the same content hashes).
"""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import nbformat

from . import nb_cnn, nb_moe, nb_rnn, nb_seq
from ._cells import PROVIDED, Cell

NOTEBOOK_MODULES = (nb_moe, nb_cnn, nb_rnn, nb_seq)
NOTEBOOK_NAMES = tuple(m.NAME for m in NOTEBOOK_MODULES)
THEORY_PDF = "hw2_theory.pdf"
SUBMISSION_FILES = (THEORY_PDF,) + NOTEBOOK_NAMES

# Inside the Spring 2025 deadline (11:59pm 02/25 after the extension).
DEFAULT_ZIP_TIME = (2025, 2, 20, 12, 0, 0)

__all__ = [
    "NOTEBOOK_NAMES",
    "SUBMISSION_FILES",
    "THEORY_PDF",
    "cells",
    "solution_notebooks",
    "starter_notebooks",
    "provided_sources",
    "theory_pdf_bytes",
    "THEORY_TEXT",
    "write_solution_zip",
    "write_starters",
    "write_solutions",
]

_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "version": "3.11"},
}


def _module(name: str):
    for m in NOTEBOOK_MODULES:
        if m.NAME == name:
            return m
    raise KeyError(f"unknown notebook {name!r}; known: {', '.join(NOTEBOOK_NAMES)}")


def cells(name: str) -> list[Cell]:
    """The cell records of one notebook (solution source, starter stub, tags)."""
    return list(_module(name).CELLS)


def _build(name: str, starter: bool, cell_list: list[Cell] | None = None) -> nbformat.NotebookNode:
    """One notebook from its cells (default: the Spring 2025 cells of ``name``)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = nbformat.from_dict(_METADATA)
    stem = name.removesuffix(".ipynb").replace("_", "-")
    for i, cell in enumerate(cells(name) if cell_list is None else cell_list):
        src = cell.text(starter)
        if cell.kind == "markdown":
            node = nbformat.v4.new_markdown_cell(src)
        else:
            node = nbformat.v4.new_code_cell(src)
        node.id = f"{stem}-{i:02d}"
        if cell.tags:
            node.metadata["tags"] = list(cell.tags)
        nb.cells.append(node)
    nbformat.validate(nb)
    return nb


def solution_notebooks() -> dict[str, nbformat.NotebookNode]:
    """The four full-score notebooks, keyed by their submission names."""
    return {name: _build(name, starter=False) for name in NOTEBOOK_NAMES}


def starter_notebooks() -> dict[str, nbformat.NotebookNode]:
    """The four notebooks as handed out: every interface present, the student parts stubbed."""
    return {name: _build(name, starter=True) for name in NOTEBOOK_NAMES}


def _node_name(node: ast.stmt) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name
    if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
        return node.targets[0].id
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        return ast.unparse(node.value.func)  # e.g. "torch.manual_seed"
    return None  # imports and anything else are not tracked


def provided_sources() -> dict[str, dict[str, str]]:
    """For each notebook, the canonical source of every definition in its provided cells.

    Keys are the defined names (functions, classes, module-level assignments such as
    ``N`` or ``DELAY``) and, for bare calls, the dotted callee (``"torch.manual_seed"``).
    Notebooks without provided cells map to an empty dict. Note for the integrity
    check: ``pad_sequences`` in seq_classification uses ``np.unicode_`` on purpose (as the
    2025 course notebook does); a student replacing it by ``np.str_`` to run on NumPy 2
    did not tamper with anything.
    """
    out: dict[str, dict[str, str]] = {}
    for name in NOTEBOOK_NAMES:
        found: dict[str, str] = {}
        for cell in cells(name):
            if cell.kind != "code" or PROVIDED not in cell.tags:
                continue
            tree = ast.parse(cell.source)
            for node in tree.body:
                key = _node_name(node)
                if key is None:
                    continue
                if key in found:
                    raise ValueError(f"{name}: provided name {key!r} defined twice")
                found[key] = ast.get_source_segment(cell.source, node)
        out[name] = found
    return out


# ---------------------------------------------------------------------------
# The theory PDF: one page of Helvetica text, written by hand (no PDF library needed)
# ---------------------------------------------------------------------------
THEORY_TEXT = (
    "Homework 2 - Theory (reference submission)",
    "CSCI-GA 2572 Deep Learning, Spring 2025",
    "",
    "1.1 (a) Output of a 4x4 kernel, stride 2, padding 1 on 19x26: 9 x 13.",
    "1.1 (b) F x (floor((H + 2P - D(H_K - 1) - 1)/S) + 1) x (floor((W + 2P - D(W_K - 1) - 1)/S) + 1).",
    "1.1 (c)(i) f_W(x) in R^(1x5), f_W(x)[1,i] = sum_c sum_k W[1,c,k] x[c, 2(i-1)+k].",
    "1.2.1 (b) c[t] has dimension m.",
    "1.2.2 (a) a[t] has dimension 3.",
    "1.3 The spikes come from exploding gradients; clipping the gradient norm and",
    "decaying the learning rate remove them. The loss starts at ln 4 = 1.386 and the",
    "accuracy at 25 percent: four balanced classes.",
)


def _pdf_escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def theory_pdf_bytes(lines: tuple[str, ...] | list[str] = THEORY_TEXT) -> bytes:
    """A minimal valid one-page PDF (PDF 1.4, Helvetica) whose text pypdf can extract."""
    parts = ["BT", "/F1 11 Tf", "14 TL", "72 740 Td"]
    for line in lines:
        parts.append(f"({_pdf_escape(line)}) Tj T*")
    parts.append("ET")
    stream = ("\n".join(parts) + "\n").encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"endstream",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref_at = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode()
    out += b"0000000000 65535 f \n"
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n".encode()
    return bytes(out)


# ---------------------------------------------------------------------------
# Writing files
# ---------------------------------------------------------------------------
def _write_notebooks(nbs: dict[str, nbformat.NotebookNode], out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, nb in nbs.items():
        path = out_dir / name
        path.write_text(nbformat.writes(nb), encoding="utf-8")
        paths.append(path)
    return paths


def write_starters(out_dir: Path) -> list[Path]:
    """Write the four starter notebooks into ``out_dir``; returns their paths."""
    return _write_notebooks(starter_notebooks(), out_dir)


def write_solutions(out_dir: Path) -> list[Path]:
    """Write the four solution notebooks and hw2_theory.pdf into ``out_dir``."""
    paths = _write_notebooks(solution_notebooks(), out_dir)
    pdf = Path(out_dir) / THEORY_PDF
    pdf.write_bytes(theory_pdf_bytes())
    return [pdf] + paths


def write_solution_zip(out_zip: Path, net_id: str = "abc1234",
                       date_time: tuple[int, int, int, int, int, int] = DEFAULT_ZIP_TIME,
                       notebooks: dict[str, nbformat.NotebookNode] | None = None) -> Path:
    """Write a correctly named full-score submission and return its path.

    ``out_zip`` is either the zip's path (then its name should be ``<net_id>.zip``) or an
    existing folder (then ``<folder>/<net_id>.zip`` is written). The zip holds exactly
    hw2_theory.pdf and the four notebooks (or ``notebooks``: another term's), at its root,
    each entry dated ``date_time``.
    """
    nbs = solution_notebooks() if notebooks is None else notebooks
    out_zip = Path(out_zip)
    if out_zip.is_dir():
        out_zip = out_zip / f"{net_id}.zip"
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    entries = {THEORY_PDF: theory_pdf_bytes()}
    entries.update({name: nbformat.writes(nb).encode("utf-8") for name, nb in nbs.items()})
    with zipfile.ZipFile(out_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in entries:
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, entries[name])
    return out_zip
