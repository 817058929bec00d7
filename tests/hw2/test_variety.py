"""Real variety the CNN and RNN judges accept (issue 9 §5).

Each notebook is written the way real public Spring 2025 / Fall 2024 submissions are (facts in
shared/hw2-terms.md): RNNs that read integer indices through `nn.Embedding`, delays given as
an embedding or a scalar channel, a constructor that requires a `device`, `.cuda()`/`mps`
branches, tqdm loops, extra cells with prints and plots, HIDDEN_SIZE and BATCH_SIZE of the
student's choosing, `train_model` returning a loss history or nothing; a CNN with one sigmoid
output and `BCELoss`. Each is graded with the quick registry and must keep every point of its
notebook's checks (the provided-code check included: only the student's cells changed).
"""

from __future__ import annotations

import pytest

from tests.conftest import prefetched

from .conftest import Edit, patched

pytestmark = pytest.mark.slow

CNN, RNN = "hw2_cnn.ipynb", "hw2_rnn.ipynb"

DEVICE_BRANCHES = '''
if torch.cuda.is_available():
    device = torch.device("cuda")
elif torch.backends.mps.is_available():
    device = torch.device("mps")
else:
    device = torch.device("cpu")
print("running on", device)
'''

# Integer letters through nn.Embedding (forward takes (batch, seq) ints, never one-hot), a
# constructor that requires `device`, a tqdm loop returning the loss history; the variable
# delay enters through its own embedding; train_variable_delay_model returns nothing.
EMBEDDING_RNN = DEVICE_BRANCHES + '''
from tqdm import tqdm

HIDDEN_SIZE = 96
BATCH_SIZE = 32


def decode(pred):
    return "".join(" " if p == 0 else chr(ord("a") + p - 1) for p in pred)


class GRUMemory(nn.Module):
    def __init__(self, hidden_size, device):
        super().__init__()
        self.device = device
        self.embedding = nn.Embedding(N + 1, 32)
        self.gru = nn.GRU(32, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, N + 1)
        self.to(device)

    def forward(self, x):
        out, _ = self.gru(self.embedding(x))
        return self.fc(out)

    @torch.no_grad()
    def test_run(self, s):
        x = torch.tensor([[ord(c) - ord("a") + 1 for c in s]], device=self.device)
        return decode(self(x).argmax(-1)[0].tolist())


def train_model(model, dataloader, device=device, lr=1e-2):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for seq, target in tqdm(dataloader, desc="training"):
        seq, target = seq.to(device), target.to(device)
        loss = F.cross_entropy(model(seq).reshape(-1, N + 1), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


class VariableDelayGRUMemory(nn.Module):
    def __init__(self, hidden_size, max_delay, device=None):
        super().__init__()
        self.max_delay = max_delay
        self.embedding = nn.Embedding(N + 1, 32)
        self.delay_embedding = nn.Embedding(max_delay + 1, 16)
        self.gru = nn.GRU(48, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, N + 1)

    def forward(self, x, delays):
        d = self.delay_embedding(delays.long()).unsqueeze(1).expand(-1, x.shape[1], -1)
        out, _ = self.gru(torch.cat([self.embedding(x), d], dim=-1))
        return self.fc(out)

    @torch.no_grad()
    def test_run(self, s, delay):
        dev = next(self.parameters()).device
        x = torch.tensor([[ord(c) - ord("a") + 1 for c in s]], device=dev)
        return decode(self(x, torch.tensor([delay], device=dev)).argmax(-1)[0].tolist())


def train_variable_delay_model(model, dataloader, device=device):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for seq, delays, target in tqdm(dataloader):
        seq, delays, target = seq.to(device), delays.to(device), target.to(device)
        loss = F.cross_entropy(model(seq, delays).reshape(-1, N + 1), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
'''

EXTRA_CELLS = ('''
import matplotlib.pyplot as plt

model = GRUMemory(HIDDEN_SIZE, device)
history = train_model(model, torch.utils.data.DataLoader(ds, batch_size=BATCH_SIZE))
plt.plot(history)
plt.title("training loss")
plt.show()
print(model.test_run("helloworld"), test_model(model))
''', '''
print("accuracy with delay 3:", test_variable_delay_model(model, max_delay=3))
''')

