"""YAML with lines: plain data from a registry file, and the file and line of every key.

A TA fixes a registry file by its line, so every value keeps where it was written:
`Lines` maps a key path (`("checks", 3, "points")`) to `(file, line)`. The loader is
PyYAML's SafeLoader (no tags, no objects), with merge keys (`<<: *base`) and exponent
floats written as TAs write them (`1e-6`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from .errors import RegistryError, RegistryProblem

Lines = dict[tuple[Any, ...], tuple[str, int]]


def _construct(node: yaml.Node, file: str, path: tuple[Any, ...], lines: Lines) -> Any:
    """Build plain Python data from a composed node, remembering each key's line."""
    lines[path] = (file, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader = _Loader("")
        try:
            loader.flatten_mapping(node)  # YAML merge keys: `- {<<: *base, id: other}`
        finally:
            loader.dispose()
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            out[key] = _construct(value_node, file, path + (key,), lines)
            lines[path + (key,)] = (file, key_node.start_mark.line + 1)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, file, path + (i,), lines) for i, v in enumerate(node.value)]
    return _scalar(node)


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e-6` as a number (YAML 1.1 wants `1.0e-6`; TAs write `1e-6`)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def _scalar(node: yaml.Node) -> Any:
    loader = _Loader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


def read_yaml(path: Path) -> tuple[Any, Lines]:
    file = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError([RegistryProblem(str(path), "(file)", f"cannot read: {exc}")]) from None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise RegistryError([RegistryProblem(file, "(syntax)", f"not valid YAML: {problem}",
                                             "check indentation and quoting near this line", line)]) from None
    lines: Lines = {}
    if node is None:
        return {}, lines
    try:
        return _construct(node, file, (), lines), lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RegistryError([RegistryProblem(file, "(syntax)", f"not valid YAML: {exc}", "",
                                             mark.line + 1 if mark else None)]) from None


def line_of(lines: Lines, path: tuple[Any, ...], file: str) -> tuple[str, int | None]:
    """The file and line of `path`, or of its nearest ancestor that has one."""
    p = path
    while p:
        if p in lines:
            return lines[p]
        p = p[:-1]
    return lines.get((), (file, None))
