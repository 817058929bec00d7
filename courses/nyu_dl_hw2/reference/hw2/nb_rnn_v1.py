"""hw2_rnn.ipynb, version 1 (Spring 2021, Spring/Fall 2022, Spring 2024, Fall 2025).

What differs from version 2 (``nb_rnn.py``, Fall 2024 and Spring 2025), from the facts of
those terms' handouts: no ``train_model`` / ``train_variable_delay_model`` functions (the
student trains in cells that start ``model = None``); ``test_model(model,
sequence_length=15)`` compares with a shift ``D`` the handout never defines (students set
``D = DELAY``); ``VariableDelayGRUMemory(hidden_size, max_delay)`` keeps ``max_delay`` as
an attribute, which the variable-delay test reads; ``MAX_DELAY = 8``, ``SEQ_LENGTH = 20``;
both training cells assert under 600 s and an accuracy above 0.99.

The provided cells the two versions share (one-hot, ``EchoDataset``, the variable-delay
data set) and the model classes are reused from ``nb_rnn`` so there is one copy of them.
"""

from __future__ import annotations

from . import nb_rnn
from ._cells import PROVIDED, RUN, STUDENT, code, md

NAME = "hw2_rnn.ipynb"

# Course behaviour kept: the shift is `D`, which the handout never defines.
TEST_MODEL = '''
def test_model(model, sequence_length=15):
    """Accuracy of the model's echo on 500 random strings of `sequence_length` letters."""
    total = 0
    correct = 0
    for _ in range(500):
        s = "".join(random.choice(string.ascii_lowercase) for _ in range(sequence_length))
        result = model.test_run(s)
        for c1, c2 in zip(s[:-D], result[D:]):
            correct += int(c1 == c2)
        total += len(s) - D
    return correct / total
'''

# The student's fix of the handout's undefined `D` (a definition: kept in definitions mode).
SHIFT = '''
D = DELAY
'''

SHIFT_STARTER = '''
# (the handout leaves the shift `D` used by test_model undefined)
'''

RUN_FIXED = '''
start_time = time.time()
model = None
# Train GRUMemory on EchoDataset here.
model = GRUMemory(128).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
criterion = nn.CrossEntropyLoss()
for seq, target in torch.utils.data.DataLoader(ds, batch_size=64):
    seq, target = seq.to(device), target.to(device)
    loss = criterion(model(idx_to_onehot(seq)).reshape(-1, N + 1), target.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
end_time = time.time()
duration = end_time - start_time
accuracy = test_model(model)
assert duration < 600, "execution took too long"
assert accuracy > 0.99, f"accuracy is too low: {accuracy}"
'''

RUN_FIXED_STARTER = '''
start_time = time.time()
model = None
# TODO: train the model here
end_time = time.time()
duration = end_time - start_time
accuracy = test_model(model)
assert duration < 600, "execution took too long"
assert accuracy > 0.99, f"accuracy is too low: {accuracy}"
'''

# One delay per string, up to the model's own `max_delay` (the attribute the test reads).
TEST_VARIABLE = '''
def test_variable_delay_model(model, seq_length=20):
    """Accuracy of the model's echo on 1000 random strings, each with its own delay."""
    total = 0
    correct = 0
    for _ in range(1000):
        s = "".join(random.choice(string.ascii_lowercase) for _ in range(seq_length))
        delay = random.randint(0, model.max_delay)
        result = model.test_run(s, delay)
        for c1, c2 in zip(s[:len(s) - delay], result[delay:]):
            correct += int(c1 == c2)
        total += len(s) - delay
    return correct / total
'''

_SPLIT = "\n\ndef train_variable_delay_model"
VARIABLE_MODEL = nb_rnn.VARIABLE_MODEL.split(_SPLIT)[0] + "\n"
# The stub leaves keeping `max_delay` to the student (the markdown says the test reads it).
VARIABLE_MODEL_STARTER = nb_rnn.VARIABLE_MODEL_STARTER.split(_SPLIT)[0].replace(
    "        self.max_delay = max_delay\n", "") + "\n"
assert "train_variable_delay_model" not in VARIABLE_MODEL + VARIABLE_MODEL_STARTER
assert "self.max_delay" in VARIABLE_MODEL and "self.max_delay" not in VARIABLE_MODEL_STARTER

VARIABLE_CONSTANTS = '''
MAX_DELAY = 8
SEQ_LENGTH = 20
'''

RUN_VARIABLE = '''
start_time = time.time()
model = None
# Train VariableDelayGRUMemory on VariableDelayEchoDataset here.
model = VariableDelayGRUMemory(256, MAX_DELAY).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
criterion = nn.CrossEntropyLoss()
ds_var = VariableDelayEchoDataset(max_delay=MAX_DELAY, seq_length=SEQ_LENGTH, size=400000)
for seq, delays, target in torch.utils.data.DataLoader(ds_var, batch_size=64):
    seq, delays, target = seq.to(device), delays.to(device), target.to(device)
    loss = criterion(model(idx_to_onehot(seq), delays).reshape(-1, N + 1), target.reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
end_time = time.time()
duration = end_time - start_time
accuracy = test_variable_delay_model(model)
assert duration < 600, "execution took too long"
assert accuracy > 0.99, f"accuracy is too low: {accuracy}"
'''

RUN_VARIABLE_STARTER = RUN_FIXED_STARTER.replace("test_model(model)", "test_variable_delay_model(model)")

CELLS = [
    md("""
        # Homework 2: recurrent neural networks

        An *echo* network reads a sequence of letters and outputs the same letters a fixed
        number of steps later. Letters are the integers 1..26, 0 is the blank; the network
        sees them as one-hot vectors of size 27.
    """),
    code(nb_rnn.SETUP),
    code(nb_rnn.ONEHOT, PROVIDED),
    code(nb_rnn.ECHO_DATASET, PROVIDED),
    md("""
        ## Model

        Write `GRUMemory(hidden_size)` with `forward` and `test_run(s)`; `test_model` calls
        `test_run`.
    """),
    code(nb_rnn.GRU_MEMORY, STUDENT, starter=nb_rnn.GRU_MEMORY_STARTER),
    code(TEST_MODEL, PROVIDED),
    code(SHIFT, STUDENT, starter=SHIFT_STARTER),
    md("""
        ## Training

        Train the model in the cell below. It must finish in under 10 minutes and reach an
        accuracy above 0.99.
    """),
    code(RUN_FIXED, RUN, STUDENT, starter=RUN_FIXED_STARTER),
    md("""
        ## Variable delay

        Every sequence now has its own delay in 0..`max_delay`, given to the network as a
        second input. Write `VariableDelayGRUMemory(hidden_size, max_delay)` (keep
        `max_delay` as an attribute: the test reads it) and train it below: under 10
        minutes, accuracy above 0.99.
    """),
    code(nb_rnn.VARIABLE_DATASET, PROVIDED),
    code(TEST_VARIABLE, PROVIDED),
    code(VARIABLE_MODEL, STUDENT, starter=VARIABLE_MODEL_STARTER),
    code(VARIABLE_CONSTANTS, PROVIDED),
    code(RUN_VARIABLE, RUN, STUDENT, starter=RUN_VARIABLE_STARTER),
]
