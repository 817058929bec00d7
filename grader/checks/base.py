"""What every check kind shares: requests out, replies in, a verdict back.

A kind turns one registry `Check` into probe requests for the sandbox child (plain data:
names, arrays, numbers; never expected values) and later judges the child's replies in
the grader's own process, with the reference. Kinds are stateless objects; everything a
judgement needs is in the `Check`, the `Context` and the replies.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import re
import sys
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

import numpy as np

from ..refs import import_ref  # noqa: F401  (re-exported: course code and the bundle use it here)
from ..models import CheckResult, Measure, Status
from ..plain import plain  # noqa: F401 - the kinds take it from here

REF_PATTERN = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")
PROBLEM = tuple[str, str, str]  # (key, problem, fix) for the registry's messages


@dataclass(frozen=True)
class Request:
    """One probe the child must run. `args` hold plain data and numpy arrays only.

    `stage`: requests run in stage order (then by key), so a later stage's arguments (hidden
    inputs that check an earlier stage's answer) reach the child only after it.

    `job`: requests with the same non-empty name run together in a child of their own (a
    second run of the same notebook, which the grader spreads over free lanes: e.g. each
    training check beside the others) when the notebook runs in definitions mode, where
    repeating the run costs milliseconds; in full mode they stay in the notebook's one run.
    Such a request must not depend on what another job's probes left in the namespace.
    """

    probe: str
    args: Mapping[str, Any]
    timeout: float = 60.0
    stage: int = 0
    job: str = ""


@dataclass(frozen=True)
class Reply:
    """A probe's outcome as decoded from the wire (plain data and numpy arrays)."""

    ok: bool
    value: Any = None
    error: str = ""
    seconds: float = 0.0
    status: str = ""  # the sandbox's probe status: ok | error | timeout | crashed | not-run
    error_type: str = ""  # the exception's type name when status is "error"


@dataclass(frozen=True)
class NotebookFacts:
    """What the run of a notebook said about itself, for kinds that judge the run."""

    cell_sources: tuple[str, ...] = ()
    executed_ok: bool = True
    failed_cells: tuple[str, ...] = ()  # one line each: "cell 7: NameError: ..."
    notes: tuple[str, ...] = ()  # shims used, blocked shell escapes


@dataclass(frozen=True)
class Context:
    """Per-submission settings a kind may read. `seed` is secret: hidden cases come from it."""

    seed: int
    public_only: bool = False
    notebook: NotebookFacts = field(default_factory=NotebookFacts)
    starters: Any = None  # grader.starters.Starters: the course's handout, when the TA gave one


@dataclass(frozen=True)
class Verdict:
    fraction: float  # of the check's points, 0..1
    message: str
    status: str | None = None  # derived from fraction when None; "error" for student crashes
    measure: Measure | None = None  # set by threshold checks (training, accuracy, spikes)


class CheckKind(Protocol):
    name: str
    needs_sandbox: bool

    def validate(self, params: Mapping[str, Any]) -> list[PROBLEM]: ...

    def requests(self, check: Any, ctx: Context) -> dict[str, Request]: ...

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict: ...


def result_from(check: Any, verdict: Verdict, seconds: float) -> CheckResult:
    fraction = min(1.0, max(0.0, verdict.fraction))
    status = verdict.status or ("pass" if fraction >= 1.0 else "fail" if fraction <= 0.0 else "partial")
    message = verdict.message
    if status not in tuple(Status):  # a course judge's own word: a judging fault, said so, no points
        status, fraction, message = Status.ERROR, 0.0, f"{message} (the judge gave the unknown status `{status}`)"
    return CheckResult(id=check.id, notebook=check.notebook, status=status,
                       points=round(check.points * fraction, 4), max_points=check.points,
                       message=message, seconds=round(seconds, 3), public=check.public,
                       measure=verdict.measure)


# --------------------------------------------------------------------------- references
#
# `resolve` is the one place where the registry's references (reference solutions, case
# generators, metrics, plugins, provided sources) are imported. While a `Resolver` is
# active (`resolving_with`), it answers instead: `grader bundle` records every call of a
# resolved function, `grader check --bundle` replays them without importing anything.

ENV_REFERENCES = "HW2_GRADER_REFERENCES"  # folders of private references, os.pathsep-separated
_REFERENCE_FOLDERS: list[str] = []


class Resolver(Protocol):
    """Stands in for importing references while active (see `resolving_with`)."""

    def resolve(self, ref: str) -> Any: ...

    def hidden_rng(self, rng: np.random.Generator) -> None:
        """Told about every generator `rng_for` makes for a hidden case while active."""


_ACTIVE: ContextVar[Resolver | None] = ContextVar("hw2_grader_resolver", default=None)


