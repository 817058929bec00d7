"""A course package made in tmp_path (course.yaml, an assignment, a reference, one judge, one
sandbox probe, a theory-key builder) graded through the CLI with `--registry DIR`: nothing
under grader/ knows it. Also: unknown judge and probe names are load-time registry errors
with file and line, and course code imports nothing from grader but grader.api."""

from __future__ import annotations

import ast
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from tests.zipfactory import make_submission, minimal_notebook, minimal_pdf

ROOT = Path(__file__).resolve().parent.parent
NAME = "ta_course_demo"  # the import name (= folder name) of the course made here

COURSE = f"""\
name: {NAME}
title: A TA's demo course
default_assignment: ta-hw1
probes: [probes.py]
theory_key: {{answers: "{NAME}.key:answers"}}
judges:
  Doubler: {{ref: "{NAME}.judges:Doubler", probes: [ta_double]}}
"""

ASSIGNMENT = """\
id: ta-hw1
title: TA homework 1
term: Fall 2026
max_score: 10
deadline: {at: "2026-10-01 23:59", timezone: America/New_York}
submission:
  zip_pattern: '(?P<student>[a-z]+[0-9]+)\\.zip'
  zip_example: abc1234.zip
  files:
    - {name: theory.pdf, kind: pdf}
    - {name: hw.ipynb, kind: notebook}
sandbox: {cell_seconds: 5, notebook_seconds: 30, memory_mb: 2048}
theory: {sum: [2, 3]}
checks:
  - {id: hw.double, notebook: hw.ipynb, kind: plugin, points: 10, timeout: 10, plugin: Doubler, with: {count: 3}}
"""

PROBES = '''\
"""Runs beside the student's code in the sandbox: imports grader.api only."""
from grader.api import ProbeError, probe


@probe("ta_double")
def ta_double(ctx, args):
    fn = ctx.lookup(args["target"])
    if not callable(fn):
        raise ProbeError("`double` is not a function")
    return [float(fn(float(x))) for x in args["xs"]]
'''

JUDGES = f'''\
"""Grader side: asks the probe, compares with the course's reference."""
from grader.api import Measure, Request, Verdict, rng_for, threshold_credit

from {NAME}.reference.solution import double


class Doubler:
    def validate(self, params):
        return [] if isinstance(params.get("count"), int) else [("count", "missing", "e.g. count: 3")]

    def requests(self, check, params, ctx):
        xs = rng_for(ctx, check.id, check.public).integers(1, 50, params["count"]).tolist()
        return {{"run": Request("ta_double", {{"target": "double", "xs": xs}}, timeout=check.timeout)}}

    def judge(self, check, params, replies, ctx):
        reply = replies["run"]
        if not reply.ok:
            return Verdict(0.0, f"double could not be run: {{reply.error}}")
        xs = rng_for(ctx, check.id, check.public).integers(1, 50, params["count"]).tolist()
        right = sum(abs(v - double(x)) < 1e-9 for v, x in zip(reply.value, xs))
        share = threshold_credit(right, 0, len(xs))
        return Verdict(share, f"{{right}} of {{len(xs)}} doubled right",
                       measure=Measure(right, (0, len(xs)), name="right answers"))
'''

KEY = '''\
from grader.api import Answer, KeyConfigError


def answers(theory):
    pair = theory.get("sum")
    if not isinstance(pair, (list, tuple)) or len(pair) != 2:  # the block arrives frozen (tuples)
        raise KeyConfigError("sum", "expected two numbers", "e.g. sum: [2, 3]")
    return (Answer(id="1", question="the sum", value=pair[0] + pair[1]),)
'''


def write_course(root: Path, course: str = COURSE, assignment: str = ASSIGNMENT) -> Path:
    folder = root / NAME
    (folder / "reference").mkdir(parents=True)
    files = {"__init__.py": "", "course.yaml": course, "ta-hw1.yaml": assignment, "probes.py": PROBES,
             "judges.py": JUDGES, "key.py": KEY, "reference/__init__.py": "",
             "reference/solution.py": "def double(x):\n    return 2 * x\n"}
    for rel, text in files.items():
        (folder / rel).write_text(text)
    return folder


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def submission(tmp_path: Path, body: str) -> Path:
    return make_submission(tmp_path, files={"theory.pdf": minimal_pdf("1. the sum is 5"),
                                            "hw.ipynb": minimal_notebook([body])})


