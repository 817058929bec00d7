"""hw2_rnn.ipynb: the echo task with a GRU, fixed delay then variable delay."""

from __future__ import annotations

from ._cells import PROVIDED, RUN, STUDENT, code, md

NAME = "hw2_rnn.ipynb"

SETUP = '''
import random
import string
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
'''

# Provided (course) code, re-implemented with the same names and semantics.
ONEHOT = '''
# Largest token: the 26 letters of the alphabet are 1..26, and 0 is the blank.
N = 26


def idx_to_onehot(x, k=N + 1):
    """One-hot code an integer tensor: (...,) -> (..., k) float."""
    return F.one_hot(x.long(), num_classes=k).float()
'''

ECHO_DATASET = '''
class EchoDataset(torch.utils.data.IterableDataset):
    """Random letter sequences and the same sequences delayed by `delay` steps.

    Yields (seq, result): seq holds random ints in 1..N, result is seq shifted right by
    `delay` with blanks (0) in front, both int64 of length seq_length.
    """

    def __init__(self, delay=3, seq_length=15, size=1000):
        self.delay = delay
        self.seq_length = seq_length
        self.size = size

    def __len__(self):
        return self.size

    def __iter__(self):
        for _ in range(self.size):
            seq = torch.tensor([random.randint(1, N) for _ in range(self.seq_length)],
                               dtype=torch.int64)
            result = torch.cat((torch.zeros(self.delay, dtype=torch.int64),
                                seq[:self.seq_length - self.delay]))
            yield seq, result


DELAY = 4
DATASET_SIZE = 200000
ds = EchoDataset(delay=DELAY, size=DATASET_SIZE)
'''

TEST_MODEL = '''
def test_model(model, sequence_length=15):
    """Accuracy of the model's echo on 500 random strings of 15 to 25 letters.

    Compares each letter with the model's output DELAY positions later.
    """
    total = 0
    correct = 0
    for _ in range(500):
        s = "".join(random.choice(string.ascii_lowercase)
                    for _ in range(random.randint(15, 25)))
        result = model.test_run(s)
        for c1, c2 in zip(s[:-DELAY], result[DELAY:]):
            correct += int(c1 == c2)
        total += len(s) - DELAY
    return correct / total
'''

GRU_MEMORY = '''
class GRUMemory(nn.Module):
    """A GRU reads the one-hot letters; a linear layer scores the letter to output."""

    def __init__(self, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.gru = nn.GRU(N + 1, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, N + 1)

    def forward(self, x):
        # x: (batch, seq_length, N + 1) one-hot -> logits (batch, seq_length, N + 1)
        out, _ = self.gru(x)
        return self.readout(out)

    @torch.no_grad()
    def test_run(self, s):
        # s: a lowercase string -> the string the network outputs (0 -> " ")
        if not s:
            return ""
        dev = next(self.parameters()).device
        idx = torch.tensor([ord(c) - ord("a") + 1 for c in s], dtype=torch.int64, device=dev)
        pred = self(idx_to_onehot(idx).unsqueeze(0)).argmax(dim=-1).squeeze(0).tolist()
        return "".join(" " if p == 0 else chr(ord("a") + p - 1) for p in pred)
'''

GRU_MEMORY_STARTER = '''
class GRUMemory(nn.Module):

    def __init__(self, hidden_size):
        super().__init__()
        # TODO: build the layers of the model
        self.hidden_size = hidden_size

    def forward(self, x):
        # x: one-hot letters, shape (batch, seq_length, N + 1)
        # returns: logits (scores for each letter), shape (batch, seq_length, N + 1)
        # TODO: implement the forward pass
        raise NotImplementedError("GRUMemory.forward")

    @torch.no_grad()
    def test_run(self, s):
        # s: a string of lowercase letters, e.g. "hello"
        # returns: the string the model outputs for it, same length, with " " for 0
        # TODO: encode s, run the model and decode its most likely letters
        raise NotImplementedError("GRUMemory.test_run")
'''

TRAIN_MODEL = '''
LEARNING_RATE = 3e-3


def train_model(model, dataloader):
    """One pass over `dataloader` of (seq, target) int batches. Returns the mean loss."""
    dev = next(model.parameters()).device
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    model.train()
    total, batches = 0.0, 0
    for seq, target in dataloader:
        seq, target = seq.to(dev), target.to(dev)
        logits = model(idx_to_onehot(seq))
        loss = criterion(logits.reshape(-1, N + 1), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    return total / max(batches, 1)
'''

TRAIN_MODEL_STARTER = '''
def train_model(model, dataloader):
    # TODO: one pass over the dataloader; each batch is (seq, target) of ints.
    # Feed one-hot inputs, use CrossEntropyLoss over every position and Adam.
    raise NotImplementedError("train_model")
'''

