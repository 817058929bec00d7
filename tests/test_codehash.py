"""The batch cache key covers the code that decides a grade, not just the version string."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from click.testing import CliRunner

from grader import codehash, registry
from grader.cli import main
from tests.zipfactory import make_submission, minimal_notebook, minimal_pdf

YAML = """\
id: code-demo
max_score: 10
deadline: {at: "2025-02-25 23:59", timezone: America/New_York}
submission:
  zip_pattern: '(?P<student>[a-z]+[0-9]+)\\.zip'
  files:
    - {name: theory.pdf}
    - {name: conv.ipynb}
sandbox: {cell_seconds: 3, notebook_seconds: 20, memory_mb: 2048}
checks:
  - id: conv.shape
    notebook: conv.ipynb
    kind: function
    points: 2
    timeout: 3
    target: out_shape
    reference: "codehash_course.judges:out_shape"
    cases: [{args: [[7, 11], 3], kwargs: {stride: 2}}]
    compare: {mode: exact}
"""

JUDGE = """\
def out_shape(shape, k, stride=1):
    return (1, (shape[1] - k) // stride + 1)
"""
EDITED = JUDGE.replace("// stride + 1)", "// stride + 2)  # an edited judge")

STUDENT = "def out_shape(shape, k, stride=1):\n    return (1, (shape[1] - k) // stride + 1)\n"


def course(tmp_path: Path) -> tuple[Path, Path, Path]:
    refs, reg = tmp_path / "refs", tmp_path / "registry"
    (refs / "codehash_course").mkdir(parents=True)
    reg.mkdir()
    (refs / "codehash_course" / "__init__.py").write_text("")
    judge = refs / "codehash_course" / "judges.py"
    judge.write_text(JUDGE)
    (reg / "_base.yaml").write_text("abstract: true\n")
    (reg / "code-demo.yaml").write_text("extends: _base.yaml\n" + YAML)
    return refs, reg, judge


def forget_course() -> None:
    """A new `grader` process would import the edited judge afresh; so does the next run here."""
    for name in [m for m in sys.modules if m.split(".")[0] == "codehash_course"]:
        del sys.modules[name]


def test_code_digest_covers_grader_course_modules_and_yaml_chain(tmp_path, monkeypatch):
    refs, reg, judge = course(tmp_path)
    monkeypatch.syspath_prepend(str(refs))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    try:
        a = registry.load_file(reg / "code-demo.yaml")  # imports the judge (validation resolves it)
        files = codehash.course_files(a)
        assert judge.resolve() in files
        assert {(reg / "code-demo.yaml").resolve(), (reg / "_base.yaml").resolve()} <= files
        assert not any(f.is_relative_to(codehash.GRADER_ROOT) for f in files)  # hashed apart, all of it
        before = codehash.code_digest(a)
        assert codehash.code_digest(a) == before  # stable
        (refs / "unrelated.py").write_text("x = 1\n")  # not imported: not part of the grade
        assert codehash.code_digest(a) == before
        judge.write_text(EDITED)
        assert codehash.code_digest(a) != before
        judge.write_text(JUDGE)
        (reg / "_base.yaml").write_text("abstract: true\ntitle: a base edited\n")
        assert codehash.code_digest(a) != before
    finally:
        forget_course()


def test_editing_a_judge_changes_the_cache_key_and_regrades(tmp_path, monkeypatch):
    refs, reg, judge = course(tmp_path)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    zips = tmp_path / "subs"
    make_submission(zips, name="abc1234.zip", files={"theory.pdf": minimal_pdf("answers"),
                                                     "conv.ipynb": minimal_notebook([STUDENT])})
    out = tmp_path / "grades"

    def batch() -> dict:
        forget_course()
        result = CliRunner().invoke(main, ["--registry", str(reg), "--references", str(refs), "batch", str(zips),
                                           "-a", "code-demo", "--out", str(out), "--workers", "1", "--json"],
                                    catch_exceptions=False)
        assert result.exit_code in (0, 1), result.output
        rows = list(csv.DictReader((out / "grades.csv").open()))
        return {**json.loads(result.output), "raw_score": float(rows[0]["raw_score"])}

    try:
        first = batch()
        assert first["cached"] == 0 and first["raw_score"] == 2
        again = batch()
        assert again["cached"] == 1 and again["raw_score"] == 2
        judge.write_text(EDITED)
        edited = batch()
        assert edited["cached"] == 0  # the edited judge regrades
        assert edited["raw_score"] == 0  # and the student's answer no longer matches it
    finally:
        forget_course()
