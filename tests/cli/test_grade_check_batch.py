"""grade, check and batch as a TA and a student use them, through click's CliRunner."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from tests.cli.conftest import WRONG, submission

ON_TIME = "2025-02-25T20:00:00-05:00"


def invoke(registry_dir: Path, *args: str):
    return CliRunner().invoke(main, ["--registry", str(registry_dir), *args], catch_exceptions=False)


def test_grade_json_full_marks_and_exit_0(registry_dir, tmp_path):
    z = submission(tmp_path / "in", "abc1234.zip")
    result = invoke(registry_dir, "grade", str(z), "-a", "cli-demo", "--submitted-at", ON_TIME, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["student"] == "abc1234" and data["verdict"] == "graded"
    assert data["raw_score"] == 5 and data["score"] == 5 and data["max_score"] == 10
    assert [c["status"] for c in data["checks"]] == ["pass", "pass"]
    assert {"student", "assignment", "accepted", "hours_late", "penalties", "problems", "files",
            "raw_score", "score", "max_score", "checks"} <= set(data)
    assert {"id", "notebook", "status", "points", "max_points", "message"} <= set(data["checks"][0])


def test_grade_is_byte_identical_twice(registry_dir, tmp_path):
    z = submission(tmp_path / "in", "abc1234.zip", WRONG)
    one = invoke(registry_dir, "grade", str(z), "-a", "cli-demo", "--submitted-at", ON_TIME, "--json").output
    two = invoke(registry_dir, "grade", str(z), "-a", "cli-demo", "--submitted-at", ON_TIME, "--json").output
    assert one == two


def test_grade_wrong_late_and_misnamed_has_problems_exit_1_and_feedback(registry_dir, tmp_path):
    z = submission(tmp_path / "in", "abc1234.zip", WRONG, rename={"conv.ipynb": "Conv.ipynb"})
    fb = tmp_path / "feedback.md"
    result = invoke(registry_dir, "grade", str(z), "-a", "cli-demo", "--submitted-at",
                    "2025-02-27T05:59:00-05:00", "--json", "--feedback", str(fb))
    assert result.exit_code == 1
    data = json.loads(result.output)
    rules = {p["rule"]: p["percent"] for p in data["penalties"]}
    assert rules == {"naming": 10, "late": 20}  # 30 hours late: two started days
    checks = {c["id"]: c for c in data["checks"]}
    assert checks["conv.shape"]["status"] == "fail"
    assert checks["conv.xcorr"]["status"] == "partial" and checks["conv.xcorr"]["points"] == 1.5
    assert data["raw_score"] == 1.5 and data["score"] == 0  # 1.5 - 30% of 10 floors at 0
    text = fb.read_text()
    assert "conv.xcorr" in text and "flipped kernel" in text


def test_grade_console_report_lists_checks(registry_dir, tmp_path):
    z = submission(tmp_path / "in", "abc1234.zip")
    result = CliRunner().invoke(main, ["--registry", str(registry_dir), "grade", str(z), "-a", "cli-demo",
                                       "--submitted-at", ON_TIME], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "conv.shape" in result.output and "conv.xcorr" in result.output


def test_check_runs_public_cases_only_and_shows_fix(registry_dir, tmp_path):
    z = submission(tmp_path / "in", "abc1234.zip", WRONG, rename={"conv.ipynb": "CONV.ipynb"})
    result = invoke(registry_dir, "check", str(z), "-a", "cli-demo", "--submitted-at", ON_TIME, "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert [p["rule"] for p in data["penalties"]] == ["naming"]
    assert any("conv.ipynb" in p["fix"] for p in data["problems"])
    ids = [c["id"] for c in data["checks"]]
    assert ids == ["conv.shape"]  # the hidden-case check is not run by a student
    assert all("hidden" not in c["message"] for c in data["checks"])


def test_check_no_run_clean_zip_exit_0(registry_dir, tmp_path):
    z = submission(tmp_path / "in", "abc1234.zip")
    result = invoke(registry_dir, "check", str(z), "-a", "cli-demo", "--submitted-at", ON_TIME, "--no-run")
    assert result.exit_code == 0, result.output
    assert "conv.ipynb" in result.output


def test_usage_errors_exit_2(registry_dir, tmp_path):
    assert invoke(registry_dir, "grade", str(tmp_path / "nope.zip"), "-a", "cli-demo").exit_code == 2
    z = submission(tmp_path / "in", "abc1234.zip")
    bad_time = invoke(registry_dir, "grade", str(z), "-a", "cli-demo", "--submitted-at", "2025-02-25 10:00")
    assert bad_time.exit_code == 2 and "offset" in bad_time.output


@pytest.mark.parametrize("workers", [1, 2])
def test_batch_writes_gradebook_and_survives_broken_zips(registry_dir, tmp_path, workers):
    folder = tmp_path / "subs"
    submission(folder, "abc1234.zip")
    submission(folder, "def5678.zip", WRONG)
    submission(folder, "ghi9012.zip", omit=["conv.ipynb"])
    (folder / "broken1.zip").write_bytes(b"this is not a zip")
    submission(folder, "jkl3456.zip", "def out_shape(*a):\n    import os\n    os._exit(3)\n")
    out = tmp_path / "grades"
    result = invoke(registry_dir, "batch", str(folder), "-a", "cli-demo", "--out", str(out),
                    "--workers", str(workers), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["count"] == 5
    rows = list(csv.DictReader((out / "grades.csv").open()))
    by_student = {r["student"]: r for r in rows}
    assert float(by_student["abc1234"]["score"]) == 5
    assert float(by_student["ghi9012"]["raw_score"]) == 0
    assert any(r["verdict"] == "rejected" for r in rows)  # the broken zip
    assert (out / "feedback" / "abc1234.md").is_file()
    results = json.loads((out / "gradescope" / "abc1234" / "results.json").read_text())
    assert results["score"] == 5 and len(results["tests"]) >= 2
    assert (out / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Re-run: everything from the cache, same gradebook bytes.
    before = (out / "grades.csv").read_bytes()
    again = invoke(registry_dir, "batch", str(folder), "-a", "cli-demo", "--out", str(out), "--json")
    assert json.loads(again.output)["cached"] == 5
    assert (out / "grades.csv").read_bytes() == before

    # --only regrades one student, the rest stays in the gradebook.
    only = invoke(registry_dir, "batch", str(folder), "-a", "cli-demo", "--out", str(out), "--json",
                  "--only", "def5678")
    data = json.loads(only.output)
    assert data["graded"] == 1 and data["count"] == 5
