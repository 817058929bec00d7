"""The registry turns YAML into validated assignments, and every mistake into a sentence."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from grader import registry
from grader.errors import RegistryError, UnknownAssignmentError

BASE = """\
id: demo-hw
title: Demo
max_score: 100
deadline: {at: "2025-02-25 23:59", timezone: America/New_York}
submission:
  zip_pattern: '(?P<student>[a-z]+[0-9]+)\\.zip'
  zip_example: abc1234.zip
  files:
    - {name: a.ipynb, kind: notebook}
    - {name: theory.pdf}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path: Path) -> list:
    with pytest.raises(RegistryError) as info:
        registry.load_file(path)
    return list(info.value.problems)


def test_shipped_2025_file_loads_with_the_course_rules():
    a = registry.load("nyu-dl-hw2-2025")
    assert [f.name for f in a.submission.files] == [
        "hw2_theory.pdf", "hw2_moe.ipynb", "hw2_cnn.ipynb", "hw2_rnn.ipynb", "seq_classification.ipynb"]
    assert a.deadline.isoformat() == "2025-02-25T23:59:00-05:00"
    assert a.penalties.naming_percent == 10
    assert a.penalties.late.cutoff_hours == 96
    assert a.penalties.execution_percent == 20
    assert a.submission.match_zip_name("abc1234.zip")
    assert not a.submission.match_zip_name("ABC1234.zip")
    assert not a.submission.match_zip_name("abc1234_hw2.zip")


def test_minimal_file_gets_defaults_and_guessed_kinds(tmp_path):
    a = registry.load_file(write(tmp_path, "demo.yaml", BASE))
    assert a.submission.files[1].kind == "pdf"
    assert a.submission.files[0].mode == "definitions"
    assert a.penalties.late.percent_per_period == 10
    assert len(a.registry_hash) == 16


def test_hash_changes_with_content_and_is_stable(tmp_path):
    one = registry.load_file(write(tmp_path, "one.yaml", BASE)).registry_hash
    again = registry.load_file(write(tmp_path, "again.yaml", BASE)).registry_hash
    other = registry.load_file(write(tmp_path, "other.yaml", BASE.replace("max_score: 100", "max_score: 90"))).registry_hash
    assert one == again != other


def test_every_problem_is_reported_with_line_key_and_fix(tmp_path):
    text = BASE.replace("title: Demo", "titel: Demo").replace("America/New_York", "America/Nowhere")
    text += "penalties:\n  late: {percent_per_period: ten}\n"
    found = problems_of(write(tmp_path, "bad.yaml", text))
    by_key = {p.key: p for p in found}
    assert by_key["titel"].fix == "did you mean `title`?"
    assert by_key["titel"].line == 2
    assert by_key["titel"].file == "bad.yaml"
    assert "unknown time zone" in by_key["deadline.timezone"].problem
    assert by_key["deadline.timezone"].line == 4
    assert "expected a number" in by_key["penalties.late.percent_per_period"].problem
    assert len(found) == 3
    message = str(RegistryError(found))
    assert "bad.yaml:2: titel: unknown key (did you mean `title`?)" in message


def test_yaml_syntax_error_names_the_line(tmp_path):
    found = problems_of(write(tmp_path, "broken.yaml", BASE + "checks: [\n  - oops\n"))
    assert found[0].key == "(syntax)"
    assert found[0].line is not None


def test_missing_required_keys_and_bad_pattern(tmp_path):
    text = "id: x\nmax_score: 10\ndeadline: '2025-01-01 00:00'\nsubmission:\n  zip_pattern: '([a-z]+)\\.zip'\n  files: []\n"
    found = problems_of(write(tmp_path, "x.yaml", text))
    messages = [(p.key, p.problem) for p in found]
    assert ("submission.zip_pattern", "has no named group `student`") in messages
    assert ("submission.files", "no required files") in messages


def test_extends_merges_files_by_name_and_keeps_base_lines(tmp_path):
    write(tmp_path, "_base.yaml", BASE.replace("id: demo-hw\n", ""))
    child = write(tmp_path, "child.yaml", """\
        extends: _base.yaml
        id: demo-child
        deadline: {at: "2026-01-01 12:00", timezone: UTC}
        submission:
          files:
            - {name: a.ipynb, mode: full}
            - {name: extra.ipynb}
        """)
    a = registry.load_file(child)
    assert [f.name for f in a.submission.files] == ["a.ipynb", "theory.pdf", "extra.ipynb"]
    assert a.submission.files[0].mode == "full"
    assert a.submission.files[0].execution_penalty is True
    assert a.deadline.isoformat() == "2026-01-01T12:00:00+00:00"
    assert a.submission.zip_example == "abc1234.zip"


def test_extends_problem_in_base_names_the_base_file(tmp_path):
    write(tmp_path, "_base.yaml", BASE.replace("id: demo-hw\n", "").replace("max_score: 100", "max_score: lots"))
    found = problems_of(write(tmp_path, "child.yaml", "extends: _base.yaml\nid: c\n"))
    assert [(p.file, p.key, p.line) for p in found] == [("_base.yaml", "max_score", 2)]