@pytest.fixture(scope="module", autouse=True)
def forget_courses():
    """The courses loaded here (and their import path) do not outlive this module."""
    import sys

    from grader import courses

    loaded, path = dict(courses._LOADED), list(sys.path)
    yield
    courses._LOADED.clear()
    courses._LOADED.update(loaded)
    sys.path[:] = path
    for name in [m for m in sys.modules if m == NAME or m.startswith(NAME + ".")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    return write_course(tmp_path_factory.mktemp("courses"))


@pytest.mark.parametrize("body, points", [("def double(x):\n    return 2 * x", 10.0),
                                          ("def double(x):\n    return 3 * x", 0.0)])
def test_a_tmp_course_grades_a_zip_through_the_cli(course, tmp_path, body, points):
    z = submission(tmp_path, body)
    result = invoke("--registry", str(course), "grade", str(z), "--submitted-at", "2026-10-01T10:00:00-04:00",
                    "--json")  # no --assignment: the course's default_assignment
    data = json.loads(result.output)
    assert data["assignment"] == "ta-hw1"
    check = next(c for c in data["checks"] if c["id"] == "hw.double")
    assert check["points"] == points, check
    assert ("3 of 3 doubled right" if points else "0 of 3 doubled right") in check["message"]


def test_list_shows_every_course_and_key_comes_from_the_course(course):
    listed = json.loads(invoke("--registry", str(course), "list", "--json").output)["assignments"]
    by_id = {r["id"]: r for r in listed}
    assert by_id["ta-hw1"]["course"] == NAME and by_id["ta-hw1"]["valid"]
    assert by_id["nyu-dl-hw2-2025"]["course"] == "nyu_dl_hw2"
    key = json.loads(invoke("--registry", str(course), "key", "ta-hw1", "--json").output)
    assert [(a["id"], a["value"]) for a in key["answers"]] == [("1", 5)]


def test_no_engine_file_knows_the_course():
    engine = [p for p in (ROOT / "grader").rglob("*.py")]
    assert engine and not [p for p in engine if NAME in p.read_text() or "Doubler" in p.read_text()]


def test_unknown_probe_in_course_yaml_is_a_registry_error_with_line(tmp_path):
    folder = write_course(tmp_path, course=COURSE.replace("probes: [ta_double]", "probes: [ta_dubble]"))
    result = invoke("--registry", str(folder), "list")
    assert result.exit_code == 2
    assert "course.yaml:7: judges.Doubler.probes.0" in result.output, result.output
    assert "unknown probe `ta_dubble`" in result.output and "did you mean `ta_double`?" in result.output


def test_unknown_judge_in_assignment_is_a_registry_error_with_line(tmp_path):
    folder = write_course(tmp_path, assignment=ASSIGNMENT.replace("plugin: Doubler", "plugin: Dobler"))
    result = invoke("--registry", str(folder), "grade", str(submission(tmp_path, "x = 1")), "-a", "ta-hw1")
    assert result.exit_code == 2
    assert "ta-hw1.yaml:15: checks[0].plugin" in result.output, result.output
    assert "unknown judge `Dobler`" in result.output and "did you mean `Doubler`?" in result.output


def _grader_imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return {m for m in out if m == "grader" or m.startswith("grader.")}


def test_course_code_imports_only_grader_api():
    from grader import courses

    files = [p for c in courses.known() for p in c.folder.rglob("*.py")]
    assert len(files) > 10
    bad = {str(p): sorted(_grader_imports(p) - {"grader.api"}) for p in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_api_names_resolve_and_snapshot_matches_the_runner():
    import grader.api as api
    from grader.sandbox_runner import SNAPSHOT

    assert api.SNAPSHOT == SNAPSHOT
    for name in api.__all__:
        assert getattr(api, name) is not None
    assert api.threshold_credit(5, 0, 10) == 0.5 and api.threshold_credit(-1, 0, 10) == 0.0
    assert api.threshold_credit(0.2, 1.0, 0.0) == pytest.approx(0.8)  # lower is better
