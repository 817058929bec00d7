"""One submission, end to end: intake and rules, sandboxed runs, judging, score.

The flow is one way: precheck (intake + rules, no student code) -> for each notebook, one
sandbox run with every probe its checks need -> each check judged in this process against
the reference -> deductions -> a frozen `Grade`. Nothing here raises for a bad
submission: a broken zip, a missing notebook or a crashing cell all end as verdicts in the
Grade, so a batch never loses a student. Only the grader's own faults (a bad registry, a
sandbox that cannot start) raise `GraderError`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Protocol

from . import __version__
from .checks import KINDS, Context, NotebookFacts, Reply, Request, Verdict, result_from
from .hashing import digest
from .models import CheckResult, FoundFile, Grade, Penalty, Problem
from .precheck import Precheck, precheck
from .registry import Assignment, Check, FileRule, SandboxLimits
from .rules import execution_penalty, final_score, not_accepted_reason

DEFAULT_SEED = 2572  # a course sets its secret seed with --seed or HW2_GRADER_SEED
ENV_SEED = "HW2_GRADER_SEED"


def seed_from_env(explicit: int | None = None) -> int:
    if explicit is not None:
        return explicit
    raw = os.environ.get(ENV_SEED)
    return int(raw) if raw and raw.strip().lstrip("-").isdigit() else DEFAULT_SEED


@dataclass(frozen=True)
class Options:
    submitted_at: datetime | None = None
    timestamps: Mapping[str, datetime] | None = None
    extensions: Mapping[str, Any] | None = None
    seed: int = DEFAULT_SEED
    public_only: bool = False  # the student's self-check: public cases only
    run_code: bool = True  # False: intake and rules only (`grader check --no-run`)
    scratch_root: str | None = None
    starters: Any = None  # grader.starters.Starters: provided code is compared with this handout


@dataclass(frozen=True)
class RunOutcome:
    """What one sandboxed notebook run gave back, in the grader's terms."""

    replies: Mapping[str, Reply]
    facts: NotebookFacts
    crashed: str = ""  # the child died outside any cell or probe
    seconds: float = 0.0
    problems: tuple[str, ...] = ()  # what the run hit that the student can fix (e.g. the disk quota)


class Runner(Protocol):
    """Runs one notebook in isolation and answers probe requests. The sandbox implements it."""

    def run(self, notebook: Path, scratch: Path, mode: str, limits: SandboxLimits,
            requests: Mapping[str, Request]) -> RunOutcome: ...


# --------------------------------------------------------------------------- helpers


def _request_key(req: Request) -> str:
    """Identical requests (same probe, same arguments) are run once and shared; a request
    whose arguments cannot be hashed is run on its own."""
    try:
        return digest(req.probe, req.args)[:20]
    except TypeError:
        return f"unshared-{id(req)}"


def _cell_sources(path: Path) -> tuple[str, ...]:
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:  # noqa: BLE001 - intake already judged validity; here we only need text
        return ()
    return tuple(c.source for c in nb.cells if c.cell_type == "code")


def _skipped(checks: Iterable[Check], message: str, status: str = "skipped") -> list[CheckResult]:
    return [CheckResult(id=c.id, notebook=c.notebook, status=status, points=0.0, max_points=c.points,
                        message=message, public=c.public) for c in checks]


def _needs_sandbox(kind: Any, check: Check, ctx: Context) -> bool:
    """A kind may decide per check (`uses_sandbox`), e.g. provided code judged by text or by behaviour."""
    per_check = getattr(kind, "uses_sandbox", None)
    return per_check(check, ctx) if per_check is not None else kind.needs_sandbox


def _selected(assignment: Assignment, options: Options) -> list[Check]:
    return [c for c in assignment.checks if c.public or not options.public_only]


# --------------------------------------------------------------------------- per notebook


