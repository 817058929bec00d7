"""Course packages: what the engine knows of a course, read from its `course.yaml`.

A course package is one importable folder (its import name is the folder name) holding the
assignment YAML files, its reference code, its judges, the probes the sandbox server loads
before it forks, and a theory-key builder. It declares them in `course.yaml`::

    name: my_course                    # = the folder name (the import name)
    title: My course, HW3
    default_assignment: my-course-hw3  # what `grader grade` uses without --assignment
    probes: [probes.py]                # files beside student code (import only grader.api, torch, numpy)
    theory_key:                        # optional: builds the key from an assignment's `theory:` block
      answers: my_course.key:answer_key    # theory -> tuple[grader.api.Answer]
      items: my_course.key:theory_items    # theory -> tuple[grader.api.ItemSpec] (optional)
    judges:                            # plugin judges: `plugin: NAME` (or the `ref`) in a check
      Twice: {ref: my_course.judges:Twice, probes: [call, my_probe], public: true}
    private: [my_course]               # never in a students' self-check bundle (default: the package)...
    public_modules: [my_course.data]   # ...except these, which public judges import (never solutions)

A judge declared `public: true` runs live in a students' self-check bundle (`grader check
--bundle`) when its module imports with only the public modules of its course.

Shipped packages are found through the entry-point group `hw2_grader.courses` (value: the
package's import name); a TA's folder is added with `--registry DIR` (DIR holds `course.yaml`)
and loaded the same way. Nothing here imports a course's Python code: the declaration is
read as data, and probe names are found by reading the probe files' `@probe("...")` lines,
so `grader list` stays fast and an unknown judge or probe name is a registry error at load
time, with the file and line.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import yaml

from .errors import RegistryError, RegistryProblem

ENTRY_POINT_GROUP = "hw2_grader.courses"
COURSE_FILE = "course.yaml"
ENGINE_PROBES = Path(__file__).resolve().parent / "sandbox" / "probes"
SPECIAL_PROBES = ("$snapshot",)  # not probes: requests the sandbox runner answers itself (grader.api.SNAPSHOT)
KEYS = ("name", "title", "default_assignment", "probes", "theory_key", "judges", "private", "public_modules")
JUDGE_KEYS = ("ref", "probes", "public")


@dataclass(frozen=True)
class Judge:
    name: str
    ref: str  # package.module:Class
    probes: tuple[str, ...]  # the probe names its requests use
    public: bool  # may run live in a students' self-check bundle


@dataclass(frozen=True)
class Course:
    name: str
    folder: Path
    title: str
    default_assignment: str
    probes: tuple[Path, ...]
    answers: str  # theory-key builder refs ("" when the course has none)
    items: str
    judges: Mapping[str, Judge]
    private: tuple[str, ...]  # module prefixes that never travel in a self-check bundle
    public_modules: tuple[str, ...] = ()  # exceptions: modules public judges import (no solutions)

    def judge(self, name_or_ref: str) -> Judge | None:
        if name_or_ref in self.judges:
            return self.judges[name_or_ref]
        return next((j for j in self.judges.values() if j.ref == name_or_ref), None)


# --------------------------------------------------------------------------- reading course.yaml


def _lines(node: yaml.Node, path: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            _lines(v, path + (str(k.value),), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _lines(v, path + (str(i),), out)


def probe_names(files: Iterable[Path]) -> set[str]:
    """Names registered with `@probe("NAME")` in these files (read, never imported)."""
    names: set[str] = set()
    for file in files:
        try:
            tree = ast.parse(Path(file).read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for d in node.decorator_list:
                    if (isinstance(d, ast.Call) and getattr(d.func, "id", getattr(d.func, "attr", "")) == "probe"
                            and d.args and isinstance(d.args[0], ast.Constant) and isinstance(d.args[0].value, str)):
                        names.add(d.args[0].value)
    return names


def read_course(folder: str | os.PathLike[str]) -> Course:
    """Validate `folder/course.yaml` into a Course; every problem names file, line, key and fix."""
    folder = Path(folder).resolve()
    file = folder / COURSE_FILE
    shown = str(file)
    try:
        text = file.read_text(encoding="utf-8")
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RegistryError([RegistryProblem(shown, "(file)", f"cannot read: {exc}".splitlines()[0],
                                             "write course.yaml as a YAML mapping")]) from None
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _lines(node, (), lines)
    problems: list[RegistryProblem] = []

    def add(path: tuple[str, ...], problem: str, fix: str) -> None:
        line = next((lines[path[:i]] for i in range(len(path), -1, -1) if path[:i] in lines), None)
        problems.append(RegistryProblem(shown, ".".join(path) or "(file)", problem, fix, line))

    if not isinstance(data, dict):
        add((), "not a mapping", "start with `name: <folder name>`")
        raise RegistryError(problems)
    for key in data:
        if key not in KEYS:
            near = difflib.get_close_matches(str(key), KEYS, n=1)
            add((str(key),), "unknown key", f"did you mean `{near[0]}`?" if near else f"allowed: {', '.join(KEYS)}")
    name = data.get("name")
    if name != folder.name:
        add(("name",), f"`{name}` is not the folder name `{folder.name}`",
            f"write `name: {folder.name}` (the import name is the folder name)")
    probe_files: list[Path] = []
    for i, rel in enumerate(data.get("probes") or []):
        path = folder / str(rel)
        if not path.is_file() or path.suffix != ".py":
            add(("probes", str(i)), f"`{rel}` is not a .py file of the course", "name a file relative to course.yaml")
        else:
            probe_files.append(path)
    known = probe_names(sorted(ENGINE_PROBES.glob("*.py")) + probe_files) | set(SPECIAL_PROBES)
    key = data.get("theory_key") or {}
    if not isinstance(key, dict) or set(key) - {"answers", "items"} or (key and "answers" not in key):
        add(("theory_key",), "expected {answers: module:function, items: module:function}",
            f"e.g. theory_key: {{answers: {folder.name}.key:answer_key}}")
        key = {}
    judges: dict[str, Judge] = {}
    raw = data.get("judges") or {}
    if not isinstance(raw, dict):
        add(("judges",), "expected a mapping NAME -> {ref, probes, public}", "see the README's course walk-through")
        raw = {}
    for jname, spec in raw.items():
        p = ("judges", str(jname))
        if isinstance(spec, str):
            spec = {"ref": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("ref"), str) or ":" not in spec["ref"]:
            add(p, "needs `ref: package.module:Class`", f"e.g. {jname}: {{ref: {folder.name}.judges:{jname}}}")
            continue
        for k in spec:
            if k not in JUDGE_KEYS:
                add(p + (str(k),), "unknown key", f"allowed: {', '.join(JUDGE_KEYS)}")
        used = tuple(str(x) for x in spec.get("probes") or ())
        for i, probe in enumerate(used):
            if probe not in known:
                near = difflib.get_close_matches(probe, sorted(known), n=1)
                add(p + ("probes", str(i)), f"unknown probe `{probe}`",
                    f"did you mean `{near[0]}`?" if near else
                    f"register it with @probe({probe!r}) in a file listed under `probes:` (known: {', '.join(sorted(known))})")
        judges[str(jname)] = Judge(str(jname), spec["ref"], used, bool(spec.get("public", False)))
    if problems:
        raise RegistryError(problems)
    return Course(name=folder.name, folder=folder, title=str(data.get("title") or folder.name),
                  default_assignment=str(data.get("default_assignment") or ""), probes=tuple(probe_files),
                  answers=str(key.get("answers", "")), items=str(key.get("items", "")),
                  judges=MappingProxyType(judges),
                  private=tuple(str(x) for x in data.get("private") or (folder.name,)),
                  public_modules=tuple(str(x) for x in data.get("public_modules") or ()))


# --------------------------------------------------------------------------- finding courses

_LOADED: dict[Path, Course] = {}  # folder -> course, in the order found


def _add(folder: Path) -> Course:
    folder = folder.resolve()
    if folder not in _LOADED:
        course = read_course(folder)
        parent = str(folder.parent)
        if course.name not in sys.modules and _find(course.name) is None:
            sys.path.append(parent)  # a TA's folder: importable in the grader's process (never the sandbox's)
            importlib.invalidate_caches()
        _LOADED[folder] = course
    return _LOADED[folder]


def _find(name: str) -> Any:
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):  # e.g. a students' machine without the course installed
        return None


def installed() -> list[Course]:
    """The courses shipped as packages (entry points of group `hw2_grader.courses`)."""
    out = []
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        spec = _find(ep.value.partition(":")[0])  # finds the folder; runs no course code
        if spec is not None and spec.submodule_search_locations:
            out.append(_add(Path(list(spec.submodule_search_locations)[0])))
    return out


def use_folders(folders: Iterable[str | os.PathLike[str]]) -> list[Course]:
    """Load the course packages among `folders` (a folder holding `course.yaml`)."""
    return [_add(Path(f)) for f in folders if (Path(f) / COURSE_FILE).is_file()]


def known(extra: Iterable[str | os.PathLike[str]] = ()) -> list[Course]:
    """Every course: those given (--registry), then the installed ones, then any loaded since."""
    use_folders(extra)
    installed()
    return list(_LOADED.values())


def course_of(source: str | os.PathLike[str]) -> Course | None:
    """The course an assignment file belongs to: the course folder holding it or, following
    `extends:`, the file it builds on (a TA's quick test file extends a course's term)."""
    path, seen = Path(source).resolve(), set()
    while path.is_file() and path not in seen:
        seen.add(path)
        if (path.parent / COURSE_FILE).is_file():
            return _add(path.parent)
        try:
            parent = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return None
        ext = parent.get("extends") if isinstance(parent, dict) else None
        if not isinstance(ext, str):
            return None
        path = (path.parent / ext).resolve()
    return None


def judge_named(value: str) -> tuple[Course, Judge] | None:
    for course in known():
        judge = course.judge(value)
        if judge is not None:
            return course, judge
    return None


def all_judge_names() -> list[str]:
    return sorted({name for c in known() for name in c.judges})


def probe_files() -> list[str]:
    """Every loaded course's probe files (the sandbox server imports them before it forks)."""
    return [str(p) for c in known() for p in c.probes]


