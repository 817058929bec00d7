"""The registry's schema: what an assignment file may say, its types, limits and defaults.

Each class here is a frozen pydantic dataclass with `extra="forbid"`: the one place a key,
its type, its bounds and its default are written. YAML data is validated by pydantic
(`registry.load_file` turns its errors into file:line:key sentences with a fix), the same
classes are what the rest of the grader reads (`assignment.penalties.late.cutoff_hours`),
and a bundle stores an assignment with pydantic's own dump and reads it back with its own
validation (`to_data` / `from_data`), so there is no hand-written round trip.

The data is the YAML's shape, with three conveniences: a file may be given as its name,
a deadline as a string, and a check's own keys sit beside the common ones (`Check` gathers
them into `params`; each check kind validates them, not this schema). A validator that
needs a fix or a sub-key says so through `RegistryIssue` (the loader reads its context).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any, Literal, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ConfigDict, Field, TypeAdapter, field_serializer, field_validator, model_serializer, \
    model_validator
from pydantic.dataclasses import dataclass
from pydantic_core import ArgsKwargs, PydanticCustomError

from .plain import freeze, plain

CONFIG = ConfigDict(extra="forbid")
DEFAULT_LITTER = ("__MACOSX/", ".DS_Store", ".ipynb_checkpoints/", "Thumbs.db", "desktop.ini")

# Numbers are strict (no "10" strings, no booleans); ints are accepted where floats are wanted.
Number = Annotated[float, Field(strict=True, ge=0)]
Flag = Annotated[bool, Field(strict=True)]
Text = Annotated[str, Field(strict=True)]
FileKind = Literal["notebook", "pdf", "other"]
RunMode = Literal["definitions", "full"]
REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
ASSIGNMENT_ID = re.compile(r"[a-z0-9][a-z0-9._-]*")


def RegistryIssue(problem: str, fix: str = "", key: str = "") -> PydanticCustomError:
    """A validation error with the loader's extras: the fix, and a sub-key below the field."""
    return PydanticCustomError("registry", problem, {"fix": fix, "key": key})


def _mapping_or_default(value: Any) -> Any:
    return {} if value is None else value  # `sandbox:` with nothing below it


@dataclass(frozen=True, config=CONFIG)
class FileRule:
    """A file the zip must hold. `mode` says how far its notebook is executed."""

    name: Text
    kind: FileKind
    mode: RunMode = "definitions"  # notebooks only
    execution_penalty: Flag = False  # a full-mode run that fails costs the execution penalty
    # Support folders (notebooks only): absolute paths (resolved by the registry from paths
    # relative to the YAML file that names them) of course folders copied next to the notebook
    # before it runs, each under its own base name (`.../support/res` -> `res/`); a zip's own
    # copy of a file (`res/...`) is used instead of the course's.
    support: tuple[Text, ...] = ()

    def support_files(self) -> dict[str, str]:
        """Every file of the support folders: name in the notebook's folder -> course copy."""
        from .support import support_listing

        return support_listing(self.support)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        """`- a.ipynb` is `{name: a.ipynb}`; the kind is guessed from the name; a full run's
        failure costs the execution penalty unless said otherwise."""
        if isinstance(data, str):
            data = {"name": data}
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            return data
        name = data["name"]
        guessed = "notebook" if name.endswith(".ipynb") else "pdf" if name.lower().endswith(".pdf") else "other"
        data = {"kind": guessed, **data}
        if "mode" in data and data["kind"] != "notebook":
            raise RegistryIssue("only notebooks have a run mode", "remove `mode` or set `kind: notebook`", "mode")
        if data.get("support") and data["kind"] != "notebook":
            raise RegistryIssue("only notebooks have support folders", "remove `support` or set `kind: notebook`", "support")
        return {"execution_penalty": data.get("mode") == "full", **data}

    @model_serializer(mode="wrap")
    def _data(self, handler: Any) -> dict[str, Any]:
        out = handler(self)
        if not self.support:  # files without support folders keep the data (and hash) they had
            out = {k: v for k, v in out.items() if k != "support"}
        return out if self.kind == "notebook" else {k: v for k, v in out.items() if k != "mode"}


@dataclass(frozen=True, config=CONFIG)
class ZipLimits:
    """Limits that make hostile zips (bombs, floods) a verdict instead of a full disk."""

    max_zip_mb: Annotated[float, Field(strict=True, gt=0)] = 200.0
    max_entries: Annotated[int, Field(strict=True, ge=1)] = 200
    max_file_mb: Annotated[float, Field(strict=True, gt=0)] = 100.0
    max_total_mb: Annotated[float, Field(strict=True, gt=0)] = 300.0
    max_ratio: Annotated[float, Field(strict=True, ge=1)] = 200.0  # uncompressed / compressed, per entry