@dataclass(frozen=True)
class NotebookPlan:
    """What one notebook's checks ask of the sandbox (built before the run, judged after)."""

    sources: tuple[str, ...]
    requests: Mapping[str, Request]
    per_check: Mapping[str, Mapping[str, str]]  # check id -> its local reply names -> request key
    build_errors: Mapping[str, str]
    needs_run: bool
    # the request keys of each child: the notebook's run first, then one per sub-job (`Request.job`)
    jobs: tuple[tuple[str, ...], ...] = ((),)


def grade_notebook(rule: FileRule, path: Path, scratch: Path, checks: list[Check], assignment: Assignment,
                   options: Options, runner: Runner | None,
                   problems: list[Problem] | None = None) -> tuple[list[CheckResult], bool, float]:
    """Judge one notebook's checks. Returns (results, executed_ok, seconds); what the run
    hit that the student can fix is added to `problems` when given."""
    started = time.monotonic()
    plan = plan_notebook(rule, path, checks, options)
    outcome = run_notebook(plan, rule, path, scratch, assignment, options, runner)
    return judge_notebook(plan, outcome, rule, checks, options, runner, problems, started)


def plan_notebook(rule: FileRule, path: Path, checks: list[Check], options: Options) -> NotebookPlan:
    """The probe requests of one notebook's checks; identical ones are asked once."""
    sources = _cell_sources(path)
    base_ctx = Context(seed=options.seed, public_only=options.public_only,
                       notebook=NotebookFacts(cell_sources=sources), starters=options.starters)

    requests: dict[str, Request] = {}
    per_check: dict[str, dict[str, str]] = {}
    build_errors: dict[str, str] = {}
    for check in checks:
        kind = KINDS[check.kind]
        if not _needs_sandbox(kind, check, base_ctx):
            continue
        try:
            wanted = kind.requests(check, base_ctx)
        except Exception as exc:  # noqa: BLE001 - a registry/reference fault costs this check only
            build_errors[check.id] = f"grader could not build this check: {type(exc).__name__}: {exc}"
            continue
        mapping = {}
        for local, req in wanted.items():
            key = _request_key(req)
            requests.setdefault(key, req)
            mapping[local] = key
        per_check[check.id] = mapping
    needs_run = bool(requests) or (rule.mode == "full" and rule.execution_penalty)
    return NotebookPlan(sources, requests, per_check, build_errors, needs_run, _jobs(rule, requests))


def _jobs(rule: FileRule, requests: Mapping[str, Request]) -> tuple[tuple[str, ...], ...]:
    """The request keys of each child of one notebook: the requests without a `job` in the
    notebook's run (first), each named job in a child of its own (by name). Only in
    definitions mode, where a second run costs milliseconds; a notebook run in full keeps
    one run (a second would repeat the student's own training cells). The same on every
    machine, however many lanes it has: a probe's namespace does not depend on the cores."""
    if rule.mode != "definitions":
        return (tuple(requests),)
    groups: dict[str, list[str]] = {}
    for key, req in requests.items():
        groups.setdefault(req.job, []).append(key)
    main = groups.pop("", [])
    jobs = ([tuple(main)] if main else []) + [tuple(keys) for _, keys in sorted(groups.items())]
    return tuple(jobs) or ((),)


def run_notebook(plan: NotebookPlan, rule: FileRule, path: Path, scratch: Path, assignment: Assignment,
                 options: Options, runner: Runner | None) -> RunOutcome:
    """The one sandbox run of a notebook (none when nothing needs it). Thread-safe when the
    runner is: several notebooks of a submission may run at once (see `_run_ahead`)."""
    if not (plan.needs_run and runner is not None and options.run_code):
        return RunOutcome(replies={}, facts=NotebookFacts(cell_sources=plan.sources))
    folders = job_folders(plan, scratch)
    return merge_runs([run_job(plan, i, rule, folders[i] / path.name, folders[i], assignment, runner)
                       for i in range(len(plan.jobs))])


