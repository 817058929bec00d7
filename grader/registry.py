"""The problem registry: YAML assignment files -> frozen, validated `Assignment` objects.

A TA writes a new assignment (or a new term of an old one) without touching Python, so
every mistake in a file must come back as a sentence that names the file, the line, the
key and the fix. The whole file is validated up front and *all* problems are reported at
once: a TA should not have to fix one typo per run.

Variants stay small: `extends: other.yaml` takes another file as the base and deep-merges
this one over it. Mappings merge key by key; the lists `files` (by `name`), `checks` and
`manual` (by `id`) merge entry by entry, so a term that renames one class overrides one
check (`- {id: cnn.forward, target: CNN_Solution}`) and `remove: true` drops one. Files
whose name starts with `_` are bases only and are not listed as assignments.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from .errors import RegistryError, RegistryProblem, UnknownAssignmentError
from .models import ManualItem

PACKAGE_PROBLEMS = Path(__file__).resolve().parent.parent / "problems"
ENV_PROBLEMS = "HW2_GRADER_PROBLEMS"  # extra registry folders, os.pathsep-separated

FILE_KINDS = ("notebook", "pdf", "other")
MODES = ("definitions", "full")
LITTER_POLICIES = ("ignore", "extra")
DEFAULT_LITTER = ("__MACOSX/", ".DS_Store", ".ipynb_checkpoints/", "Thumbs.db", "desktop.ini")


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class FileRule:
    """A file the zip must hold. `mode` says how far its notebook is executed."""

    name: str
    kind: str  # notebook | pdf | other
    mode: str = "definitions"  # notebooks only: definitions | full
    execution_penalty: bool = False  # a full-mode run that fails costs the execution penalty
    # Support folders (notebooks only): absolute paths of course folders copied next to the
    # notebook before it runs, each under its own base name (`.../support/res` -> `res/`).
    # A zip may carry its own copy (`res/...` at its top level): its files are used and not
    # counted as extras; the course's copy fills in only what the zip lacks.
    support: tuple[str, ...] = ()

    def support_files(self) -> dict[str, str]:
        """Every file of the support folders: name in the notebook's folder -> course copy."""
        return support_listing(self.support)


def support_listing(folders: Iterable[str]) -> dict[str, str]:
    """`res/plot_lib.py` -> its path, for every file under each folder (caches and hidden
    files left out), in sorted order."""
    out: dict[str, str] = {}
    for folder in folders:
        root = Path(folder)
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root).parts
            if path.is_file() and not any(p == "__pycache__" or p.startswith(".") for p in rel):
                out["/".join((root.name,) + rel)] = str(path)
    return out


class SupportPath(str):
    """A `support:` folder as written in the YAML (hashed as written), remembering the
    folder of the YAML file that wrote it: a base's relative path stays relative to the base."""

    base: str = ""


def _mark_support(data: Any, folder: Path) -> None:
    """Tag every `submission.files[*].support` entry of one file's data with its folder."""
    files = data.get("submission", {}).get("files") if isinstance(data.get("submission"), dict) else None
    for item in files if isinstance(files, list) else ():
        if isinstance(item, dict) and isinstance(item.get("support"), list):
            marked = []
            for entry in item["support"]:
                if isinstance(entry, str):
                    entry = SupportPath(entry)
                    entry.base = str(folder)
                marked.append(entry)
            item["support"] = marked


@dataclass(frozen=True)
class ZipLimits:
    """Limits that make hostile zips (bombs, floods) a verdict instead of a full disk."""

    max_zip_mb: float = 200.0
    max_entries: int = 200
    max_file_mb: float = 100.0
    max_total_mb: float = 300.0
    max_ratio: float = 200.0  # uncompressed / compressed, per entry


