"""seq_classification.ipynb: the class notebook's temporal-order task, Section 8.

The starter trains Section 8 the course's way (RMSprop, lr 1e-3, no clipping) and shows
loss spikes; the solution changes only the training procedure: it clips the
gradient norm before each optimiser step (in ``train``) and, after each epoch, lowers the
learning rate in proportion to the epoch's test loss below LOSS_SCALE, never raising it again
(in ``train_and_test``): the course's spikes start from a loss near 0, where RMSprop divides
a sudden gradient by a tiny running second moment; small steps there, full steps on the
plateau and while learning. (A rate set from each batch's loss, tried first, still spiked:
a hard batch late in training got the full rate.) Model class, seed and Section 8 setup are the same in both.
Why this fix and not another (decay schedules, a larger ``eps``, Adam, cosine, a small clip
norm spiked or stalled on the course's data): benchmarks/results/calibration-seq.md.
"""

from __future__ import annotations

from ._cells import PROVIDED, RUN, STUDENT, code, md

NAME = "seq_classification.ipynb"

# The generator keeps one NumPy-1 idiom on purpose: ``np.unicode_`` (removed in NumPy 2),
# as the 2025 course notebook does. The grader's sandbox shims it.
GENERATOR = '''
import enum


def to_categorical(indices, num_classes):
    """One-hot code an array of class indices: a new last axis of size num_classes."""
    indices = np.asarray(indices, dtype=np.int64)
    return np.eye(num_classes, dtype=np.float32)[indices]


def pad_sequences(sequences, maxlen, dtype="float32", value=0.0):
    """Stack sequences of different lengths into one array, padding at the front.

    Longer sequences keep their last `maxlen` steps.
    """
    if np.issubdtype(np.dtype(dtype), np.str_) or np.issubdtype(np.dtype(dtype), np.unicode_):
        raise ValueError("pad_sequences pads numbers, not strings")
    step_shape = np.asarray(sequences[0]).shape[1:]
    out = np.full((len(sequences), maxlen) + step_shape, value, dtype=dtype)
    for i, seq in enumerate(sequences):
        seq = np.asarray(seq, dtype=dtype)[-maxlen:]
        out[i, maxlen - len(seq):] = seq
    return out


class TemporalOrderExp6aSequence:
    """Temporal order task (Hochreiter & Schmidhuber, 1997, experiment 6a).

    A sequence starts with the symbol B, ends with E, and is otherwise made of
    distractors drawn from {a, b, c, d}, except at two positions t1 < t2 that hold a
    relevant symbol, X or Y. The class says in which order they came:
    X..X -> Q, X..Y -> R, Y..X -> S, Y..Y -> U.
    Inputs are one-hot (n_symbols = 8), padded at the front to the longest length;
    labels are one-hot over the four classes.
    """

    class DifficultyLevel(enum.IntEnum):
        """HARD uses the settings of the 1997 paper."""
        EASY = 0
        NORMAL = 1
        MODERATE = 2
        HARD = 3
        NIGHTMARE = 4

    # difficulty -> (length_range, t1_range, t2_range), ranges half-open [low, high)
    LEVELS = {
        DifficultyLevel.EASY: ((7, 9), (1, 3), (4, 6)),
        DifficultyLevel.NORMAL: ((30, 41), (2, 6), (20, 28)),
        DifficultyLevel.MODERATE: ((60, 81), (10, 21), (45, 55)),
        DifficultyLevel.HARD: ((100, 111), (10, 21), (50, 61)),
        DifficultyLevel.NIGHTMARE: ((300, 501), (10, 81), (250, 291)),
    }

    def __init__(self, length_range=(100, 111), t1_range=(10, 21), t2_range=(50, 61),
                 batch_size=32, seed=None):
        self.classes = ["Q", "R", "S", "U"]
        self.n_classes = len(self.classes)
        self.relevant_symbols = ["X", "Y"]
        self.distraction_symbols = ["a", "b", "c", "d"]
        self.start_symbol = "B"
        self.end_symbol = "E"
        self.length_range = length_range
        self.t1_range = t1_range
        self.t2_range = t2_range
        self.batch_size = batch_size
        if seed is not None:
            np.random.seed(seed)

        symbols = (self.relevant_symbols + self.distraction_symbols
                   + [self.start_symbol, self.end_symbol])
        self.n_symbols = len(symbols)
        self.s_to_idx = {s: i for i, s in enumerate(symbols)}
        self.idx_to_s = {i: s for i, s in enumerate(symbols)}
        self.c_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.idx_to_c = {i: c for i, c in enumerate(self.classes)}

    def generate_pair(self):
        """One random (sequence string, class letter) pair."""
        length = np.random.randint(*self.length_range)
        t1 = np.random.randint(*self.t1_range)
        t2 = np.random.randint(*self.t2_range)
        x = list(np.random.choice(self.distraction_symbols, length))
        x[0] = self.start_symbol
        x[-1] = self.end_symbol
        y = self.classes[np.random.randint(self.n_classes)]
        first, second = {"Q": "XX", "R": "XY", "S": "YX", "U": "YY"}[y]
        x[t1], x[t2] = first, second
        return "".join(x), y

    # one sequence at a time
    def encode_x(self, x):
        return to_categorical([self.s_to_idx[s] for s in x], self.n_symbols)

    def encode_y(self, y):
        return to_categorical(self.c_to_idx[y], self.n_classes)

    def decode_x(self, x):
        x = x[np.sum(x, axis=1) > 0]  # drop the padding rows
        return "".join(self.idx_to_s[i] for i in np.argmax(x, axis=1))

    def decode_y(self, y):
        return self.idx_to_c[int(np.argmax(y))]

    # whole batches
    def encode_x_batch(self, x_batch):
        return pad_sequences([self.encode_x(x) for x in x_batch], maxlen=self.length_range[1])

    def encode_y_batch(self, y_batch):
        return np.array([self.encode_y(y) for y in y_batch])

    def decode_x_batch(self, x_batch):
        return [self.decode_x(x) for x in x_batch]

    def decode_y_batch(self, y_batch):
        return [self.idx_to_c[i] for i in np.argmax(y_batch, axis=1)]

    def __len__(self):
        """Batches per epoch: about 1000 sequences in all."""
        return int(1000.0 / self.batch_size)

    def __getitem__(self, index):
        if index >= len(self):
            raise IndexError(index)
        pairs = [self.generate_pair() for _ in range(self.batch_size)]
        batch_x, batch_y = zip(*pairs)
        return self.encode_x_batch(batch_x), self.encode_y_batch(batch_y)

    @staticmethod
    def get_predefined_generator(difficulty_level, batch_size=32, seed=8382):
        level = TemporalOrderExp6aSequence.DifficultyLevel(difficulty_level)
        length_range, t1_range, t2_range = TemporalOrderExp6aSequence.LEVELS[level]
        return TemporalOrderExp6aSequence(length_range, t1_range, t2_range, batch_size, seed)
'''