def job_folders(plan: NotebookPlan, scratch: Path) -> list[Path]:
    """The folder of each child of a notebook: its own folder for the notebook's run, a copy
    for each sub-job, made before any of them starts (two children never share a file, and
    none sees what another wrote)."""
    folders = [scratch]
    for i in range(1, len(plan.jobs)):
        copy = scratch.parent / f"{scratch.name}.job{i}"
        shutil.copytree(scratch, copy, symlinks=True, dirs_exist_ok=True)
        folders.append(copy)
    return folders


def run_job(plan: NotebookPlan, index: int, rule: FileRule, path: Path, scratch: Path, assignment: Assignment,
            runner: Runner) -> RunOutcome:
    """One child of a notebook: the requests of `plan.jobs[index]` (0: the notebook's run) in
    the folder `scratch` (see `job_folders`)."""
    outcome = runner.run(path, scratch, rule.mode, assignment.sandbox,
                         {key: plan.requests[key] for key in plan.jobs[index]})
    if not outcome.facts.failed_cells:
        return outcome
    # the run's folder shown as `.`: the same zip must give the same report wherever it is graded
    failed = tuple(c.replace(str(scratch), ".") for c in outcome.facts.failed_cells)
    return dataclasses.replace(outcome, facts=dataclasses.replace(outcome.facts, failed_cells=failed))


def merge_runs(parts: list[RunOutcome]) -> RunOutcome:
    """A notebook's outcome from its children: the notebook's run (first) says how its cells
    ran; every child answers its own requests; notes and problems of all, each once."""
    main = parts[0]
    if len(parts) == 1:
        return main
    replies: dict[str, Reply] = {}
    for part in parts:
        replies.update(part.replies)
    notes = tuple(dict.fromkeys(n for part in parts for n in part.facts.notes))
    return dataclasses.replace(main, replies=replies, facts=dataclasses.replace(main.facts, notes=notes),
                               seconds=sum(part.seconds for part in parts),
                               problems=tuple(dict.fromkeys(p for part in parts for p in part.problems)))


def judge_notebook(plan: NotebookPlan, outcome: RunOutcome, rule: FileRule, checks: list[Check], options: Options,
                   runner: Runner | None, problems: list[Problem] | None,
                   started: float) -> tuple[list[CheckResult], bool, float]:
    """Judge each check on the run's replies, in this process and in the registry's order."""
    sources, per_check, build_errors = plan.sources, plan.per_check, plan.build_errors
    if problems is not None and outcome.problems:
        problems.extend(Problem(rule.name, text) for text in outcome.problems)
    if problems is not None and rule.execution_penalty and outcome.facts.failed_cells and not outcome.problems:
        # (a problem the run reported itself, e.g. the disk quota, already says why)
        problems.append(_failed_cell_problem(rule.name, outcome.facts.failed_cells))
    outcome = RunOutcome(outcome.replies, NotebookFacts(
        cell_sources=sources, executed_ok=outcome.facts.executed_ok,
        failed_cells=outcome.facts.failed_cells, notes=outcome.facts.notes), outcome.crashed, outcome.seconds)
    ctx = Context(seed=options.seed, public_only=options.public_only, notebook=outcome.facts,
                  starters=options.starters)

    results: list[CheckResult] = []
    for check in checks:
        kind = KINDS[check.kind]
        t0 = time.monotonic()
        if check.id in build_errors:
            results.append(result_from(check, Verdict(0.0, build_errors[check.id], "error"), 0.0))
            continue
        if _needs_sandbox(kind, check, ctx) and not (runner is not None and options.run_code):
            results.append(_skipped([check], "not run (structure check only)")[0])
            continue
        replies = {local: outcome.replies.get(key, Reply(False, error=outcome.crashed or "no reply from the sandbox",
                                                      status="not-run"))
                   for local, key in per_check.get(check.id, {}).items()}
        try:
            verdict = kind.judge(check, replies, ctx)
        except Exception as exc:  # noqa: BLE001 - never lose the submission to one judge
            verdict = Verdict(0.0, f"could not judge the reply: {type(exc).__name__}: {exc}", "error")
        seconds = sum(r.seconds for r in replies.values()) + (time.monotonic() - t0)
        results.append(result_from(check, verdict, seconds))
    # A crash in a probe is that check's failure, not the notebook's: the sandbox's own
    # `executed_ok` already counts cells that failed, timed out or crashed.
    executed_ok = outcome.facts.executed_ok
    return results, executed_ok, time.monotonic() - started