@dataclass(frozen=True)
class SubmissionSpec:
    zip_pattern: str  # full-match regex with a named group `student`
    zip_example: str
    files: tuple[FileRule, ...]
    litter: str = "ignore"  # ignore | extra
    litter_patterns: tuple[str, ...] = DEFAULT_LITTER
    limits: ZipLimits = ZipLimits()
    wrapping_folder: str = "allow"  # allow | naming (files inside one top folder count as misnamed)

    def match_zip_name(self, name: str) -> re.Match[str] | None:
        return re.fullmatch(self.zip_pattern, name)


@dataclass(frozen=True)
class LatePolicy:
    percent_per_period: float = 10.0
    period_hours: float = 24.0
    cutoff_hours: float | None = 96.0  # later than this: not accepted (None: always accepted)
    grace_minutes: float = 0.0


@dataclass(frozen=True)
class Penalties:
    """Percentages of `max_score`, applied as deductions that add up; the score floors at 0."""

    naming_percent: float = 10.0
    late: LatePolicy = LatePolicy()
    execution_percent: float = 20.0


@dataclass(frozen=True)
class SandboxLimits:
    cell_seconds: float = 120.0
    notebook_seconds: float = 600.0
    cpu_seconds: float = 900.0
    memory_mb: int = 4096
    file_mb: int = 256
    disk_mb: int = 512  # everything one notebook run may write, in total
    cuda_to_cpu: bool = True


@dataclass(frozen=True)
class Check:
    """One automatic check. `params` are the kind's own keys, validated by that kind."""

    id: str
    notebook: str
    kind: str
    points: float
    description: str = ""
    public: bool = False
    timeout: float = 60.0
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    course: str
    term: str
    source: str  # the YAML file it came from
    max_score: float
    deadline: datetime  # timezone-aware
    submission: SubmissionSpec
    penalties: Penalties
    sandbox: SandboxLimits
    manual: tuple[ManualItem, ...]
    checks: tuple[Check, ...]
    theory: Mapping[str, Any]
    registry_hash: str
    solution: str = ""  # `package.module:function(out_zip, student)` writing a full-score submission
    starter: str = ""  # `package.module:function(out_dir)` writing the student starter notebooks  # sha256 of the merged, canonical data: part of every Grade and cache key
    starters_dir: str = ""  # the course's handout folder, relative to the YAML file (--starters wins)

    @property
    def auto_max(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def notebooks(self) -> tuple[FileRule, ...]:
        return tuple(f for f in self.submission.files if f.kind == "notebook")

    def file_rule(self, name: str) -> FileRule | None:
        for f in self.submission.files:
            if f.name == name:
                return f
        return None


# --------------------------------------------------------------------------- YAML with lines

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


def _read_yaml(path: Path) -> tuple[Any, Lines]:
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


# --------------------------------------------------------------------------- extends / merge

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


def _load_merged(path: Path, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], Lines]:
    path = path.resolve()
    if path in seen:
        chain = " -> ".join(p.name for p in seen + (path,))
        raise RegistryError([RegistryProblem(seen[0].name, "extends", f"circular extends: {chain}",
                                             "remove one of the extends lines")])
    data, lines = _read_yaml(path)
    if not isinstance(data, dict):
        raise RegistryError([RegistryProblem(path.name, "(top level)", "expected a mapping of keys",
                                             "start the file with `id: <assignment-id>`", 1)])
    _mark_support(data, path.parent)
    parent = data.pop("extends", None)
    if parent is None:
        return data, lines
    if not isinstance(parent, str):
        file, line = lines.get(("extends",), (path.name, None))
        raise RegistryError([RegistryProblem(file, "extends", "must be a file name", "e.g. `extends: _hw2-base.yaml`", line)])
    parent_path = path.parent / parent
    if not parent_path.is_file():
        file, line = lines.get(("extends",), (path.name, None))
        near = difflib.get_close_matches(parent, [p.name for p in path.parent.glob("*.yaml")], n=1)
        fix = f"did you mean `{near[0]}`?" if near else "name a .yaml file in the same folder"
        raise RegistryError([RegistryProblem(file, "extends", f"no file `{parent}` next to this one", fix, line)])
    base, base_lines = _load_merged(parent_path, seen + (path,))
    base.pop("abstract", None)
    out_lines: Lines = {}
    merged = _merge(base, data, (), base_lines, lines, out_lines)
    return merged, out_lines


