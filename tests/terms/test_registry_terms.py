"""Every NYU term of HW2 as its PDF states it (/work/shared/hw2-terms.md): files, deadline,
late rule, theory parameters and points, points per notebook, manual items, writers.

Fast (no sandbox): runs per term. The grading acceptance tests are in test_acceptance_terms.py.
"""

from __future__ import annotations

import zipfile
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from grader import registry
from nyu_dl_hw2.theory_key import answer_key
from nyu_dl_hw2.reference.hw2 import terms

NY = ZoneInfo("America/New_York")
TERM_IDS = sorted(terms.TERMS)

# id: (files after the PDF, deadline, (late %, period h, cutoff h), points per notebook, manual)
EXPECTED = {
    "nyu-dl-hw2-2021": (["hw2_cnn.ipynb", "hw2_rnn.ipynb"], (2021, 3, 11, 23, 55), (20, 24, 24),
                        {"hw2_cnn.ipynb": 25, "hw2_rnn.ipynb": 25}, {"theory": 50}),
    "nyu-dl-hw2-2022": (["hw2_cnn.ipynb", "hw2_rnn.ipynb", "08-seq_classification.ipynb"], (2022, 3, 4, 17, 0),
                        (20, 24, 24), {"hw2_cnn.ipynb": 25, "hw2_rnn.ipynb": 20, "08-seq_classification.ipynb": 5},
                        {"theory": 50, "seq.extra_credit": 5}),
    "nyu-dl-hw2-2022fall": (["hw2_cnn.ipynb", "hw2_rnn.ipynb", "08-seq_classification.ipynb"],
                            (2022, 10, 13, 16, 0), (20, 24, 24),
                            {"hw2_cnn.ipynb": 25, "hw2_rnn.ipynb": 20, "08-seq_classification.ipynb": 5},
                            {"theory": 50, "seq.extra_credit": 5}),
    "nyu-dl-hw2-2024": (["hw2_moe.ipynb", "hw2_cnn.ipynb", "hw2_rnn.ipynb", "08-seq_classification.ipynb"],
                        (2024, 3, 1, 23, 59), (0, 24, None),
                        {"hw2_moe.ipynb": 10, "hw2_cnn.ipynb": 20, "hw2_rnn.ipynb": 15,
                         "08-seq_classification.ipynb": 5}, {"theory": 50, "moe.bonus": 2}),
    "nyu-dl-hw2-2024fall": (["hw2_cnn.ipynb", "hw2_rnn.ipynb", "seq_classification.ipynb"], (2024, 10, 6, 23, 55),
                            (20, 24, 24), {"hw2_cnn.ipynb": 25, "hw2_rnn.ipynb": 20, "seq_classification.ipynb": 5},
                            {"theory": 50}),
    "nyu-dl-hw2-2025": (["hw2_moe.ipynb", "hw2_cnn.ipynb", "hw2_rnn.ipynb", "seq_classification.ipynb"],
                        (2025, 2, 25, 23, 59), (10, 24, 96),
                        {"hw2_moe.ipynb": 10, "hw2_cnn.ipynb": 20, "hw2_rnn.ipynb": 15,
                         "seq_classification.ipynb": 5}, {"theory": 50, "moe.bonus": 2}),
    "nyu-dl-hw2-2025fall": (["hw2_cnn.ipynb", "hw2_rnn.ipynb", "08-seq_classification.ipynb"],
                            (2025, 10, 5, 23, 59), (20, 24, 24),
                            {"hw2_cnn.ipynb": 25, "hw2_rnn.ipynb": 20, "08-seq_classification.ipynb": 5},
                            {"theory": 50, "seq.extra_credit": 5}),
}
# 1.1(a) output size and the 1-D layer's output length (facts §2), per term.
THEORY = {"nyu-dl-hw2-2021": ([4, 5], 2), "nyu-dl-hw2-2022": ([3, 4], 2), "nyu-dl-hw2-2022fall": ([5, 2], 3),
          "nyu-dl-hw2-2024": ([2, 5], 3), "nyu-dl-hw2-2024fall": ([8, 4], 5), "nyu-dl-hw2-2025": ([9, 13], 5),
          "nyu-dl-hw2-2025fall": ([5, 2], 3)}


@pytest.fixture(scope="module", params=[pytest.param(t, marks=pytest.mark.per_term) for t in TERM_IDS])
def term(request):
    return request.param, registry.load(request.param)


def test_every_term_is_listed():
    assert set(TERM_IDS) <= set(registry.known_ids())
    assert set(EXPECTED) == set(TERM_IDS) == set(THEORY)


def test_files_deadline_and_late_rule(term):
    ident, a = term
    files, deadline, late, _, _ = EXPECTED[ident]
    assert [f.name for f in a.submission.files] == ["hw2_theory.pdf"] + files
    assert a.deadline == datetime(*deadline, tzinfo=NY)
    assert (a.penalties.late.percent_per_period, a.penalties.late.period_hours, a.penalties.late.cutoff_hours) == late
    assert a.penalties.naming_percent == 10 and a.penalties.execution_percent == 20


def test_points_per_notebook_and_manual_items(term):
    ident, a = term
    _, _, _, points, manual = EXPECTED[ident]
    got: dict[str, float] = {}
    for c in a.checks:
        got[c.notebook] = got.get(c.notebook, 0) + c.points
    assert got == points
    assert {m.id: m.points for m in a.manual} == manual


