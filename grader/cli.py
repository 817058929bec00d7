"""The `grader` command. Thin: parse options, call the engine, print a renderer's output.

Every `GraderError` becomes one clear line on stderr and its exit status; a submission's
own problems are never errors here, they are part of the report (exit status 1).
"""

from __future__ import annotations

import functools
import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console

from . import __version__
from .errors import GraderError, UsageError
from .exitcodes import Report, status_of

ENV_ASSIGNMENT = "HW2_GRADER_ASSIGNMENT"
ENV_REFERENCES = "HW2_GRADER_REFERENCES"  # = grader.checks.base.ENV_REFERENCES (not imported: keep startup light)
ENV_STARTERS = "HW2_GRADER_STARTERS"  # = grader.starters.ENV_STARTERS


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def _fail(message: str, status: int) -> None:
    click.echo(f"grader: error: {message}", err=True)
    sys.exit(status)


def handles_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn GraderError into one line and its exit status; never a traceback for users."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GraderError as exc:
            first, *rest = str(exc).splitlines() or [""]
            click.echo(f"grader: error: {first}", err=True)
            for line in rest:
                click.echo(f"grader: error: {line}", err=True)
            sys.exit(status_of(exc))
        except (click.exceptions.Exit, click.ClickException, KeyboardInterrupt):
            raise
        except Exception as exc:  # a bug of ours: one line, and the traceback only on request
            if os.environ.get("HW2_GRADER_DEBUG"):
                raise
            click.echo(f"grader: internal error: {type(exc).__name__}: {exc} "
                       "(set HW2_GRADER_DEBUG=1 for the traceback, and please report it)", err=True)
            sys.exit(status_of(exc))

    return wrapper


def _registry_dirs(ctx: click.Context) -> list[str]:
    return list(ctx.obj.get("registry", ())) if ctx.obj else []


def _load_assignment(ctx: click.Context, ident: str | None):
    from . import registry

    from . import courses

    ident = ident or courses.default_assignment(_registry_dirs(ctx))
    if not ident:
        raise UsageError("no assignment given and no course declares a `default_assignment` (use --assignment ID)")
    assignment = registry.load(ident, _registry_dirs(ctx))
    courses.course_of(assignment.source)  # its course's probes go into the sandbox server
    return assignment


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    from .timestamps import parse_submitted_at

    return parse_submitted_at(value)


assignment_option = click.option(
    "--assignment", "-a", envvar=ENV_ASSIGNMENT, default=None, metavar="ID",
    help=f"Registry id of the assignment (default: the course's `default_assignment`; env {ENV_ASSIGNMENT}). "
         "A path to a .yaml file also works.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
submitted_option = click.option(
    "--submitted-at", metavar="TIME",
    help="When the zip was submitted, ISO 8601 with offset (2025-02-26T10:00:00-05:00). "
         "Without it the newest entry time in the zip is used and marked untrusted.")
seed_option = click.option("--seed", type=int, default=None, envvar="HW2_GRADER_SEED",
                           help="Secret seed of the hidden cases (env HW2_GRADER_SEED).")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="grader")
@click.option("--registry", "-r", "registry_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
              envvar="HW2_GRADER_PROBLEMS", help="Extra folder of assignment YAML files, or a course package (a folder with course.yaml), "
                   "before the installed courses.")
@click.option("--references", "reference_dirs", multiple=True, type=click.Path(file_okay=False), metavar="DIR",
              envvar=ENV_REFERENCES,
              help=f"Folder of private references the registry names (put first on the grader's Python path, "
                   f"never the sandbox's). Repeat it or join folders with '{os.pathsep}' (env {ENV_REFERENCES}).")
@click.option("--starters", "starters_dir", type=click.Path(file_okay=False), metavar="DIR", envvar=ENV_STARTERS,
              default=None,
              help=f"Folder of the course's original starter notebooks (the handout; env {ENV_STARTERS}; else the "
                   "registry's `starters_dir:`): provided code is compared with it. Without one, provided code is "
                   "judged by its behaviour.")