# --------------------------------------------------------------------------- validation


class _Validator:
    """Collects problems instead of stopping at the first, so a TA sees them all at once."""

    def __init__(self, file: str, lines: Lines):
        self.file = file
        self.lines = lines
        self.problems: list[RegistryProblem] = []

    def add(self, path: tuple[Any, ...], problem: str, fix: str = "") -> None:
        file, line = self.file, None
        p = path
        while p:
            if p in self.lines:
                file, line = self.lines[p]
                break
            p = p[:-1]
        self.problems.append(RegistryProblem(file, _dotted(path), problem, fix, line))

    def keys(self, data: Mapping[str, Any], path: tuple[Any, ...], allowed: Iterable[str], required: Iterable[str] = ()) -> None:
        allowed = list(allowed)
        for key in data:
            if key not in allowed:
                near = difflib.get_close_matches(str(key), allowed, n=1)
                fix = f"did you mean `{near[0]}`?" if near else f"allowed keys: {', '.join(allowed)}"
                self.add(path + (key,), "unknown key", fix)
        for key in required:
            if key not in data:
                self.add(path, f"missing required key `{key}`", f"add `{key}:`")

    def mapping(self, value: Any, path: tuple[Any, ...]) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(path, f"expected a mapping, got {type(value).__name__}", "use `key: value` lines indented below")
            return {}
        return value

    def number(self, data: Mapping[str, Any], key: str, path: tuple[Any, ...], default: Any,
               minimum: float | None = 0, allow_none: bool = False) -> Any:
        if key not in data:
            return default
        value = data[key]
        if value is None and allow_none:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(path + (key,), f"expected a number, got {value!r}", "write a plain number such as 10")
            return default
        if minimum is not None and value < minimum:
            self.add(path + (key,), f"must be at least {minimum}, got {value}", "")
            return default
        return value

    def choice(self, data: Mapping[str, Any], key: str, path: tuple[Any, ...], choices: Iterable[str], default: str) -> str:
        choices = tuple(choices)
        value = data.get(key, default)
        if value not in choices:
            near = difflib.get_close_matches(str(value), choices, n=1)
            fix = f"did you mean `{near[0]}`?" if near else f"expected one of {', '.join(choices)}"
            self.add(path + (key,), f"unknown value `{value}`", fix)
            return default
        return value

    def boolean(self, data: Mapping[str, Any], key: str, path: tuple[Any, ...], default: bool) -> bool:
        value = data.get(key, default)
        if not isinstance(value, bool):
            self.add(path + (key,), f"expected true or false, got {value!r}", "write true or false")
            return default
        return value

    def string(self, data: Mapping[str, Any], key: str, path: tuple[Any, ...], default: str | None = None) -> str:
        value = data.get(key, default)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.add(path + (key,), f"expected text, got {value!r}", "quote it")
            return str(value)
        return value


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


# A check kind validates its own params; the engine registers them (grader.checks).
ParamValidator = Callable[[Mapping[str, Any]], list[tuple[str, str, str]]]  # -> (key, problem, fix)


def _check_kinds() -> Mapping[str, ParamValidator]:
    try:
        from .checks import PARAM_VALIDATORS
    except ImportError:  # the engine is optional for intake-only use
        return {}
    return PARAM_VALIDATORS


TOP_KEYS = ("id", "title", "course", "term", "max_score", "deadline", "submission", "penalties",
            "sandbox", "manual", "theory", "checks", "abstract", "solution", "starter", "starters_dir")
CHECK_KEYS = ("id", "notebook", "kind", "points", "description", "public", "timeout", "remove")


