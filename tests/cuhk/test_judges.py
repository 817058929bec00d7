"""Problem 5's judges without the sandbox: the He measure, the layer reading, the metric, the data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn

from grader.checks.program import Call
from cuhk_eleg5491.reference import judges
from cuhk_eleg5491.reference.data import cifar_like
from cuhk_eleg5491.reference.notebooks import BN_NET, HE_NET, IMPORTS, NET


@pytest.fixture(scope="module")
def ns():
    out: dict = {}
    for src in (IMPORTS, NET, HE_NET, BN_NET):
        exec(src, out)  # noqa: S102 - our own reference code
    return out


def _layers(model):
    found = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            found.append(judges.Layer("conv", m.in_channels, m.out_channels, tuple(m.kernel_size), (4, 4),
                                      m.weight.detach().numpy(), ()))
        elif isinstance(m, nn.Linear):
            found.append(judges.Layer("linear", m.in_features, m.out_features, (), (), m.weight.detach().numpy(), ()))
    return found


def test_he_measure_tells_he_from_the_default(ns):
    torch.manual_seed(0)
    he = judges.he_measure(_layers(ns["HeNet"]()))[0]
    torch.manual_seed(0)
    default = judges.he_measure(_layers(ns["Net"]()))[0]
    assert he > 0.75 and default < 0.2  # thresholds 0.35 / 0.6 (benchmarks/calibrate_cuhk.py init)


def test_he_verdict_is_partial_between_thresholds(ns):
    torch.manual_seed(0)
    net = ns["Net"]()
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="linear")  # Var 1/n: half of He's
    v = judges._he("Net", _layers(net), {"zero": 0.35, "full": 0.6})
    assert 0.0 < v.fraction < 1.0 and v.measure.value == pytest.approx(0.48, abs=0.1)


def test_read_layers_follows_program_order():
    def call(op, groups, x, out, consts=()):
        return Call(op, groups, (x,), out, consts)

    w = np.zeros((6, 3, 5, 5), dtype=np.float32)
    found = [call("conv2d", ("conv",), (2, 3, 32, 32), (2, 6, 28, 28), (w,)),
             call("_native_batch_norm_legit_no_training", ("batchnorm",), (2, 6, 28, 28), (2, 6, 28, 28)),
             call("relu", ("activation",), (2, 6, 28, 28), (2, 6, 28, 28)),
             call("avg_pool2d", ("pooling",), (2, 6, 28, 28), (2, 6, 14, 14)),
             call("linear", ("linear",), (2, 1176), (2, 10), (np.zeros((10, 1176)),))]
    before, layers = judges.read_layers(found)
    assert before == ()
    assert [(l.kind, l.n_in, l.n_out) for l in layers] == [("conv", 3, 6), ("linear", 1176, 10)]
    assert layers[0].after == ("bn:6", "relu", "pool:avg_pool2d") and layers[0].shrink == (4, 4)
    assert layers[0].fans() == (75, 150)


def test_accuracy_refuses_wrong_shapes():
    d = {"labels": np.array([0, 1, 2])}
    assert judges.accuracy(np.eye(10)[[0, 1, 3]], d) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        judges.accuracy(np.zeros((3, 2)), d)
    with pytest.raises(ValueError):
        judges.accuracy(np.full((3, 10), np.nan), d)


def test_data_is_deterministic_and_balanced():
    a, la = cifar_like(200, 7)
    b, lb = cifar_like(200, 7)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert a.shape == (200, 3, 32, 32) and a.dtype == np.float32 and -1.0 <= a.min() and a.max() <= 1.0
    assert np.bincount(la, minlength=10).tolist() == [20] * 10


@pytest.mark.parametrize("trace", [False, True], ids=["export", "trace"])
@pytest.mark.parametrize("cls", ["Net", "HeNet", "BNNet"])
def test_programs_of_the_reference_pass_their_judges(ns, cls, trace):
    """Through the child's exporter (torch.export, or the aten trace fallback: addmm on a
    transposed weight, `convolution`) and the wire, as the grader reads a submission."""
    from grader.checks.program import calls, decode
    from grader.sandbox import wire
    from grader.sandbox.probes.export import _from_trace, program_of

    torch.manual_seed(0)
    model = ns[cls]().eval()
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        data = _from_trace(model, [x]) if trace else program_of(model, [x])
    program = decode(wire.decode_value(wire.encode_value(data)))
    _, layers = judges.read_layers(calls(program, program.run([x])[1]))
    assert [(l.kind, l.n_in, l.n_out) for l in layers] == list(judges.LAYERS)
    assert judges._structure(cls, layers).fraction == 1.0
    assert judges._batchnorm(cls, layers).fraction == (1.0 if cls == "BNNet" else 0.0)
    he = judges._he(cls, layers, {"zero": 0.35, "full": 0.6})
    assert he.fraction == (1.0 if cls == "HeNet" else 0.0)
    # the weights read are the module's own, however the program uses them
    assert np.array_equal(layers[2].weight, model.fc1.weight.detach().numpy())


@pytest.mark.parametrize("th", [None, {"zero": 0.6, "full": 0.35}, {"zero": "a", "full": 1}, {"full": 1}])
def test_he_part_needs_ordered_thresholds(th):
    w = {"part": "he"} if th is None else {"part": "he", "thresholds": th}
    assert [k for k, _, _ in judges.CifarNet().validate(w)] == ["thresholds"]
