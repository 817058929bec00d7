"""`extends:`: a registry file over its base, merged key by key and entry by entry.

Variants stay small: `extends: other.yaml` takes another file as the base and deep-merges
this one over it. Mappings merge key by key; the lists `files` (by `name`), `checks` and
`manual` (by `id`) merge entry by entry, so a term that renames one class overrides one
check (`- {id: cnn.forward, target: CNN_Solution}`) and `remove: true` drops one. The line
map is merged along, so a problem in a base file is reported at the base file's line.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from .errors import RegistryError, RegistryProblem
from .support import mark_support
from .yamlines import Lines, read_yaml

_LIST_KEYS = {("submission", "files"): "name", ("checks",): "id", ("manual",): "id"}


def _merge(base: Any, over: Any, path: tuple[Any, ...], base_lines: Lines, over_lines: Lines, out_lines: Lines) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = {}
        for key in list(base) + [k for k in over if k not in base]:
            p = path + (key,)
            if key in over and key in base:
                merged[key] = _merge(base[key], over[key], p, base_lines, over_lines, out_lines)
            elif key in over:
                merged[key] = over[key]
                _copy_lines(over_lines, p, p, out_lines)
            else:
                merged[key] = base[key]
                _copy_lines(base_lines, p, p, out_lines)
        out_lines[path] = over_lines.get(path) or base_lines.get(path, ("", 0))
        return merged
    id_key = _LIST_KEYS.get(path)
    if id_key and isinstance(base, list) and isinstance(over, list):
        result: list[Any] = []
        index: dict[Any, int] = {}
        for i, item in enumerate(base):
            key = item.get(id_key) if isinstance(item, dict) else None
            if key is not None:
                index[key] = len(result)
            result.append(item)
            _copy_lines(base_lines, path + (i,), path + (len(result) - 1,), out_lines)
        for j, item in enumerate(over):
            key = item.get(id_key) if isinstance(item, dict) else None
            if key is not None and key in index:
                k = index[key]
                if item.get("remove") is True:
                    result[k] = None
                    continue
                sub_base_lines = {path + (k,) + rest[len(path) + 1:]: v for rest, v in out_lines.items()
                                  if rest[: len(path) + 1] == path + (k,)}
                sub_over_lines = {path + (k,) + rest[len(path) + 1:]: v for rest, v in over_lines.items()
                                  if rest[: len(path) + 1] == path + (j,)}
                result[k] = _merge(result[k], item, path + (k,), sub_base_lines, sub_over_lines, out_lines)
            else:
                result.append(item)
                _copy_lines(over_lines, path + (j,), path + (len(result) - 1,), out_lines)
        # dropping removed entries shifts indices; rebuild the line map for this list
        kept = [(i, item) for i, item in enumerate(result) if item is not None]
        remap = {}
        for new, (old, _) in enumerate(kept):
            for p, v in list(out_lines.items()):
                if p[: len(path) + 1] == path + (old,):
                    remap[path + (new,) + p[len(path) + 1:]] = v
        for p in [p for p in out_lines if p[: len(path)] == path and len(p) > len(path)]:
            del out_lines[p]
        out_lines.update(remap)
        out_lines[path] = over_lines.get(path) or base_lines.get(path, ("", 0))
        return [item for _, item in kept]
    _copy_lines(over_lines, path, path, out_lines)
    return over


def _copy_lines(src: Lines, src_path: tuple[Any, ...], dst_path: tuple[Any, ...], dst: Lines) -> None:
    n = len(src_path)
    for p, v in src.items():
        if p[:n] == src_path:
            dst[dst_path + p[n:]] = v


def load_merged(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], Lines]:
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in seen + (path,))
        raise RegistryError([RegistryProblem(seen[0].name, "extends", f"circular extends: {chain}",
                                             "remove one of the extends lines")])
    data, lines = read_yaml(path)
    if not isinstance(data, dict):
        raise RegistryError([RegistryProblem(path.name, "(top level)", "expected a mapping of keys",
                                             "start the file with `id: <assignment-id>`", 1)])
    mark_support(data, path.parent)  # support folders are relative to the file that names them
    parent = data.pop("extends", None)
    if parent is None:
        return data, lines
    if not isinstance(parent, str):
        file, line = lines.get(("extends",), (path.name, None))
        raise RegistryError([RegistryProblem(file, "extends", "must be a file name", "e.g. `extends: _base.yaml`", line)])
    parent_path = path.parent / parent
    if not parent_path.is_file():
        file, line = lines.get(("extends",), (path.name, None))
        near = difflib.get_close_matches(parent, [p.name for p in path.parent.glob("*.yaml")], n=1)
        fix = f"did you mean `{near[0]}`?" if near else "name a .yaml file in the same folder"
        raise RegistryError([RegistryProblem(file, "extends", f"no file `{parent}` next to this one", fix, line)])
    base, base_lines = load_merged(parent_path, seen + (path,))
    base.pop("abstract", None)
    out_lines: Lines = {}
    merged = _merge(base, data, (), base_lines, lines, out_lines)
    return merged, out_lines


def extends_chain(path: Path) -> list[Path]:
    """The file and every base it extends, nearest first (for hashing what a grade depends on).
    Stops quietly at a broken link: loading the file reports that."""
    chain: list[Path] = []
    path = path.resolve()
    while path.is_file() and path not in chain:
        chain.append(path)
        try:
            data, _ = read_yaml(path)
        except RegistryError:
            break
        parent = data.get("extends") if isinstance(data, dict) else None
        if not isinstance(parent, str):
            break
        path = (path.parent / parent).resolve()
    return chain