def _validate(data: dict[str, Any], file: str, lines: Lines, source: str) -> Assignment:
    v = _Validator(file, lines)
    v.keys(data, (), TOP_KEYS, required=("id", "max_score", "deadline", "submission"))

    ident = v.string(data, "id", ())
    if ident and not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", ident):
        v.add(("id",), f"`{ident}` is not a plain id", "use lowercase letters, digits, '-', e.g. nyu-dl-hw2-2025")

    max_score = v.number(data, "max_score", (), 100.0, minimum=0)

    deadline = _deadline(v, data.get("deadline"))

    sub = v.mapping(data.get("submission"), ("submission",))
    submission = _submission(v, sub)

    pen = v.mapping(data.get("penalties"), ("penalties",))
    v.keys(pen, ("penalties",), ("naming", "late", "execution"))
    naming = v.mapping(pen.get("naming"), ("penalties", "naming"))
    v.keys(naming, ("penalties", "naming"), ("percent",))
    late = v.mapping(pen.get("late"), ("penalties", "late"))
    v.keys(late, ("penalties", "late"), ("percent_per_period", "period_hours", "cutoff_hours", "grace_minutes"))
    execution = v.mapping(pen.get("execution"), ("penalties", "execution"))
    v.keys(execution, ("penalties", "execution"), ("percent",))
    penalties = Penalties(
        naming_percent=v.number(naming, "percent", ("penalties", "naming"), 10.0),
        late=LatePolicy(
            percent_per_period=v.number(late, "percent_per_period", ("penalties", "late"), 10.0),
            period_hours=v.number(late, "period_hours", ("penalties", "late"), 24.0, minimum=0.001),
            cutoff_hours=v.number(late, "cutoff_hours", ("penalties", "late"), 96.0, allow_none=True),
            grace_minutes=v.number(late, "grace_minutes", ("penalties", "late"), 0.0),
        ),
        execution_percent=v.number(execution, "percent", ("penalties", "execution"), 20.0),
    )

    sb = v.mapping(data.get("sandbox"), ("sandbox",))
    v.keys(sb, ("sandbox",), SandboxLimits.__dataclass_fields__)
    defaults = SandboxLimits()
    sandbox = SandboxLimits(
        cell_seconds=v.number(sb, "cell_seconds", ("sandbox",), defaults.cell_seconds, minimum=0.1),
        notebook_seconds=v.number(sb, "notebook_seconds", ("sandbox",), defaults.notebook_seconds, minimum=0.1),
        cpu_seconds=v.number(sb, "cpu_seconds", ("sandbox",), defaults.cpu_seconds, minimum=1),
        memory_mb=int(v.number(sb, "memory_mb", ("sandbox",), defaults.memory_mb, minimum=256)),
        file_mb=int(v.number(sb, "file_mb", ("sandbox",), defaults.file_mb, minimum=1)),
        disk_mb=int(v.number(sb, "disk_mb", ("sandbox",), defaults.disk_mb, minimum=1)),
        cuda_to_cpu=v.boolean(sb, "cuda_to_cpu", ("sandbox",), defaults.cuda_to_cpu),
    )

    manual = _manual(v, data.get("manual"))
    checks = _checks(v, data.get("checks"), submission)

    theory = v.mapping(data.get("theory"), ("theory",))
    if theory:
        try:
            from .key import KeyConfigError, answer_key
        except ImportError:  # pragma: no cover - key module ships with the package
            pass
        else:
            try:
                answer_key(theory)
            except KeyConfigError as exc:
                v.add(("theory",) + tuple(_split_dotted(exc.key)), exc.problem, exc.fix)

    solution, starter = _reference(v, data, "solution"), _reference(v, data, "starter")
    starters_dir = v.string(data, "starters_dir", ())
    if v.problems:
        raise RegistryError(v.problems)

    return Assignment(
        id=ident, title=v.string(data, "title", ()), course=v.string(data, "course", ()),
        term=v.string(data, "term", ()), source=source, max_score=float(max_score), deadline=deadline,
        submission=submission, penalties=penalties, sandbox=sandbox, manual=manual, checks=checks,
        theory=freeze(theory), registry_hash=_hash(data, submission),
        solution=solution, starter=starter, starters_dir=starters_dir,
    )