def test_theory_key_is_numerator_with_the_terms_numbers(term):
    ident, a = term
    assert a.theory["layout"] == "numerator"
    key = {x.slot: x for x in answer_key(a.theory)}
    size, length = THEORY[ident]
    assert list(key["conv2d_output"].value) == size
    assert key["conv1d_output"].shape[-1] == length
    assert key["conv1d_jacobian_weight"].blocks[0][-1] == length  # numerator: output axes first


def test_every_keyed_question_has_the_pdfs_points(term):
    """The key lists every question the PDF prices: the AttentionRNN diagram (1.2.2(a) of Fall
    2022, Spring 2024 and Fall 2025) is a by-hand figure slot, not a gap of 4 points."""
    ident, a = term
    points = a.theory.get("points") or {}
    if not points:  # Spring 2021 prints 50 in all, no per-item points
        return
    key = {x.id: x for x in answer_key(a.theory)}
    assert set(key) == set(points)
    if "attention_rnn_diagram" in (a.theory.get("ids") or {}):
        assert key["1.2.2(a)"].slot == "attention_rnn_diagram" and sum(points.values()) == 50
    else:
        assert all(x.slot != "attention_rnn_diagram" for x in key.values())


def test_cnn_checks_name_the_terms_class(term):
    ident, a = term
    want = terms.TERMS[ident].cnn_class
    for c in a.checks:
        if c.notebook == "hw2_cnn.ipynb":
            p = c.params
            named = p.get("class") or (p.get("with") or {}).get("class") or (p.get("model") or {}).get("class")
            if c.id != "cnn.step":  # step names no class; the judges' default class is CNN
                assert (named or "CNN") == want, c.id


def test_moe_checks_of_2024_and_2025_are_the_same():
    a, b = registry.load("nyu-dl-hw2-2024"), registry.load("nyu-dl-hw2-2025")
    moe = lambda x: [repr(c) for c in x.checks if c.notebook == "hw2_moe.ipynb"]  # noqa: E731
    assert moe(a) == moe(b) and len(moe(a)) == 4


def test_solution_zip_and_starters_hold_the_terms_files(term, tmp_path):
    ident, a = term
    path = terms.write_term_solution_zip(ident, tmp_path / "abc1234.zip")
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        stamp = datetime(*zf.getinfo(names[0]).date_time, tzinfo=NY)
    assert names == [f.name for f in a.submission.files]
    assert stamp < a.deadline
    starters = terms.write_term_starters(ident, tmp_path / "starters")
    assert [p.name for p in starters] == [f.name for f in a.submission.files if f.kind == "notebook"]
    cnn = (tmp_path / "starters" / "hw2_cnn.ipynb").read_text()
    assert f"class {terms.TERMS[ident].cnn_class}(nn.Module)" in cnn


def test_rnn_version_1_is_the_handouts():
    nbs = terms.notebooks("nyu-dl-hw2-2022", starter=True)
    rnn = "\n".join(c.source for c in nbs["hw2_rnn.ipynb"].cells)
    assert "MAX_DELAY = 8" in rnn and "SEQ_LENGTH = 20" in rnn and "model = None" in rnn
    assert "def train_model" not in rnn and "D = DELAY" not in rnn  # the handout leaves D undefined
    assert rnn.count("accuracy > 0.99") == 2
    v2 = terms.notebooks("nyu-dl-hw2-2025", starter=True)["hw2_rnn.ipynb"]
    assert "MAX_DELAY = 12" in "\n".join(c.source for c in v2.cells)
    solution = "\n".join(c.source for c in terms.notebooks("nyu-dl-hw2-2022", starter=False)["hw2_rnn.ipynb"].cells)
    # the data set keeps its max_delay in both; the model's is the student's to keep
    assert solution.count("self.max_delay = max_delay") == 2 and rnn.count("self.max_delay = max_delay") == 1


def test_solution_zip_passes_the_terms_rules_and_lateness_follows_them(term, tmp_path):
    from datetime import timedelta

    from grader.precheck import precheck

    ident, a = term
    path = terms.write_term_solution_zip(ident, tmp_path / "abc1234.zip")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    pc = precheck(path, a, scratch)
    assert pc.lateness.accepted and pc.lateness.hours_late == 0.0
    assert list(pc.penalties) == [] and list(pc.problems) == []
    late = precheck(path, a, tmp_path / "s2", submitted_at=a.deadline + timedelta(hours=30))
    percent, _, cutoff = EXPECTED[ident][2]
    assert late.lateness.accepted == (cutoff is None or cutoff > 30)
    if late.lateness.accepted:  # 30 h late: two started 24 h periods (no rule: 0 %)
        assert sum(p.percent for p in late.penalties) == 2 * percent


def test_grader_list_and_key_for_every_term():
    import json

    from click.testing import CliRunner

    from grader.cli import main

    listed = {a["id"]: a for a in json.loads(CliRunner().invoke(main, ["list", "--json"]).output)["assignments"]}
    for ident in TERM_IDS:
        assert listed[ident]["valid"] and listed[ident]["checks"] == len(registry.load(ident).checks)
        result = CliRunner().invoke(main, ["key", ident, "--json"])
        assert result.exit_code == 0, result.output
        answers = json.loads(result.output)["answers"]
        assert answers[0]["id"] == "1.1(a)" and answers[0]["shape"] == THEORY[ident][0]
