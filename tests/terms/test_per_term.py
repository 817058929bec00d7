"""Acceptance of every NYU term, from gradings done once per notebook version.

A term adds files, a deadline, late rules, points, manual items and a theory key (checked per
term in test_registry_terms.py), not other judgements: each of its notebooks is one of the
versions below, byte for byte, and its checks of that notebook are the graded registry's,
check for check (id, kind, public, timeout, parameters: the hidden data come from the seed
and the check id), but for points and descriptions. A verdict is a fraction of the check's
points (grader.api.Verdict), so a term's score is the shared verdicts times its own points.
What runs per term here is that proof and the arithmetic (no sandbox), and the term's
solution zip through intake and rules; the gradings run once:

| version                                   | terms                             | graded once by |
|-------------------------------------------|-----------------------------------|----------------|
| hw2_cnn (class CNN), RNN v2, inlined seq,  | 2021 (CNN), 2024 (MoE), 2024fall, | tests/hw2: the real 2025 registry on the reference and starter zips (`reference_graded`, `starter_graded`); planted bugs: test_planted_bugs.py |
| MoE                                       | 2025                              |                |
| hw2_cnn (CNN_Solution), RNN v1            | 2021 (RNN), 2022, 2022fall, 2024, | test_acceptance_terms.py: quick_v1.yaml (`v1_graded`) and its planted bugs |
|                                           | 2025fall                          |                |
| 08-seq_classification (class notebook)    | 2022, 2022fall, 2024, 2025fall    | tests/classnb (classnb.yaml: the same checks) |

A planted bug costs the same check in every term of its version (same notebook, same
judgement), so the planted-bug gradings are not repeated per term either.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from grader import registry
from grader.grading import Options, grade
from grader.registry import thaw
from nyu_dl_hw2.reference.hw2 import terms

from .conftest import V1_TERM

pytestmark = pytest.mark.slow

TERM_IDS = sorted(terms.TERMS)
V2_TERM = "nyu-dl-hw2-2025"  # tests/hw2's registry
CLASSNB = Path(__file__).resolve().parent.parent / "classnb" / "classnb.yaml"
CLASS_SEQ = terms.CLASS_SEQ
# The plugin judges that build the CNN take `with: {class: ...}`, default "CNN"
# (test_cnn_class_default_is_what_the_judges_build checks it): Spring 2021 spells it out.
CNN_CLASS_JUDGES = (":CnnOutput", ":CnnLossAndCorrect")


def version(term_id: str, name: str) -> str:
    """The term whose registry grades the version of `name` that `term_id` hands out."""
    t = terms.TERMS[term_id]
    if name == CLASS_SEQ:
        return "classnb"
    if name == "hw2_cnn.ipynb":
        return V2_TERM if t.cnn_class == "CNN" else V1_TERM
    if name == "hw2_rnn.ipynb":
        return V2_TERM if t.rnn == 2 else V1_TERM
    return V2_TERM  # hw2_moe.ipynb, seq_classification.ipynb: one version each


def judgement(check) -> tuple:
    """What decides a check's verdict: everything but its points and description."""
    params = thaw(check.params)
    if check.kind == "plugin" and str(params.get("plugin", "")).endswith(CNN_CLASS_JUDGES):
        params.setdefault("with", {}).setdefault("class", "CNN")
    return check.id, check.notebook, check.kind, check.public, check.timeout, params


def check_by_id(assignment, check_id: str):
    return next(c for c in assignment.checks if c.id == check_id)


def checks_of(assignment, name: str) -> list:
    return [c for c in assignment.checks if c.notebook == name]


def text(nb) -> str:
    return nbformat.writes(nb)


@pytest.fixture(scope="module", params=[pytest.param(t, marks=pytest.mark.per_term) for t in TERM_IDS])
def term(request):
    return request.param, registry.load(request.param)


@pytest.fixture(scope="module")
def graded_registries(quick_v1):
    """Version -> (real registry of the version, registry its notebooks were graded with)."""
    real_v1 = registry.load(V1_TERM)
    real_v2 = registry.load(V2_TERM)
    return {V1_TERM: (real_v1, quick_v1), V2_TERM: (real_v2, real_v2), "classnb": (registry.load_file(CLASSNB), None)}


def test_every_notebook_is_a_graded_version_with_the_same_judgements(term, graded_registries):
    ident, a = term
    solutions, starters = terms.notebooks(ident, False), terms.notebooks(ident, True)
    assert list(solutions) == [f.name for f in a.notebooks]
    for name in solutions:
        v = version(ident, name)
        real_v, _ = graded_registries[v]
        assert [judgement(c) for c in checks_of(a, name)] == [judgement(c) for c in checks_of(real_v, name)], name
        if v != "classnb":
            assert text(solutions[name]) == text(terms.notebooks(v, False)[name]), name
            assert text(starters[name]) == text(terms.notebooks(v, True)[name]), name