@dataclass(frozen=True, config=CONFIG)
class SubmissionSpec:
    zip_pattern: Text  # full-match regex with a named group `student`
    files: tuple[FileRule, ...]
    zip_example: Text = ""
    litter: Literal["ignore", "extra"] = "ignore"
    litter_patterns: tuple[Text, ...] = DEFAULT_LITTER
    limits: ZipLimits = ZipLimits()
    wrapping_folder: Literal["allow", "naming"] = "allow"  # naming: files inside one top folder count as misnamed

    @field_validator("limits", mode="before")
    @classmethod
    def _empty_limits(cls, value: Any) -> Any:
        return _mapping_or_default(value)

    @field_validator("zip_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise RegistryIssue(f"not a valid regular expression: {exc}", "quote it with single quotes in YAML")
        if "student" not in compiled.groupindex:
            raise RegistryIssue("has no named group `student`",
                                r"write the id part as (?P<student>...), e.g. (?P<student>[a-z]+[0-9]+)\.zip")
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, files: tuple[FileRule, ...]) -> tuple[FileRule, ...]:
        if not files:
            raise RegistryIssue("no required files", "list the files the zip must hold")
        names = [f.name for f in files]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise RegistryIssue(f"`{name}` is listed twice", "remove one", f"{i}.name")
        return files

    @model_validator(mode="after")
    def _example(self) -> "SubmissionSpec":
        if self.zip_example and not self.match_zip_name(self.zip_example):
            raise RegistryIssue(f"`{self.zip_example}` does not match zip_pattern", "fix the pattern or the example",
                                "zip_example")
        return self

    def match_zip_name(self, name: str) -> re.Match[str] | None:
        return re.fullmatch(self.zip_pattern, name)


@dataclass(frozen=True, config=CONFIG)
class LatePolicy:
    percent_per_period: Number = 10.0
    period_hours: Annotated[float, Field(strict=True, ge=0.001)] = 24.0
    cutoff_hours: Number | None = 96.0  # later than this: not accepted (null: always accepted)
    grace_minutes: Number = 0.0


@dataclass(frozen=True, config=CONFIG)
class NamingPenalty:
    percent: Number = 10.0


@dataclass(frozen=True, config=CONFIG)
class ExecutionPenalty:
    percent: Number = 20.0


@dataclass(frozen=True, config=CONFIG)
class Penalties:
    """Percentages of `max_score`, applied as deductions that add up; the score floors at 0."""

    naming: NamingPenalty = NamingPenalty()
    late: LatePolicy = LatePolicy()
    execution: ExecutionPenalty = ExecutionPenalty()

    @model_validator(mode="before")
    @classmethod
    def _flat_percents(cls, data: Any) -> Any:
        """`Penalties(naming_percent=5)`: the flat spelling code and tests use."""
        if isinstance(data, ArgsKwargs) and data.kwargs:
            kw = dict(data.kwargs)
            if "naming_percent" in kw:
                kw["naming"] = NamingPenalty(kw.pop("naming_percent"))
            if "execution_percent" in kw:
                kw["execution"] = ExecutionPenalty(kw.pop("execution_percent"))
            return ArgsKwargs(data.args, kw)
        if isinstance(data, dict):
            return {k: _mapping_or_default(v) for k, v in data.items()}
        return data

    @property
    def naming_percent(self) -> float:
        return self.naming.percent

    @property
    def execution_percent(self) -> float:
        return self.execution.percent


@dataclass(frozen=True, config=CONFIG)
class SandboxLimits:
    cell_seconds: Annotated[float, Field(strict=True, ge=0.1)] = 120.0
    notebook_seconds: Annotated[float, Field(strict=True, ge=0.1)] = 600.0
    cpu_seconds: Annotated[float, Field(strict=True, ge=1)] = 900.0
    memory_mb: Annotated[int, Field(strict=True, ge=256)] = 4096
    file_mb: Annotated[int, Field(strict=True, ge=1)] = 256
    disk_mb: Annotated[int, Field(strict=True, ge=1)] = 512  # everything one notebook run may write, in total
    cuda_to_cpu: Flag = True


@dataclass(frozen=True, config=CONFIG)
class ManualItem:
    """Points graded by hand (theory PDF, written answers); listed so nobody forgets them."""

    id: Text
    points: Number
    description: Text = ""
    file: Text | None = None


CHECK_KEYS = ("id", "notebook", "kind", "points", "description", "public", "timeout")


