"""Acceptance of the notebook versions the NYU terms add (quick budgets: quick_v1.yaml).

Runs ONCE (not per term): the version-1 notebooks are the same in every version-1 term
(2021, Spring/Fall 2022, Spring 2024, Fall 2025: only the CNN class name and the points
differ, both checked per term in test_registry_terms.py), so they are graded once, with
Fall 2022's registry (CNN_Solution). Version 2 (Fall 2024, Spring 2025) is the Spring 2025
notebooks, graded by tests/hw2. test_per_term.py proves, per term, that the term's notebooks
and judgements are the ones graded here or there, and derives each term's scores. The class seq notebook is helper classnb's (its checks are
not in the registries yet).

* the reference notebooks get every point; the starters none but the provided code's;
* one planted bug per new check kind or parameter loses exactly that check: the CNN class
  name (`class: CNN_Solution`: a notebook that names it `CNN` loses every check that builds
  it), `rnn.vd_max_delay` (MaxDelayAttribute), the `echo_loop` training driver;
* the driver trains a model in the student's own convention (integer indices through
  `nn.Embedding` score like one-hot).
"""

from __future__ import annotations

import pytest

from tests.conftest import prefetched
from tests.hw2.conftest import Edit

from .conftest import term_notebook

pytestmark = pytest.mark.slow

CNN, RNN = "hw2_cnn.ipynb", "hw2_rnn.ipynb"
PROVIDED = {"rnn.provided"}


@pytest.fixture(scope="module", autouse=True)
def gradings(grade_one, quick_v1):
    """Every grading this module reads, submitted at once in test order (two side by side on
    the runner's lanes): the references, the starters, the planted bugs."""
    jobs = [(quick_v1, n, term_notebook(n, starter=s)) for s in (False, True) for n in (CNN, RNN)]
    jobs += [(quick_v1, BUGS[b][0], term_notebook(BUGS[b][0], edits=BUGS[b][1], append=BUGS[b][2])) for b in sorted(BUGS)]
    yield from prefetched(grade_one.prefetch(jobs))


@pytest.mark.parametrize("name", [CNN, RNN])
def test_reference_scores_full_marks(name, v1_graded, quick_v1):
    g = v1_graded(name)
    assert g.executed_ok
    lost = {i: (r.points, r.message) for i, r in g.results.items() if r.points != r.max_points}
    assert lost == {}
    assert set(g.results) == {c.id for c in quick_v1.checks if c.notebook == name}


@pytest.mark.parametrize("name", [CNN, RNN])
def test_starter_scores_only_the_provided_code(name, v1_graded):
    g = v1_graded(name, starter=True)
    earned = {i for i, r in g.results.items() if r.points > 0}
    assert earned == (PROVIDED if name == RNN else set())
    assert all(r.message for r in g.results.values())


EMBEDDING_GRU = '''
class GRUMemory(nn.Module):
    """Integer letters through an embedding (not one-hot)."""

    def __init__(self, hidden_size):
        super().__init__()
        self.max_delay = None
        self.embed = nn.Embedding(N + 1, 32)
        self.gru = nn.GRU(32, hidden_size, batch_first=True)
        self.out = nn.Linear(hidden_size, N + 1)

    def forward(self, x):
        return self.out(self.gru(self.embed(x.long()))[0])

    @torch.no_grad()
    def test_run(self, s):
        idx = torch.tensor([[ord(c) - ord("a") + 1 for c in s]])
        return "".join(" " if p == 0 else chr(ord("a") + p - 1) for p in self(idx).argmax(-1)[0].tolist())
'''

BUGS = {
    # The term's class name: the notebook kept the 2021/2025 name.
    "cnn.class": (CNN, [Edit("class CNN_Solution(", "class CNN(")], (),
                  {"cnn.conv", "cnn.batchnorm", "cnn.activation", "cnn.pooling", "cnn.residual", "cnn.linear",
                   "cnn.output", "cnn.loss_and_correct", "cnn.train"}),
    # max_delay kept under another name: the course's variable-delay test cannot read it.
    "rnn.vd_max_delay": (RNN, [Edit("self.max_delay", "self.largest_delay", cell="class VariableDelayGRUMemory")], (),
                         {"rnn.vd_max_delay"}),
    # forward under no_grad: the outputs are right, nothing can be trained.
    "rnn.train": (RNN, [Edit("    def forward(self, x):\n", "    @torch.no_grad()\n    def forward(self, x):\n",
                             cell="class GRUMemory")], (), {"rnn.train"}),
    # Embedding instead of one-hot: a convention, not a bug (the driver finds it).
    "embedding": (RNN, [], (EMBEDDING_GRU,), set()),
    # A real CNN_Solution took a constructor argument (with a default): not a bug either.
    "cnn.ctor_argument": (CNN, [Edit("    def __init__(self):\n        super().__init__()\n        # 3x256x256",
                                     "    def __init__(self, num_classes=2):\n        super().__init__()\n"
                                     "        # 3x256x256", cell="class CNN_Solution("),
                                Edit("nn.Linear(32, 2)", "nn.Linear(32, num_classes)")], (), set()),
}


@pytest.mark.parametrize("bug", sorted(BUGS))
def test_planted_bug_costs_exactly_its_check(bug, grade_one, quick_v1, v1_graded):
    name, edits, append, lost = BUGS[bug]
    ref = v1_graded(name)
    g = grade_one(quick_v1, name, term_notebook(name, edits=edits, append=append))
    changed = {i for i, r in g.results.items() if r.points != ref.results[i].points}
    assert changed == lost, {i: g.results[i].message for i in changed | lost}
    for i in lost:
        assert g.results[i].points == 0 and g.results[i].message