SIMPLE_LSTM = '''
class SimpleLSTM(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.linear = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        h = self.lstm(x)[0]          # (batch, T, hidden)
        return self.linear(h)        # logits at every time step (batch, T, classes)

    def get_states_across_time(self, x):
        """Hidden and cell states after each time step (for the plots below)."""
        h_c = None
        h_list, c_list = [], []
        with torch.no_grad():
            for t in range(x.size(1)):
                h_c = self.lstm(x[:, [t], :], h_c)[1]
                h_list.append(h_c[0])
                c_list.append(h_c[1])
        return torch.cat(h_list), torch.cat(c_list)
'''

# --- training procedure -----------------------------------------------------------
_TRAIN_HEAD = '''
def train(model, train_data_gen, criterion, optimizer, device):
    """One epoch. Returns (number of correct predictions, mean training loss)."""
    model.train()
    num_correct = 0
    total_loss = 0.0
    for batch_idx in range(len(train_data_gen)):
        data, target = train_data_gen[batch_idx]
        data = torch.from_numpy(data).float().to(device)
        target = torch.from_numpy(target).long().to(device)

        output = model(data)[:, -1, :]   # the input is pre-padded: the last step sees it all
        target = target.argmax(dim=1)    # one-hot -> class index for CrossEntropyLoss
        loss = criterion(output, target)

        optimizer.zero_grad()
        loss.backward()
'''

TRAIN_COURSE = _TRAIN_HEAD + '''        optimizer.step()

        total_loss += loss.item()
        num_correct += (output.argmax(dim=1) == target).sum().item()
    return num_correct, total_loss / len(train_data_gen)
'''