@click.pass_context
def main(ctx: click.Context, registry_dirs: tuple[str, ...], reference_dirs: tuple[str, ...],
         starters_dir: str | None) -> None:
    """Grade homework submissions (zips of notebooks and a PDF) against a course package.

    \b
    Students:  grader check abc1234.zip          (structure, naming, public checks)
               grader check --bundle bundle.zip abc1234.zip   (with the TAs' bundle)
    TAs:       grader grade abc1234.zip          (one submission, full report)
               grader batch submissions/ --out grades/   (a folder into a gradebook)
               grader list                       (the courses' assignments)
               grader key ID                     (theory answer key)
               grader bundle ID bundle.zip       (the students' self-check bundle)

    Exit status: 0 all good, 1 the submission has problems, 2 usage error, 3 grader failure.
    """
    ctx.ensure_object(dict)
    ctx.obj["registry"] = registry_dirs
    if registry_dirs:  # a folder holding course.yaml is a course package: loaded like an installed one
        from .courses import use_folders

        try:
            use_folders(registry_dirs)
        except GraderError as exc:
            _fail(str(exc), exc.exit_code)
    ctx.obj["starters"] = starters_dir
    if reference_dirs:
        from .checks.base import use_reference_folders

        try:
            ctx.obj["references"] = use_reference_folders(reference_dirs)
        except GraderError as exc:
            _fail(str(exc), status_of(exc))


# --------------------------------------------------------------------------- registry commands


