from __future__ import annotations

import json

from grader.report.gradescope import gradescope_json, gradescope_results, summary_output, write_results

from .conftest import CNN


def test_shape_and_types(any_grade):
    data = json.loads(gradescope_json(any_grade))
    assert set(data) == {"score", "output", "tests", "visibility", "stdout_visibility"}
    assert data["score"] == any_grade.score
    for t in data["tests"]:
        assert set(t) == {"name", "score", "max_score", "status", "output", "visibility"}
        assert t["status"] in ("passed", "failed")
        assert t["visibility"] in ("visible", "after_published")
        assert isinstance(t["score"], float) and isinstance(t["max_score"], float)


def test_one_test_per_check_with_status_and_visibility(partial):
    tests = gradescope_results(partial)["tests"]
    checks = tests[: len(partial.checks)]
    assert [t["name"] for t in checks] == [f"{c.notebook}: {c.id}" for c in partial.checks]
    by_name = {t["name"]: t for t in checks}
    shapes = by_name[f"{CNN}: cnn.conv_shapes"]
    assert (shapes["status"], shapes["score"], shapes["max_score"], shapes["visibility"]) == ("passed", 10, 10, "visible")
    acc = by_name[f"{CNN}: cnn.train_accuracy"]
    assert (acc["status"], acc["score"], acc["visibility"]) == ("failed", 12.5, "after_published")
    assert "0.78 < 0.85" in acc["output"]
    assert all(t["status"] == "failed" for t in checks if not t["name"].endswith(("conv_shapes", "forward")))


def test_penalty_is_a_negative_visible_test(partial):
    data = gradescope_results(partial)
    pen = data["tests"][-1]
    assert pen["name"] == "Penalty: naming (-5%)"
    assert (pen["score"], pen["max_score"], pen["status"], pen["visibility"]) == (-5.0, 0.0, "failed", "visible")
    assert "HW2 final (1)" in pen["output"]
    # tests add up to the final score
    assert sum(t["score"] for t in data["tests"]) == data["score"] == 32.5


def test_output_has_no_check_results_but_has_everything_else(partial):
    out = summary_output(partial)
    for c in partial.checks:
        assert c.id not in out
    assert "Verdict: graded" in out and "Score: 32.5/100" in out
    assert "naming -5%" in out and "fix: rename it to hw2_cnn.ipynb" in out
    assert "Graded by hand later (20 points" in out


def test_not_accepted_and_rejected(not_accepted, rejected):
    na = gradescope_results(not_accepted)
    assert na["score"] == 0 and na["tests"] == []
    assert "not accepted" in na["output"] and "72 hours" in na["output"]
    rj = gradescope_results(rejected)
    assert "not a zip file" in rj["output"] and "zip the folder again" in rj["output"]


def test_visibility_options(full):
    data = gradescope_results(full, visibility="after_published", stdout_visibility="visible")
    assert data["visibility"] == "after_published" and data["stdout_visibility"] == "visible"


def test_write_results_deterministic_unicode(weird, tmp_path):
    path = write_results(weird, tmp_path / "results" / "results.json")
    text = path.read_text(encoding="utf-8")
    assert text == gradescope_json(weird) and text.endswith("\n")
    data = json.loads(text)
    assert "=José_[red]*Ñ*[/]" in data["output"]
    assert "\x1b" not in text and "\\u001b" not in text
    assert any("形状不匹配" in t["output"] for t in data["tests"])


def test_missing_student(anonymous):
    assert "(unknown student)" in gradescope_results(anonymous)["output"]
