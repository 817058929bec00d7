"""Self-check bundles: the public checks of an assignment as data, for students.

`grader bundle ID OUT.zip` (a TA) writes a zip that holds only data: the assignment's
registry restricted to its public checks (JSON) and every value those checks need from the
references, precomputed: the case inputs the generators make, the expected outputs, the
alternatives, the provided sources (JSON, arrays as `.npy` written without pickle). No
Python source, no reference code, no hidden case: hidden cases come from the secret seed
and their generators are never called while a bundle is built.

`grader check --bundle OUT.zip SUBMISSION.zip` (a student) grades with a replay resolver:
`resolve(ref)` hands out a stand-in that looks each call up in the bundle, so nothing from
the references is imported. A call the bundle did not record is that check's error, never
a crash.

How the values are caught: while the bundle is built, `checks.base.resolving_with` puts a
recording resolver in place of the import; each public check's `requests()` is built with
`Context(public_only=True)` and its `judge()` is dry-run on empty replies, so the
judge-side reference calls for every public case are made. Each call of a resolved
function is recorded as (ref, canonical key of the arguments) -> result; a
`numpy.random.Generator` argument is keyed by its `bit_generator.state`, and its state
after the call is recorded too, so replay leaves it where the real call would.

Some checks judge the student's outputs with code: a `train` check's metric, a `plugin`.
They are in a bundle only when that code imports without the private references (proved
in a separate interpreter where those are unimportable); otherwise the bundle lists them
as graded by the TAs, and `check --bundle` reports them as skipped with the reason.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import pkgutil
import subprocess
import sys
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from pydantic import ValidationError

from . import __version__, schema
from .checks import KINDS, Context, Reply
from .checks.base import import_ref, reference_folders, resolving_with
from .errors import UsageError
from .hashing import digest
from .models import CheckResult, Grade
from .sandbox.wire import WireError, decode_tree, encode_tree
from .schema import Assignment, Check

FORMAT = "hw2-grader-bundle"
FORMAT_VERSION = 2  # 2: values in the wire format's exact mode
MANIFEST = "bundle.json"
REGISTRY = "registry.json"
CALLS = "calls.json"
ARRAYS = "arrays/"
README = "README.txt"
JUDGED_BY_CODE = {"train": ("metric",), "plugin": ("plugin",),  # kinds running registry code on outputs
                  "integrity": ("behaviour",)}  # provided code judged by behaviour (a handout is not in a bundle)
WITHHELD = ("theory", "solution", "starter", "starters_dir", "source")  # registry keys a bundle never holds
ZIP_TIME = (2025, 1, 1, 0, 0, 0)  # fixed entry times: the same registry gives the same bytes


class Unbundlable(Exception):
    """A value (or argument) a bundle cannot hold as plain data."""


class NotInBundle(Exception):
    """A replayed call the bundle did not record."""

    def __init__(self, ref: str):
        super().__init__(f"this check's expected values are not in the bundle (`{ref}` was called with inputs "
                         "it did not record); get the bundle made for this version of the assignment")
        self.ref = ref


class Withheld(dict):
    """What a generator "returns" for a hidden case in a bundle: nothing (it is never called)."""

    def __repr__(self) -> str:
        return "<hidden case: not in a bundle>"


# --------------------------------------------------------------------------- values as data


class _Arrays:
    """Arrays of a bundle, stored once each under a name derived from their content."""

    def __init__(self) -> None:
        self.items: dict[str, np.ndarray] = {}

    def add(self, array: np.ndarray) -> str:
        arr = np.array(array, copy=True)  # a plain ndarray, detached from the caller's
        name = f"{ARRAYS}{digest(arr)[:24]}.npy"
        self.items.setdefault(name, arr)
        return name


def encode(value: Any, arrays: _Arrays) -> Any:
    """A result of a reference call as JSON data (arrays go to `arrays`): the wire's value
    format in its exact mode (`wire.encode_tree`). Exact round trip, or `Unbundlable`."""
    try:
        return encode_tree(value, arrays.add)
    except WireError as exc:
        raise Unbundlable(str(exc)) from None


def decode(data: Any, load: Callable[[str], np.ndarray]) -> Any:
    """The inverse of `encode`; every array is a fresh copy (a caller may change it)."""
    return decode_tree(data, load)


def call_key(ref: str, args: Iterable[Any], kwargs: Mapping[str, Any]) -> str:
    """The canonical key of one call (`grader.hashing`): the same inputs give the same key
    after a JSON round trip (lists and tuples alike, numpy scalars as numbers); a generator
    is its state."""
    try:
        return digest(ref, list(args), dict(kwargs))[:32]
    except TypeError as exc:
        raise Unbundlable(f"an argument that is {exc}") from None


def _rngs(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[tuple[str, np.random.Generator]]:
    found = [(str(i), a) for i, a in enumerate(args) if isinstance(a, np.random.Generator)]
    return found + [(k, v) for k, v in kwargs.items() if isinstance(v, np.random.Generator)]


def _exception_record(exc: BaseException) -> dict[str, str]:
    base = next(c for c in type(exc).__mro__ if getattr(builtins, c.__name__, None) is c)
    return {"type": type(exc).__name__, "base": base.__name__, "message": str(exc)}


def _raise_recorded(record: Mapping[str, str]) -> None:
    base = getattr(builtins, record.get("base", ""), None)
    if not (isinstance(base, type) and issubclass(base, Exception)):
        base = RuntimeError
    cls = base if record["type"] == base.__name__ else type(record["type"], (base,), {})
    raise cls(record.get("message", ""))


# --------------------------------------------------------------------------- recording


class Recorder:
    """The resolver while a bundle is built: real references, every call written down."""

    def __init__(self, live: Iterable[str] = ()):
        self.live = set(live)
        self.arrays = _Arrays()
        self.calls: dict[str, dict[str, Any]] = {}
        self.check_id = ""
        self.used: dict[str, set[str]] = {}
        self.failed: dict[str, str] = {}  # check id -> why its values cannot be data
        self._hidden: dict[int, np.random.Generator] = {}

    def hidden_rng(self, rng: np.random.Generator) -> None:
        self._hidden[id(rng)] = rng

    def _withheld(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        return any(self._hidden.get(id(r)) is r for _, r in _rngs(args, kwargs))

    def resolve(self, ref: str) -> Any:
        obj = import_ref(ref)
        if ref in self.live:
            return obj
        if not callable(obj):
            raise Unbundlable(f"`{ref}` is not a function")

        def recorded(*args: Any, **kwargs: Any) -> Any:
            if self._withheld(args, kwargs):
                return Withheld()  # a hidden case: its generator is never called here
            try:
                key = call_key(ref, args, kwargs)
            except Unbundlable as exc:
                self.failed.setdefault(self.check_id, f"`{ref}` is called with {exc}")
                raise
            self.used.setdefault(self.check_id, set()).add(key)
            try:
                result = obj(*args, **kwargs)
            except Exception as exc:
                self.calls.setdefault(key, {"ref": ref, "raises": _exception_record(exc),
                                            "rng_after": self._states(args, kwargs)})
                raise
            if key not in self.calls:
                try:
                    encoded = encode(result, self.arrays)
                except Unbundlable as exc:
                    self.failed.setdefault(self.check_id, f"`{ref}` returns {exc}")
                    raise
                self.calls[key] = {"ref": ref, "result": encoded, "rng_after": self._states(args, kwargs)}
            return result

        recorded.__name__ = recorded.__qualname__ = f"recorded:{ref}"
        return recorded

    @staticmethod
    def _states(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        return {pos: rng.bit_generator.state for pos, rng in _rngs(args, kwargs)}


# --------------------------------------------------------------------------- replay


class Replayer:
    """The resolver of `check --bundle`: recorded answers only, nothing imported but the
    live judges (code that imports without the private references)."""

    def __init__(self, calls: Mapping[str, Mapping[str, Any]], load: Callable[[str], np.ndarray],
                 live: Iterable[str] = ()):
        self.calls = calls
        self.load = load
        self.live = set(live)
        self._hidden: dict[int, np.random.Generator] = {}

    def hidden_rng(self, rng: np.random.Generator) -> None:
        self._hidden[id(rng)] = rng

    def resolve(self, ref: str) -> Any:
        if ref in self.live:
            return import_ref(ref)

        def replayed(*args: Any, **kwargs: Any) -> Any:
            rngs = _rngs(args, kwargs)
            if any(self._hidden.get(id(r)) is r for _, r in rngs):
                return Withheld()
            try:
                key = call_key(ref, args, kwargs)
            except Unbundlable:
                raise NotInBundle(ref) from None
            entry = self.calls.get(key)
            if entry is None or entry.get("ref") != ref:
                raise NotInBundle(ref)
            after = entry.get("rng_after") or {}
            for pos, rng in rngs:
                if pos in after:
                    rng.bit_generator.state = after[pos]
            if "raises" in entry:
                _raise_recorded(entry["raises"])
            return decode(entry["result"], self.load)

        replayed.__name__ = replayed.__qualname__ = f"replayed:{ref}"
        return replayed


# --------------------------------------------------------------------------- the registry as data


def assignment_data(a: Assignment, checks: Iterable[Check]) -> dict[str, Any]:
    """What a self-check needs of an assignment: files, rules, limits, the given checks, in
    the schema's own data form. No theory parameters, no `solution`/`starter` references."""
    data = schema.to_data(replace(a, checks=tuple(checks)))
    return {k: v for k, v in data.items() if k not in WITHHELD}


