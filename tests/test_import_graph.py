"""The engine's modules import each other in one direction only (no cycle, lazy or not).

Every `import` in `grader/` counts, including those inside functions: a lazy import hides a
cycle from Python, not from a reader. Only imports under `if TYPE_CHECKING:` are left out
(they never run). Importing `grader.a.b` also runs `grader/a/__init__.py`, so it counts as
an import of the package `grader.a` too (except from inside `grader.a`, which that package
has already started).
"""

from __future__ import annotations

import ast
from pathlib import Path

import grader

ROOT = Path(grader.__file__).resolve().parent


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Import nodes of a tree, skipping `if TYPE_CHECKING:` bodies."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _with_packages(name: str, known: dict[str, Path]) -> set[str]:
    """`grader.a.b` -> {grader.a.b, grader.a} (the packages run first), known modules only."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(2, len(parts) + 1)} & set(known)


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = {m: set() for m in known}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        package = name if is_package else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            targets: set[str] = set()
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "grader":
                        targets |= _with_packages(alias.name, known)
            else:
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != "grader":
                    continue
                targets |= _with_packages(target, known)
                for alias in node.names:  # `from . import registry` imports a module
                    targets |= _with_packages(f"{target}.{alias.name}", known) - _with_packages(target, known) \
                        if f"{target}.{alias.name}" in known else set()
            ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
            edges[name] |= targets - {name} - ancestors  # a module always runs inside its own packages
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_the_walker_sees_lazy_imports_and_cycles():
    tree = ast.parse("def f():\n    from .b import x\nif TYPE_CHECKING:\n    from .c import y\n")
    found = [n.module for n in _imports(tree)]
    assert found == ["b"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_grader_has_no_import_cycle():
    edges = graph()
    assert edges["grader.cli"], "the walker found no imports at all"
    assert cycles(edges) == []
