"""The `grader` command. Thin: parse options, call the engine, print a renderer's output.

Every `GraderError` becomes one clear line on stderr and its exit status; a submission's
own problems are never errors here, they are part of the report (exit status 1).
"""

from __future__ import annotations

import functools
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console

from . import __version__
from .errors import GraderError, UsageError
from .exitcodes import ExitStatus

DEFAULT_ASSIGNMENT = "nyu-dl-hw2-2025"
ENV_ASSIGNMENT = "HW2_GRADER_ASSIGNMENT"


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
            sys.exit(exc.exit_code)

    return wrapper


def _registry_dirs(ctx: click.Context) -> list[str]:
    return list(ctx.obj.get("registry", ())) if ctx.obj else []


def _load_assignment(ctx: click.Context, ident: str | None):
    from . import registry

    return registry.load(ident or DEFAULT_ASSIGNMENT, _registry_dirs(ctx))


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    from .timestamps import parse_submitted_at

    return parse_submitted_at(value)


assignment_option = click.option(
    "--assignment", "-a", envvar=ENV_ASSIGNMENT, default=None, metavar="ID",
    help=f"Registry id of the assignment (default: {DEFAULT_ASSIGNMENT}; env {ENV_ASSIGNMENT}). "
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
              envvar="HW2_GRADER_PROBLEMS", help="Extra folder of assignment YAML files (before the shipped ones).")
@click.pass_context
def main(ctx: click.Context, registry_dirs: tuple[str, ...]) -> None:
    """Grade HW2 "Convolutional and Recurrent Neural Networks" submissions.

    \b
    Students:  grader check abc1234.zip          (structure, naming, public checks)
    TAs:       grader grade abc1234.zip          (one submission, full report)
               grader batch submissions/ --out grades/   (a folder into a gradebook)
               grader key nyu-dl-hw2-2025        (theory answer key)

    Exit status: 0 all good, 1 the submission has problems, 2 usage error, 3 grader failure.
    """
    ctx.ensure_object(dict)
    ctx.obj["registry"] = registry_dirs


# --------------------------------------------------------------------------- registry commands


@main.command("list")
@json_option
@click.pass_context
@handles_errors
def list_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the known assignments."""
    from . import registry
    from rich.table import Table

    rows = []
    for ident, path in sorted(registry.assignment_files(_registry_dirs(ctx)).items()):
        try:
            a = registry.load_file(path)
            rows.append({"id": ident, "term": a.term, "title": a.title, "file": str(path),
                         "deadline": a.deadline.isoformat(), "checks": len(a.checks), "valid": True})
        except GraderError as exc:
            rows.append({"id": ident, "term": "", "title": "", "file": str(path), "deadline": "",
                         "checks": 0, "valid": False, "error": str(exc).splitlines()[0]})
    if as_json:
        click.echo(json.dumps({"assignments": rows}, indent=2))
        return
    table = Table(title="Assignments")
    for col in ("id", "term", "deadline", "checks", "file"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["term"] or ("[red]invalid[/]" if not r["valid"] else ""), r["deadline"],
                      str(r["checks"]), r["file"])
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

    status = ExitStatus.OK
    for file in files:
        try:
            a = registry.load_file(file)
        except GraderError as exc:
            for line in str(exc).splitlines():
                click.echo(f"grader: error: {line}", err=True)
            status = ExitStatus.USAGE
            continue
        click.echo(f"{file}: ok ({a.id}: {len(a.checks)} checks, {a.auto_max:g} automatic points, "
                   f"{sum(m.points for m in a.manual):g} by hand)")
        if self_test:
            ok, lines = run_self_test(a)
            for line in lines:
                click.echo(f"  {line}")
            if not ok and status == ExitStatus.OK:
                status = ExitStatus.PROBLEMS
    sys.exit(status)


@main.command()
@click.argument("assignment_id", metavar="ID")
@json_option
@click.pass_context
@handles_errors
def key(ctx: click.Context, assignment_id: str, as_json: bool) -> None:
    """Print the numeric answer key of the theory part."""
    from .key import answer_key
    from .report.key_view import key_json, key_table

    a = _load_assignment(ctx, assignment_id)
    if not a.theory:
        raise UsageError(f"{a.id} has no `theory:` block in {a.source}")
    answers = answer_key(a.theory)
    if as_json:
        click.echo(json.dumps(key_json(a.id, answers), indent=2, ensure_ascii=False))
    else:
        _console().print(key_table(a, answers))
