from __future__ import annotations

import io

import pytest
from rich.console import Console

from grader.report.summary import bucket_index, summarize, summary_text, summary_view

from .conftest import CNN, RNN, make_grade


def render(renderable) -> str:
    console = Console(record=True, width=80, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def test_counts_and_statistics(all_grades):
    s = summarize(all_grades)
    assert (s.count, s.graded, s.not_accepted, s.rejected, s.other) == (7, 5, 1, 1, 0)
    scores = sorted(g.score for g in all_grades)  # 0, 0, 32.5, 40, 40, 60, 80
    assert scores == [0, 0, 32.5, 40, 40, 60, 80]
    assert s.mean == pytest.approx(252.5 / 7)
    assert s.median == 40 and s.min == 0 and s.max == 80
    assert s.mean_graded == pytest.approx(252.5 / 5)
    assert s.max_score == 100


def test_buckets(all_grades):
    s = summarize(all_grades)
    assert [b.label for b in s.buckets][:2] == ["0-10%", "10-20%"] and s.buckets[-1].label == "90-100%"
    assert [b.count for b in s.buckets] == [2, 0, 0, 1, 2, 0, 1, 0, 1, 0]
    assert sum(b.count for b in s.buckets) == s.count


@pytest.mark.parametrize(
    "score, max_score, index",
    [(0, 100, 0), (9.99, 100, 0), (10, 100, 1), (30, 100, 3), (70, 100, 7), (100, 100, 9), (120, 100, 9),
     (-5, 100, 0), (5, 0, 0), (float("nan"), 100, 0), (6, 20, 3)],
)
def test_bucket_index(score, max_score, index):
    assert bucket_index(score, max_score) == index


def test_failed_most(all_grades):
    s = summarize(all_grades)
    top = {(f.id, f.notebook): (f.failed, f.errors) for f in s.failed_most}
    assert top[("cnn.conv_shapes", CNN)] == (1, 0)
    assert top[("cnn.train_accuracy", CNN)] == (0, 1)
    assert top[("rnn.gradients", RNN)] == (0, 1)
    assert ("rnn.generate", RNN) not in top  # skipped and partial are not failures


def test_failed_most_ranking_and_top():
    from .conftest import check

    def g(*checks):
        return make_grade(checks=checks)

    grades = [
        g(check("a", CNN, "fail", 0, 1), check("b", CNN, "error", 0, 1)),
        g(check("a", CNN, "error", 0, 1), check("c", CNN, "fail", 0, 1)),
        g(check("a", CNN, "fail", 0, 1), check("b", CNN, "fail", 0, 1)),
    ]
    s = summarize(grades, top=2)
    assert [(f.id, f.failed, f.errors, f.total) for f in s.failed_most] == [("a", 2, 1, 3), ("b", 1, 1, 2)]


def test_empty_batch():
    s = summarize([])
    assert s.count == 0 and s.mean is None and s.median is None and s.max_score is None
    text = render(summary_view(s))
    assert "Submissions" in text and "No check failed" in text
    assert "Mean" in summary_text([])


def test_mixed_max_scores_have_no_common_max():
    s = summarize([make_grade(), make_grade(max_score=50.0, score=25.0)])
    assert s.max_score is None
    assert [b.count for b in s.buckets][5] == 1  # 25/50 = 50%
    assert " / " not in summary_text(s).split("Distribution")[0]


def test_view_and_text_content(all_grades):
    text = render(summary_view(all_grades))
    assert all(len(line) <= 80 for line in text.splitlines())
    for needle in ("Submissions", "7", "Not accepted", "Rejected", "36.07 / 100", "Median", "40 / 100",
                   "0-10%", "90-100%", "█", "Checks failed most", "cnn.conv_shapes"):
        assert needle in text
    plain = summary_text(all_grades)
    assert "Mean (graded only)  50.5 / 100" in plain
    assert "   0-10%  2  " + "█" * 30 in plain
    assert "1  rnn.gradients (hw2_rnn.ipynb): 0 failed, 1 errors" in plain