def assignment_from(data: Mapping[str, Any], source: str) -> Assignment:
    """The inverse of `assignment_data`, by the schema's own validation."""
    try:
        return schema.from_data({**data, "source": source})
    except ValidationError as exc:
        raise ValueError(f"registry.json: {exc.error_count()} invalid values") from None


# --------------------------------------------------------------------------- which judges may travel


def private_modules() -> list[str]:
    """Module prefixes that are private references: what each course package declares
    (`private:` in course.yaml) and whatever the --references folders hold."""
    from .courses import private_prefixes

    names = list(dict.fromkeys(private_prefixes()))
    for folder in reference_folders():
        for info in pkgutil.iter_modules([folder]):
            if info.name not in names:
                names.append(info.name)
    return names


def public_judge_modules() -> list[str]:
    """The modules of the judges the courses declare `public: true` (and the packages above
    them) and the courses' `public_modules`: they may run live in a bundle, if they import
    without the rest of the course."""
    from .courses import known

    out: set[str] = set()
    for course in known():
        out.update(course.public_modules)
        for judge in course.judges.values():
            if judge.public:
                parts = judge.ref.partition(":")[0].split(".")
                out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return sorted(out)


_IMPORT_PROBE = r"""
import importlib, json, sys
cfg = json.loads(sys.argv[1])
sys.path[:] = cfg["path"]
blocked = tuple(cfg["blocked"])
allowed = set(cfg["allowed"])

class Private:
    def find_spec(self, name, path=None, target=None):
        if name not in allowed and any(name == b or name.startswith(b + ".") for b in blocked):
            raise ImportError(f"{name} is a private reference")
        return None

sys.meta_path.insert(0, Private())
out = {}
for name in cfg["modules"]:
    try:
        importlib.import_module(name)
        out[name] = ""
    except BaseException as exc:
        out[name] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


def importable_without_private(modules: Iterable[str], private: Iterable[str],
                                allowed: Iterable[str] = ()) -> dict[str, str]:
    """module -> "" when it imports in a fresh interpreter where the private references are
    unimportable, else why not. Names under a private prefix fail without trying, unless
    `allowed` (the modules of judges a course declares public, and their packages)."""
    private, allowed = list(private), sorted(set(allowed))
    out: dict[str, str] = {}
    todo = []
    for name in sorted(set(modules)):
        if name not in allowed and any(name == p or name.startswith(p + ".") for p in private):
            out[name] = "a private reference"
        else:
            todo.append(name)
    if not todo:
        return out
    hidden = set(reference_folders())
    path = [p for p in sys.path if (os.path.realpath(p) if p else os.getcwd()) not in hidden]
    cfg = json.dumps({"path": path, "blocked": private, "allowed": allowed, "modules": todo})
    try:
        done = subprocess.run([sys.executable, "-I", "-c", _IMPORT_PROBE, cfg], capture_output=True, text=True,
                              timeout=300, cwd=os.getcwd())
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError) as exc:
        answer = {name: f"could not be tried ({type(exc).__name__})" for name in todo}
    for name in todo:
        out[name] = str(answer.get(name, "could not be tried"))
    return out


# --------------------------------------------------------------------------- building


@dataclass(frozen=True)
class TaOnly:
    id: str
    notebook: str
    points: float
    description: str
    reason: str


@dataclass
class BuildReport:
    path: Path
    assignment: str
    registry_hash: str
    in_bundle: list[str] = field(default_factory=list)
    ta_only: list[TaOnly] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # checks that failed to prepare (a registry fault)
    calls: int = 0
    arrays: int = 0
    size: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"bundle": str(self.path), "assignment": self.assignment, "grader_version": __version__,
                "registry_hash": self.registry_hash, "checks": self.in_bundle,
                "ta_only": [asdict(t) for t in self.ta_only], "problems": self.problems,
                "calls": self.calls, "arrays": self.arrays, "bytes": self.size}


def _dry_run(check: Check, recorder: Recorder) -> None:
    """Build the public requests, then judge empty replies: the reference calls a judge makes
    for each public case do not depend on what the student answered."""
    kind = KINDS[check.kind]
    ctx = Context(seed=0, public_only=True)  # never the secret seed: hidden cases are withheld anyway
    requests = kind.requests(check, ctx)
    replies = {name: Reply(True, None, status="ok") for name in requests}
    try:
        kind.judge(check, replies, ctx)
    except Unbundlable:
        raise
    except Exception:  # noqa: BLE001 - judging no answer may fail; the reference calls are made by then
        pass


def build_bundle(assignment: Assignment, out: str | os.PathLike[str]) -> BuildReport:
    """Write the self-check bundle of `assignment`'s public checks to `out`."""
    out = Path(out)
    if not out.parent.is_dir():
        raise UsageError(f"{out}: no folder {out.parent}")
    public = [c for c in assignment.checks if c.public]
    code_refs = {c.id: [c.params[k] for k in JUDGED_BY_CODE.get(c.kind, ()) if isinstance(c.params.get(k), str)]
                 for c in public}
    private = private_modules()
    why_not = importable_without_private({r.partition(":")[0] for refs in code_refs.values() for r in refs}, private,
                                         public_judge_modules())
    live = {r for refs in code_refs.values() for r in refs if not why_not[r.partition(":")[0]]}

    report = BuildReport(out, assignment.id, assignment.registry_hash)
    recorder = Recorder(live)
    bundled: list[Check] = []
    for check in public:
        blocked = [r for r in code_refs[check.id] if r not in live]
        if blocked:
            ref = blocked[0]
            detail = why_not[ref.partition(":")[0]]
            reason = (f"judged by the course's private reference code (`{ref}`)" if detail == "a private reference"
                      else f"its judge `{ref}` does not import without the private references ({detail})")
            report.ta_only.append(TaOnly(check.id, check.notebook, check.points, check.description, reason))
            continue
        recorder.check_id = check.id
        try:
            with resolving_with(recorder):
                _dry_run(check, recorder)
        except Unbundlable as exc:
            recorder.failed.setdefault(check.id, str(exc))
        except Exception as exc:  # noqa: BLE001 - a registry/reference fault: say which check
            reason = f"could not be prepared for the bundle: {type(exc).__name__}: {exc}"
            report.problems.append(f"{check.id}: {reason}")
            report.ta_only.append(TaOnly(check.id, check.notebook, check.points, check.description, reason))
            continue
        if check.id in recorder.failed:
            reason = f"its expected values cannot be stored as data ({recorder.failed[check.id]})"
            report.ta_only.append(TaOnly(check.id, check.notebook, check.points, check.description, reason))
            continue
        bundled.append(check)
        report.in_bundle.append(check.id)

    keep = set().union(*(recorder.used.get(c.id, set()) for c in bundled)) if bundled else set()
    users: dict[str, list[str]] = {}
    for c in bundled:
        for key in recorder.used.get(c.id, ()):
            users.setdefault(key, []).append(c.id)
    calls = {key: {**recorder.calls[key], "checks": sorted(users[key])} for key in sorted(keep)
             if key in recorder.calls}
    arrays_used = _array_names(calls)

    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "grader_version": __version__,
        "assignment": assignment.id, "title": assignment.title, "term": assignment.term,
        "registry_hash": assignment.registry_hash,
        "checks": [c.id for c in bundled], "order": [c.id for c in public],
        "live": sorted(r for c in bundled for r in code_refs[c.id]),
        "ta_only": [asdict(t) for t in report.ta_only],
    }
    members: dict[str, bytes] = {
        MANIFEST: _json_bytes(manifest),
        REGISTRY: _json_bytes(assignment_data(assignment, bundled)),
        CALLS: _json_bytes({"calls": calls}),
        README: _readme(assignment, out.name).encode(),
    }
    for name in sorted(arrays_used):
        buf = io.BytesIO()
        np.save(buf, recorder.arrays.items[name], allow_pickle=False)
        members[name] = buf.getvalue()

    tmp = out.with_name(out.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(members):
                info = zipfile.ZipInfo(name, ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                zf.writestr(info, members[name])
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"{out}: cannot write the bundle: {exc.strerror or exc}") from None
    report.calls, report.arrays, report.size = len(calls), len(arrays_used), out.stat().st_size
    return report


def _array_names(data: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(data, dict):
        for k, v in data.items():
            if k == "$array" and isinstance(v, str):
                found.add(v)
            else:
                found |= _array_names(v)
    elif isinstance(data, list):
        for v in data:
            found |= _array_names(v)
    return found


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _readme(a: Assignment, name: str) -> str:
    example = a.submission.zip_example or "abc1234.zip"
    return (f"Self-check bundle for {a.id} ({a.title}), grader {__version__}.\n"
            f"It holds data only: the public checks and their expected values.\n\n"
            f"    grader check --bundle {name} {example}\n")


# --------------------------------------------------------------------------- reading and grading


@dataclass
class Bundle:
    path: Path
    manifest: Mapping[str, Any]
    assignment: Assignment
    calls: Mapping[str, Mapping[str, Any]]
    ta_only: tuple[TaOnly, ...]
    live: frozenset[str]
    _zip_bytes: bytes = b""
    _arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def load_array(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            with zipfile.ZipFile(io.BytesIO(self._zip_bytes)) as zf:
                try:
                    raw = zf.read(name)
                except KeyError:
                    raise NotInBundle(name) from None
            self._arrays[name] = np.load(io.BytesIO(raw), allow_pickle=False)
        return self._arrays[name]

    def replayer(self) -> Replayer:
        return Replayer(self.calls, self.load_array, self.live)

    def grade(self, zip_path: str | os.PathLike[str], options: Any, runner: Any = None) -> Grade:
        """Grade a zip's public checks from the bundle; TA-only checks come back as skipped."""
        from .grading import grade

        with resolving_with(self.replayer()):
            g = grade(zip_path, self.assignment, options, runner)
        return with_ta_only(g, self.ta_only, self.manifest.get("order") or ())


def with_ta_only(g: Grade, ta_only: Iterable[TaOnly], order: Iterable[str] = ()) -> Grade:
    extra = tuple(CheckResult(id=t.id, notebook=t.notebook, status="skipped", points=0.0, max_points=t.points,
                              message=f"graded by the TAs, not by this self-check: {t.reason}", public=True)
                  for t in ta_only)
    if not extra:
        return g
    rank = {cid: i for i, cid in enumerate(order)}
    checks = sorted(g.checks + extra, key=lambda c: rank.get(c.id, len(rank)))
    return replace(g, checks=tuple(checks), auto_max=round(g.auto_max + sum(t.max_points for t in extra), 4))


def open_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read a bundle; a wrong file or another grader version is a one-line usage error."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: no such bundle")
    raw = path.read_bytes()
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            names = set(zf.namelist())
            if MANIFEST not in names:
                raise UsageError(f"{path.name}: not a grader bundle (no {MANIFEST}); "
                                 "TAs make one with `grader bundle ID OUT.zip`")
            manifest = json.loads(zf.read(MANIFEST))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise UsageError(f"{path.name}: not a grader bundle")
            version = manifest.get("grader_version")
            if version != __version__ or manifest.get("format_version") != FORMAT_VERSION:
                raise UsageError(f"{path.name} is a bundle for grader {version}, this is grader {__version__}: "
                                 f"get the bundle for grader {__version__} (or install grader {version})")
            registry = json.loads(zf.read(REGISTRY))
            calls = json.loads(zf.read(CALLS))["calls"]
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as exc:
        raise UsageError(f"{path.name}: not a readable grader bundle ({type(exc).__name__}: {exc})") from None
    try:
        assignment = assignment_from(registry, f"bundle {path.name}")
        ta_only = tuple(TaOnly(**t) for t in manifest.get("ta_only", ()))
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path.name}: damaged grader bundle ({type(exc).__name__}: {exc})") from None
    order = [c.id for c in assignment.checks] + [t.id for t in ta_only]
    manifest = {**manifest, "order": manifest.get("order") or order}
    return Bundle(path=path, manifest=manifest, assignment=assignment, calls=calls, ta_only=ta_only,
                  live=frozenset(manifest.get("live", ())), _zip_bytes=raw)