FAILED_CELL_CHARS = 300  # of a failed cell's error in the report


def _failed_cell_problem(name: str, failed: tuple[str, ...]) -> Problem:
    """Why a notebook run in full could not be executed: its first failed cell (the others
    often only follow from it). The cell's error text is the student's code's own words, so it
    is cut to a line's worth: a notebook cannot fill the report with its exception message."""
    more = f" (and {len(failed) - 1} more cell{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else ""
    first = failed[0] if len(failed[0]) <= FAILED_CELL_CHARS else failed[0][:FAILED_CELL_CHARS] + " [...]"
    return Problem(name, f"`{name}` did not run through: {first}{more}",
                   "run the notebook top to bottom in a fresh kernel before zipping it")


def place_support(rule: FileRule, carried: Iterable[FoundFile], work: Path) -> None:
    """Put the notebook's support folders (registry `support:`) into its folder: each file
    the zip carried itself, else the course's copy of it (so a zip with its own `res/` runs
    its own helpers, and one without runs the course's)."""
    mine = {f.name: f.path for f in carried if f.path}
    for name, course_copy in rule.support_files().items():
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(mine.get(name) or course_copy, target)


# --------------------------------------------------------------------------- per submission


NotebookProgress = Callable[[str, int, int], None]  # (notebook, index from 1, count)


