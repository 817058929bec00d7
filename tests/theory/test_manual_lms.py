"""`batch --manual` (every bad input one clear error, nothing written), theory in the
gradebook, and the Brightspace / plain LMS exports."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import registry
from grader.batch import BatchOptions, discover, plan, run_batch, write_outputs
from grader.cli import main
from grader.errors import UsageError
from grader.grading import Options
from grader.manual import read_manual_csv, with_manual

from .conftest import manual_csv


@pytest.fixture(scope="module")
def batch(registry_dir, batch_dir, tmp_path_factory):
    """The three submissions graded once (no notebooks: no sandbox needed)."""
    a = registry.load("theory-demo", [str(registry_dir)])
    options = Options(submitted_at=datetime(2022, 3, 1, tzinfo=timezone.utc))  # on time
    items = plan(discover(batch_dir), a, options)
    result = run_batch(items, a, tmp_path_factory.mktemp("cache"), BatchOptions(grade_options=options),
                       runner_factory=lambda: contextlib.nullcontext())
    return a, items, result.grades


def rows(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


def test_grade_carries_theory_and_gradebook_columns(batch, tmp_path):
    a, items, grades = batch
    by = {g.student: g for g in grades}
    assert by["abc123"].theory.suggested_total == 35
    assert by["def456"].theory.suggested_total == 31  # two planted wrong answers
    assert not by["ghi789"].theory.has_text
    out = tmp_path / "out"
    paths = write_outputs(grades, out, "HW2")
    gb = {r["student"]: r for r in rows(paths["csv"])}
    assert gb["abc123"]["theory_suggested"] == "35" and gb["abc123"]["final_score"] == ""
    th = rows(paths["theory"])
    assert len(th) == 3 * 14 and {r["status"] for r in th} == {"right", "wrong", "by-hand"}
    assert [r["status"] for r in th if r["student"] == "def456" and r["item"] == "1.1(a)"] == ["wrong"]
    fb = (out / "feedback" / "abc123.md").read_text()
    assert "Theory answers checked against the key" in fb and "1.1(a)" in fb
    scan_fb = (out / "feedback" / "ghi789.md").read_text()
    assert scan_fb.count("every question is graded by hand") == 1
    data = json.loads(paths["json"].read_text())
    assert data[0]["theory"]["max_points"] == 50 and not list(out.rglob("*.tmp"))


def test_manual_merge_final_score_and_comments(batch, tmp_path):
    a, items, grades = batch
    m = manual_csv(tmp_path, """\
        net_id,item,points,comment
        abc123,theory,41.5,"1.1(c)(iii): the index of W is off, -2"
        abc123,moe.bonus,2
        def456,theory,20,
        """)
    scores = read_manual_csv(m, a.manual, [i.guessed_student for i in items])
    merged = {g.student: with_manual(g, scores, a.manual) for g in grades}
    assert merged["abc123"].final_score == 43.5 and merged["def456"].final_score == 20
    assert merged["ghi789"].final_score == 0 and "no points given" in merged["ghi789"].manual_scores[0].comment
    out = tmp_path / "out"
    paths = write_outputs(list(merged.values()), out, "HW2")
    gb = {r["student"]: r for r in rows(paths["csv"])}
    assert gb["abc123"]["manual_points"] == "43.5" and gb["abc123"]["final_score"] == "43.5"
    assert "the index of W is off" in (out / "feedback" / "abc123.md").read_text()
    assert "43.5/52" in (out / "feedback" / "abc123.md").read_text()


def test_penalties_apply_to_the_final_score(batch):
    from dataclasses import replace

    from grader.models import ManualScore, Penalty

    a, items, grades = batch
    g = replace(grades[0], penalties=(Penalty("late", 10, "one day"),),
                manual_scores=(ManualScore("theory", 40, 50),))
    assert g.final_score == pytest.approx(40 - 5.2)


@pytest.mark.parametrize("body, message", [
    ("zzz999,theory,10\n", "unknown student 'zzz999'"),
    ("abc123,essay,10\n", "unknown item 'essay'"),
    ("abc123,theory,51\n", "51 points for 'theory' is outside 0..50"),
    ("abc123,moe.bonus,-1\n", "outside 0..2"),
    ("abc123,theory,ten\n", "points 'ten' is not a number"),
    ("abc123,theory,10\nABC123,theory,12\n", "duplicate of row 1"),
    ("abc123,theory\n", "expected net_id,item,points[,comment], got 2 columns"),
])
def test_every_bad_manual_row_is_one_clear_error(registry_dir, batch_dir, tmp_path, body, message):
    a = registry.load("theory-demo", [str(registry_dir)])
    with pytest.raises(UsageError) as exc:
        read_manual_csv(manual_csv(tmp_path, body), a.manual, ["abc123", "def456"])
    assert message in str(exc.value) and "manual.csv:" in str(exc.value)


def test_bad_manual_file_reports_all_and_writes_nothing(registry_dir, batch_dir, tmp_path):
    m = manual_csv(tmp_path, "zzz999,theory,10\nabc123,theory,99\nabc123,quiz,1\n")
    out = tmp_path / "grades"
    res = CliRunner().invoke(main, ["--registry", str(registry_dir), "batch", str(batch_dir), "-a", "theory-demo",
                                    "--manual", str(m), "--out", str(out)])
    assert res.exit_code == 2
    errors = [line for line in res.output.splitlines() if line.startswith("grader: error: manual.csv:")]
    assert len(errors) == 3, res.output
    assert not out.exists()


def test_brightspace_and_plain_exports(batch, tmp_path):
    a, items, grades = batch
    scores = read_manual_csv(manual_csv(tmp_path, "abc123,theory,40\n"), a.manual, ["abc123", "def456", "ghi789"])
    merged = [with_manual(g, scores, a.manual) for g in grades]
    paths = write_outputs(merged, tmp_path / "out", "HW2")
    text = paths["brightspace"].read_text()
    lines = text.splitlines()
    assert lines[0] == "Username,HW2 Points Grade,End-of-Line Indicator"
    assert lines[1:] == ["abc123,40,#", "def456,0,#", "ghi789,0,#"]
    assert paths["lms"].read_text().splitlines()[:2] == ["SIS Login ID,HW2", "abc123,40"]


def test_students_self_check_never_sees_the_key(registry_dir, batch_dir):
    from grader.grading import grade

    a = registry.load("theory-demo", [str(registry_dir)])
    when = datetime(2022, 3, 1, tzinfo=timezone.utc)
    ta = grade(batch_dir / "abc123.zip", a, Options(submitted_at=when))
    student = grade(batch_dir / "abc123.zip", a, Options(submitted_at=when, public_only=True))
    assert ta.theory is not None and "theory" in ta.to_json()
    assert student.theory is None and "theory" not in student.to_json()