def _reference(v: _Validator, data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", value):
        v.add((key,), f"`{value}` is not a `package.module:function` reference", "e.g. reference.hw2.notebooks:write_solution_zip")
        return ""
    return value


def _split_dotted(key: str) -> list[Any]:
    parts: list[Any] = []
    for part in re.split(r"\.", key):
        m = re.fullmatch(r"(.*?)((?:\[\d+\])*)", part)
        if m and m.group(1):
            parts.append(m.group(1))
        for idx in re.findall(r"\[(\d+)\]", part):
            parts.append(int(idx))
    return parts


def _deadline(v: _Validator, raw: Any) -> datetime:
    fallback = datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))
    path = ("deadline",)
    if isinstance(raw, datetime):  # YAML parsed an unquoted timestamp
        raw = {"at": raw.isoformat()}
    if isinstance(raw, str):
        raw = {"at": raw}
    raw = v.mapping(raw, path)
    if not raw:
        return fallback
    v.keys(raw, path, ("at", "timezone"), required=("at",))
    at = raw.get("at")
    if isinstance(at, datetime):
        at = at.isoformat()
    tzname = raw.get("timezone", "UTC")
    try:
        tz = ZoneInfo(str(tzname))
    except (ZoneInfoNotFoundError, ValueError):
        v.add(path + ("timezone",), f"unknown time zone `{tzname}`", "use an IANA name such as America/New_York")
        tz = ZoneInfo("UTC")
    try:
        when = datetime.fromisoformat(str(at))
    except ValueError:
        v.add(path + ("at",), f"`{at}` is not a date and time", 'write it as "2025-02-25 23:59"')
        return fallback
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    elif "timezone" in raw:
        v.add(path + ("at",), "has both an offset and a `timezone`", "drop the offset and keep the time zone")
    return when