def course_folders() -> list[str]:
    return [str(c.folder) for c in known()]


def private_prefixes() -> list[str]:
    return [p for c in known() for p in c.private]


def default_assignment(extra: Iterable[str | os.PathLike[str]] = ()) -> str | None:
    """The first course's default assignment (a --registry course before the installed ones)."""
    return next((c.default_assignment for c in use_folders(extra) + known() if c.default_assignment), None)


# --------------------------------------------------------------------------- theory key


class CourseError(ValueError):
    """A course cannot do what an assignment asks of it (e.g. no theory-key builder)."""

    def __init__(self, problem: str, fix: str = ""):
        super().__init__(problem)
        self.fix = fix


@dataclass(frozen=True)
class TheoryKey:
    """The course's theory-key builder for one assignment: `answers(theory)` gives the worked
    answers (`grader key`), `items(theory)` what the PDF checker looks for (`grader theory`)."""

    answers_ref: str
    items_ref: str

    def answers(self, theory: Mapping[str, Any]) -> tuple[Any, ...]:
        from .refs import import_ref

        return tuple(import_ref(self.answers_ref)(theory))

    def items(self, theory: Mapping[str, Any]) -> tuple[Any, ...]:
        if self.items_ref:
            from .refs import import_ref

            return tuple(import_ref(self.items_ref)(theory))
        from .theory.spec import ItemSpec  # no items builder: every answer is shown, graded by hand

        return tuple(ItemSpec(id=a.id, question=a.question, kind="prose", shown=str(a.value))
                     for a in self.answers(theory))


def theory_key(source: str | os.PathLike[str]) -> TheoryKey:
    """The theory-key builder of the course the assignment file `source` belongs to."""
    course = course_of(source)
    if course is None or not course.answers:
        if course is None:
            raise CourseError("a `theory:` block needs a theory-key builder, and this file is in no course package",
                              f"put it in a folder with a {COURSE_FILE} that declares `theory_key:` (or `extends:` "
                              "a file of one)")
        raise CourseError(f"a `theory:` block needs a theory-key builder, and course `{course.name}` declares none",
                          f"add `theory_key: {{answers: package.module:function}}` to {course.folder / COURSE_FILE}")
    return TheoryKey(course.answers, course.items)