TRAIN_SOLUTION = (
    _TRAIN_HEAD.replace(
        '    """One epoch. Returns (number of correct predictions, mean training loss)."""\n',
        '    """One epoch. Returns (number of correct predictions, mean training loss).\n'
        "\n"
        "    Change to the training procedure: the gradient norm is clipped to CLIP_NORM\n"
        "    before every update, so one unlucky batch cannot throw the LSTM far off.\n"
        '    """\n',
    )
    + '''        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=CLIP_NORM)
        optimizer.step()

        total_loss += loss.item()
        num_correct += (output.argmax(dim=1) == target).sum().item()
    return num_correct, total_loss / len(train_data_gen)
'''
)

TEST_AND_LOOP_COURSE = '''
def test(model, test_data_gen, criterion, device):
    """Evaluate. Returns (number of correct predictions, mean loss)."""
    model.eval()
    num_correct = 0
    total_loss = 0.0
    with torch.no_grad():
        for batch_idx in range(len(test_data_gen)):
            data, target = test_data_gen[batch_idx]
            data = torch.from_numpy(data).float().to(device)
            target = torch.from_numpy(target).long().to(device)
            output = model(data)[:, -1, :]
            target = target.argmax(dim=1)
            total_loss += criterion(output, target).item()
            num_correct += (output.argmax(dim=1) == target).sum().item()
    return num_correct, total_loss / len(test_data_gen)


def train_and_test(model, train_data_gen, test_data_gen, criterion, optimizer, max_epochs,
                   verbose=True):
    """Train for max_epochs; returns the history {'train'|'test': {'loss': [...], 'acc': [...]}}."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    history = {"train": {"loss": [], "acc": []}, "test": {"loss": [], "acc": []}}
    for epoch in range(max_epochs):
        num_correct, loss = train(model, train_data_gen, criterion, optimizer, device)
        history["train"]["loss"].append(loss)
        history["train"]["acc"].append(100.0 * num_correct / (len(train_data_gen) * train_data_gen.batch_size))

        num_correct, loss = test(model, test_data_gen, criterion, device)
        history["test"]["loss"].append(loss)
        history["test"]["acc"].append(100.0 * num_correct / (len(test_data_gen) * test_data_gen.batch_size))

        if verbose or epoch + 1 == max_epochs:
            print(f"[Epoch {epoch + 1}/{max_epochs}]"
                  f" loss: {history['train']['loss'][-1]:.4f}, acc: {history['train']['acc'][-1]:2.2f}%"
                  f" - test_loss: {history['test']['loss'][-1]:.4f}, test_acc: {history['test']['acc'][-1]:2.2f}%")
    if verbose:
        fig, axes = plt.subplots(ncols=2, figsize=(9, 4.5))
        for ax, metric in zip(axes, ["loss", "acc"]):
            ax.plot(history["train"][metric])
            ax.plot(history["test"][metric])
            ax.set_xlabel("epoch", fontsize=12)
            ax.set_ylabel(metric, fontsize=12)
            ax.legend(["Train", "Test"], loc="best")
        plt.show()
    return history
'''

TEST_AND_LOOP_SOLUTION = (
    TEST_AND_LOOP_COURSE.replace(
        '    """Train for max_epochs; returns the history {\'train\'|\'test\': {\'loss\': [...], \'acc\': [...]}}."""\n',
        '    """Train for max_epochs; returns the history {\'train\'|\'test\': {\'loss\': [...], \'acc\': [...]}}.\n'
        "\n"
        "    Change to the training procedure: after every epoch the learning rate follows the\n"
        "    test loss: the optimizer's own rate while the loss is above LOSS_SCALE, in proportion\n"
        "    to the loss below it, and never raised again, so the updates become small once the\n"
        "    task is learned (where the course's procedure spikes) but not before.\n"
        '    """\n',
    )
    .replace(
        "        if verbose or epoch + 1 == max_epochs:\n",
        "        for group in optimizer.param_groups:\n"
        "            group['lr'] = min(group['lr'], optimizer.defaults['lr'] * min(1.0, loss / LOSS_SCALE))\n"
        "        if verbose or epoch + 1 == max_epochs:\n",
    )
)
assert "LOSS_SCALE))" in TEST_AND_LOOP_SOLUTION

