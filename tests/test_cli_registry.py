"""The registry commands as a TA meets them: list, show, key, validate."""

from __future__ import annotations

import json

import torch
from click.testing import CliRunner

from grader.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_key_json_2025_matches_torch_conv_shapes():
    result = run("key", "nyu-dl-hw2-2025", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["assignment"] == "nyu-dl-hw2-2025"
    answers = {a["id"]: a for a in data["answers"]}
    out = torch.nn.Conv2d(1, 1, 4, stride=2, padding=1)(torch.zeros(1, 1, 19, 26))
    assert answers["1.1(a)"]["shape"] == list(out.shape[2:])
    ff = torch.nn.Conv1d(7, 1, 3, stride=2, bias=False)(torch.zeros(1, 7, 11))
    assert answers["1.1(c)(ii)"]["shape"] == [1, ff.shape[2], 1, 7, 3]
    assert all({"id", "question", "value"} <= set(a) for a in data["answers"])


def test_key_table_shows_formulas_verbatim():
    result = CliRunner().invoke(main, ["key", "nyu-dl-hw2-2025"], env={"COLUMNS": "160"})
    assert result.exit_code == 0
    assert "x[c, 2(i-1) + k]" in result.output  # not swallowed as rich markup


def test_key_for_older_terms():
    for ident, shape in (("nyu-dl-hw2-2022", [3, 4]), ("nyu-dl-hw2-2021", [4, 5])):
        data = json.loads(run("key", ident, "--json").output)
        assert data["answers"][0]["id"] == "1.1(a)"
        assert data["answers"][0]["shape"] == shape


def test_unknown_assignment_is_one_line_and_exit_2():
    result = CliRunner().invoke(main, ["key", "nyu-dl-hw2-1999"])
    assert result.exit_code == 2
    lines = [l for l in result.output.splitlines() if l.strip()]
    assert len(lines) == 1 and "known: " in lines[0]
    ids = ("cuhk-eleg5491-2017-hw2", "nyu-dl-hw2-2021", "nyu-dl-hw2-2022", "nyu-dl-hw2-2022fall", "nyu-dl-hw2-2024",
           "nyu-dl-hw2-2024fall", "nyu-dl-hw2-2025", "nyu-dl-hw2-2025fall")
    assert lines[0].split("known: ", 1)[1].startswith(", ".join(ids)), lines[0]


def test_list_and_show_json():
    ids = [a["id"] for a in json.loads(run("list", "--json").output)["assignments"]]
    assert {"nyu-dl-hw2-2021", "nyu-dl-hw2-2022", "nyu-dl-hw2-2025"} <= set(ids)
    shown = json.loads(run("show", "nyu-dl-hw2-2025", "--json").output)
    assert [f["name"] for f in shown["files"]][0] == "hw2_theory.pdf"
    assert shown["penalties"]["late_cutoff_hours"] == 96


def test_validate_reports_file_line_key_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nmax_score: 10\ndeadline: '2025-01-01 00:00'\nsubmision: {}\n")
    result = CliRunner().invoke(main, ["validate", "--no-self-test", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml:4: submision: unknown key (did you mean `submission`?)" in result.output


def test_starter_and_solution_commands(tmp_path):
    import zipfile

    import nbformat

    result = run("starter", "nyu-dl-hw2-2025", str(tmp_path / "starter"))
    assert result.exit_code == 0
    names = sorted(p.name for p in (tmp_path / "starter").iterdir())
    assert names == ["hw2_cnn.ipynb", "hw2_moe.ipynb", "hw2_rnn.ipynb", "seq_classification.ipynb"]
    for p in (tmp_path / "starter").iterdir():
        nbformat.validate(nbformat.read(str(p), as_version=4))

    result = run("solution", "nyu-dl-hw2-2025", str(tmp_path / "xyz987.zip"))
    assert result.exit_code == 0
    with zipfile.ZipFile(tmp_path / "xyz987.zip") as zf:
        assert sorted(zf.namelist()) == ["hw2_cnn.ipynb", "hw2_moe.ipynb", "hw2_rnn.ipynb", "hw2_theory.pdf",
                                         "seq_classification.ipynb"]
    bad = CliRunner().invoke(main, ["solution", "nyu-dl-hw2-2025", str(tmp_path / "Bad_Name.zip")])
    assert bad.exit_code == 2 and "zip naming" in bad.output


def test_check_no_run_on_the_example_is_clean_when_on_time():
    from pathlib import Path

    example = Path(__file__).resolve().parent.parent / "examples" / "abc1234.zip"
    result = CliRunner().invoke(main, ["check", str(example), "--no-run", "--json",
                                       "--submitted-at", "2025-02-25T20:00:00-05:00"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["accepted"] and data["penalties"] == [] and data["problems"] == []
    assert all(f["present"] and f["exact"] and f["valid"] for f in data["files"])


def test_validate_self_test_is_skipped_without_a_solution(tmp_path):
    path = tmp_path / "nosol.yaml"
    path.write_text("id: nosol\nmax_score: 10\ndeadline: '2025-01-01 00:00'\n"
                    "submission:\n  zip_pattern: '(?P<student>[a-z]+[0-9]+)\\.zip'\n  files: [a.ipynb]\n")
    result = run("validate", str(path))
    assert result.exit_code == 0
    assert "nosol: 0 checks" in result.output and "self-test skipped" in result.output


def test_the_shipped_registry_files_all_validate():
    from grader import courses

    paths = [p for c in courses.installed() for p in sorted(c.folder.glob("[!_]*.yaml")) if p.name != "course.yaml"]
    assert paths
    for path in paths:
        result = CliRunner().invoke(main, ["validate", "--no-self-test", str(path)])
        assert result.exit_code == 0, result.output
