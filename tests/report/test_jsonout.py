from __future__ import annotations

import json
import math

import pytest

from grader.report.jsonout import grade_json, grades_json, normalise

from .conftest import SITUATIONS


@pytest.mark.parametrize("situation", sorted(SITUATIONS))
def test_same_grade_same_bytes(situation):
    one, two = SITUATIONS[situation](), SITUATIONS[situation]()  # equal, built separately
    assert one is not two
    assert grade_json(one).encode() == grade_json(two).encode()
    assert grade_json(one, with_timings=True) == grade_json(two, with_timings=True)


def test_round_trips_to_grade_to_json(partial):
    data = json.loads(grade_json(partial))
    assert data == json.loads(json.dumps(partial.to_json()))
    assert data["score"] == 32.5 and data["raw_score"] == 37.5
    assert [c["id"] for c in data["checks"]] == [c.id for c in partial.checks]  # order kept
    assert "seconds" not in data["checks"][0] and "timings" not in data


def test_keys_sorted_at_every_level(partial):
    text = grade_json(partial)
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert list(data["checks"][0]) == sorted(data["checks"][0])
    # re-serialising with sort_keys gives the same text
    assert json.dumps(data, sort_keys=True, indent=2) == text


def test_floats_rounded_to_4_places(grade_factory):
    g = grade_factory(raw_score=1 / 3 * 100, score=200 / 3, hours_late=1e-7, max_score=100.0)
    data = json.loads(grade_json(g))
    assert data["raw_score"] == 33.3333
    assert data["score"] == 66.6667
    assert data["hours_late"] == 0.0
    assert '"hours_late": 0.0' in grade_json(g)  # not -0.0 nor 1e-07


def test_nan_becomes_null(grade_factory):
    g = grade_factory(score=float("nan"), raw_score=float("inf"))
    data = json.loads(grade_json(g))
    assert data["score"] is None and data["raw_score"] is None


def test_ascii_by_default_unicode_on_request(weird):
    text = grade_json(weird)
    assert text.isascii()
    assert json.loads(text)["student"] == "=José_[red]*Ñ*[/]"
    assert "José" in grade_json(weird, ensure_ascii=False)


def test_timings_only_when_asked(full):
    data = json.loads(grade_json(full, with_timings=True))
    assert data["timings"] == {"intake": 0.01, "run": 12.5}
    assert data["checks"][0]["seconds"] == 0.5


def test_compact_form(full):
    text = grade_json(full, indent=None)
    assert "\n" not in text and ", " not in text.split('"message"')[0]
    assert json.loads(text) == json.loads(grade_json(full))


def test_grades_json_sorted_like_gradebook(all_grades):
    data = json.loads(grades_json(all_grades))
    students = [d["student"] for d in data]
    assert students[-1] is None
    assert students[:-1] == sorted(students[:-1], key=str.casefold)


def test_normalise():
    assert normalise((1.23456789, -0.0, math.inf, True, None, {"a": (1,)})) == [1.2346, 0.0, None, True, None, {"a": [1]}]
