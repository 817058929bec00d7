"""Top-level definitions of notebook cells as normalised source (comments, docstrings,
quotes and formatting do not count).

Shared by the provided-code check (`checks.integrity`, which compares them) and the handout
loader (`starters`, which lists them): a leaf module, so neither imports the other.
"""

from __future__ import annotations

import ast
import copy
from typing import Iterable


def unparse(node: ast.stmt) -> str:
    return ast.unparse(_strip_docstrings(copy.deepcopy(node)))


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def clean(source: str) -> str:
    """Drop IPython-only lines (magics, shell escapes) so the rest parses as Python."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append("" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def dump(node: ast.AST) -> str:
    return ast.dump(_strip_docstrings(copy.deepcopy(node)), annotate_fields=False, include_attributes=False)


def _key(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return stmt.name
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return ast.unparse(stmt.value.func)  # e.g. "torch.manual_seed"
    return None


def top_level_nodes(cells: Iterable[str]) -> dict[str, ast.stmt]:
    """Name -> the statement of its *last* top-level definition (notebook semantics)."""
    found: dict[str, ast.stmt] = {}
    for cell in cells:
        try:
            tree = ast.parse(clean(cell))
        except SyntaxError:
            continue
        for stmt in tree.body:
            key = _key(stmt)
            if key:
                found[key] = stmt
    return found


def top_level(cells: Iterable[str]) -> dict[str, str]:
    """Name -> normalised source of its *last* top-level definition (notebook semantics)."""
    return {k: dump(v) for k, v in top_level_nodes(cells).items()}
