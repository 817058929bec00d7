"""Stand-in for the course's ``res/sequential_tasks.py`` (NYU Deep Learning class notebooks).

The grader copies this folder next to ``08-seq_classification.ipynb`` when a submission
does not carry its own ``res/``. It is written for the grader from the course's documented
behaviour: the same names, signatures, defaults and random draws in the same order (so a
notebook gets the same sequences with this file as with the course's), and it runs on
NumPy 1 and 2 alike. Only the temporal order task is here: the HW2 notebook uses nothing
else from the course's module.

``TemporalOrderExp6aSequence`` (Hochreiter & Schmidhuber 1997, experiment 6a): a sequence
is ``B``, then distractors from ``a b c d``, then ``E``; positions ``t1 < t2`` hold ``X`` or
``Y`` and the class is their order: XX -> Q, XY -> R, YX -> S, YY -> U. Batches are
one-hot, sequences padded at the front to ``length_range[1]`` steps.
"""

import numpy as np
import six

__all__ = ["TemporalOrderExp6aSequence", "pad_sequences", "to_categorical"]


def to_categorical(y, num_classes=None, dtype="float32"):
    """One-hot code class indices ``y``: a new last axis of ``num_classes`` (default max + 1).

    A trailing axis of size 1 is replaced, as Keras does.
    """
    y = np.asarray(y, dtype=int)
    shape = y.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = y.reshape(-1)
    if not num_classes:
        num_classes = int(flat.max()) + 1
    out = np.zeros((flat.size, num_classes), dtype=dtype)
    out[np.arange(flat.size), flat] = 1
    return out.reshape(shape + (num_classes,))


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Stack sequences of different lengths into one array of ``maxlen`` steps (Keras semantics).

    ``padding``/``truncating`` say at which end ('pre' or 'post') steps are added or cut;
    each step may itself be an array (one-hot rows), whose shape must be the same for all.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError("`sequences` must be iterable.")
    lengths = []
    for seq in sequences:
        if not hasattr(seq, "__len__"):
            raise ValueError(f"`sequences` must be a list of iterables. Found non-iterable: {seq}")
        lengths.append(len(seq))
    if maxlen is None:
        maxlen = max(lengths) if lengths else 0
    step_shape = next((np.asarray(s).shape[1:] for s in sequences if len(s)), ())
    if isinstance(value, six.string_types) and dtype != object and not np.issubdtype(dtype, np.str_):
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
                         "You should set `dtype=object` for variable length strings.")
    out = np.full((len(sequences), maxlen) + tuple(step_shape), value, dtype=dtype)
    for i, seq in enumerate(sequences):
        if not len(seq):
            continue
        if truncating == "pre":
            kept = seq[-maxlen:]
        elif truncating == "post":
            kept = seq[:maxlen]
        else:
            raise ValueError(f'Truncating type "{truncating}" not understood')
        kept = np.asarray(kept, dtype=dtype)
        if kept.shape[1:] != tuple(step_shape):
            raise ValueError(f"Shape of sample {kept.shape[1:]} of sequence at position {i} "
                             f"is different from expected shape {tuple(step_shape)}")
        if padding == "pre":
            out[i, maxlen - len(kept):] = kept
        elif padding == "post":
            out[i, :len(kept)] = kept
        else:
            raise ValueError(f'Padding type "{padding}" not understood')
    return out


class TemporalOrderExp6aSequence:
    """Batches of the temporal order task; ``gen[i]`` is a fresh random batch ``(x, y)``.

    ``x``: (batch_size, length_range[1], 8) one-hot symbols, padded at the front;
    ``y``: (batch_size, 4) one-hot classes. ``len(gen)`` batches make about 1000 sequences.
    A ``seed`` seeds NumPy's global generator (as the course's class does).
    """

    class DifficultyLevel:
        """HARD is the setting of the 1997 paper."""
        EASY, NORMAL, MODERATE, HARD, NIGHTMARE = range(5)

    # difficulty -> (length_range, t1_range, t2_range); each range is [low, high)
    _LEVELS = {
        0: ((7, 9), (1, 3), (4, 6)),
        1: ((30, 41), (2, 6), (20, 28)),
        2: ((60, 81), (10, 21), (45, 55)),
        3: ((100, 111), (10, 21), (50, 61)),
    }
    _NIGHTMARE = ((300, 501), (10, 81), (250, 291))  # any other level

    def __init__(self, length_range=(100, 111), t1_range=(10, 21), t2_range=(50, 61), batch_size=32, seed=None):
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
        symbols = self.relevant_symbols + self.distraction_symbols + [self.start_symbol, self.end_symbol]
        self.n_symbols = len(symbols)
        self.s_to_idx = {s: i for i, s in enumerate(symbols)}
        self.idx_to_s = dict(enumerate(symbols))
        self.c_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.idx_to_c = dict(enumerate(self.classes))

    def generate_pair(self):
        """One random (sequence, class) pair of strings, e.g. ('BaXcdYbE', 'R')."""
        length = np.random.randint(*self.length_range)
        t1 = np.random.randint(*self.t1_range)
        t2 = np.random.randint(*self.t2_range)
        seq = np.random.choice(self.distraction_symbols, length)
        seq[0], seq[-1] = self.start_symbol, self.end_symbol
        label = np.random.choice(self.classes)
        first = self.relevant_symbols[label in ("S", "U")]
        second = self.relevant_symbols[label in ("R", "U")]
        seq[t1], seq[t2] = first, second
        return "".join(seq), label

    # one sequence
    def encode_x(self, x):
        return to_categorical([self.s_to_idx[s] for s in x], num_classes=self.n_symbols)

    def encode_y(self, y):
        return to_categorical(self.c_to_idx[y], num_classes=self.n_classes)

    def decode_x(self, x):
        x = x[np.sum(x, axis=1) > 0]  # padding rows are all zero
        return "".join(self.idx_to_s[i] for i in np.argmax(x, axis=1))

    def decode_y(self, y):
        return self.idx_to_c[np.argmax(y)]

    # batches
    def encode_x_batch(self, x_batch):
        return pad_sequences([self.encode_x(x) for x in x_batch], maxlen=self.length_range[1])

    def encode_y_batch(self, y_batch):
        return np.array([self.encode_y(y) for y in y_batch])

    def decode_x_batch(self, x_batch):
        return [self.decode_x(x) for x in x_batch]

    def decode_y_batch(self, y_batch):
        return [self.idx_to_c[i] for i in np.argmax(y_batch, axis=1)]

    def __len__(self):
        """Batches per epoch: 1000 sequences' worth."""
        return int(1000.0 / self.batch_size)

    def __getitem__(self, index):
        # A fresh random batch whatever the index; past the end, IndexError, so that
        # `for x, y in gen` stops after one epoch.
        if index >= len(self):
            raise IndexError(index)
        pairs = [self.generate_pair() for _ in range(self.batch_size)]
        return self.encode_x_batch([p[0] for p in pairs]), self.encode_y_batch([p[1] for p in pairs])

    @staticmethod
    def get_predefined_generator(difficulty_level, batch_size=32, seed=8382):
        ranges = TemporalOrderExp6aSequence._LEVELS.get(difficulty_level, TemporalOrderExp6aSequence._NIGHTMARE)
        return TemporalOrderExp6aSequence(*ranges, batch_size, seed)