def test_extends_unknown_and_circular(tmp_path):
    found = problems_of(write(tmp_path, "a.yaml", "extends: _bsae.yaml\nid: a\n"))
    assert found[0].key == "extends"
    write(tmp_path, "_base.yaml", "extends: a.yaml\n")
    write(tmp_path, "a.yaml", "extends: _base.yaml\nid: a\n")
    found = problems_of(tmp_path / "a.yaml")
    assert "circular" in found[0].problem


def test_unknown_assignment_lists_known(tmp_path, monkeypatch):
    monkeypatch.setenv(registry.ENV_PROBLEMS, str(tmp_path))
    write(tmp_path, "demo.yaml", BASE)
    assert "demo-hw" in registry.known_ids()
    with pytest.raises(UnknownAssignmentError) as info:
        registry.load("nope")
    assert "demo-hw" in str(info.value) and "nyu-dl-hw2-2025" in str(info.value)


def test_exponent_floats_are_numbers_not_strings(tmp_path):
    text = BASE + "penalties: {naming: {percent: 1e1}, late: {period_hours: 2.4E1, grace_minutes: 1.5}}\n"
    a = registry.load_file(write(tmp_path, "f.yaml", text))
    assert a.penalties.naming_percent == 10.0
    assert a.penalties.late.period_hours == 24.0 and a.penalties.late.grace_minutes == 1.5


CHECKS = """\
checks:
  - {id: a.one, notebook: a.ipynb, kind: function, points: 2, target: f, reference: "nyu_dl_hw2.reference.theory.shapes:conv1d_output_shape", cases: [{args: [[7, 11], 3]}]}
  - {id: a.two, notebook: a.ipynb, kind: function, points: 3, target: g, reference: "nyu_dl_hw2.reference.theory.shapes:conv1d_output_shape", cases: [{args: [[7, 11], 3]}]}
manual:
  - {id: theory, points: 5}
  - {id: essay, points: 1}
"""


def test_extends_remove_drops_an_entry_and_overrides_one_by_id(tmp_path):
    write(tmp_path, "_base.yaml", BASE.replace("id: demo-hw\n", "") + CHECKS)
    child = write(tmp_path, "child.yaml", """\
        extends: _base.yaml
        id: demo-child
        checks:
          - {id: a.one, remove: true}
          - {id: a.two, points: 4}
        manual:
          - {id: essay, remove: true}
        submission:
          files:
            - {name: theory.pdf, remove: true}
        """)
    a = registry.load_file(child)
    assert [(c.id, c.points, c.params["target"]) for c in a.checks] == [("a.two", 4.0, "g")]
    assert [m.id for m in a.manual] == ["theory"]
    assert [f.name for f in a.submission.files] == ["a.ipynb"]
    assert "remove" not in a.checks[0].params


def test_removing_an_unknown_entry_is_not_silently_a_new_one(tmp_path):
    write(tmp_path, "_base.yaml", BASE.replace("id: demo-hw\n", "") + CHECKS)
    found = problems_of(write(tmp_path, "child.yaml", "extends: _base.yaml\nid: c\nchecks:\n  - {id: a.tree, remove: true}\n"))
    assert [(p.key, p.line) for p in found] == [("checks[2]", 4)]
    assert found[0].problem == "nothing to remove: no `a.tree` in the base file"


def test_check_params_are_the_kinds_to_validate_with_lines(tmp_path):
    text = BASE + CHECKS.replace("target: g,", "targte: g,").replace("kind: function, points: 2", "kind: functoin, points: 2")
    found = problems_of(write(tmp_path, "k.yaml", text))
    by_key = {p.key: p for p in found}
    assert by_key["checks[0].kind"].fix == "did you mean `function`?" and by_key["checks[0].kind"].line == 12
    assert "unknown key" in by_key["checks[1].targte"].problem and by_key["checks[1].targte"].line == 13
    assert by_key["checks[1].targte"].fix == "did you mean `target`?"


def test_schema_words_pydantic_errors_with_the_fix(tmp_path):
    text = BASE.replace("files:\n", "litter: maybe\n  limits: {max_entries: 0}\n  files:\n") + \
        "sandbox: {cuda_to_cpu: yes please, memory_mb: 4096.5}\nregistry_hash: abc\n"
    found = problems_of(write(tmp_path, "s.yaml", text))
    said = {p.key: (p.problem, p.fix) for p in found}
    assert said["submission.litter"] == ("unknown value `maybe`", "expected one of ignore, extra")
    assert said["submission.limits.max_entries"][0] == "must be at least 1, got 0"
    assert said["sandbox.cuda_to_cpu"] == ("expected true or false, got 'yes please'", "write true or false")
    assert said["sandbox.memory_mb"][0] == "expected a whole number, got 4096.5"
    assert said["registry_hash"] == ("unknown key", "remove it: the grader sets it")


def test_the_schema_round_trips_an_assignment_through_its_own_data():
    from grader import schema

    a = registry.load("nyu-dl-hw2-2025")
    data = schema.to_data(a)
    assert schema.from_data(data) == a
    assert data["deadline"] == {"at": "2025-02-25T23:59:00", "timezone": "America/New_York"}
    assert data["penalties"]["naming"] == {"percent": 10.0}  # the YAML's own shape
    first = data["checks"][0]
    assert "params" not in first and set(a.checks[0].params) <= set(first)
