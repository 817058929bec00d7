"""The module probe's fx graph (`fx_nodes`, behind the residual checks) records shapes with
its own `ShapeRecorder` instead of torch's `ShapeProp`, whose every run imports sympy
(0.45 s on the sandbox server's start-up). What must hold: on every kind of forward the
nodes, and so the skip connections found, are exactly what ShapeProp gave; and the
recorder does not import sympy."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from grader.sandbox.probes import module as probe_module
from grader.sandbox.probes.graph import find_skips


class Residual(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(3, 4, 3, padding=1)
        self.b1 = nn.BatchNorm2d(4)
        self.c2 = nn.Conv2d(4, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = y + self.c2(y)
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))


class Recurrent(nn.Module):  # tuple outputs (GRU), a getitem, a view
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(5, 6, batch_first=True)
        self.out = nn.Linear(6, 3)

    def forward(self, x):
        h, _ = self.gru(x)
        return self.out(h + h.mean(dim=1, keepdim=True))


class Several(nn.Module):  # a dict and a max (named tuple) inside, non-tensor values
    def forward(self, x):
        parts = {"a": x * 2, "b": x.max(dim=1)}
        n = x.shape[0]
        return parts["a"].sum(dim=1) + parts["b"].values + n


class Broken(nn.Module):  # traces, then fails when run: no shapes, as with ShapeProp
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(7, 2)

    def forward(self, x):
        return self.fc(x)


def _with_shapeprop(model, inputs):
    """fx_nodes as it was, with torch's ShapeProp (the reference this test compares with)."""
    from torch.fx.passes.shape_prop import ShapeProp

    class Shim:
        """ShapeProp's run, its facts put where fx_nodes reads them (as fx_nodes read them
        before: a TensorMetadata's shape, none for a tuple of them)."""

        def __init__(self, gm):
            self.gm = gm

        def run(self, *args):
            out = ShapeProp(self.gm).propagate(*args)
            for n in self.gm.graph.nodes:
                meta = n.meta.get("tensor_meta")
                if meta is not None:
                    n.meta[probe_module.SHAPE] = tuple(meta.shape) if hasattr(meta, "shape") else None
            return out

    saved = probe_module.ShapeRecorder
    probe_module.ShapeRecorder = Shim
    try:
        return probe_module.fx_nodes(model, inputs, {})
    finally:
        probe_module.ShapeRecorder = saved


CASES = [
    (Residual, (torch.randn(2, 3, 8, 8),)),
    (Recurrent, (torch.randn(2, 4, 5),)),
    (Several, (torch.randn(3, 4),)),
    (Broken, (torch.randn(2, 5),)),
]


@pytest.mark.parametrize("cls,inputs", CASES, ids=[c.__name__ for c, _ in CASES])
def test_the_recorder_gives_shapeprops_nodes(cls, inputs, capfd):
    torch.manual_seed(0)
    model = cls().eval()
    with torch.no_grad():
        ours = probe_module.fx_nodes(model, list(inputs), {})
        theirs = _with_shapeprop(model, list(inputs))
    capfd.readouterr()  # ShapeProp prints the Broken model's traceback
    assert ours == theirs
    assert find_skips(ours) == find_skips(theirs)
    shapes = [n.shape for n in ours]
    if cls is Broken:
        assert all(s is None for s in shapes)
    else:
        assert any(s is not None for s in shapes)
    if cls is Residual:
        assert find_skips(ours), "the residual add is found"


def test_the_recorder_does_not_import_sympy():
    code = ("import sys, torch, torch.nn as nn\n"
            "from grader.sandbox.probes.module import fx_nodes\n"
            "fx_nodes(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()), [torch.randn(1, 1, 4, 4)], {})\n"
            "print('sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr[-2000:]