CELLS = [
    md("""
        # Sequence classification with recurrent networks: the temporal order task

        This notebook follows the lecture's sequence-classification demo. The data is
        the *temporal order* problem of Hochreiter & Schmidhuber (1997): each sequence
        is mostly noise, and its class depends only on which of two relevant symbols
        (X or Y) appear at two far-apart positions, and in which order.

        For the homework (see Section 1.3 of the theory part), look at Section 8: the
        training curve of the LSTM has spikes. **Change only the training procedure**
        (not the model class, not the random seed) so that the curve has no spikes.
    """),
    code("""
        import numpy as np
        import torch
        import torch.nn as nn
        import matplotlib.pyplot as plt
    """),
    md("""
        ## 1. The task generator

        `TemporalOrderExp6aSequence.get_predefined_generator(difficulty, batch_size)`
        returns an object that behaves like a sequence of batches: `len(gen)` batches,
        `gen[i]` gives `(x, y)` with `x` of shape (batch, T, 8) and `y` of shape
        (batch, 4), both one-hot. Sequences are padded at the front.
    """),
    code(GENERATOR, PROVIDED),
    code("""
        gen = TemporalOrderExp6aSequence.get_predefined_generator(
            TemporalOrderExp6aSequence.DifficultyLevel.EASY, batch_size=4)
        x, y = gen[0]
        print(x.shape, y.shape)
        for seq, label in zip(gen.decode_x_batch(x), gen.decode_y_batch(y)):
            print(seq, "->", label)
    """, RUN),
    md("""
        ## 2. The model

        An LSTM reads the one-hot sequence; a linear layer maps each hidden state to
        class scores. Training uses the scores of the last time step only.
    """),
    code(SIMPLE_LSTM, PROVIDED),
    md("""
        ## 3. Training and testing loops

        `train` runs one epoch and returns the number of correct predictions and the
        mean training loss; `train_and_test` runs both loops for `max_epochs` epochs,
        prints progress, plots the curves and returns the history.

        *Homework:* this is where the training procedure lives. Change it (here, or the
        optimiser settings in Section 8) so that Section 8's loss curve has no spikes.
    """),
    code("# The changes to the course's training procedure (everything else is unchanged):\n"
         "CLIP_NORM = 0.25  # 1. clip the gradient norm of every update to this\n"
         "LOSS_SCALE = 0.5  # 2. below this test loss, the learning rate shrinks in proportion to it\n\n"
         + TRAIN_SOLUTION + "\n" + TEST_AND_LOOP_SOLUTION,
         STUDENT,
         starter="# TODO (homework): change the training procedure so Section 8 trains without spikes.\n\n"
                 + TRAIN_COURSE + "\n" + TEST_AND_LOOP_COURSE),
    md("""
        ## 8. Visualize LSTM

        (Sections 4 to 7 of the lecture notebook, a plain RNN on the easier levels, are
        not needed for the homework.) The setup below is fixed by the assignment:
        difficulty MODERATE, batch size 32, hidden size 12, RMSprop with learning rate
        0.001, 100 epochs, seed 1.
    """),
    code("torch.manual_seed(1)", PROVIDED),
    code("""
        # Setup the training and test data generators
        difficulty = TemporalOrderExp6aSequence.DifficultyLevel.MODERATE
        batch_size = 32
        train_data_gen = TemporalOrderExp6aSequence.get_predefined_generator(difficulty, batch_size)
        test_data_gen = TemporalOrderExp6aSequence.get_predefined_generator(difficulty, batch_size)

        # Setup the RNN and training settings
        input_size = train_data_gen.n_symbols
        hidden_size = 12
        output_size = train_data_gen.n_classes
        model = SimpleLSTM(input_size, hidden_size, output_size)
        criterion = torch.nn.CrossEntropyLoss()
        optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001)
        max_epochs = 100

        # Train the model
        history = train_and_test(model, train_data_gen, test_data_gen, criterion, optimizer, max_epochs)
    """, RUN),
    code("""
        # Hidden and cell states of the trained LSTM on a few test sequences
        x, y = test_data_gen[0]
        seqs = test_data_gen.decode_x_batch(x[:3])
        labels = test_data_gen.decode_y_batch(y[:3])
        h, c = model.cpu().get_states_across_time(torch.from_numpy(x[:3]).float())
        fig, axes = plt.subplots(nrows=3, figsize=(12, 9))
        for i, ax in enumerate(axes):
            ax.imshow(c[:, i, :].T.numpy(), aspect="auto", cmap="coolwarm")
            ax.set_title(f"cell states, class {labels[i]}: {seqs[i]}", fontsize=8)
        plt.tight_layout()
        plt.show()
    """, RUN),
]
