"""CUHK ELEG 5491 HW2 end to end: the reference scores full automatic marks, the starter
zero, and each planted bug loses exactly the check it breaks (the others as the reference)."""

from __future__ import annotations

import pytest

from cuhk_eleg5491.reference.notebooks import NOTEBOOK
from tests.conftest import prefetched
from tests.cuhk.conftest import patched

CHECKS = ("cifar.structure", "cifar.output", "cifar.train", "cifar.he_init", "cifar.batchnorm")
NO_TRAIN = tuple(c for c in CHECKS if c != "cifar.train")


def test_reference_full_marks(cuhk_reference):
    g, seconds = cuhk_reference
    assert g.verdict == "graded" and not g.penalties
    assert [c.id for c in g.checks] == list(CHECKS)
    assert all(c.status == "pass" for c in g.checks), [(c.id, c.message) for c in g.checks if c.status != "pass"]
    assert g.raw_score == g.auto_max == 14.0
    he = next(c for c in g.checks if c.id == "cifar.he_init")
    assert he.measure is not None and he.measure.value > 0.75  # 200 seeds: >= 0.796; full at 0.6
    train = next(c for c in g.checks if c.id == "cifar.train")
    assert train.measure.value > 0.9  # calibration: >= 0.95 at 600 batches; full at 0.7
    # the theory key pre-grades the report: 4(a)'s formula is read and right, the rest by hand
    items = {i.id: i.status for i in g.theory.items}
    assert items["4(a)"] == "right" and items["1"] == "by-hand"


def test_starter_scores_zero(cuhk_starter):
    g, _ = cuhk_starter
    assert g.verdict == "graded"
    assert g.raw_score == 0.0
    assert {c.id: c.status for c in g.checks}["cifar.output"] == "error"


BUGS = {
    "cifar.structure": [("class Net(", "nn.Conv2d(3, 6, 5)", "nn.Conv2d(3, 8, 5)"),
                        ("class Net(", "nn.Conv2d(6, 16, 5)", "nn.Conv2d(8, 16, 5)")],
    "cifar.he_init": [("class HeNet(", "nn.init.normal_(m.weight, 0.0, (2.0 / n) ** 0.5)", "pass")],
    "cifar.batchnorm": [("class BNNet(", "x = F.relu(self.bn3(self.fc1(x)))", "x = F.relu(self.fc1(x))")],
}


@pytest.fixture(scope="module", autouse=True)
def gradings(cuhk, cuhk_gradings, grade_one):
    """The two zips graded first (cuhk_gradings), then every planted bug started at once, in
    test order (two side by side on the runner's lanes)."""
    yield from prefetched(grade_one.prefetch((cuhk, NOTEBOOK, patched(BUGS[b]), NO_TRAIN) for b in sorted(BUGS)))


@pytest.mark.parametrize("broken", sorted(BUGS))
def test_planted_bug_loses_exactly_its_check(broken, grade_cifar):
    results = grade_cifar(patched(BUGS[broken]), NO_TRAIN)
    failed = sorted(i for i, r in results.items() if r.points < r.max_points)
    assert failed == [broken], {i: r.message for i, r in results.items()}


def test_batchnorm_after_the_classifier_is_refused(grade_cifar):
    nb = patched([("class BNNet(", "self.fc3 = nn.Linear(84, 10)", "self.fc3 = nn.Sequential(nn.Linear(84, 10), nn.BatchNorm1d(10))")])
    r = grade_cifar(nb, ["cifar.batchnorm"])["cifar.batchnorm"]
    assert r.points == 0 and "after the last FC layer" in r.message


def test_average_pooling_is_not_max_pooling(grade_cifar):
    nb = patched([("class Net(", "self.pool = nn.MaxPool2d(2, 2)", "self.pool = nn.AvgPool2d(2, 2)")])
    r = grade_cifar(nb, ["cifar.structure"])["cifar.structure"]
    assert r.points == 0 and "no max pooling" in r.message


def test_frozen_network_loses_only_the_training_check(grade_cifar):
    nb = patched([("class Net(", "self.fc3 = nn.Linear(84, 10)",
                   "self.fc3 = nn.Linear(84, 10)\n        self.requires_grad_(False)")])
    results = grade_cifar(nb)
    failed = sorted(i for i, r in results.items() if r.points < r.max_points)
    assert failed == ["cifar.train"], {i: r.message for i, r in results.items()}