@contextlib.contextmanager
def resolving_with(resolver: Resolver) -> Iterator[Resolver]:
    """Within the block (this thread/context only), `resolve` asks `resolver`."""
    token = _ACTIVE.set(resolver)
    try:
        yield resolver
    finally:
        _ACTIVE.reset(token)


def active_resolver() -> Resolver | None:
    return _ACTIVE.get()


def resolve(ref: str) -> Callable[..., Any]:
    """`package.module:attr` -> the object, imported in the grader's process only."""
    active = _ACTIVE.get()
    return import_ref(ref) if active is None else active.resolve(ref)


def use_reference_folders(folders: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Put folders of private references first on the grader process's `sys.path`.

    Only this process (and the grading workers it spawns, which inherit `sys.path`) sees
    them: the sandbox server starts isolated from its own path, so student code cannot
    import them. Each value may hold several folders joined with `os.pathsep`. Returns the
    folders now in use.
    """
    from ..errors import UsageError

    wanted: list[str] = []
    for value in folders:
        for part in str(value).split(os.pathsep):
            if not part.strip():
                continue
            path = Path(part).expanduser()
            if not path.is_dir():
                raise UsageError(f"--references {part}: no such folder")
            real = str(path.resolve())
            if real not in wanted:
                wanted.append(real)
    for real in reversed(wanted):
        if real in sys.path:
            sys.path.remove(real)
        sys.path.insert(0, real)
        if real not in _REFERENCE_FOLDERS:
            _REFERENCE_FOLDERS.append(real)
    if wanted:
        importlib.invalidate_caches()
    return list(_REFERENCE_FOLDERS)


def reference_folders() -> list[str]:
    """The folders given with --references / HW2_GRADER_REFERENCES in this process."""
    return list(_REFERENCE_FOLDERS)


def _import_fix(ref: str, exc: Exception) -> str:
    module = ref.partition(":")[0]
    missing = getattr(exc, "name", None) if isinstance(exc, ModuleNotFoundError) else None
    if missing and (module == missing or module.startswith(missing + ".")):
        return (f"check the module path; if `{missing}` is kept outside the grader, give the folder that holds it "
                f"with `grader --references DIR` or {ENV_REFERENCES}")
    if missing:
        return f"`{module}` imports `{missing}`, which is not installed here"
    return "check the module path and function name"


def check_ref(params: Mapping[str, Any], key: str, problems: list[PROBLEM], required: bool = True) -> None:
    ref = params.get(key)
    if ref is None:
        if required:
            problems.append((key, f"missing `{key}`", "name a function as `package.module:function`"))
        return
    if not isinstance(ref, str) or not REF_PATTERN.fullmatch(ref):
        problems.append((key, f"`{ref}` is not a `package.module:function` reference",
                         "e.g. my_course.reference.conv:cross_correlate"))
        return
    try:
        resolve(ref)
    except (ImportError, AttributeError) as exc:
        problems.append((key, f"cannot import `{ref}`: {exc}", _import_fix(ref, exc)))


def allowed_keys(params: Mapping[str, Any], allowed: tuple[str, ...], problems: list[PROBLEM]) -> None:
    import difflib

    for key in params:
        if key not in allowed:
            near = difflib.get_close_matches(str(key), allowed, n=1)
            problems.append((str(key), "unknown key", f"did you mean `{near[0]}`?" if near
                             else f"allowed here: {', '.join(allowed)}"))


def case_seed(ctx_seed: int, check_id: str, public: bool) -> int:
    """Public cases are the same for everyone and every run; hidden ones follow the secret seed."""
    material = f"{check_id}|public" if public else f"{check_id}|hidden|{ctx_seed}"
    return int.from_bytes(hashlib.sha256(material.encode()).digest()[:8], "little")


def rng_for(ctx: Context, check_id: str, public: bool) -> np.random.Generator:
    rng = np.random.default_rng(case_seed(ctx.seed, check_id, public))
    if not public:
        active = _ACTIVE.get()
        if active is not None:
            active.hidden_rng(rng)  # a bundle never records (nor replays) a hidden case
    return rng


def hidden_error(reply: Reply) -> str:
    """A failed reply said without anything student code wrote (for hidden cases).

    An exception message, a type name or printed text may repeat the inputs, and hidden
    inputs must not reach the feedback; the grader's own words are safe.
    """
    import builtins

    if reply.status in ("timeout", "crashed", "not-run"):
        return reply.error  # the sandbox's words (limit, signal), none of the student's
    name = reply.error_type
    if name and (isinstance(getattr(builtins, name, None), type) or name in SAFE_ERROR_TYPES):
        return f"raised {name} (details are not shown for hidden cases)"
    return "raised an exception (details are not shown for hidden cases)"


SAFE_ERROR_TYPES = ("ProbeError", "StudentExit", "Timeout", "CpuLimit", "Killed", "Crash")
