"""The problem registry: YAML assignment files -> frozen, validated `Assignment` objects.

A TA writes a new assignment (or a new term of an old one) without touching Python, so
every mistake in a file must come back as a sentence that names the file, the line, the
key and the fix, and *all* problems are reported at once: a TA should not have to fix one
typo per run. Files whose name starts with `_` are bases only and are not listed.

The work is split by job: `yamlines` reads YAML and remembers lines, `extends` merges a
file over its base, `schema` (pydantic) says what a file may hold and gives the defaults,
`schema_errors` words pydantic's errors. This module adds what a schema cannot see: the
references between parts of a file (a check's notebook must be a required notebook, check
ids are unique, the kind exists), each check kind's validation of its own keys
(`CheckKind.validate`, through `grader.checks.PARAM_VALIDATORS`) and the theory key's
validation of the `theory:` block; then it finds files by assignment id.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from pydantic import ValidationError

from . import schema, schema_errors
from .errors import RegistryError, RegistryProblem, UnknownAssignmentError
from .extends import load_merged
from .hashing import digest
from .plain import freeze, plain
from .support import resolve_support, support_digest, support_listing  # noqa: F401
from .schema import (DEFAULT_LITTER, Assignment, Check, ExecutionPenalty, FileRule, LatePolicy,  # noqa: F401
                     ManualItem, NamingPenalty, Penalties, SandboxLimits, SubmissionSpec, ZipLimits)
from .yamlines import Lines, line_of, read_yaml

ENV_PROBLEMS = "HW2_GRADER_PROBLEMS"  # extra registry folders, os.pathsep-separated

thaw = plain  # the old name of `grader.plain.plain`, kept for course code and benchmarks

# A check kind validates its own params: (params) -> [(key, problem, fix)].
ParamValidator = Callable[[Mapping[str, Any]], list[tuple[str, str, str]]]


def validate(data: dict[str, Any], file: str, lines: Lines, source: str,
             kinds: Mapping[str, ParamValidator] | None = None) -> Assignment:
    """Merged YAML data -> Assignment, or a RegistryError listing every problem found.
    `kinds`: the check kinds' validators, by default the engine's (`grader.checks`,
    imported here and not at the top so that `grader list` stays light; the checks never
    import the registry, so this is no cycle)."""
    if kinds is None:
        from .checks import PARAM_VALIDATORS as kinds
    found: list[RegistryProblem] = []

    def add(path: tuple[Any, ...], problem: str, fix: str = "") -> None:
        where, line = line_of(lines, path, file)
        found.append(RegistryProblem(where, schema_errors.dotted(path), problem, fix, line))

    for key in schema.LOADER_KEYS:
        if key in data:
            add((key,), "unknown key", "remove it: the grader sets it")
    data = _drop_unmatched_removals(data, add)
    assignment = None
    try:
        resolved = resolve_support(data, add)
        assignment = schema.validate({**resolved, "source": source,
                                      "registry_hash": registry_hash(data, support_digest(resolved))})
    except ValidationError as exc:
        found += schema_errors.problems(exc, file, lines)
    _cross_references(data, add, kinds, source)
    if found or assignment is None:
        raise RegistryError(found)
    return assignment


def _drop_unmatched_removals(data: dict[str, Any], add: Callable[..., None]) -> dict[str, Any]:
    """`remove: true` that matched no entry of the base (the merge dropped those that did)."""
    def kept(items: Any, path: tuple[Any, ...], id_key: str) -> Any:
        if not isinstance(items, list):
            return items
        for i, item in enumerate(items):
            if isinstance(item, dict) and item.get("remove") is True:
                add(path + (i,), f"nothing to remove: no `{item.get(id_key)}` in the base file",
                    f"check the {id_key}, or drop this entry")
        return [item for item in items if not (isinstance(item, dict) and item.get("remove") is True)]

    out = {**data, "checks": kept(data.get("checks"), ("checks",), "id"),
           "manual": kept(data.get("manual"), ("manual",), "id")}
    if isinstance(data.get("submission"), dict) and "files" in data["submission"]:
        sub = data["submission"]
        out["submission"] = {**sub, "files": kept(sub.get("files"), ("submission", "files"), "name")}
    return {k: v for k, v in out.items() if k in data}


def registry_hash(data: Mapping[str, Any], support: str = "") -> str:
    """Of the merged file as written (before defaults), plus the contents of its support
    folders when it has any: part of every Grade and cache key."""
    written = {k: v for k, v in data.items() if k not in schema.LOADER_KEYS}
    return (digest(written, support) if support else digest(written))[:16]


def _cross_references(data: Mapping[str, Any], add: Callable[..., None], kinds: Mapping[str, ParamValidator],
                      source: str) -> None:
    """What one field's validation cannot see: checks against the files, the kinds' own keys,
    the theory key. Reads the raw data defensively (the schema reports its shape)."""
    checks = data.get("checks")
    if isinstance(checks, list):
        notebooks = _notebooks(data.get("submission"))
        seen: set[str] = set()
        for i, item in enumerate(checks):
            if isinstance(item, dict):
                _check_references(item, ("checks", i), notebooks, seen, add, kinds)
    theory = data.get("theory")
    if isinstance(theory, dict) and theory:
        from .courses import CourseError, theory_key
        from .theory.keytypes import KeyConfigError

        try:
            theory_key(source).answers(freeze(theory))
        except CourseError as exc:
            add(("theory",), str(exc), exc.fix)
        except KeyConfigError as exc:
            add(("theory",) + tuple(schema_errors.split_key(exc.key)), exc.problem, exc.fix)


def _notebooks(submission: Any) -> list[str] | None:
    files = submission.get("files") if isinstance(submission, dict) else None
    if not isinstance(files, list):
        return None
    out = []
    for item in files:
        item = {"name": item} if isinstance(item, str) else item
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            kind = item.get("kind") or ("notebook" if item["name"].endswith(".ipynb") else "")
            if kind == "notebook":
                out.append(item["name"])
    return out


def _check_references(item: Mapping[str, Any], p: tuple[Any, ...], notebooks: list[str] | None, seen: set[str],
                      add: Callable[..., None], kinds: Mapping[str, ParamValidator]) -> None:
    cid = item.get("id")
    if cid in seen:
        add(p + ("id",), f"check id `{cid}` is used twice", "give each check its own id")
    seen.add(cid)
    notebook = item.get("notebook")
    if isinstance(notebook, str) and notebooks is not None and notebook not in notebooks:
        near = difflib.get_close_matches(notebook, notebooks, n=1)
        add(p + ("notebook",), f"`{notebook}` is not a required notebook of this assignment",
            f"did you mean `{near[0]}`?" if near else f"one of: {', '.join(notebooks)}")
    kind = item.get("kind")
    if "kind" in item and kind not in kinds:
        near = difflib.get_close_matches(str(kind), list(kinds), n=1)
        add(p + ("kind",), f"check `{cid}`: unknown kind `{kind}`",
            f"did you mean `{near[0]}`?" if near else f"expected one of {', '.join(sorted(kinds))}")
        return
    if kind not in kinds:
        return
    params = {k: v for k, v in item.items() if k not in schema.CHECK_KEYS and k != "remove"}
    try:
        problems = kinds[kind](params)
    except Exception as exc:  # noqa: BLE001 - a plugin's own validator failing is a registry problem
        problems = [("", f"could not be validated ({type(exc).__name__}: {exc})", "check the names it refers to")]
    for key, problem, fix in problems:
        add(p + tuple(schema_errors.split_key(key)), f"check `{cid}`: {problem}", fix)


# --------------------------------------------------------------------------- finding files


def load_file(path: str | os.PathLike[str]) -> Assignment:
    """Load and validate one assignment file (following `extends`)."""
    path = Path(path)
    if not path.is_file():
        raise RegistryError([RegistryProblem(str(path), "(file)", "no such file", "give the path of a .yaml file")])
    data, lines = load_merged(path)
    return validate(data, path.name, lines, str(path))


def registry_dirs(extra: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    dirs = [Path(p) for p in extra]
    env = os.environ.get(ENV_PROBLEMS, "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p]
    from . import courses

    dirs += [Path(f) for f in courses.course_folders()]  # installed course packages (and --registry ones)
    return dirs


def assignment_files(extra: Iterable[str | os.PathLike[str]] = ()) -> dict[str, Path]:
    """Map assignment id -> file. Earlier folders win, so a course can override a shipped file."""
    found: dict[str, Path] = {}
    for folder in registry_dirs(extra):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            if path.name.startswith("_") or path.name == "course.yaml":  # bases, a course package's declaration
                continue
            ident = _peek_id(path)
            if ident and ident not in found:
                found[ident] = path
    return found


def _peek_id(path: Path) -> str | None:
    try:
        data, _ = read_yaml(path)
    except RegistryError:
        return path.stem
    if isinstance(data, dict) and isinstance(data.get("id"), str):
        return data["id"]
    return path.stem


def load(assignment_id: str, extra: Iterable[str | os.PathLike[str]] = ()) -> Assignment:
    files = assignment_files(extra)
    if assignment_id not in files:
        as_path = Path(assignment_id)
        if as_path.suffix in (".yaml", ".yml") and as_path.is_file():
            return load_file(as_path)
        raise UnknownAssignmentError(assignment_id, list(files))
    return load_file(files[assignment_id])


def known_ids(extra: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
    return sorted(assignment_files(extra))
