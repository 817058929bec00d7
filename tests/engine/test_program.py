"""The grader's side of verified structure (grader/checks/program.py), without a sandbox:
a program made by the child's exporter (grader/sandbox/probes/export.py) goes through the
real wire, is rebuilt from the allowlist, run, compared and counted; hand-made programs
show what is refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from grader.checks.program import FORMAT, ProgramError, agree, decode, structure
from grader.sandbox import wire
from grader.sandbox.probes.export import _from_trace, program_of


class Block(nn.Module):
    def __init__(self, skip: bool = True):
        super().__init__()
        self.skip = skip
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        x = F.relu(self.bn(self.c1(x)))
        y = self.c2(x)
        if self.skip:
            y = y + x
        return self.fc(self.pool(y).mean(dim=(2, 3)))


def _shipped(model: nn.Module, x: torch.Tensor, trace: bool = False):
    model.eval()
    with torch.no_grad():
        data = _from_trace(model, [x]) if trace else program_of(model, [x])
        want = model(x)
    return decode(wire.decode_value(wire.encode_value(data))), want.numpy()


@pytest.mark.parametrize("trace", [False, True], ids=["export", "trace"])
def test_a_program_reproduces_the_model_and_counts_its_structure(trace):
    torch.manual_seed(0)
    x = torch.rand(2, 3, 8, 8)
    program, want = _shipped(Block(), x, trace)
    assert program.how == ("trace" if trace else "export")
    got, values = program.run([x])
    assert agree(got, [want]) == (True, "")
    s = structure(program, values)
    assert s.groups["conv"] == 2 and s.groups["batchnorm"] == 1 and s.groups["pooling"] == 1
    assert s.groups["linear"] == 1 and s.groups["activation"] == 1
    assert s.skips and s.skips[0]["kind"] == "identity"
    # without the skip: the same layers, no residual
    plain, _ = _shipped(Block(skip=False), x, trace)
    assert not structure(plain, plain.run([x])[1]).skips


def test_a_different_function_does_not_agree():
    x = torch.rand(2, 3, 8, 8)
    program, want = _shipped(Block(), x)
    got, _ = program.run([x])
    ok, why = agree(got, [want + 0.01])
    assert not ok and "differs by" in why
    ok, why = agree(got, [want[:1]])
    assert not ok and "shape" in why
    ok, why = agree(got, [want, want])
    assert not ok and "returns 1 tensor(s)" in why


def _program(nodes, constants=None, output=None):
    return {"format": FORMAT, "how": "export", "nodes": nodes, "constants": constants or {},
            "output": output if output is not None else [{"$node": len(nodes) - 1}]}


def _call(target, *args, **kwargs):
    return {"op": "call", "target": target, "args": list(args), "kwargs": kwargs}


X = {"op": "input", "index": 0}
REFUSED = [
    ("off the allowlist", _program([X, _call("aten.from_file.default", "/etc/passwd")]), "not on the grader's allowlist"),
    ("another namespace", _program([X, _call("prims.add.default", {"$node": 0}, {"$node": 0})]), "allowlist"),
    ("a node from the future", _program([X, _call("aten.relu.default", {"$node": 2}), X]), "does not come before"),
    ("an unknown constant", _program([X, {"op": "const", "name": "w"}]), "unknown constant"),
    ("out=", _program([X, _call("aten.relu.default", {"$node": 0}, out={"$node": 0})]), "out="),
    ("a type the format lacks", _program([X, _call("aten.relu.default", {"$pickle": "gASV"})]), "kind"),
    ("no output", _program([X], output=[]), "output uses no node"),
]


@pytest.mark.parametrize("data,words", [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_programs_that_break_the_rules_are_refused(data, words):
    with pytest.raises(ProgramError) as err:
        p = decode(data)
        p.run([torch.zeros(2, 2)])
    assert words in str(err.value) or "keyword" in str(err.value) or "unknown" in str(err.value), err.value


def test_sizes_are_checked_on_meta_before_anything_is_allocated():
    huge = _program([X, _call("aten.zeros.default", [1 << 20, 1 << 12], dtype={"$dtype": "float32"})])
    with pytest.raises(ProgramError, match="makes a tensor of"):
        decode(huge).run([torch.zeros(1)])
    work = _program([X, {"op": "const", "name": "w"}, _call("aten.mm.default", {"$node": 0}, {"$node": 1})],
                    constants={"w": np.zeros((4096, 4096), np.float32)})
    from grader.checks.program import Caps

    with pytest.raises(ProgramError, match="multiply-adds"):
        decode(work).run([torch.zeros(4096, 4096)], caps=Caps(max_multiply_adds=1e9))


def test_random_ops_are_refused_in_training_mode():
    p = decode(_program([X, _call("aten.dropout.default", {"$node": 0}, 0.5, True)]))
    with pytest.raises(ProgramError, match="random dropout"):
        p.run([torch.ones(4)])
    p = decode(_program([X, _call("aten.dropout.default", {"$node": 0}, 0.5, False)]))
    assert torch.equal(p.run([torch.ones(4)])[0][0], torch.ones(4))


def test_a_dead_branch_counts_nothing():
    # a convolution whose result never reaches the output is not part of the structure
    w = np.ones((1, 1, 1, 1), np.float32)
    p = decode(_program([X, {"op": "const", "name": "w"}, _call("aten.conv2d.default", {"$node": 0}, {"$node": 1}),
                         _call("aten.relu.default", {"$node": 0})], constants={"w": w}))
    got, values = p.run([torch.ones(1, 1, 2, 2)])
    s = structure(p, values)
    assert s.groups.get("conv", 0) == 0 and s.groups["activation"] == 1


def test_a_weight_only_computation_is_no_layer():
    # a "layer" applied to constants alone (a conv of a weight by a weight) is not the model's
    w = np.ones((1, 1, 1, 1), np.float32)
    p = decode(_program([X, {"op": "const", "name": "w"}, _call("aten.conv2d.default", {"$node": 1}, {"$node": 1}),
                         _call("aten.add.Tensor", {"$node": 0}, {"$node": 2})], constants={"w": w}))
    got, values = p.run([torch.ones(1, 1, 1, 1)])
    s = structure(p, values)
    assert s.groups.get("conv", 0) == 0 and not s.skips


def test_the_cap_is_on_intermediates_alive_at_once():
    from grader.checks.program import Caps

    # a chain of 8 ReLUs on 100 numbers: 800 made in all, at most 200 alive at once
    nodes = [X] + [_call("aten.relu.default", {"$node": i}) for i in range(8)]
    p = decode(_program(nodes))
    p.run([torch.ones(10, 10)], caps=Caps(max_live_elements=200))
    with pytest.raises(ProgramError, match="at once"):
        p.run([torch.ones(10, 10)], caps=Caps(max_live_elements=150))


def test_module_inputs_are_drawn_once_and_the_generator_moves_on_as_if_drawn():
    # the module checks of one model ask for the same inputs; each gets its own copy of them
    from grader.checks import module

    spec, ispec = {"shape": [2, 3, 8, 8], "low": -1, "high": 1}, {"shape": [5], "dtype": "int64", "high": 9}

    def draws(make):
        rng = np.random.default_rng(7)
        return make(spec, rng), make(ispec, rng), rng.uniform()

    fresh = draws(module._draw)
    first, again = draws(module.make_input), draws(module.make_input)
    for got in (first, again):
        assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(fresh[:2], got[:2]))
        assert got[2] == fresh[2]
    first[0][...] = 99  # a program run that writes into its input changes no other check's input
    assert np.array_equal(draws(module.make_input)[0], fresh[0])
    other = module.make_input(spec, np.random.default_rng(8))
    assert not np.array_equal(other, fresh[0])