def grade(zip_path: str | os.PathLike[str], assignment: Assignment, options: Options = Options(),
          runner: Runner | None = None, on_notebook: NotebookProgress | None = None) -> Grade:
    """Grade one zip. Never raises for anything the submission contains.

    `on_notebook` is told before each notebook runs (training checks take minutes: a TA
    should see where the time goes).
    """
    zip_path = Path(zip_path)
    scratch = Path(tempfile.mkdtemp(prefix="hw2-grader-", dir=options.scratch_root))
    timings: list[tuple[str, float]] = []
    try:
        t0 = time.monotonic()
        pc = precheck(zip_path, assignment, scratch / "files", submitted_at=options.submitted_at,
                      timestamps=options.timestamps, extensions=options.extensions)
        timings.append(("intake", round(time.monotonic() - t0, 3)))
        return _grade_after_precheck(pc, assignment, options, runner, scratch, timings, on_notebook)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _grade_after_precheck(pc: Precheck, assignment: Assignment, options: Options, runner: Runner | None,
                          scratch: Path, timings: list[tuple[str, float]],
                          on_notebook: NotebookProgress | None = None) -> Grade:
    sub, late = pc.submission, pc.lateness
    checks = _selected(assignment, options)
    penalties: list[Penalty] = list(pc.penalties)
    results: list[CheckResult] = []
    run_problems: list[Problem] = []
    verdict, reason = "graded", ""

    if sub.fatal:
        verdict, reason = "rejected", sub.fatal
        results = _skipped(checks, f"not graded: {sub.fatal}")
    elif not late.accepted:
        verdict = "not-accepted"
        reason = not_accepted_reason(late, assignment.penalties.late)
        results = _skipped(checks, "not graded: late beyond the cut-off")
    else:
        failed_notebooks: list[str] = []
        ahead = _run_ahead(assignment, sub, checks, options, runner, scratch)
        for rule in assignment.submission.files:
            mine = [c for c in checks if c.notebook == rule.name]
            found = sub.file(rule.name)
            if rule.kind != "notebook":
                continue
            if found is None or not found.present:
                results += _skipped(mine, f"`{rule.name}` is missing from the zip", "fail")
                continue
            if not found.valid or not found.path:
                results += _skipped(mine, f"`{rule.name}` could not be read: {found.detail}", "fail")
                if rule.execution_penalty:
                    failed_notebooks.append(rule.name)
                continue
            if on_notebook:
                on_notebook(rule.name, 1 + [f.name for f in assignment.notebooks].index(rule.name),
                            len(assignment.notebooks))
            if rule.name in ahead:
                plan, outcome_of = ahead[rule.name]
                outcome, run_seconds = outcome_of()
                got, executed_ok, seconds = judge_notebook(plan, outcome, rule, mine, options, runner, run_problems,
                                                           time.monotonic() - run_seconds)
            else:
                work = _notebook_folder(scratch, rule, sub)
                got, executed_ok, seconds = grade_notebook(rule, work / rule.name, work, mine, assignment, options,
                                                           runner, run_problems)
            results += got
            timings.append((rule.name, round(seconds, 3)))
            if rule.execution_penalty and not executed_ok and options.run_code and runner is not None:
                failed_notebooks.append(rule.name)
        pen = execution_penalty(failed_notebooks, assignment.penalties)
        if pen:
            penalties.append(pen)


    # The theory pre-check shows the key's answers: TAs' runs only, never the students' self-check.
    theory = _theory(assignment, sub) if verdict == "graded" and not options.public_only else None
    order = {c.id: i for i, c in enumerate(assignment.checks)}
    results.sort(key=lambda r: order.get(r.id, len(order)))
    raw = round(sum(r.points for r in results), 4)
    accepted = late.accepted and not sub.fatal
    score = final_score(raw, penalties, assignment.max_score, accepted)
    return Grade(
        student=sub.student, assignment=assignment.id, zip_name=sub.zip_name, accepted=accepted,
        hours_late=late.hours_late, lateness=late, penalties=tuple(penalties), problems=pc.problems + tuple(run_problems),
        files=sub.files, checks=tuple(results), manual=assignment.manual if verdict == "graded" else (), raw_score=raw, score=score,
        max_score=assignment.max_score, auto_max=sum(c.points for c in checks), verdict=verdict, reason=reason,
        grader_version=__version__, registry_hash=assignment.registry_hash, submission_hash=sub.sha256,
        timings=tuple(timings), theory=theory,
        provenance=_provenance(runner),
    )


def _notebook_folder(scratch: Path, rule: FileRule, sub: Any) -> Path:
    """The folder a notebook runs in: this submission's files only."""
    work = scratch / "run" / rule.name.replace(".ipynb", "")
    work.mkdir(parents=True, exist_ok=True)
    for other in sub.files:
        if other.path and Path(other.path).is_file():
            shutil.copy2(other.path, work / other.name)
    place_support(rule, sub.support, work)
    return work


