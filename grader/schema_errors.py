"""pydantic's validation errors as sentences a TA can act on: file, line, key, problem, fix.

pydantic says where (`loc`, a key path) and what (`type`, `input`, `ctx`); this module
says it in the registry's words, finds the line from the loader's line map, and proposes
the fix: the nearest allowed key for a typo, the allowed values for a wrong choice, the
fix a validator gave (`schema.RegistryIssue`).
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import typing
from typing import Any, Iterable

from pydantic import ValidationError

from .errors import RegistryProblem
from .schema import LOADER_KEYS, Assignment
from .yamlines import Lines, line_of


def problems(exc: ValidationError, file: str, lines: Lines) -> list[RegistryProblem]:
    """One RegistryProblem per pydantic error, in the order pydantic found them."""
    out = []
    for err in exc.errors(include_url=False):
        path = tuple(err["loc"])
        ctx = err.get("ctx") or {}
        if ctx.get("key"):
            path += tuple(split_key(str(ctx["key"])))
        problem, fix, path = _say(err, path)
        where_file, line = line_of(lines, path, file)
        out.append(RegistryProblem(where_file, dotted(path), problem, fix, line))
    return out


def _say(err: dict[str, Any], path: tuple[Any, ...]) -> tuple[str, str, tuple[Any, ...]]:
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    if kind in ("unexpected_keyword_argument", "extra_forbidden"):
        allowed = allowed_keys(path[:-1]) or ()
        near = difflib.get_close_matches(str(path[-1]), allowed, n=1)
        return "unknown key", f"did you mean `{near[0]}`?" if near else f"allowed keys: {', '.join(allowed)}", path
    if kind in ("missing", "missing_argument"):
        return f"missing required key `{path[-1]}`", f"add `{path[-1]}:`", path[:-1]
    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float", "finite_number"):
        what = "a whole number" if kind.startswith("int") else "a number"
        return f"expected {what}, got {value!r}", "write a plain number such as 10", path
    if kind == "greater_than_equal":
        return f"must be at least {_num(ctx.get('ge'))}, got {_num(value)}", f"use {_num(ctx.get('ge'))} or more", path
    if kind == "greater_than":
        return f"must be more than {_num(ctx.get('gt'))}, got {_num(value)}", \
            f"use a number above {_num(ctx.get('gt'))}", path
    if kind == "bool_type":
        return f"expected true or false, got {value!r}", "write true or false", path
    if kind == "string_type":
        return f"expected text, got {value!r}", "quote it", path
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        near = difflib.get_close_matches(str(value), choices, n=1)
        return f"unknown value `{value}`", f"did you mean `{near[0]}`?" if near else \
            f"expected one of {', '.join(choices)}", path
    if kind in ("dataclass_type", "dataclass_exact_type", "dict_type", "mapping_type", "model_type"):
        return f"expected a mapping, got {type(value).__name__}", "use `key: value` lines indented below", path
    if kind in ("tuple_type", "list_type", "iterable_type"):
        return f"expected a list, got {type(value).__name__}", "write one `- ...` line per entry", path
    if kind == "registry":
        return err["msg"], str(ctx.get("fix", "")), path
    return err["msg"], "see the registry keys in the README", path


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def allowed_keys(path: Iterable[Any]) -> list[str] | None:
    """The keys a file may write at `path` (None: not a schema mapping)."""
    cls: Any = Assignment
    for part in path:
        if isinstance(part, int):
            continue
        if not dataclasses.is_dataclass(cls):
            return None
        hints = typing.get_type_hints(cls)
        if part not in hints:
            return None
        cls = _element(hints[part])
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        return None
    return [f.name for f in dataclasses.fields(cls) if f.name not in LOADER_KEYS and f.name != "params"]


def _element(hint: Any) -> Any:
    """`tuple[X, ...]`, `X | None` -> X; anything else as is."""
    args = [a for a in typing.get_args(hint) if a is not type(None) and a is not Ellipsis]
    if typing.get_origin(hint) in (tuple, typing.Union) or type(hint).__name__ == "UnionType":
        return args[0] if len(args) == 1 else hint
    return hint


def split_key(key: str) -> list[Any]:
    """`files[2].name`, `files.2.name` -> ["files", 2, "name"]."""
    parts: list[Any] = []
    for part in key.split("."):
        m = re.fullmatch(r"(.*?)((?:\[\d+\])*)", part)
        head = m.group(1) if m else part
        if head:
            parts.append(int(head) if head.isdigit() else head)
        for idx in re.findall(r"\[(\d+)\]", part):
            parts.append(int(idx))
    return parts


def dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"