@main.command("list")
@json_option
@click.pass_context
@handles_errors
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the known assignments."""
    from . import courses, registry
    from rich.table import Table

    rows = []
    for ident, path in sorted(registry.assignment_files(_registry_dirs(ctx)).items()):
        course = courses.course_of(path)
        try:
            a = registry.load_file(path)
            rows.append({"id": ident, "course": course.name if course else "", "term": a.term, "title": a.title,
                         "file": str(path),
                         "deadline": a.deadline.isoformat(), "checks": len(a.checks), "valid": True})
        except GraderError as exc:
            rows.append({"id": ident, "course": course.name if course else "", "term": "", "title": "",
                         "file": str(path), "deadline": "",
                         "checks": 0, "valid": False, "error": str(exc).splitlines()[0]})
    if as_json:
        click.echo(json.dumps({"assignments": rows}, indent=2))
        return
    table = Table(title="Assignments")
    for col in ("id", "course", "term", "deadline", "checks"):  # ids whole: a TA copies them
        table.add_column(col, no_wrap=col != "term")
    for r in rows:
        # the deadline to the minute (its zone: `grader show`), the file: --json or `grader show`
        table.add_row(r["id"], r["course"], r["term"] or ("[red]invalid[/]" if not r["valid"] else ""),
                      r["deadline"][:16].replace("T", " "), str(r["checks"]))
    _console().print(table)


@main.command()
@click.argument("assignment_id", metavar="ID")
@json_option
@click.pass_context
@handles_errors
def show(ctx: click.Context, assignment_id: str, as_json: bool) -> None:
    """Show an assignment: files, deadline, penalties, checks and points."""
    from .report.registry_view import assignment_json, assignment_view

    a = _load_assignment(ctx, assignment_id)
    if as_json:
        click.echo(json.dumps(assignment_json(a), indent=2))
    else:
        _console().print(assignment_view(a))


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--self-test/--no-self-test", default=True,
              help="Also grade the registry's reference solution and require full marks.")
@click.pass_context
@handles_errors
def validate(ctx: click.Context, files: tuple[str, ...], self_test: bool) -> None:
    """Validate assignment YAML files (schema, references, and a reference self-test)."""
    from . import registry
    from .validation import self_test as run_self_test

    report = Report()
    for file in files:
        try:
            a = registry.load_file(file)
        except GraderError as exc:
            for line in str(exc).splitlines():
                click.echo(f"grader: error: {line}", err=True)
            report.error(exc)
            continue
        click.echo(f"{file}: ok ({a.id}: {len(a.checks)} checks, {a.auto_max:g} automatic points, "
                   f"{sum(m.points for m in a.manual):g} by hand)")
        if self_test:
            ok, lines = run_self_test(a)
            for line in lines:
                click.echo(f"  {line}")
            report.problem(not ok)
    sys.exit(report.return_code)


@main.command()
@click.argument("assignment_id", metavar="ID")
@json_option
@click.pass_context
@handles_errors
def key(ctx: click.Context, assignment_id: str, as_json: bool) -> None:
    """Print the numeric answer key of the theory part."""
    from .courses import theory_key
    from .report.key_view import key_json, key_table

    a = _load_assignment(ctx, assignment_id)
    if not a.theory:
        raise UsageError(f"{a.id} has no `theory:` block in {a.source}")
    answers = theory_key(a.source).answers(a.theory)
    if as_json:
        click.echo(json.dumps(key_json(a.id, answers), indent=2, ensure_ascii=False))
    else:
        _console().print(key_table(a, answers))


@main.command("theory")
@click.argument("submission", metavar="SUBMISSION.zip|THEORY.pdf")
@assignment_option
@json_option
@click.pass_context
@handles_errors
def theory_cmd(ctx: click.Context, submission: str, assignment: str | None, as_json: bool) -> None:
    """Pre-grade the theory PDF against the answer key: right / wrong / not found / by hand.

    Reads the PDF's text (or the PDF inside a submission zip), finds each question by its
    label and checks dimensions, shapes, numbers and formulas; prose answers are shown for
    the TA. Exit status 1 when an answer is wrong or not found, or the PDF has no text.
    """
    import tempfile

    from .courses import theory_key
    from .theory.keytypes import KeyConfigError
    from .report.jsonout import normalise
    from .report.theory_view import theory_table
    from .theory import PdfText, check_pdf, check_text, pdf_from_zip

    path = Path(submission)
    if not path.is_file():
        raise UsageError(f"{submission}: no such file")
    a = _load_assignment(ctx, assignment)
    if not a.theory:
        raise UsageError(f"{a.id} has no `theory:` block in {a.source}")
    try:
        specs = theory_key(a.source).items(a.theory)
    except KeyConfigError as exc:
        raise UsageError(f"{a.source}: theory.{exc}") from None
    with tempfile.TemporaryDirectory(prefix="grader-theory-") as tmp:
        pdf: Path | None = path
        if path.suffix.lower() == ".zip":
            names = tuple(f.name for f in a.submission.files if f.kind == "pdf")
            pdf = pdf_from_zip(path, names, Path(tmp))
        if pdf is None:  # every question by hand, said once
            missing = PdfText((), "broken", f"no theory PDF ({', '.join(names) or '.pdf'}) could be taken from the zip")
            report = check_text(missing, specs, a.id, path.name)
        else:
            report = check_pdf(pdf, specs, a.id, file=path.name)
    if as_json:
        click.echo(json.dumps(normalise(report.to_json()), indent=2, ensure_ascii=False))
    else:
        _console().print(theory_table(report))
    bad = not report.has_text or any(i.status in ("wrong", "not-found") for i in report.items)
    sys.exit(Report(problems=int(bad)).return_code)


@main.command("bundle")
@click.argument("assignment_id", metavar="ID")
@click.argument("out", metavar="OUT.zip", type=click.Path(dir_okay=False))
@json_option
@click.pass_context
@handles_errors
def bundle_cmd(ctx: click.Context, assignment_id: str, out: str, as_json: bool) -> None:
    """Write the students' self-check bundle: the public checks as data, no reference code.

    Students run `grader check --bundle OUT.zip their.zip`. Public checks judged by private
    code (plugins, metrics) are listed in the bundle as graded by the TAs.
    Exit status 1 when a public check could not be prepared (the bundle is still written).
    """
    from .bundle import build_bundle

    a = _load_assignment(ctx, assignment_id)
    report = build_bundle(a, Path(out))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(f"{out}: self-check bundle of {a.id} (grader {__version__}, registry {a.registry_hash}), "
                   f"{report.size:,} bytes")
        click.echo(f"  {len(report.in_bundle)} public checks run from the bundle: {', '.join(report.in_bundle) or '-'}")
        click.echo(f"  {len(report.ta_only)} graded by the TAs:" + ("" if report.ta_only else " -"))
        for t in report.ta_only:
            click.echo(f"    {t.id}: {t.reason}")
        click.echo(f"  students run: grader check --bundle {Path(out).name} "
                   f"{a.submission.zip_example or 'SUBMISSION.zip'}")
    for problem in report.problems:
        click.echo(f"grader: problem: {problem}", err=True)
    sys.exit(Report(problems=len(report.problems)).return_code)


# --------------------------------------------------------------------------- grading commands


def _handout(ctx: click.Context, assignment):
    """The handout (--starters > env > the registry's `starters_dir:`), checked against the
    provided-code checks up front; None: provided code is judged by behaviour."""
    from .starters import choose_folder, load_starters, require_complete

    chosen = choose_folder(ctx.obj.get("starters") if ctx.obj else None, assignment.starters_dir, assignment.source)
    if chosen is None:
        return None
    starters = load_starters(*chosen)
    require_complete(starters, assignment)
    return starters


def _provided_mode(assignment, options) -> str | None:
    """The line that says how provided code was judged (None: no provided-code check ran)."""
    from .starters import BEHAVIOUR_MODE_LINE, SOURCES_MODE_LINE

    mine = [c for c in assignment.checks if c.kind == "integrity" and (c.public or not options.public_only)]
    if not mine:
        return None
    if options.starters is not None:
        return options.starters.mode_line
    return BEHAVIOUR_MODE_LINE if any("behaviour" in c.params for c in mine) else SOURCES_MODE_LINE


def _grade_options(assignment, submitted_at: str | None, seed: int | None, timestamps: str | None = None,
                   extensions: str | None = None, public_only: bool = False, run_code: bool = True,
                   starters=None):
    from .grading import Options, seed_from_env
    from .timestamps import read_extensions_csv, read_timestamps_csv

    return Options(
        submitted_at=_parse_time(submitted_at),
        timestamps=read_timestamps_csv(Path(timestamps), assignment.deadline.tzinfo) if timestamps else None,
        extensions=read_extensions_csv(Path(extensions), assignment.deadline) if extensions else None,
        seed=seed_from_env(seed), public_only=public_only, run_code=run_code, starters=starters,
    )


def _existing_zip(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise UsageError(f"{path}: no such file")
    if p.is_dir():
        raise UsageError(f"{path}: is a folder (use `grader batch {path}` for a folder of zips)")
    return p


def _with_runner(run_code: bool):
    import contextlib

    if not run_code:
        return contextlib.nullcontext(None)
    from .sandbox_runner import default_lanes, open_runner

    # it hides the private reference folders from student code; entered before the registry
    # and the zip are read, so the server's start-up overlaps this process's
    return open_runner(lanes=default_lanes())


@main.command()
@click.argument("submission", metavar="SUBMISSION.zip")
@assignment_option
@submitted_option
@seed_option
@json_option
@click.option("--feedback", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write Markdown feedback for the student to this file.")
@click.option("--timings", is_flag=True, help="Add per-check and per-notebook seconds to --json output.")
@click.pass_context
@handles_errors
def grade(ctx: click.Context, submission: str, assignment: str | None, submitted_at: str | None, seed: int | None,
          as_json: bool, feedback: str | None, timings: bool) -> None:
    """Grade one submission zip: intake, naming and late rules, every automatic check.

    Student code runs only in a sandboxed child process; the score is decided here.
    """
    zip_path = _existing_zip(submission)
    with _with_runner(True) as runner:  # the server's start-up first: it overlaps everything below
        from .grading import grade as grade_zip
        from .report.console import grade_view
        from .report.feedback import feedback_markdown
        from .report.jsonout import grade_json

        a = _load_assignment(ctx, assignment)
        options = _grade_options(a, submitted_at, seed, starters=_handout(ctx, a))
        if as_json:
            g = grade_zip(zip_path, a, options, runner)
        else:
            with _console(stderr=True).status(f"Grading {zip_path.name} ({len(a.checks)} checks)...") as status:
                def on_notebook(name: str, i: int, n: int) -> None:
                    mine = sum(1 for c in a.checks if c.notebook == name)
                    status.update(f"Grading {zip_path.name}: {name} ({i}/{n}, {mine} checks)...")

                g = grade_zip(zip_path, a, options, runner, on_notebook=on_notebook)
    if feedback:
        Path(feedback).write_text(feedback_markdown(g))
    if as_json:
        click.echo(grade_json(g, with_timings=timings))
    else:
        _console().print(grade_view(g))
        if _provided_mode(a, options):
            click.echo(_provided_mode(a, options))
        if feedback:
            click.echo(f"feedback written to {feedback}")
    status = Report()
    status.grade(g)
    sys.exit(status.return_code)


@main.command()
@click.argument("submission", metavar="SUBMISSION.zip")
@assignment_option
@submitted_option
@json_option
@click.option("--run/--no-run", "run_code", default=True,
              help="Run the public checks in the sandbox (default) or only check files, names and time.")
@click.option("--bundle", "bundle_path", metavar="BUNDLE.zip", default=None,
              help="Take the assignment and the public checks' expected values from the TAs' bundle "
                   "(`grader bundle`); nothing from the reference solutions is needed.")
@click.pass_context
@handles_errors
def check(ctx: click.Context, submission: str, assignment: str | None, submitted_at: str | None, as_json: bool,
          run_code: bool, bundle_path: str | None) -> None:
    """Self-check a zip before submitting: files, names, lateness, and the public checks.

    Shows what is missing or misnamed with the exact fix, the penalties that would apply
    if submitted now (or at --submitted-at), and what the TAs will grade by hand.
    Exit status 0 when clean, 1 when problems were found.
    """
    from datetime import timezone

    zip_path = _existing_zip(submission)
    bundle = None
    with _with_runner(run_code) as runner:  # the server's start-up first: it overlaps everything below
        from .grading import grade as grade_zip
        from .report.console import grade_view, selfcheck_view
        from .report.jsonout import grade_json

        if bundle_path:
            from .bundle import open_bundle

            bundle = open_bundle(bundle_path)
            if assignment and assignment != bundle.assignment.id:
                raise UsageError(f"--assignment {assignment}: the bundle {Path(bundle_path).name} is for "
                                 f"{bundle.assignment.id}")
            a = bundle.assignment
        else:
            a = _load_assignment(ctx, assignment)
        when = submitted_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
        options = _grade_options(a, when, None, public_only=True, run_code=run_code, starters=_handout(ctx, a))
        if bundle is not None:
            g = bundle.grade(zip_path, options, runner if run_code else None)
        else:
            g = grade_zip(zip_path, a, options, runner if run_code else None)
    if as_json:
        click.echo(grade_json(g))
    else:
        con = _console()
        con.print(selfcheck_view(g.files, g.problems, zip_name=g.zip_name, student=g.student,
                                 fatal=g.reason if g.verdict == "rejected" else None))
        if run_code and g.checks:
            con.print(grade_view(g))
        else:
            con.print(f"Public checks not run (--no-run). {len(a.checks)} automatic checks will be graded.")
        if _provided_mode(a, options) and (run_code or options.starters is not None):  # text checks run anyway
            click.echo(_provided_mode(a, options))
    status = Report()
    status.grade(g, skipped_ok=True)
    sys.exit(status.return_code)


@main.command()
@click.argument("folder", type=click.Path(file_okay=False, exists=True))
@assignment_option
@click.option("--timestamps", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CSV from the LMS: student id, submission time.")
@click.option("--extensions", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CSV of extensions: student id, new_deadline or extra_hours.")
@click.option("--workers", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (each runs its own sandbox).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="grades", show_default=True,
              help="Where grades.csv, grades.json, feedback/ and gradescope/ go.")
@click.option("--force", is_flag=True, help="Regrade even when the cache says nothing changed.")
@click.option("--only", metavar="STUDENT", default=None, help="Regrade only this student id.")
@click.option("--manual", "manual_csv", type=click.Path(dir_okay=False, exists=True), default=None,
              help="CSV of the TAs' points: net_id,item,points[,comment] (items of the registry's manual: list). "
                   "Final score = automatic + manual - penalties. Checked whole before anything is graded.")
@click.option("--lms-item", default=None, metavar="NAME",
              help="Grade item name in brightspace.csv and lms.csv (default: the assignment id).")
@click.option("--cluster", metavar="ADDRESS", default=None, envvar="HW2_GRADER_CLUSTER",
              help="Grade on a Dask cluster: the scheduler's address, e.g. tcp://host:8786 (env HW2_GRADER_CLUSTER; "
                   "needs pip install '.[cluster]'). --workers is then ignored: the cluster's workers grade.")
@seed_option
@json_option
@click.pass_context
@handles_errors
def batch(ctx: click.Context, folder: str, assignment: str | None, timestamps: str | None, extensions: str | None,
          workers: int, out_dir: str, force: bool, only: str | None, manual_csv: str | None, lms_item: str | None,
          cluster: str | None, seed: int | None, as_json: bool) -> None:
    """Grade every zip in FOLDER into a gradebook (CSV, JSON, feedback, Gradescope results).

    One broken or hostile submission never stops the batch. A re-run skips submissions
    whose zip, registry and grader version are unchanged unless --force.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    from .batch import BatchOptions, discover, plan, run_batch, write_outputs
    from .report.summary import summarize, summary_view

    a = _load_assignment(ctx, assignment)
    zips = discover(Path(folder))
    if not zips:
        raise UsageError(f"{folder}: no .zip files")
    options = _grade_options(a, None, seed, timestamps, extensions, starters=_handout(ctx, a))
    items = plan(zips, a, options)
    if only and not any(i.guessed_student == only.lower() for i in items):
        raise UsageError(f"--only {only}: no zip of that student in {folder}")
    manual_scores = None
    if manual_csv:
        from .manual import read_manual_csv

        manual_scores = read_manual_csv(Path(manual_csv), a.manual, [i.guessed_student for i in items])
    out = Path(out_dir)
    bopts = BatchOptions(workers=workers, force=force, only=only, grade_options=options, cluster=cluster)
    failures = 0
    con = _console(stderr=True)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[failed]} problems"), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn())
    with Progress(*columns, console=con, disable=as_json or not con.is_terminal and bool(os.environ.get("CI"))) as bar:
        task = bar.add_task("grading", total=len(items) if not only else 1, failed=0)

        def on_done(item, g, cached: bool) -> None:
            nonlocal failures
            if g.verdict != "graded":
                failures += 1
            if not only or (item.guessed_student or "") == only.lower():
                bar.update(task, advance=1, failed=failures)

        result = run_batch(items, a, out, bopts, on_done=on_done)
    grades = result.grades
    if manual_scores is not None:
        from .manual import with_manual

        grades = tuple(with_manual(g, manual_scores, a.manual) for g in grades)
    paths = write_outputs(grades, out, lms_item)
    summary = summarize(grades)
    if as_json:
        click.echo(json.dumps({"out": str(out), "count": len(grades), "cached": result.cached,
                               "graded": result.graded, "crashed": result.crashed,
                               "files": {k: str(v) for k, v in paths.items()}}, indent=2))
    else:
        _console().print(summary_view(summary))
        if _provided_mode(a, options):
            click.echo(_provided_mode(a, options))
        click.echo(f"{len(grades)} submissions ({result.cached} from cache) -> {out}/grades.csv, "
                   f"{out}/grades.json, {out}/brightspace.csv, {out}/lms.csv, {out}/feedback/, {out}/gradescope/" +
                   (f", {paths['theory']}" if "theory" in paths else "") +
                   (f", {paths['histogram']}" if "histogram" in paths else ""))
    sys.exit(Report(problems=result.crashed).return_code)