# One-hot letters with the delay as one scalar channel (delay / max_delay) next to them;
# both training functions return nothing.
SCALAR_DELAY_RNN = '''
HIDDEN_SIZE = 160
BATCH_SIZE = 128


class VariableDelayGRUMemory(nn.Module):
    def __init__(self, hidden_size, max_delay):
        super().__init__()
        self.max_delay = max_delay
        self.gru = nn.GRU(N + 2, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, N + 1)

    def forward(self, x, delays):
        d = (delays.float() / self.max_delay).reshape(-1, 1, 1).expand(-1, x.shape[1], 1)
        out, _ = self.gru(torch.cat([x, d], dim=-1))
        return self.readout(out)

    @torch.no_grad()
    def test_run(self, s, delay):
        idx = torch.tensor([ord(c) - ord("a") + 1 for c in s], dtype=torch.int64)
        pred = self(idx_to_onehot(idx).unsqueeze(0), torch.tensor([delay])).argmax(-1)[0].tolist()
        return "".join(" " if p == 0 else chr(ord("a") + p - 1) for p in pred)


def train_variable_delay_model(model, dataloader):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for seq, delays, target in dataloader:
        logits = model(idx_to_onehot(seq), delays)
        loss = nn.CrossEntropyLoss()(logits.reshape(-1, N + 1), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def train_model(model, dataloader):
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for seq, target in dataloader:
        loss = nn.CrossEntropyLoss()(model(idx_to_onehot(seq)).reshape(-1, N + 1), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
'''

# One sigmoid output per image with BCELoss (labels made float in get_loss_and_correct), an
# mps branch, the model moved with .cuda() when there is a GPU, tqdm loops, extra prints.
SIGMOID_CNN = [
    Edit('device = torch.device("cuda" if torch.cuda.is_available() else "cpu")', DEVICE_BRANCHES.strip()),
    Edit("self.fc = nn.Linear(32, 2)", "self.fc = nn.Linear(32, 1)"),
    Edit("        x = self.pool(x).flatten(1)\n        return self.fc(x)",
         "        x = self.pool(x).flatten(1)\n        return torch.sigmoid(self.fc(x)).squeeze(1)"),
    Edit("    logits = model(images)\n    loss = criterion(logits, labels)\n"
         "    correct = (logits.argmax(dim=1) == labels).sum()\n",
         "    probs = model(images)\n    loss = criterion(probs, labels.float())\n"
         "    correct = ((probs > 0.5).long() == labels).sum()\n"),
    Edit("model = CNN().to(device)\ncriterion = torch.nn.CrossEntropyLoss()",
         "model = CNN()\nif torch.cuda.is_available():\n    model = model.cuda()\ncriterion = nn.BCELoss()"),
]

VARIETY = [
    ("rnn-embedding-device-tqdm-history", RNN, (), (EMBEDDING_RNN,) + EXTRA_CELLS,
     {"rnn.forward": "from integer indices", "rnn.vd_forward": "from integer indices",
      "rnn.train": "run as forward(seq)", "rnn.vd_train": "run as forward(seq, delays)"}),
    ("rnn-scalar-delay-returns-nothing", RNN, (), (SCALAR_DELAY_RNN,),
     {"rnn.vd_forward": "from one-hot input", "rnn.vd_train": "run as forward(onehot, delays)"}),
    ("cnn-sigmoid-bceloss-cuda-mps-tqdm", CNN, tuple(SIGMOID_CNN),
     ("print(model)\nprint(sum(p.numel() for p in model.parameters()), 'parameters')\n"
      "plt.plot(train_losses)\nplt.show()\n",),
     {"cnn.output": "with BCELoss", "cnn.loss_and_correct": "match BCELoss", "cnn.train": "before training"}),
]


@pytest.fixture(scope="module")
def variety_gradings(grade_one, quick):
    """Every notebook below submitted at once (two graded side by side)."""
    yield from prefetched(grade_one.prefetch((quick, v[1], patched(v[1], v[2], v[3])) for v in VARIETY))


@pytest.mark.parametrize("name,notebook,edits,append,messages", VARIETY, ids=[v[0] for v in VARIETY])
def test_real_variety_keeps_every_point(name, notebook, edits, append, messages, grade_one, quick, variety_gradings):
    got = grade_one(quick, notebook, patched(notebook, edits, append))
    dump = "\n".join(f"{r.id}: {r.points}/{r.max_points} {r.message}" for r in got.results.values())
    assert got.executed_ok, dump
    assert all(r.points == r.max_points for r in got.results.values()), dump
    for check_id, fragment in messages.items():
        assert fragment in got.results[check_id].message, dump
