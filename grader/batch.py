"""Many submissions over a pool of worker processes, with a content-hash cache.

Each worker loads the assignment once and keeps one sandbox server for its whole life,
so the cost of a notebook stays the fork of a warm process. A worker that dies takes only
the submission it was grading with it: that student gets an `error` verdict and the pool
is rebuilt for the rest. A re-run skips every submission whose zip bytes, registry,
grader version, grading code (the grader's and the course's: `codehash`), seed and
lateness inputs are unchanged, unless forced.

Where the grading runs is a choice of executor (`BatchOptions.cluster`): this machine
(one process, or a pool of `workers`) or a Dask cluster (`grader.cluster`). Every executor
hands each finished Grade to the same `finish`, in this process, which writes the cache and
calls the progress callback: the gradebook never depends on where a zip was graded.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from . import __version__, numerics
from .checks.base import reference_folders
from .codehash import code_digest
from .errors import UsageError
from .grading import Options, grade
from .hashing import digest
from .intake import guess_student, sha256_file
from .models import CheckResult, Grade, grade_data, grade_from_data
from .registry import Assignment, load_file

CACHE_DIR = ".cache"


@dataclass(frozen=True)
class BatchItem:
    zip_path: Path
    guessed_student: str | None
    cache_key: str


@dataclass(frozen=True)
class BatchResult:
    grades: tuple[Grade, ...]
    cached: int
    graded: int
    crashed: int


@dataclass(frozen=True)
class BatchOptions:
    workers: int = 1
    force: bool = False
    only: str | None = None
    grade_options: Options = field(default_factory=Options)
    cluster: str | None = None  # a Dask scheduler address (tcp://host:8786): grade there, not here


def discover(folder: Path) -> list[Path]:
    """Every .zip directly in the folder (sorted, so the order never depends on the disk)."""
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    return sorted(p for p in folder.iterdir() if p.suffix.lower() == ".zip" and p.is_file())


def cache_key(zip_path: Path, assignment: Assignment, options: Options, student: str | None,
              code: str | None = None) -> str:
    """What determines a grade: the bytes, the registry, this version, the code that grades
    (`code`, else `codehash.code_digest`), the seed, the time inputs, the handout that
    provided code is compared with (its content hash), and the numeric settings when they
    are not the defaults (another kernel set is another run)."""
    when = options.submitted_at.isoformat() if options.submitted_at else ""
    if student and options.timestamps and student.lower() in options.timestamps:
        when = options.timestamps[student.lower()].isoformat()
    ext = ""
    if student and options.extensions and student.lower() in options.extensions:
        ext = repr(options.extensions[student.lower()])
    handout = options.starters.digest if options.starters is not None else "no-handout"
    code = code or code_digest(assignment, reference_folders())
    parts = [sha256_file(zip_path), assignment.registry_hash, __version__, code, str(options.seed),
             str(options.public_only), when, ext, handout]
    kernels = numerics.from_environ().cache_material()
    if kernels:  # "" for the defaults
        parts.append(kernels)
    return digest(parts)[:32]


def plan(zips: Iterable[Path], assignment: Assignment, options: Options) -> list[BatchItem]:
    items = []
    code = code_digest(assignment, reference_folders())  # once: the same for every zip
    for z in zips:
        student = guess_student(z.name, assignment.submission)
        items.append(BatchItem(z, student, cache_key(z, assignment, options, student, code)))
    return items


def _cache_path(out_dir: Path, item: BatchItem) -> Path:
    return out_dir / CACHE_DIR / f"{item.cache_key}.json"


def read_cached(out_dir: Path, item: BatchItem) -> Grade | None:
    path = _cache_path(out_dir, item)
    try:
        return grade_from_data(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError):  # pydantic's ValidationError is a ValueError
        return None


def write_cached(out_dir: Path, item: BatchItem, g: Grade) -> None:
    path = _cache_path(out_dir, item)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(grade_data(g), sort_keys=True))
    os.replace(tmp, path)


# --------------------------------------------------------------------------- worker side

_WORKER: dict[str, Any] = {}


def _init_worker(assignment_source: str, options: Options, references: list[str]) -> None:
    import atexit

    from .checks.base import use_reference_folders
    from .sandbox_runner import open_runner

    use_reference_folders(references)  # so resolve() finds them, and the sandbox hides them
    _WORKER["assignment"] = load_file(assignment_source)
    from .courses import course_of

    course_of(assignment_source)  # its course's probes go into this worker's sandbox server
    _WORKER["options"] = options
    runner_cm = open_runner()
    _WORKER["runner"] = runner_cm.__enter__()
    atexit.register(runner_cm.__exit__, None, None, None)


def _grade_in_worker(zip_path: str) -> dict[str, Any]:
    g = grade(zip_path, _WORKER["assignment"], _WORKER["options"], _WORKER["runner"])
    return grade_data(g)


def crashed_grade(item: BatchItem, assignment: Assignment, reason: str) -> Grade:
    checks = tuple(CheckResult(id=c.id, notebook=c.notebook, status="error", points=0.0, max_points=c.points,
                               message="not graded: " + reason, public=c.public) for c in assignment.checks)
    return Grade(student=item.guessed_student, assignment=assignment.id, zip_name=item.zip_path.name,
                 accepted=False, hours_late=0.0, lateness=None, penalties=(), problems=(), files=(), checks=checks,
                 manual=assignment.manual, raw_score=0.0, score=0.0, max_score=assignment.max_score,
                 auto_max=assignment.auto_max, verdict="error", reason=reason, grader_version=__version__,
                 registry_hash=assignment.registry_hash, submission_hash="")


# --------------------------------------------------------------------------- parent side

Progress = Callable[[BatchItem, Grade, bool], None]  # (item, grade, from_cache)


def run_batch(items: list[BatchItem], assignment: Assignment, out_dir: Path, options: BatchOptions,
              on_done: Progress | None = None, runner_factory: Callable[[], Any] | None = None) -> BatchResult:
    """Grade every item (cache first), in `options.workers` processes, calling `on_done` per item."""
    grades: dict[Path, Grade] = {}
    todo: list[BatchItem] = []
    cached = 0
    for item in items:
        chosen = options.only is None or (item.guessed_student or "") == options.only.lower()
        hit = None if (options.force or options.only) and chosen else read_cached(out_dir, item)
        if hit is None and not chosen:
            continue  # --only: the others stay as they are (in the gradebook when cached)
        if hit is not None:
            grades[item.zip_path] = hit
            cached += 1
            if on_done:
                on_done(item, hit, True)
        else:
            todo.append(item)

    crashed = 0

    def finish(item: BatchItem, g: Grade) -> None:
        _finish(item, g, grades, out_dir, on_done)

    if todo and options.cluster:
        from .cluster import run_on_cluster

        crashed = run_on_cluster(options.cluster, todo, assignment, options.grade_options, finish,
                                 lambda item, reason: crashed_grade(item, assignment, reason))
    elif todo and (options.workers <= 1 or runner_factory is not None):
        from .sandbox_runner import open_runner

        with (runner_factory or open_runner)() as runner:
            for item in todo:
                try:
                    g = grade(item.zip_path, assignment, options.grade_options, runner)
                except Exception as exc:  # noqa: BLE001 - one submission never stops the batch
                    crashed += 1
                    g = crashed_grade(item, assignment, f"grader failure: {type(exc).__name__}: {exc}")
                finish(item, g)
    elif todo:
        crashed = _run_pool(todo, assignment, options, finish)

    ordered = tuple(grades[i.zip_path] for i in items if i.zip_path in grades)
    return BatchResult(grades=ordered, cached=cached, graded=len(todo), crashed=crashed)


def _finish(item: BatchItem, g: Grade, grades: dict[Path, Grade], out_dir: Path, on_done: Progress | None) -> None:
    grades[item.zip_path] = g
    if g.verdict != "error":
        write_cached(out_dir, item, g)
    if on_done:
        on_done(item, g, False)


def _initargs(assignment: Assignment, options: BatchOptions) -> tuple[Any, ...]:
    from .checks.base import reference_folders

    return (assignment.source, options.grade_options, reference_folders())


def _run_pool(todo: list[BatchItem], assignment: Assignment, options: BatchOptions,
              finish: Callable[[BatchItem, Grade], None]) -> int:
    ctx = multiprocessing.get_context("spawn")  # never fork a parent that has torch's thread pools
    pending = list(todo)
    crashed = 0
    while pending:
        with ProcessPoolExecutor(max_workers=options.workers, mp_context=ctx, initializer=_init_worker,
                                 initargs=_initargs(assignment, options)) as pool:
            futures: dict[Future, BatchItem] = {pool.submit(_grade_in_worker, str(i.zip_path)): i for i in pending}
            pending = []
            broken = False
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    item = futures.pop(fut)
                    try:
                        g = grade_from_data(fut.result())
                    except BrokenProcessPool:
                        broken = True
                        pending.append(item)
                        continue
                    except Exception as exc:  # noqa: BLE001
                        crashed += 1
                        g = crashed_grade(item, assignment, f"grader failure: {type(exc).__name__}: {exc}")
                    finish(item, g)
                if broken:
                    pending += list(futures.values())
                    futures.clear()
        if broken and pending:
            # The first pending item is the likeliest culprit: grade it alone, as an error if it breaks again.
            culprit, pending = pending[0], pending[1:]
            try:
                with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=_init_worker,
                                         initargs=_initargs(assignment, options)) as solo:
                    g = grade_from_data(solo.submit(_grade_in_worker, str(culprit.zip_path)).result())
            except Exception as exc:  # noqa: BLE001
                crashed += 1
                g = crashed_grade(culprit, assignment, f"the grading worker died ({type(exc).__name__})")
            finish(culprit, g)
    return crashed


# --------------------------------------------------------------------------- outputs


def file_stem(g: Grade, taken: set[str]) -> str:
    stem = g.student or Path(g.zip_name).stem
    stem = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in stem) or "submission"
    base, n = stem, 2
    while stem in taken:
        stem, n = f"{base}-{n}", n + 1
    taken.add(stem)
    return stem


def write_atomic(path: Path, text: str) -> Path:
    """Write a whole file or nothing: a temp file beside it, then a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def write_outputs(grades: Iterable[Grade], out_dir: Path, lms_item: str | None = None) -> dict[str, Path]:
    """grades.csv, grades.json, theory.csv, brightspace.csv and lms.csv, feedback/<id>.md,
    gradescope/<id>/results.json, histogram.png; every file written whole (temp + rename)."""
    from .report.csvout import write_gradebook
    from .report.feedback import feedback_markdown
    from .report.gradescope import write_results
    from .report.jsonout import grades_json
    from .report.lms import brightspace_csv, plain_csv, theory_csv
    from .report.plots import histogram_png

    grades = list(grades)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"csv": write_gradebook(grades, out_dir / "grades.csv")}
    paths["json"] = write_atomic(out_dir / "grades.json", grades_json(grades))
    if any(g.theory is not None for g in grades):
        paths["theory"] = write_atomic(out_dir / "theory.csv", theory_csv(grades))
    item = lms_item or (grades[0].assignment if grades else "grade")
    paths["brightspace"] = write_atomic(out_dir / "brightspace.csv", brightspace_csv(grades, item))
    paths["lms"] = write_atomic(out_dir / "lms.csv", plain_csv(grades, item))
    taken: set[str] = set()
    for g in grades:
        stem = file_stem(g, taken)
        write_atomic(out_dir / "feedback" / f"{stem}.md", feedback_markdown(g))
        write_results(g, out_dir / "gradescope" / stem / "results.json")
    paths["feedback"] = out_dir / "feedback"
    paths["gradescope"] = out_dir / "gradescope"
    if grades:
        paths["histogram"] = histogram_png(grades, out_dir / "histogram.png")
    return paths
