from __future__ import annotations

import csv
import io

from grader.models import CheckResult
from grader.report.csvout import (
    gradebook_csv,
    gradebook_header,
    gradebook_rows,
    notebook_columns,
    write_gradebook,
)

from .conftest import CNN, RNN, make_grade

HEADER = [
    "student", "zip", "verdict", CNN, RNN,
    "penalty_percent", "penalties", "raw_score", "score", "max_score", "reason",
    "theory_suggested", "manual_points", "final_score",
]


def read_back(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_header_order(all_grades, tmp_path):
    path = write_gradebook(all_grades, tmp_path / "grades.csv")
    with open(path, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f))
    assert header == HEADER


def test_rows_sorted_by_student_none_last(all_grades, tmp_path):
    rows = read_back(write_gradebook(all_grades, tmp_path / "grades.csv"))
    assert [r["student"] for r in rows] == ["'=José_[red]*Ñ*[/]", "ab5678", "jd1234", "lt0001", "rj4242", "zz9999", ""]
    assert rows[-1]["zip"] == "Archive.zip"


def test_same_student_sorted_by_zip_and_case_insensitive():
    grades = [
        make_grade(student=None, zip_name="b.zip"),
        make_grade(student="Bob", zip_name="z.zip"),
        make_grade(student="alice", zip_name="2.zip"),
        make_grade(student="alice", zip_name="1.zip"),
        make_grade(student=None, zip_name="a.zip"),
    ]
    _, rows = gradebook_rows(grades)
    assert [(r[0], r[1]) for r in rows] == [
        ("alice", "1.zip"), ("alice", "2.zip"), ("Bob", "z.zip"), ("", "a.zip"), ("", "b.zip"),
    ]


def test_values(all_grades, tmp_path):
    rows = {r["zip"]: r for r in read_back(write_gradebook(all_grades, tmp_path / "grades.csv"))}
    full = rows["jd1234_hw2.zip"]
    assert (full["verdict"], full[CNN], full[RNN]) == ("graded", "40", "40")
    assert (full["raw_score"], full["score"], full["max_score"]) == ("80", "80", "100")
    assert full["penalty_percent"] == "0" and full["penalties"] == "" and full["reason"] == ""

    partial = rows["ab5678_hw2.zip"]
    assert (partial[CNN], partial[RNN]) == ("22.5", "15")
    assert (partial["raw_score"], partial["score"]) == ("37.5", "32.5")
    assert partial["penalty_percent"] == "5"
    assert partial["penalties"] == "naming -5%: files were inside a folder named 'HW2 final (1)'"

    late = rows["lt0001_hw2.zip"]
    assert late["penalty_percent"] == "20" and late["penalties"].startswith("late -20%: 26.5 hours late")

    na = rows["zz9999_hw2.zip"]
    assert na["verdict"] == "not-accepted" and na[CNN] == "" and na[RNN] == ""
    assert na["score"] == "0" and "72 hours" in na["reason"]

    rej = rows["rj4242_hw2.zip"]
    assert rej["verdict"] == "rejected" and rej["reason"] == "not a zip file (bad magic number)"


def test_formula_cells_are_defused_and_unicode_survives(weird, tmp_path):
    rows = read_back(write_gradebook([weird], tmp_path / "g.csv"))
    assert rows[0]["student"] == "'=José_[red]*Ñ*[/]"
    assert rows[0]["zip"] == "'=José_[red]*Ñ*[/]_hw2 (1).zip"
    assert "« (1) »" in rows[0]["penalties"]
    raw = gradebook_csv([weird], safe=False)
    assert next(csv.DictReader(io.StringIO(raw)))["student"] == "=José_[red]*Ñ*[/]"


def test_notebook_columns_union_sorted_and_stable():
    a = make_grade(checks=(CheckResult("x", "b.ipynb", "pass", 1, 1),))
    b = make_grade(student="z", checks=(CheckResult("y", "a.ipynb", "fail", 0, 2), CheckResult("w", "c.ipynb", "pass", 3, 3)))
    assert notebook_columns([a, b]) == notebook_columns([b, a]) == ["a.ipynb", "b.ipynb", "c.ipynb"]
    header, rows = gradebook_rows([b, a])
    assert header[3:6] == ["a.ipynb", "b.ipynb", "c.ipynb"]
    assert rows[0][3:6] == ["", "1", ""]  # jd1234 first
    assert rows[1][3:6] == ["0", "", "3"]


def test_notebook_named_like_a_fixed_column():
    assert gradebook_header(["score"])[3] == "notebook:score"


def test_deterministic_and_rounded(all_grades):
    assert gradebook_csv(all_grades) == gradebook_csv(list(reversed(all_grades)))
    g = make_grade(raw_score=200 / 3, score=-0.0)
    _, rows = gradebook_rows([g])
    assert rows[0][-7] == "66.6667" and rows[0][-6] == "0"


def test_empty_batch():
    assert gradebook_csv([]).splitlines() == [",".join(gradebook_header([]))]


def test_newline_in_text_stays_one_row(tmp_path):
    g = make_grade(verdict="rejected", reason="line one\nline two", checks=())
    rows = read_back(write_gradebook([g], tmp_path / "g.csv"))
    assert len(rows) == 1 and rows[0]["reason"] == "line one line two"
    assert not list(tmp_path.glob("*.tmp"))