def _submission(v: _Validator, sub: dict[str, Any]) -> SubmissionSpec:
    path = ("submission",)
    v.keys(sub, path, ("zip_pattern", "zip_example", "files", "litter", "litter_patterns", "limits", "wrapping_folder"),
           required=("zip_pattern", "files"))
    pattern = v.string(sub, "zip_pattern", path, r"(?P<student>.+)\.zip")
    try:
        compiled = re.compile(pattern)
        if "student" not in compiled.groupindex:
            v.add(path + ("zip_pattern",), "has no named group `student`",
                  r"write the id part as (?P<student>...), e.g. (?P<student>[a-z]+[0-9]+)\.zip")
    except re.error as exc:
        v.add(path + ("zip_pattern",), f"not a valid regular expression: {exc}", "quote it with single quotes in YAML")
    example = v.string(sub, "zip_example", path, "")
    if example and "student" in getattr(_safe_compile(pattern), "groupindex", {}) and not re.fullmatch(pattern, example):
        v.add(path + ("zip_example",), f"`{example}` does not match zip_pattern", "fix the pattern or the example")

    files: list[FileRule] = []
    raw_files = sub.get("files") or []
    if not isinstance(raw_files, list):
        v.add(path + ("files",), "expected a list", "write one `- name: ...` line per file")
        raw_files = []
    names: set[str] = set()
    for i, item in enumerate(raw_files):
        fp = path + ("files", i)
        if isinstance(item, str):
            item = {"name": item}
        item = v.mapping(item, fp)
        v.keys(item, fp, ("name", "kind", "mode", "execution_penalty", "support"), required=("name",))
        name = v.string(item, "name", fp)
        if name in names:
            v.add(fp + ("name",), f"`{name}` is listed twice", "remove one")
        names.add(name)
        guessed = "notebook" if name.endswith(".ipynb") else "pdf" if name.lower().endswith(".pdf") else "other"
        kind = v.choice(item, "kind", fp, FILE_KINDS, guessed)
        mode = v.choice(item, "mode", fp, MODES, "definitions")
        if "mode" in item and kind != "notebook":
            v.add(fp + ("mode",), "only notebooks have a run mode", "remove `mode` or set `kind: notebook`")
        files.append(FileRule(name=name, kind=kind, mode=mode,
                              execution_penalty=v.boolean(item, "execution_penalty", fp, mode == "full"),
                              support=_support(v, item, fp, kind)))
    if not files:
        v.add(path + ("files",), "no required files", "list the files the zip must hold")

    lim = v.mapping(sub.get("limits"), path + ("limits",))
    v.keys(lim, path + ("limits",), ZipLimits.__dataclass_fields__)
    d = ZipLimits()
    limits = ZipLimits(**{k: v.number(lim, k, path + ("limits",), getattr(d, k), minimum=1)
                          for k in ZipLimits.__dataclass_fields__})
    litter_patterns = sub.get("litter_patterns", list(DEFAULT_LITTER))
    if not isinstance(litter_patterns, list) or not all(isinstance(x, str) for x in litter_patterns):
        v.add(path + ("litter_patterns",), "expected a list of names", "e.g. [__MACOSX/, .DS_Store]")
        litter_patterns = list(DEFAULT_LITTER)
    return SubmissionSpec(zip_pattern=pattern, zip_example=example, files=tuple(files),
                          litter=v.choice(sub, "litter", path, LITTER_POLICIES, "ignore"),
                          litter_patterns=tuple(litter_patterns), limits=limits,
                          wrapping_folder=v.choice(sub, "wrapping_folder", path, ("allow", "naming"), "allow"))


def _support(v: _Validator, item: Mapping[str, Any], fp: tuple[Any, ...], kind: str) -> tuple[str, ...]:
    """`support: [folder, ...]`, each relative to the YAML file that names it."""
    raw = item.get("support")
    if raw is None:
        return ()
    if kind != "notebook":
        v.add(fp + ("support",), "only notebooks have support folders", "remove `support` or set `kind: notebook`")
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        v.add(fp + ("support",), "expected a list of folders", "e.g. `support: [../course/support/res]`")
        return ()
    out: list[str] = []
    for i, entry in enumerate(raw):
        folder = (Path(getattr(entry, "base", "") or ".") / entry).resolve()
        if not folder.is_dir():
            v.add(fp + ("support", i), f"no folder `{entry}` (looked for {folder})",
                  "name a folder relative to the YAML file that lists it")
        elif folder.name in (f.name for f in map(Path, out)):
            v.add(fp + ("support", i), f"two support folders named `{folder.name}`", "keep one")
        else:
            out.append(str(folder))
    return tuple(out)