def test_the_graded_versions_are_the_ones_tests_hw2_and_terms_grade(quick_v1):
    """tests/hw2's zips hold the 2025 versions; quick_v1.yaml changes only the training budgets
    of the version-1 registry (like tests/hw2/quick.yaml: test_quick_registry_only_shrinks...)."""
    from nyu_dl_hw2.reference.hw2.notebooks import solution_notebooks, starter_notebooks

    for name, nb in solution_notebooks().items():
        assert text(nb) == text(terms.notebooks(V2_TERM, False)[name]), name
    for name, nb in starter_notebooks().items():
        assert text(nb) == text(terms.notebooks(V2_TERM, True)[name]), name
    real_v1 = registry.load(V1_TERM)
    assert [(c.id, c.notebook, c.kind, c.points, c.public) for c in quick_v1.checks] == \
        [(c.id, c.notebook, c.kind, c.points, c.public) for c in real_v1.checks]
    changed = {c.id for c, r in zip(quick_v1.checks, real_v1.checks) if thaw(c.params) != thaw(r.params)}
    assert changed == {"cnn.train", "rnn.train", "rnn.vd_train"}
    for c in quick_v1.checks:
        if c.id in changed:
            assert c.params["loader"]["max_batches"] <= check_by_id(real_v1, c.id).params["loader"]["max_batches"]


def test_cnn_class_default_is_what_the_judges_build():
    """`with: {class: CNN}` and no `with` ask the sandbox for the same thing."""
    from grader.checks.base import Context
    from nyu_dl_hw2.reference.hw2.judges import CnnLossAndCorrect, CnnOutput

    a = registry.load(V2_TERM)
    ctx = Context(seed=2572)
    for judge, check_id in ((CnnOutput(), "cnn.output"), (CnnLossAndCorrect(), "cnn.loss_and_correct")):
        check = check_by_id(a, check_id)
        assert "class" not in (thaw(check.params).get("with") or {})
        default = judge.requests(check, {}, ctx)["run"]
        spelled = judge.requests(check, {"class": "CNN"}, ctx)["run"]
        assert default.args["class"] == spelled.args["class"] == "CNN"


def _fractions(ident: str, name: str, starter: bool, reference_graded, starter_graded, v1_graded) -> dict[str, float]:
    v = version(ident, name)
    if v == V2_TERM:
        results = (starter_graded if starter else reference_graded).grade.checks
        return {r.id: r.points / r.max_points for r in results if r.notebook == name}
    return {i: r.points / r.max_points for i, r in v1_graded(name, starter=starter).results.items()}


def test_reference_scores_full_and_starter_only_the_provided_code(term, reference_graded, starter_graded, v1_graded):
    """Per term, from the shared verdicts: the reference gets every automatic point of every
    notebook graded here (the class seq notebook: tests/classnb), the starter only the
    provided-code checks' points."""
    ident, a = term
    for name in (n.name for n in a.notebooks if n.name != CLASS_SEQ):
        mine = checks_of(a, name)
        ref = _fractions(ident, name, False, reference_graded, starter_graded, v1_graded)
        st = _fractions(ident, name, True, reference_graded, starter_graded, v1_graded)
        assert set(ref) == set(st) == {c.id for c in mine}, name
        assert sum(ref[c.id] * c.points for c in mine) == sum(c.points for c in mine), (name, ref)
        provided = {c.id for c in mine if c.kind == "integrity" or c.id.endswith(".provided")}
        assert {i for i, f in st.items() if f > 0} == provided, (name, st)
        assert sum(st[c.id] * c.points for c in mine) == sum(c.points for c in mine if c.id in provided), name


def test_solution_zip_goes_through_intake_and_rules_clean(term, tmp_path):
    """The term's solution zip, graded without running code: accepted on time, no penalty,
    no problem, every file present and the term's checks listed."""
    ident, a = term
    path = terms.write_term_solution_zip(ident, tmp_path / "abc1234.zip")
    g = grade(path, a, Options(submitted_at=a.deadline, run_code=False), None)
    assert g.verdict == "graded" and g.accepted and g.penalties == () and g.problems == (), (g.penalties, g.problems)
    assert all(f.present and f.valid and f.exact for f in g.files), g.files
    assert [c.id for c in g.checks] == [c.id for c in a.checks]
    assert g.auto_max == sum(c.points for c in a.checks) and g.max_score == a.max_score