# --------------------------------------------------------------------------- Gradescope


@main.command("gradescope")
@click.argument("assignment_id", metavar="ID")
@click.argument("out", metavar="OUT.zip", type=click.Path(dir_okay=False))
@click.option("--references", "gs_references", multiple=True, type=click.Path(file_okay=False), metavar="DIR",
              help="Private reference folder to ship inside the zip (repeatable; default: the group's --references).")
@click.option("--starters", "gs_starters", type=click.Path(file_okay=False), metavar="DIR", default=None,
              help="The course's handout to ship inside the zip (default: the group's --starters, env, or the "
                   "registry's `starters_dir:`).")
@click.option("--hidden-visibility", type=click.Choice(["after_published", "after_due_date", "hidden", "visible"]),
              default="after_published", show_default=True,
              help="How Gradescope shows the results of checks that are not public.")
@seed_option
@click.pass_context
@handles_errors
def gradescope_cmd(ctx: click.Context, assignment_id: str, out: str, gs_references: tuple[str, ...],
                   gs_starters: str | None, hidden_visibility: str, seed: int | None) -> None:
    """Write the Gradescope autograder zip for an assignment (upload it as the autograder).

    The zip holds setup.sh (Python 3.11, a CPU torch, this grader), run_autograder, the
    registry, the private references and the handout. Each submission's results.json has one
    test per check and per penalty; the late penalty uses Gradescope's submission time.
    """
    from .checks.base import reference_folders, use_reference_folders
    from .gradescope.package import build_autograder
    from .grading import seed_from_env

    if gs_references:
        use_reference_folders(gs_references)
    references = list(gs_references) or reference_folders()
    a = _load_assignment(ctx, assignment_id)
    if gs_starters:
        ctx.obj["starters"] = gs_starters
    handout = _handout(ctx, a)  # checked against the provided-code checks now, not on Gradescope
    built = build_autograder(a, Path(out), references=references, starters=handout.folder if handout else None,
                             seed=seed_from_env(seed), hidden_visibility=hidden_visibility)
    click.echo(f"{out}: Gradescope autograder for {a.id} (grader {__version__}), {built.files} files, "
               f"{built.size:,} bytes")
    click.echo(f"  references: {', '.join(references) or '-'}; handout: {handout.folder if handout else '-'}; "
               f"hidden checks: {hidden_visibility}")
    if seed is None and not os.environ.get("HW2_GRADER_SEED"):
        click.echo("  seed: the public default; pass --seed (or HW2_GRADER_SEED) so that hidden cases stay secret")