def _run_ahead(assignment: Assignment, sub: Any, checks: list[Check], options: Options, runner: Runner | None,
               scratch: Path) -> dict[str, tuple[NotebookPlan, Any]]:
    """Start the sandbox runs of the notebooks, and their sub-jobs, at the same time when the
    runner has lanes for it (`reserve`, grader.sandbox_runner): notebook name -> (plan, future
    of (outcome, run seconds)). Plans are built here and judging stays in the caller, one
    notebook at a time in the registry's order, so verdicts do not depend on which run ends
    first. The longest children (by their requests' time limits) start first, so the lanes
    end together. Empty: a runner without lanes."""
    reserve = getattr(runner, "reserve", None)
    if runner is None or not options.run_code or reserve is None or getattr(runner, "lanes", 1) < 2:
        return {}
    notebooks = []
    for rule in assignment.submission.files:
        found = sub.file(rule.name)
        if rule.kind != "notebook" or found is None or not found.present or not found.valid or not found.path:
            continue
        work = _notebook_folder(scratch, rule, sub)
        mine = [c for c in checks if c.notebook == rule.name]
        plan = plan_notebook(rule, work / rule.name, mine, options)
        if plan.needs_run:
            notebooks.append((rule, work, plan))
    units = [(sum(float(plan.requests[k].timeout or 0) for k in keys), rule, folder, plan, i)
             for rule, work, plan in notebooks
             for i, (keys, folder) in enumerate(zip(plan.jobs, job_folders(plan, work)))]

    def run(rule: FileRule, folder: Path, plan: NotebookPlan, i: int) -> tuple[RunOutcome, float, float]:
        t0 = time.monotonic()
        return run_job(plan, i, rule, folder / rule.name, folder, assignment, runner), t0, time.monotonic()

    def collect(parts: list[Callable[[], tuple[RunOutcome, float, float]]]) -> tuple[RunOutcome, float]:
        done = [part() for part in parts]  # in the plan's order: the notebook's run first
        span = max(end for _, _, end in done) - min(start for _, start, _ in done)
        return merge_runs([outcome for outcome, _, _ in done]), span

    if len(units) < 2:  # nothing to overlap: run when judged (no thread, no clone)
        return {rule.name: (plan, functools.partial(collect, [functools.partial(run, rule, work, plan, 0)]))
                for rule, work, plan in notebooks}
    from concurrent.futures import ThreadPoolExecutor

    # When every run may need torch's compiler stack, the first server prepares it once,
    # before it is cloned (the clones inherit it). Otherwise the clones come first, and only
    # a server given such a run prepares it, while the other lanes go on.
    needs = getattr(runner, "needs_compiler", None)
    compiler = needs is None or all(needs(rule.mode, {k: plan.requests[k] for k in plan.jobs[i]})
                                    for _, rule, _, plan, i in units)
    pool = ThreadPoolExecutor(max_workers=reserve(len(units), compiler=compiler), thread_name_prefix="notebook-run")
    futures: dict[tuple[str, int], Any] = {}
    for _, rule, folder, plan, i in sorted(units, key=lambda u: -u[0]):
        futures[(rule.name, i)] = pool.submit(run, rule, folder, plan, i).result
    pool.shutdown(wait=False)
    return {rule.name: (plan, functools.partial(collect, [futures[(rule.name, i)] for i in range(len(plan.jobs))]))
            for rule, work, plan in notebooks}


def _theory(assignment: Assignment, sub: Any) -> Any:
    """The theory PDF pre-graded against the key (suggestions for the TAs; not in the score).
    None when the assignment has no key or no PDF rule. Never raises for the PDF."""
    if not assignment.theory:
        return None
    rule = next((f for f in assignment.submission.files if f.kind == "pdf"), None)
    if rule is None:
        return None
    from .courses import theory_key
    from .theory import check_pdf

    specs = theory_key(assignment.source).items(assignment.theory)
    found = sub.file(rule.name)
    if found is None or not found.present or not found.path:
        from .theory import PdfText, check_text

        return check_text(PdfText((), "broken", f"`{rule.name}` is missing from the zip: grade by hand"),
                          specs, assignment.id, rule.name)
    return check_pdf(Path(found.path), specs, assignment.id, file=rule.name)


def _provenance(runner: Runner | None) -> tuple[tuple[str, Any], ...]:
    """The runner's numeric settings (grader.numerics), when it knows them."""
    get = getattr(runner, "provenance", None)
    return tuple(sorted(get().items())) if callable(get) else ()


def grade_json_bytes(grade_: Grade) -> bytes:
    """The canonical bytes of a grade: what "same score, byte for byte" is measured on."""
    return json.dumps(grade_.to_json(), sort_keys=True, separators=(",", ":")).encode()