def _safe_compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _manual(v: _Validator, raw: Any) -> tuple[ManualItem, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        v.add(("manual",), "expected a list", "write one `- id: ...` entry per hand-graded part")
        return ()
    out = []
    for i, item in enumerate(raw):
        p = ("manual", i)
        item = v.mapping(item, p)
        v.keys(item, p, ("id", "points", "description", "file"), required=("id", "points"))
        out.append(ManualItem(id=v.string(item, "id", p), points=float(v.number(item, "points", p, 0.0)),
                              description=v.string(item, "description", p), file=item.get("file")))
    return tuple(out)


def _checks(v: _Validator, raw: Any, submission: SubmissionSpec) -> tuple[Check, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        v.add(("checks",), "expected a list", "write one `- id: ...` entry per check")
        return ()
    kinds = _check_kinds()
    notebooks = [f.name for f in submission.files if f.kind == "notebook"]
    seen: set[str] = set()
    out = []
    for i, item in enumerate(raw):
        p = ("checks", i)
        item = v.mapping(item, p)
        for key in ("id", "notebook", "kind", "points"):
            if key not in item:
                v.add(p, f"missing required key `{key}`", f"add `{key}:`")
        cid = v.string(item, "id", p)
        if cid in seen:
            v.add(p + ("id",), f"check id `{cid}` is used twice", "give each check its own id")
        seen.add(cid)
        notebook = v.string(item, "notebook", p)
        if notebook and notebook not in notebooks:
            near = difflib.get_close_matches(notebook, notebooks, n=1)
            v.add(p + ("notebook",), f"`{notebook}` is not a required notebook of this assignment",
                  f"did you mean `{near[0]}`?" if near else f"one of: {', '.join(notebooks)}")
        kind = item.get("kind")
        if kinds and kind not in kinds:
            near = difflib.get_close_matches(str(kind), list(kinds), n=1)
            v.add(p + ("kind",), f"check `{cid}`: unknown kind `{kind}`",
                  f"did you mean `{near[0]}`?" if near else f"expected one of {', '.join(sorted(kinds))}")
        params = {k: val for k, val in item.items() if k not in CHECK_KEYS}
        if kinds and kind in kinds:
            try:
                found = kinds[kind](params)
            except Exception as exc:  # noqa: BLE001 - a plugin's own validator failing is a registry problem
                found = [("", f"could not be validated ({type(exc).__name__}: {exc})", "check the names it refers to")]
            for key, problem, fix in found:
                v.add(p + tuple(_split_dotted(key)), f"check `{cid}`: {problem}", fix)
        out.append(Check(
            id=cid, notebook=notebook, kind=str(kind), points=float(v.number(item, "points", p, 0.0)),
            description=v.string(item, "description", p), public=v.boolean(item, "public", p, False),
            timeout=float(v.number(item, "timeout", p, 60.0, minimum=0.1)), params=freeze(params),
        ))
    return tuple(out)


def freeze(value: Any) -> Any:
    """Plain YAML data to read-only mappings and tuples (the registry's dataclasses are frozen all the way down)."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Frozen registry data back to plain dicts/lists (for JSON and YAML output)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _hash(data: Mapping[str, Any], submission: SubmissionSpec | None = None) -> str:
    """The merged data, plus the contents of any support folders (a changed stand-in
    module changes what a notebook runs, so it must change the cache key)."""
    import json

    canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode())
    for rule in submission.files if submission else ():
        for name, path in support_listing(rule.support).items():
            digest.update(f"\0{rule.name}\0{name}\0".encode() + Path(path).read_bytes())
    return digest.hexdigest()[:16]


# --------------------------------------------------------------------------- public API


def load_file(path: str | os.PathLike[str]) -> Assignment:
    """Load and validate one assignment file (following `extends`)."""
    path = Path(path)
    if not path.is_file():
        raise RegistryError([RegistryProblem(str(path), "(file)", "no such file", "give the path of a .yaml file")])
    data, lines = _load_merged(path)
    return _validate(data, path.name, lines, str(path))


def registry_dirs(extra: Iterable[str | os.PathLike[str]] = ()) -> list[Path]:
    dirs = [Path(p) for p in extra]
    env = os.environ.get(ENV_PROBLEMS, "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs.append(PACKAGE_PROBLEMS)
    return dirs


def assignment_files(extra: Iterable[str | os.PathLike[str]] = ()) -> dict[str, Path]:
    """Map assignment id -> file. Earlier folders win, so a course can override a shipped file."""
    found: dict[str, Path] = {}
    for folder in registry_dirs(extra):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            if path.name.startswith("_"):
                continue
            ident = _peek_id(path)
            if ident and ident not in found:
                found[ident] = path
    return found


def _peek_id(path: Path) -> str | None:
    try:
        data, _ = _read_yaml(path)
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
