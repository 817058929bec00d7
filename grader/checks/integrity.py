"""`integrity`: code the course provided must stay as provided.

Students have rewritten provided test functions to print "tests passed"; a changed model
class or seed line makes the task easier. Each named definition (or statement) is compared
with the canonical source as a normalised AST: formatting, comments and docstrings do not
count, anything else does. This needs no sandbox: it reads the notebook's source.
"""

from __future__ import annotations

import ast
from typing import Any, Iterable, Mapping

from .base import PROBLEM, Context, Reply, Request, Verdict, allowed_keys, check_ref, resolve

KEYS = ("provided", "names", "sources")


class IntegrityKind:
    name = "integrity"
    needs_sandbox = False

    def validate(self, params: Mapping[str, Any]) -> list[PROBLEM]:
        problems: list[PROBLEM] = []
        allowed_keys(params, KEYS, problems)
        if "provided" not in params and "sources" not in params:
            problems.append(("provided", "say where the provided code is",
                             "`provided: package.module:function` returning {notebook: {name: source}}, or `sources:`"))
        if "provided" in params:
            check_ref(params, "provided", problems)
        names = params.get("names")
        if names is not None and (not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names)):
            problems.append(("names", "expected a list of names", "e.g. `names: [test_model, SimpleLSTM]`"))
        return problems

    def canonical(self, check: Any) -> dict[str, str]:
        p = check.params
        sources: dict[str, str] = {}
        if "provided" in p:
            sources.update(resolve(p["provided"])().get(check.notebook, {}))
        sources.update(dict(p.get("sources") or {}))
        names = p.get("names")
        return {n: sources[n] for n in names} if names else sources

    def requests(self, check: Any, ctx: Context) -> dict[str, Request]:
        return {}

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict:
        canonical = self.canonical(check)
        missing_ref = [n for n in (check.params.get("names") or ()) if n not in canonical]
        if missing_ref:
            return Verdict(0.0, f"registry error: no provided source for {', '.join(missing_ref)}", "error")
        student = top_level(ctx.notebook.cell_sources)
        changed, removed = [], []
        for name, source in canonical.items():
            want = normalised(source)
            got = student.get(name)
            if got is None:
                (removed if not any(want == s for s in student.values()) else []).append(name)
            elif got != want:
                changed.append(name)
        if not changed and not removed:
            return Verdict(1.0, f"provided code unchanged ({', '.join(canonical)})")
        parts = []
        if changed:
            parts.append("changed: " + ", ".join(f"`{n}`" for n in changed))
        if removed:
            parts.append("missing: " + ", ".join(f"`{n}`" for n in removed))
        return Verdict(0.0, "provided code must stay as given; " + "; ".join(parts))


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def _clean(source: str) -> str:
    """Drop IPython-only lines (magics, shell escapes) so the rest parses as Python."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append("" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def _dump(node: ast.AST) -> str:
    return ast.dump(_strip_docstrings(node), annotate_fields=False, include_attributes=False)


def normalised(source: str) -> str:
    tree = ast.parse(_clean(source))
    return "\n".join(_dump(stmt) for stmt in tree.body)


def _key(stmt: ast.stmt) -> str | None:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return stmt.name
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        return stmt.targets[0].id
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return ast.unparse(stmt.value.func)  # e.g. "torch.manual_seed"
    return None


def top_level(cells: Iterable[str]) -> dict[str, str]:
    """Name -> normalised source of its *last* top-level definition (notebook semantics)."""
    found: dict[str, str] = {}
    for cell in cells:
        try:
            tree = ast.parse(_clean(cell))
        except SyntaxError:
            continue
        for stmt in tree.body:
            key = _key(stmt)
            if key:
                found[key] = _dump(stmt)
    return found