HYPER = '''
HIDDEN_SIZE = 128
BATCH_SIZE = 64
'''

HYPER_STARTER = '''
HIDDEN_SIZE = None  # TODO: choose
BATCH_SIZE = None  # TODO: choose
'''

RUN_FIXED = '''
start_time = time.time()
model = GRUMemory(HIDDEN_SIZE).to(device)
dataloader = torch.utils.data.DataLoader(ds, batch_size=BATCH_SIZE)
train_model(model, dataloader)
duration = time.time() - start_time
accuracy = test_model(model)
print(f"trained in {duration:.1f} s, accuracy {accuracy:.4f}")
assert duration < 600, f"execution took {duration:.2f} seconds, longer than 10 minutes"
assert accuracy > 0.99, f"accuracy is too low: {accuracy}, it should be above 0.99"
'''

VARIABLE_DATASET = '''
class VariableDelayEchoDataset(torch.utils.data.IterableDataset):
    """Like EchoDataset, but every sequence gets its own delay in 0..max_delay.

    Yields (seq, delay, result).
    """

    def __init__(self, max_delay=8, seq_length=20, size=1000):
        self.max_delay = max_delay
        self.seq_length = seq_length
        self.size = size

    def __len__(self):
        return self.size

    def __iter__(self):
        for _ in range(self.size):
            seq = torch.tensor([random.randint(1, N) for _ in range(self.seq_length)],
                               dtype=torch.int64)
            delay = random.randint(0, self.max_delay)
            result = torch.cat((torch.zeros(delay, dtype=torch.int64),
                                seq[:self.seq_length - delay]))
            yield seq, delay, result
'''

# Course behaviour kept on purpose: one delay per call; a delay of 0 compares s[:-0] == ""
# and so scores 0 whatever the model does.
TEST_VARIABLE = '''
def test_variable_delay_model(model, max_delay=12):
    """Accuracy of the model's echo on 500 random strings of 20 letters."""
    total = 0
    correct = 0
    delay = random.randint(0, max_delay)
    for _ in range(500):
        s = "".join(random.choice(string.ascii_lowercase) for _ in range(20))
        result = model.test_run(s, delay)
        for c1, c2 in zip(s[:-delay], result[delay:]):
            correct += int(c1 == c2)
        total += len(s) - delay
    return correct / total
'''

VARIABLE_MODEL = '''
class VariableDelayGRUMemory(nn.Module):
    """The delay is fed as a one-hot vector next to every letter."""

    def __init__(self, hidden_size, max_delay):
        super().__init__()
        self.hidden_size = hidden_size
        self.max_delay = max_delay
        self.gru = nn.GRU(N + 1 + max_delay + 1, hidden_size, batch_first=True)
        self.readout = nn.Linear(hidden_size, N + 1)

    def forward(self, x, delays):
        # x: (batch, seq_length, N + 1) one-hot; delays: (batch,) ints
        # returns logits (batch, seq_length, N + 1)
        delays = torch.as_tensor(delays, device=x.device).long().reshape(-1)
        d = F.one_hot(delays.clamp(0, self.max_delay), self.max_delay + 1).float()
        d = d.unsqueeze(1).expand(-1, x.shape[1], -1)
        out, _ = self.gru(torch.cat([x, d], dim=-1))
        return self.readout(out)

    @torch.no_grad()
    def test_run(self, s, delay):
        # s: a lowercase string, delay: an int -> the string the network outputs
        if not s:
            return ""
        dev = next(self.parameters()).device
        idx = torch.tensor([ord(c) - ord("a") + 1 for c in s], dtype=torch.int64, device=dev)
        delays = torch.tensor([delay], dtype=torch.int64, device=dev)
        pred = self(idx_to_onehot(idx).unsqueeze(0), delays).argmax(dim=-1).squeeze(0).tolist()
        return "".join(" " if p == 0 else chr(ord("a") + p - 1) for p in pred)


def train_variable_delay_model(model, dataloader):
    """One pass over (seq, delay, result) batches. Returns the mean loss."""
    dev = next(model.parameters()).device
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    model.train()
    total, batches = 0.0, 0
    for seq, delays, target in dataloader:
        seq, delays, target = seq.to(dev), delays.to(dev), target.to(dev)
        logits = model(idx_to_onehot(seq), delays)
        loss = criterion(logits.reshape(-1, N + 1), target.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
        batches += 1
    return total / max(batches, 1)
'''

