"""definitions mode: which statements of a cell are kept."""

from __future__ import annotations

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from grader.sandbox.definitions import filter_cell

T = TransformerManager().transform_cell


def kept(src: str) -> str:
    return filter_cell(src, T).source


def test_imports_defs_classes_and_constants_are_kept():
    src = (
        "import torch\nimport torch.nn as nn\nfrom math import pi\n"
        "HIDDEN = 128\nLR, EPOCHS = 1e-3, 5\nNAMES = ['a', 'b']\n"
        "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
        "criterion = nn.CrossEntropyLoss()\n"
        "def f(x):\n    return x\n"
        "class Net(nn.Module):\n    pass\n"
    )
    res = filter_cell(src, T)
    assert res.skipped == 0 and res.source == src


def test_training_and_downloads_are_skipped():
    src = (
        "class CNN:\n    pass\n"
        "model = CNN()\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for epoch in range(10):\n    train(model)\n"
        "train(model)\n"
        "with open('x') as f:\n    data = f.read()\n"
        "print('hello')\n"
    )
    res = filter_cell(src, T)
    assert res.skipped == 6
    assert "class CNN" in res.source and "model" not in res.source and "print" not in res.source


def test_magics_and_escapes():
    out = kept("%matplotlib inline\n!pip install foo\n%time train(model)\nx = 1\n")
    assert "run_line_magic('matplotlib'" in out
    assert "system('pip install foo')" in out  # kept so the shell records it as blocked
    assert "train" not in out and "x = 1" in out


def test_cell_magic_body_is_filtered():
    out = kept("%%time\nimport numpy as np\ntrain(model)\ndef g():\n    pass\n")
    assert "run_cell_magic('time'" in out and "import numpy" in out and "def g" in out and "train(model)" not in out
    assert kept("%%time\ntrain(model)\n") == ""


def test_if_and_try_with_only_definitions():
    src = "try:\n    import google.colab\n    IN_COLAB = True\nexcept ImportError:\n    IN_COLAB = False\n"
    assert filter_cell(src, T).skipped == 0
    src2 = "if torch.cuda.is_available():\n    dev = 'cuda'\nelse:\n    dev = 'cpu'\n"
    assert filter_cell(src2, T).skipped == 0
    src3 = "if True:\n    train(model)\n"
    assert filter_cell(src3, T).skipped == 1


def test_syntax_error_raises():
    with pytest.raises(SyntaxError):
        filter_cell("def f(:\n", T)


def test_names_from_skipped_statements_are_not_used():
    src = ("start = time.time()\nmodel = train()\nelapsed = time.time() - start\n"
           "import time\nt0 = time.time\nx = gen[0]\nsq = [i * i for i in range(N)]\nK = N + 1\n")
    res = filter_cell(src, T, known={"N"})
    assert "elapsed" not in res.source and "x = gen" not in res.source
    assert "import time" in res.source and "t0 = time.time" in res.source
    assert "sq = [i * i for i in range(N)]" in res.source and "K = N + 1" in res.source
    assert "nn.Linear" not in filter_cell("layer = nn.Linear(2, 2)\n", T, known=set()).source
    assert "nn.Linear" in filter_cell("import torch.nn as nn\nlayer = nn.Linear(2, 2)\n", T, known=set()).source
