"""`--starters DIR` (env HW2_GRADER_STARTERS, registry `starters_dir:`) through grade, check and batch.

The registry is the CLI demo's plus a provided-code check on `out_shape`: judged by
behaviour without a handout (tests/cli/provided_demo.py), compared with the handout's
`conv.ipynb` with one. Each command says which mode ran.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from grader.cli import main
from tests.cli.conftest import REGISTRY, submission
from tests.zipfactory import minimal_notebook

ON_TIME = "2025-02-25T20:00:00-05:00"
BEHAVIOUR = "provided code judged by behaviour (no handout given: --starters DIR)"
PROVIDED_CHECK = """\
  - id: conv.provided
    notebook: conv.ipynb
    kind: integrity
    points: 1
    public: true
    timeout: 5
    names: [out_shape]
    behaviour: "tests.cli.provided_demo:OutShape"
"""
# the handout's out_shape, formatted otherwise (quotes, comments, a docstring, line breaks)
HANDOUT = '''
import numpy as np


def out_shape(shape, k, stride=1):
    """Provided: the output shape."""
    c, length = shape  # channels, length
    return (1,
            (length - k) // stride + 1)
'''


def registry(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    text = REGISTRY.replace("id: cli-demo", "id: cli-provided") + PROVIDED_CHECK
    (folder / "cli-provided.yaml").write_text(extra + text)
    return folder


def handout(folder: Path, source: str = HANDOUT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "conv.ipynb").write_text(nbformat.writes(minimal_notebook([source])))
    return folder


def invoke(reg: Path, *args: str, env: dict | None = None, starters: Path | None = None):
    pre = ["--registry", str(reg)] + (["--starters", str(starters)] if starters else [])
    return CliRunner().invoke(main, [*pre, *args], env=env or {}, catch_exceptions=False)


def checks(output: str) -> dict:
    return {c["id"]: c for c in json.loads(output)["checks"]}


@pytest.fixture
def zip_path(tmp_path):
    return submission(tmp_path / "in", "abc1234.zip")


def test_grade_without_a_handout_judges_by_behaviour_and_says_so(tmp_path, zip_path):
    reg = registry(tmp_path / "reg")
    result = invoke(reg, "grade", str(zip_path), "-a", "cli-provided", "--submitted-at", ON_TIME)
    assert result.exit_code == 0, result.output
    assert BEHAVIOUR in result.output and "`out_shape` behaves as provided" in result.output


def test_grade_and_check_with_a_handout_compare_text_and_name_the_change(tmp_path, zip_path):
    reg = registry(tmp_path / "reg")
    folder = handout(tmp_path / "handout")
    line = f"provided code compared with the handout in {folder.resolve()}"
    result = invoke(reg, "grade", str(zip_path), "-a", "cli-provided", "--submitted-at", ON_TIME, "--json",
                    starters=folder)
    assert result.exit_code == 0, result.output
    c = checks(result.output)["conv.provided"]
    assert c["status"] == "pass" and c["message"].startswith(line), c
    # the handout's text checks need no sandbox: `check --no-run` runs them too, and says so
    out = invoke(reg, "check", str(zip_path), "-a", "cli-provided", "--submitted-at", ON_TIME, "--no-run",
                 starters=folder)
    assert out.exit_code == 0 and line in out.output, out.output

    changed = handout(tmp_path / "changed", HANDOUT.replace("// stride + 1", "// stride + 2"))
    result = invoke(reg, "check", str(zip_path), "-a", "cli-provided", "--submitted-at", ON_TIME, "--no-run",
                    "--json", starters=changed)
    assert result.exit_code == 1
    c = checks(result.output)["conv.provided"]
    assert c["status"] == "fail" and "body of `out_shape` differs" in c["message"], c
    assert "- return (1, (length - k) // stride + 2)" in c["message"]
    assert "+ return (1, (length - k) // stride + 1)" in c["message"]


def test_option_beats_env_beats_registry(tmp_path, zip_path):
    good = handout(tmp_path / "good")
    bad = handout(tmp_path / "bad", HANDOUT.replace("return (1,", "return (2,"))
    reg = registry(tmp_path / "reg", extra="starters_dir: ../bad\n")  # relative to the YAML file

    def status(**kw) -> str:
        r = invoke(reg, "check", str(zip_path), "-a", "cli-provided", "--submitted-at", ON_TIME, "--no-run",
                   "--json", **kw)
        c = checks(r.output)["conv.provided"]
        return f"{c['status']} {c['message'].split(':')[0]}"

    assert status() == f"fail provided code compared with the handout in {bad.resolve()}"
    assert status(env={"HW2_GRADER_STARTERS": str(good)}) == f"pass provided code compared with the handout in {good.resolve()}"
    assert status(env={"HW2_GRADER_STARTERS": str(bad)}, starters=good).startswith("pass")


def test_a_handout_without_the_notebook_or_name_is_a_usage_error(tmp_path, zip_path):
    reg = registry(tmp_path / "reg")
    empty = tmp_path / "empty"
    (empty / "other.ipynb").parent.mkdir()
    (empty / "other.ipynb").write_text(nbformat.writes(minimal_notebook(["x = 1"])))
    r = invoke(reg, "grade", str(zip_path), "-a", "cli-provided", "--submitted-at", ON_TIME, starters=empty)
    assert r.exit_code == 2
    assert "conv.provided: the handout" in r.output and "has no readable `conv.ipynb` (it has: other.ipynb)" in r.output
    nameless = handout(tmp_path / "nameless", "def something_else():\n    pass\n")
    r = invoke(reg, "check", str(zip_path), "-a", "cli-provided", "--submitted-at", ON_TIME, "--no-run",
               starters=nameless)
    assert r.exit_code == 2 and "`conv.ipynb` of the handout defines no `out_shape`" in r.output
    r = invoke(reg, "batch", str(zip_path.parent), "-a", "cli-provided", starters=tmp_path / "missing")
    assert r.exit_code == 2 and "no such folder" in r.output


def test_batch_passes_the_handout_to_its_workers_and_caches_by_its_content(tmp_path, zip_path):
    reg = registry(tmp_path / "reg")
    folder = handout(tmp_path / "handout")
    out = tmp_path / "grades"

    def run(*extra: str) -> dict:
        r = invoke(reg, "batch", str(zip_path.parent), "-a", "cli-provided", "--workers", "2", "--out", str(out),
                   "--json", *extra, starters=folder)
        assert r.exit_code == 0, r.output
        data = json.loads(r.output)
        grades = json.loads((out / "grades.json").read_text())
        only = grades["grades"][0] if isinstance(grades, dict) else grades[0]
        return {"cached": data["cached"], "provided": {c["id"]: c for c in only["checks"]}["conv.provided"]}

    first = run()
    assert first["cached"] == 0 and first["provided"]["status"] == "pass"
    assert first["provided"]["message"].startswith("provided code compared with the handout in")
    assert run()["cached"] == 1
    handout(folder, HANDOUT.replace("return (1,", "return (2,"))  # same folder, other content
    changed = run()
    assert changed["cached"] == 0 and changed["provided"]["status"] == "fail"
    assert "body of `out_shape` differs" in changed["provided"]["message"]