VARIABLE_MODEL_STARTER = '''
class VariableDelayGRUMemory(nn.Module):

    def __init__(self, hidden_size, max_delay):
        super().__init__()
        # TODO: build the layers of the model
        self.hidden_size = hidden_size
        self.max_delay = max_delay

    def forward(self, x, delays):
        # x: one-hot letters, shape (batch, seq_length, N + 1)
        # delays: the delay of each sequence, shape (batch,)
        # returns: logits, shape (batch, seq_length, N + 1)
        # TODO: implement the forward pass
        raise NotImplementedError("VariableDelayGRUMemory.forward")

    @torch.no_grad()
    def test_run(self, s, delay):
        # s: a string of lowercase letters; delay: an int
        # returns: the string the model outputs for it (same length, " " for 0)
        # TODO
        raise NotImplementedError("VariableDelayGRUMemory.test_run")


def train_variable_delay_model(model, dataloader):
    # TODO: one pass over the dataloader; each batch is (seq, delay, result).
    raise NotImplementedError("train_variable_delay_model")
'''

VARIABLE_CONSTANTS = '''
MAX_DELAY = 12
SEQ_LENGTH = 20
'''

RUN_VARIABLE = '''
VARIABLE_HIDDEN_SIZE = 256
VARIABLE_DATASET_SIZE = 500000

start_time = time.time()
model = VariableDelayGRUMemory(VARIABLE_HIDDEN_SIZE, MAX_DELAY).to(device)
ds_var = VariableDelayEchoDataset(max_delay=MAX_DELAY, seq_length=SEQ_LENGTH,
                                  size=VARIABLE_DATASET_SIZE)
loader = torch.utils.data.DataLoader(ds_var, batch_size=BATCH_SIZE)
train_variable_delay_model(model, loader)
end_time = time.time()
duration = end_time - start_time
accuracy = test_variable_delay_model(model)
print(f"trained in {duration:.1f} s, accuracy {accuracy:.4f}")
assert duration < 600, f"execution took {duration:.2f} seconds, longer than 10 minutes"
assert accuracy > 0.95, f"accuracy is too low: {accuracy}, it should be above 0.95"
'''

RUN_VARIABLE_STARTER = '''
# TODO: train a VariableDelayGRUMemory on VariableDelayEchoDataset(MAX_DELAY, SEQ_LENGTH, ...)
# within the time limit, then check it as below.
start_time = time.time()
model = None  # TODO
end_time = time.time()
duration = end_time - start_time
accuracy = test_variable_delay_model(model)
assert duration < 600, f"execution took {duration:.2f} seconds, longer than 10 minutes"
assert accuracy > 0.95, f"accuracy is too low: {accuracy}, it should be above 0.95"
'''

CELLS = [
    md("""
        # Homework 2: recurrent neural networks

        A recurrent network can keep information about what it saw several steps ago.
        Here we test that with an *echo* network: it reads a sequence of letters and
        outputs the same letters a fixed number of steps later. With a delay of 2,
        `abcdef` becomes `  abcd` (a blank stands for "nothing yet").

        Letters are coded as integers 1..26 and 0 is the blank; the network sees them as
        one-hot vectors of size 27.
    """),
    code(SETUP),
    code(ONEHOT, PROVIDED),
    md("""
        ## Data

        `EchoDataset` yields random sequences together with their delayed copy.
        Training uses `DATASET_SIZE` of them with delay `DELAY`.
    """),
    code(ECHO_DATASET, PROVIDED),
    md("""
        ## Model

        Write `GRUMemory`: its `forward` maps one-hot letters to scores for the letter
        to output at each step, and `test_run` turns a lowercase string into the string
        the network outputs. Keep the names and signatures: `test_model` below calls
        `test_run`.
    """),
    code(GRU_MEMORY, STUDENT, starter=GRU_MEMORY_STARTER),
    code(TEST_MODEL, PROVIDED),
    md("""
        ## Training

        Write `train_model(model, dataloader)`: one pass over the data, with cross
        entropy over every position and Adam. Pick `HIDDEN_SIZE` and `BATCH_SIZE`. The
        cell after it must finish in under 10 minutes and reach an accuracy above 0.99.
    """),
    code(TRAIN_MODEL, STUDENT, starter=TRAIN_MODEL_STARTER),
    code(HYPER, STUDENT, starter=HYPER_STARTER),
    code(RUN_FIXED, RUN),
    md("""
        ## Variable delay

        Now every sequence comes with its own delay, between 0 and `max_delay`, and the
        network receives it as a second input. Write `VariableDelayGRUMemory` (with
        `forward(x, delays)` and `test_run(s, delay)`) and
        `train_variable_delay_model(model, dataloader)`. The training cell must finish in
        under 10 minutes with an accuracy above 0.95.
    """),
    code(VARIABLE_DATASET, PROVIDED),
    code(TEST_VARIABLE, PROVIDED),
    code(VARIABLE_MODEL, STUDENT, starter=VARIABLE_MODEL_STARTER),
    code(VARIABLE_CONSTANTS, PROVIDED),
    code(RUN_VARIABLE, RUN, STUDENT, starter=RUN_VARIABLE_STARTER),
]
