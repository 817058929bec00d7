"""Training checks grade learning (issue 10 §6): hand-written solutions earn no training points.

Each notebook here is a hostile submission that writes the answer by hand instead of
learning it; before the train kind judged learning, each earned the training checks' full
points (the GRU: 15/15 on hw2_rnn.ipynb, "trained on 0 batches"; the variance CNN 4/4 on
cnn.train). The train kind now scores the model as the student's code builds it *before*
training (above `before.max`: 0), requires drawn batches and changed parameters, and scores
the trained model again with its initial weights put back (`before.restore`).

Their verdict does not depend on the training budget, so they are graded with tiny.yaml
(the quick registry with a few batches per training check), training checks only.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from grader import registry
from tests.conftest import prefetched

from .conftest import patched

pytestmark = pytest.mark.slow

CNN, RNN = "hw2_cnn.ipynb", "hw2_rnn.ipynb"
TINY = Path(__file__).resolve().parent / "tiny.yaml"
TRAINING = ("cnn.train", "rnn.train", "rnn.vd_train")

# The attack of issue 10 §6: a GRU is built (rnn.gru passes) and run, but its output is
# multiplied by zero; the echo is written by hand from the input; training returns at once.
HAND_ECHO = '''
def _hand_echo(x, delays):
    """The input one-hot letters shifted right by each row's delay, blanks in front, as logits."""
    echo = torch.zeros_like(x)
    echo[:, :, 0] = 1.0
    for row, d in enumerate(delays.reshape(-1).tolist()):
        if d < x.shape[1]:
            echo[row, d:] = x[row, :x.shape[1] - d]
    return 20.0 * echo


def _decode(logits):
    return "".join(" " if p == 0 else chr(ord("a") + p - 1) for p in logits.argmax(-1)[0].tolist())


class GRUMemory(nn.Module):
    def __init__(self, hidden_size):
        super().__init__()
        self.gru = nn.GRU(N + 1, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, N + 1)

    def forward(self, x):
        out, _ = self.gru(x)
        delays = torch.full((x.shape[0],), DELAY, dtype=torch.int64)
        return _hand_echo(x, delays) + 0.0 * self.readout(out)

    @torch.no_grad()
    def test_run(self, s):
        idx = torch.tensor([ord(c) - ord("a") + 1 for c in s], dtype=torch.int64)
        return _decode(self(idx_to_onehot(idx).unsqueeze(0)))


class VariableDelayGRUMemory(nn.Module):
    def __init__(self, hidden_size, max_delay):
        super().__init__()
        self.max_delay = max_delay
        self.gru = nn.GRU(N + 1, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, N + 1)

    def forward(self, x, delays):
        out, _ = self.gru(x)
        return _hand_echo(x, torch.as_tensor(delays)) + 0.0 * self.readout(out)

    @torch.no_grad()
    def test_run(self, s, delay):
        idx = torch.tensor([ord(c) - ord("a") + 1 for c in s], dtype=torch.int64)
        return _decode(self(idx_to_onehot(idx).unsqueeze(0), torch.tensor([delay])))


def train_model(model, dataloader):
    return 0.0


def train_variable_delay_model(model, dataloader):
    return 0.0
'''

# The same hand-written echo switched on by training, which draws batches and really steps
# the optimizer: near chance before training, parameters changed, batches drawn. Only the
# score with the initial weights put back gives it away (what it knows is not in its weights).
SWITCHED_ON = HAND_ECHO.replace(
    "        return _hand_echo(x, delays) + 0.0 * self.readout(out)",
    "        logits = self.readout(out)\n"
    "        return _hand_echo(x, delays) + 0.0 * logits if getattr(self, 'knows', False) else logits",
).replace(
    "        return _hand_echo(x, torch.as_tensor(delays)) + 0.0 * self.readout(out)",
    "        logits = self.readout(out)\n"
    "        return _hand_echo(x, torch.as_tensor(delays)) + 0.0 * logits if getattr(self, 'knows', False) "
    "else logits",
).replace('''def train_model(model, dataloader):
    return 0.0


def train_variable_delay_model(model, dataloader):
    return 0.0
''', '''def _pretend(model, dataloader, steps=3):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for i, batch in enumerate(dataloader):
        loss = model.readout.weight.pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i + 1 >= steps:
            break
    model.knows = True


def train_model(model, dataloader):
    _pretend(model, dataloader)


def train_variable_delay_model(model, dataloader):
    _pretend(model, dataloader)
''')
assert SWITCHED_ON.count("getattr(self, 'knows', False)") == 2 and "_pretend(model, dataloader)" in SWITCHED_ON

# The CNN attack of issue 10 §6: the layers the structure checks count are there, but the
# forward compares the variance across rows with the variance across columns of the image and
# feeds that one number to a hand-set Linear (horizontal stripes: class 0, vertical: class 1).
VARIANCE_CNN = '''
class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(1, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[-10.0], [10.0]]))
            self.fc.bias.zero_()

    def forward(self, x):
        unused = self.pool(F.relu(self.bn(self.conv1(x))))
        unused = self.conv2(unused) + unused
        gray = x.mean(dim=1)
        across_rows = gray.mean(dim=2).var(dim=1)      # horizontal stripes: rows differ
        across_columns = gray.mean(dim=1).var(dim=1)   # vertical stripes: columns differ
        feature = (across_columns.log() - across_rows.log()).unsqueeze(1)
        return self.fc(feature) + 0.0 * unused.mean()
'''

HOSTILE = [
    ("hand-written-echo", RNN, HAND_ECHO, {"rnn.train": "it scored 1.000 before training",
                                           "rnn.vd_train": "it scored 1.000 before training"}),
    ("echo-switched-on-by-training", RNN, SWITCHED_ON,
     {"rnn.train": "after training with its initial weights put back",
      "rnn.vd_train": "after training with its initial weights put back"}),
    ("variance-cnn", CNN, VARIANCE_CNN, {"cnn.train": "before training (an untrained model scores between 0.25 and 0.75"}),
]


@pytest.fixture(scope="module")
def tiny_training() -> registry.Assignment:
    tiny = registry.load_file(TINY)
    return dataclasses.replace(tiny, checks=tuple(c for c in tiny.checks if c.id in TRAINING))


def test_tiny_registry_only_cuts_budgets(quick):
    tiny = registry.load_file(TINY)
    assert [(c.id, c.points) for c in tiny.checks] == [(c.id, c.points) for c in quick.checks]
    for c in tiny.checks:
        if c.id in TRAINING:
            q = next(x for x in quick.checks if x.id == c.id)
            assert c.params["before"] == q.params["before"] and c.params["thresholds"] == q.params["thresholds"]
            assert c.params["loader"]["max_batches"] <= 20


@pytest.fixture(scope="module")
def hostile_gradings(grade_one, tiny_training):
    """Every notebook below submitted at once (two graded side by side)."""
    yield from prefetched(grade_one.prefetch((tiny_training, h[1], patched(h[1], append=(h[2],))) for h in HOSTILE))


@pytest.mark.parametrize("name,notebook,source,expect", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hand_written_solutions_earn_no_training_points(name, notebook, source, expect, grade_one, tiny_training,
                                                        hostile_gradings):
    got = grade_one(tiny_training, notebook, patched(notebook, append=(source,)))
    dump = "\n".join(f"{r.id}: {r.points}/{r.max_points} {r.message}" for r in got.results.values())
    assert set(got.results) == set(expect), dump
    for check_id, fragment in expect.items():
        r = got.results[check_id]
        assert r.points == 0, dump
        assert r.message.startswith("the model did not learn: "), dump
        assert fragment in r.message, dump