@dataclass(frozen=True, config=CONFIG)
class Check:
    """One automatic check. `params` are the kind's own keys, validated by that kind
    (`CheckKind.validate`), never by this schema."""

    id: Text
    notebook: Text
    kind: Text
    points: Number
    description: Text = ""
    public: Flag = False
    timeout: Annotated[float, Field(strict=True, ge=0.1)] = 60.0
    params: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))

    @model_validator(mode="before")
    @classmethod
    def _gather_params(cls, data: Any) -> Any:
        """In YAML a check's own keys sit beside the common ones; `remove:` is the merge's."""
        if not isinstance(data, dict):
            return data
        common = {k: v for k, v in data.items() if k in CHECK_KEYS}
        return {**common, "params": {k: v for k, v in data.items() if k not in CHECK_KEYS and k != "remove"}}

    @field_validator("params", mode="after")
    @classmethod
    def _freeze(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        return freeze(value)

    @field_serializer("params")
    def _params_data(self, value: Mapping[str, Any]) -> Any:
        return plain(value)

    @model_serializer(mode="wrap")
    def _flat(self, handler: Any) -> dict[str, Any]:
        out = handler(self)
        return {**{k: v for k, v in out.items() if k != "params"}, **out.get("params", {})}


def parse_deadline(raw: Any) -> datetime:
    """`"2025-02-25 23:59"`, `{at: ..., timezone: America/New_York}` or a datetime -> aware."""
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=ZoneInfo("UTC"))
    if isinstance(raw, str):
        raw = {"at": raw}
    if not isinstance(raw, dict):
        raise RegistryIssue(f"expected a date and time, got {raw!r}", 'write `{at: "2025-02-25 23:59", timezone: UTC}`')
    for key in raw:
        if key not in ("at", "timezone"):
            raise RegistryIssue("unknown key", "allowed keys: at, timezone", str(key))
    if "at" not in raw:
        raise RegistryIssue("missing required key `at`", "add `at:`")
    at = raw["at"]
    if isinstance(at, datetime):
        at = at.isoformat()
    tzname = raw.get("timezone", "UTC")
    try:
        tz = ZoneInfo(str(tzname))
    except (ZoneInfoNotFoundError, ValueError):
        raise RegistryIssue(f"unknown time zone `{tzname}`", "use an IANA name such as America/New_York", "timezone")
    try:
        when = datetime.fromisoformat(str(at))
    except ValueError:
        raise RegistryIssue(f"`{at}` is not a date and time", 'write it as "2025-02-25 23:59"', "at")
    if when.tzinfo is None:
        return when.replace(tzinfo=tz)
    if "timezone" in raw:
        raise RegistryIssue("has both an offset and a `timezone`", "drop the offset and keep the time zone", "at")
    return when


@dataclass(frozen=True, config=CONFIG)
class Assignment:
    id: Text
    max_score: Number
    deadline: datetime  # timezone-aware
    submission: SubmissionSpec
    title: Text = ""
    course: Text = ""
    term: Text = ""
    penalties: Penalties = Penalties()
    sandbox: SandboxLimits = SandboxLimits()
    manual: tuple[ManualItem, ...] = ()
    checks: tuple[Check, ...] = ()
    theory: Mapping[str, Any] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    solution: Text = ""  # `package.module:function(out_zip, student)` writing a full-score submission
    starter: Text = ""  # `package.module:function(out_dir)` writing the student starter notebooks
    starters_dir: Text = ""  # the course's handout folder, relative to the YAML file (--starters wins)
    abstract: Flag = False  # a base for `extends`, not an assignment of its own
    # set by the loader, never by a file (`LOADER_KEYS`):
    source: Text = ""  # the YAML file it came from
    registry_hash: Text = ""  # of the merged, canonical data: part of every Grade and cache key

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not ASSIGNMENT_ID.fullmatch(value):
            raise RegistryIssue(f"`{value}` is not a plain id", "use lowercase letters, digits, '-', e.g. my-course-hw3")
        return value

    @field_validator("solution", "starter")
    @classmethod
    def _reference(cls, value: str) -> str:
        if value and not REFERENCE.fullmatch(value):
            raise RegistryIssue(f"`{value}` is not a `package.module:function` reference",
                                "e.g. my_course.reference.notebooks:write_solution_zip")
        return value

    @field_validator("deadline", mode="before")
    @classmethod
    def _deadline(cls, value: Any) -> datetime:
        return parse_deadline(value)

    @field_validator("penalties", "sandbox", "theory", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        return _mapping_or_default(value)

    @field_validator("manual", "checks", mode="before")
    @classmethod
    def _empty_list(cls, value: Any) -> Any:
        return () if value is None else value

    @field_validator("theory", mode="after")
    @classmethod
    def _freeze(cls, value: Mapping[str, Any]) -> Mapping[str, Any]:
        return freeze(value)

    @field_serializer("deadline")
    def _deadline_data(self, when: datetime) -> dict[str, str]:
        key = getattr(when.tzinfo, "key", None)
        return {"at": when.replace(tzinfo=None).isoformat(), "timezone": key} if key else {"at": when.isoformat()}

    @field_serializer("theory")
    def _theory_data(self, value: Mapping[str, Any]) -> Any:
        return plain(value)

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


LOADER_KEYS = ("source", "registry_hash")  # Assignment fields a file may not set
_ASSIGNMENT = TypeAdapter(Assignment)


def validate(data: Mapping[str, Any]) -> Assignment:
    """Plain data -> Assignment; raises pydantic's `ValidationError` with every problem."""
    return _ASSIGNMENT.validate_python(data)


def to_data(assignment: Assignment) -> dict[str, Any]:
    """An Assignment as JSON-able data in the YAML's own shape (`validate` reads it back)."""
    return _ASSIGNMENT.dump_python(assignment, mode="json")


def from_data(data: Mapping[str, Any]) -> Assignment:
    """The inverse of `to_data`."""
    return validate(data)
