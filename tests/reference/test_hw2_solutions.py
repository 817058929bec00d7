"""The reference definitions load in-process and keep the interfaces the checks rely on."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from nyu_dl_hw2.reference.hw2 import data
from nyu_dl_hw2.reference.hw2.solutions import (
    NumpyCompat,
    definitions_source,
    load_solution_namespace,
    load_starter_namespace,
)


@pytest.fixture(scope="module")
def rnn():
    return load_solution_namespace("hw2_rnn.ipynb")


@pytest.fixture(scope="module")
def cnn():
    return load_solution_namespace("hw2_cnn.ipynb")


@pytest.fixture(scope="module")
def moe():
    return load_solution_namespace("hw2_moe.ipynb")


@pytest.fixture(scope="module")
def seq():
    return load_solution_namespace("seq_classification.ipynb")


def test_loading_leaves_global_rng_alone():
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(123)
    np.random.seed(123)
    torch.manual_seed(123)
    for name in ("hw2_moe.ipynb", "seq_classification.ipynb", "hw2_rnn.ipynb"):
        load_solution_namespace(name)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_unknown_notebook():
    with pytest.raises(KeyError):
        load_solution_namespace("hw2_gan.ipynb")


def test_definitions_source_skips_training_cells():
    src = definitions_source("hw2_cnn.ipynb")
    assert "class CNN" in src and "!wget" not in src and "N_EPOCHS" not in src
    assert "raise NotImplementedError" in definitions_source("hw2_cnn.ipynb", starter=True)


# ---------------------------------------------------------------------------- CNN
def test_cnn_shapes_and_parts(cnn):
    torch.manual_seed(0)
    model = cnn["CNN"]()
    out = model(torch.randn(4, 3, 256, 256))
    assert out.shape == (4, 2)
    kinds = {type(m).__name__ for m in model.modules()}
    assert sum(isinstance(m, torch.nn.Conv2d) for m in model.modules()) >= 2
    assert {"BatchNorm2d", "Linear", "ReLU"} <= kinds
    assert kinds & {"MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"}
    assert "ResidualBlock" in kinds
    assert sum(p.numel() for p in model.parameters()) < 100_000  # CPU-sized


def test_cnn_loss_and_correct_and_step(cnn):
    torch.manual_seed(0)
    model = cnn["CNN"]()
    X, y = data.cnn_images(8, seed=1)
    batch = (torch.from_numpy(X), torch.from_numpy(y))
    crit = torch.nn.CrossEntropyLoss()
    loss, correct = cnn["get_loss_and_correct"](model, batch, crit, torch.device("cpu"))
    assert isinstance(loss, torch.Tensor) and loss.dim() == 0 and loss.requires_grad
    assert isinstance(correct, torch.Tensor) and 0 <= int(correct) <= 8
    with torch.no_grad():
        expected = crit(model(batch[0]), batch[1])
        n_right = int((model(batch[0]).argmax(1) == batch[1]).sum())
    assert torch.isclose(loss, expected, rtol=1e-4)
    assert int(correct) == n_right
    # step: exactly one SGD update
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    loss.backward(retain_graph=True)
    grads = [p.grad.detach().clone() for p in model.parameters()]
    cnn["step"](loss, opt)  # zero_grad first, so the manual backward above does not double up
    for b, g, p in zip(before, grads, model.parameters()):
        assert torch.allclose(p.detach(), b - 0.1 * g, atol=1e-6)


# ---------------------------------------------------------------------------- RNN
def test_idx_to_onehot(rnn):
    x = torch.tensor([[0, 1, 26]])
    oh = rnn["idx_to_onehot"](x)
    assert oh.shape == (1, 3, 27) and oh.dtype == torch.float32
    assert oh.sum().item() == 3 and oh[0, 2, 26] == 1


def test_echo_dataset(rnn):
    random.seed(0)
    items = list(rnn["EchoDataset"](delay=3, seq_length=10, size=5))
    assert len(items) == 5
    for seq, res in items:
        assert seq.dtype == torch.int64 and seq.shape == (10,)
        assert 1 <= seq.min() and seq.max() <= 26
        assert (res[:3] == 0).all() and torch.equal(res[3:], seq[:7])
    random.seed(0)
    for seq, d, res in rnn["VariableDelayEchoDataset"](max_delay=5, seq_length=9, size=20):
        assert 0 <= d <= 5 and res.shape == (9,) and res.dtype == torch.int64
        assert torch.equal(res[d:], seq[: 9 - d]) and (res[:d] == 0).all()


def test_gru_memory_contract(rnn):
    torch.manual_seed(0)
    model = rnn["GRUMemory"](32)
    x = rnn["idx_to_onehot"](torch.randint(1, 27, (3, 11)))
    assert model(x).shape == (3, 11, 27)
    for s in ("hello", "abcdefghijklmnopqrstuvwxy", "z", ""):
        out = model.test_run(s)
        assert isinstance(out, str) and len(out) == len(s)
        assert set(out) <= set(" abcdefghijklmnopqrstuvwxyz")
    model.eval()
    with torch.no_grad():
        logits = model(rnn["idx_to_onehot"](torch.tensor([[8, 9]])))
    expected = "".join(" " if i == 0 else chr(96 + i) for i in logits.argmax(-1)[0].tolist())
    assert model.test_run("hi") == expected


def test_variable_delay_contract(rnn):
    torch.manual_seed(0)
    model = rnn["VariableDelayGRUMemory"](32, 12)
    assert model.max_delay == 12
    x = rnn["idx_to_onehot"](torch.randint(1, 27, (4, 20)))
    assert model(x, torch.tensor([0, 3, 12, 5])).shape == (4, 20, 27)
    out = model.test_run("abcdefghijklmnopqrst", 4)
    assert isinstance(out, str) and len(out) == 20


def test_provided_test_functions_run(rnn):
    class Perfect:
        max_delay = 12

        def __init__(self, delay):
            self.delay = delay

        def test_run(self, s, delay=None):
            d = self.delay if delay is None else delay
            return " " * d + s[: len(s) - d]

    random.seed(1)
    assert rnn["test_model"](Perfect(rnn["DELAY"])) == 1.0
    random.seed(3)  # draws a non-zero delay: the course function then scores a perfect model 1
    assert rnn["test_variable_delay_model"](Perfect(None)) == 1.0


def test_echo_training_smoke(rnn):
    """A short run of train_model lowers the loss on held-out grader data."""
    torch.manual_seed(0)
    model = rnn["GRUMemory"](32)
    onehot = rnn["idx_to_onehot"]
    s_val, t_val = (torch.from_numpy(a) for a in data.echo_batches(256, 15, 4, seed=99))

    def val_loss():
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(onehot(s_val)).reshape(-1, 27), t_val.reshape(-1)).item()

    before = val_loss()
    batches = [tuple(torch.from_numpy(a) for a in data.echo_batches(32, 15, 4, seed=i)) for i in range(60)]
    mean_loss = rnn["train_model"](model, batches)
    after = val_loss()
    assert isinstance(mean_loss, float)
    assert after < 0.8 * before, (before, after)


# ---------------------------------------------------------------------------- MoE
def test_moe_gate_and_combination(moe):
    torch.manual_seed(0)
    model = moe["MixtureOfExperts"]()  # the handout's call: two experts by default
    assert isinstance(model.experts, torch.nn.ModuleList) and len(model.experts) == 2
    assert all(type(e).__name__ == "Expert" for e in model.experts)
    X = torch.from_numpy(data.moe_points(50, seed=0)[0])
    gates = model.gating_network(X)
    assert gates.shape == (50, 2)
    assert torch.allclose(gates.sum(1), torch.ones(50), atol=1e-6) and (gates >= 0).all()
    out = model(X)
    assert out.shape == (50, 1)
    experts = torch.stack([e(X) for e in model.experts], 1)  # (50, 2, 1)
    assert torch.allclose(out, torch.sigmoid((gates.unsqueeze(-1) * experts).sum(1)), atol=1e-6)
    assert ((out >= 0) & (out <= 1)).all()
    expert = moe["Expert"](2, 3)
    assert sum(isinstance(m, torch.nn.Linear) for m in expert.modules()) == 1
    assert expert(X).shape == (50, 3)
    assert len(moe["MixtureOfExperts"](num_experts=5).experts) == 5


def test_moe_generate_data_is_the_graders(moe):
    """The notebook's provided generate_data and the grader's moe_points draw the same distribution."""
    torch.manual_seed(3)
    X, y = moe["generate_data"](4000)
    Xg, yg = data.moe_points(4000, seed=3)
    assert X.shape == (4000, 2) and X.dtype == torch.float32 and y.dtype == torch.long
    assert set(y.tolist()) == {0, 1}
    assert np.array_equal(y.numpy(), (np.hypot(X[:, 0].numpy(), X[:, 1].numpy() + 2) > np.sqrt(13)).astype(np.int64))
    for half in (slice(0, 2000), slice(2000, 4000)):  # same centres and spread, up to sampling noise
        assert np.allclose(X[half].mean(0).numpy(), Xg[half].mean(0), atol=0.1)
        assert np.allclose(X[half].std(0).numpy(), Xg[half].std(0), atol=0.1)
    assert abs(float(y.float().mean()) - float(yg.mean())) < 0.04


# ---------------------------------------------------------------------------- seq
def test_seq_generator_and_numpy_shim(seq):
    assert isinstance(seq["np"], NumpyCompat)
    T = seq["TemporalOrderExp6aSequence"]
    state = np.random.get_state()
    try:
        gen = T.get_predefined_generator(T.DifficultyLevel.MODERATE, 8)
        assert len(gen) == 125 and gen.n_symbols == 8 and gen.n_classes == 4
        x, y = gen[0]
        assert x.shape == (8, 81, 8) and y.shape == (8, 4)
        assert np.allclose(y.sum(1), 1)
        with pytest.raises(IndexError):
            gen[len(gen)]
        for s, c in zip(gen.decode_x_batch(x), gen.decode_y_batch(y)):
            rel = [ch for ch in s if ch in "XY"]
            assert s[0] == "B" and s[-1] == "E" and 60 <= len(s) <= 80
            assert {"XX": "Q", "XY": "R", "YX": "S", "YY": "U"}["".join(rel)] == c
    finally:
        np.random.set_state(state)


def test_grader_temporal_order_matches_notebook_encoding(seq):
    T = seq["TemporalOrderExp6aSequence"]
    gen = T(*T.LEVELS[T.DifficultyLevel.MODERATE], batch_size=4)
    x, y = data.temporal_order(64, T.DifficultyLevel.MODERATE, seed=3)
    assert x.shape == (64, data.temporal_order_length("MODERATE"), gen.n_symbols)
    assert tuple(gen.s_to_idx) == data.TEMPORAL_ORDER_SYMBOLS
    assert tuple(gen.classes) == data.TEMPORAL_ORDER_CLASSES
    for s, c in zip(gen.decode_x_batch(x), gen.decode_y_batch(y)):
        (lo, hi), (t1lo, t1hi), (t2lo, t2hi) = T.LEVELS[T.DifficultyLevel.MODERATE]
        assert lo <= len(s) < hi and s[0] == "B" and s[-1] == "E"
        pos = [i for i, ch in enumerate(s) if ch in "XY"]
        assert len(pos) == 2 and t1lo <= pos[0] < t1hi and t2lo <= pos[1] < t2hi
        assert {"XX": "Q", "XY": "R", "YX": "S", "YY": "U"}[s[pos[0]] + s[pos[1]]] == c
        assert set(s[1:-1]) - set("XY") <= set("abcd")
    # the encodings of the two agree: re-encoding the decoded strings gives x back
    assert np.array_equal(gen.encode_x_batch(gen.decode_x_batch(x)), x)


def test_simple_lstm_and_training_functions(seq):
    torch.manual_seed(0)
    T = seq["TemporalOrderExp6aSequence"]
    state = np.random.get_state()
    try:
        gen = T.get_predefined_generator(T.DifficultyLevel.EASY, 250)  # 4 batches an epoch
        model = seq["SimpleLSTM"](gen.n_symbols, 12, gen.n_classes)
        x, _ = gen[0]
        assert model(torch.from_numpy(x)).shape == (250, 9, 4)
        opt = torch.optim.RMSprop(model.parameters(), lr=0.001)
        crit = torch.nn.CrossEntropyLoss()
        correct, loss = seq["train"](model, gen, crit, opt, "cpu")
        assert 0 <= correct <= len(gen) * 250 and isinstance(loss, float)
        hist = seq["train_and_test"](model, gen, gen, crit, opt, 2, verbose=False)
        assert set(hist) == {"train", "test"} and len(hist["train"]["loss"]) == 2
        assert len(hist["test"]["acc"]) == 2
    finally:
        np.random.set_state(state)


# ---------------------------------------------------------------------------- starters
def test_starters_score_zero_without_crashing():
    rnn = load_starter_namespace("hw2_rnn.ipynb")
    m = rnn["GRUMemory"](8)
    with pytest.raises(NotImplementedError):
        m(torch.zeros(1, 3, 27))
    with pytest.raises(NotImplementedError):
        m.test_run("abc")
    with pytest.raises(NotImplementedError):
        rnn["train_model"](m, [])
    assert rnn["HIDDEN_SIZE"] is None and rnn["BATCH_SIZE"] is None
    with pytest.raises(NotImplementedError):
        rnn["VariableDelayGRUMemory"](8, 4)(torch.zeros(1, 3, 27), torch.zeros(1))
    with pytest.raises(NotImplementedError):
        rnn["train_variable_delay_model"](m, [])
    cnn = load_starter_namespace("hw2_cnn.ipynb")
    with pytest.raises(NotImplementedError):
        cnn["CNN"]()(torch.zeros(1, 3, 256, 256))
    assert cnn["get_loss_and_correct"](None, (None, None), None, "cpu") == (None, None)
    assert cnn["step"](None, None) is None
    moe = load_starter_namespace("hw2_moe.ipynb")
    with pytest.raises(NotImplementedError):
        moe["MixtureOfExperts"]()(torch.zeros(3, 2))
    with pytest.raises(NotImplementedError):
        moe["GatingNetwork"]()(torch.zeros(3, 2))
    seqns = load_starter_namespace("seq_classification.ipynb")
    assert "clip_grad_norm_" not in definitions_source("seq_classification.ipynb", starter=True)
    assert callable(seqns["train"]) and callable(seqns["train_and_test"])