@main.command("gradescope-run")
def gradescope_run_cmd() -> None:
    """Grade Gradescope's /autograder/submission/ into results/results.json (run by run_autograder).

    The root is HW2_GRADER_GRADESCOPE_ROOT (default /autograder). A valid results.json is
    always written; exit status 3 when the grader itself failed.
    """
    from .gradescope.run import run_autograder

    path, ok = run_autograder()
    click.echo(f"results written to {path}")
    sys.exit(ExitStatus.OK if ok else ExitStatus.INTERNAL)


# --------------------------------------------------------------------------- course files


@main.command()
@click.argument("assignment_id", metavar="ID")
@click.argument("out_dir", metavar="OUT_DIR", type=click.Path(file_okay=False))
@click.pass_context
@handles_errors
def starter(ctx: click.Context, assignment_id: str, out_dir: str) -> None:
    """Write the student starter notebooks (TODO stubs that keep the graded interfaces)."""
    from .checks.base import resolve

    a = _load_assignment(ctx, assignment_id)
    if not a.starter:
        raise UsageError(f"{a.id} names no `starter:` in {a.source}")
    paths = resolve(a.starter)(Path(out_dir))
    for p in paths or ():
        click.echo(str(p))


@main.command()
@click.argument("assignment_id", metavar="ID")
@click.argument("out_zip", metavar="OUT.zip", type=click.Path(dir_okay=False))
@click.option("--student", default=None, help="Net id in the zip's name (default: the name of OUT.zip).")
@click.pass_context
@handles_errors
def solution(ctx: click.Context, assignment_id: str, out_zip: str, student: str | None) -> None:
    """Write a correctly named full-score submission (the reference solution and a small PDF)."""
    from .checks.base import resolve

    a = _load_assignment(ctx, assignment_id)
    if not a.solution:
        raise UsageError(f"{a.id} names no `solution:` in {a.source}")
    out = Path(out_zip)
    student = student or out.stem
    if not a.submission.match_zip_name(f"{student}.zip"):
        raise UsageError(f"`{student}.zip` does not follow {a.id}'s zip naming (e.g. {a.submission.zip_example})")
    if out.name != f"{student}.zip":
        out = out.parent / f"{student}.zip"
    out.parent.mkdir(parents=True, exist_ok=True)
    click.echo(str(resolve(a.solution)(out, student)))
