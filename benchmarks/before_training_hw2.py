"""How well do *untrained* HW2 models score on the training checks' hidden data?

The train kind gives no points when the model, as the student's code builds it, already
scores above `before.max` before training (a hand-written answer). This measures the
untrained score of the reference models (and of a few student-like variants from the tests)
over several model seeds and hidden-data seeds, in-process (no sandbox), so the registry's
`before.max` can sit far above it:

    python benchmarks/before_training_hw2.py            # 10 model seeds x 3 data seeds
    python benchmarks/before_training_hw2.py --seeds 20

The hidden data is made as the grader makes it (nyu_dl_hw2.reference.hw2.judges generators, the
registry's sizes); models are built after `torch.manual_seed(seed)`, as the probe does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nyu_dl_hw2.reference.hw2 import judges  # noqa: E402
from nyu_dl_hw2.reference.hw2.solutions import load_solution_namespace  # noqa: E402


def _exec_variant(ns: dict, source: str) -> dict:
    ns = dict(ns)
    exec(compile(source, "<variant>", "exec"), ns)  # noqa: S102 - our own test sources
    return ns


def variants() -> dict[str, dict]:
    from tests.hw2.test_planted_bugs import ONE_CONV_CNN
    from tests.hw2.test_variety import EMBEDDING_RNN, SCALAR_DELAY_RNN

    cnn = load_solution_namespace("hw2_cnn.ipynb")
    rnn = load_solution_namespace("hw2_rnn.ipynb")
    sigmoid = _exec_variant(cnn, "class CNN(CNN):\n    def __init__(self):\n        super().__init__()\n"
                                 "        self.fc = nn.Linear(32, 1)\n"
                                 "    def forward(self, x):\n        return torch.sigmoid(super().forward(x)).squeeze(1)\n")
    return {
        "cnn": {"reference": cnn, "one-conv": _exec_variant(cnn, ONE_CONV_CNN), "sigmoid": sigmoid},
        "rnn": {"reference": rnn, "embedding": _exec_variant(rnn, EMBEDDING_RNN.replace("print(", "(")),
                "scalar-delay": _exec_variant(rnn, SCALAR_DELAY_RNN)},
    }


def score(model, inputs, metric, d) -> float:
    model.eval()
    with torch.no_grad():
        out = torch.cat([model(*[x[i:i + 250] for x in inputs]) for i in range(0, len(inputs[0]), 250)])
    return metric(out.numpy(), d)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--data-seeds", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)
    v = variants()
    rows = []
    for data_seed in range(args.data_seeds):
        rng = lambda: np.random.default_rng(1000 + data_seed)  # noqa: E731
        cnn_d = judges.cnn_data(rng(), n=48)
        echo_d = judges.echo_eval(rng(), n=500, seq_length=20, delay=4)
        var_d = judges.variable_eval(rng(), n=500, seq_length=20, max_delay=12)
        for name, ns in v["cnn"].items():
            x = torch.as_tensor(cnn_d["images"])
            for s in range(args.seeds):
                torch.manual_seed(s)
                rows.append(("cnn.train", name, score(ns["CNN"](), [x], judges.binary_accuracy, cnn_d)))
        for name, ns in v["rnn"].items():
            hidden = ns.get("HIDDEN_SIZE", 128)
            embed = name == "embedding"
            x = torch.as_tensor(echo_d["seq"] if embed else echo_d["onehot"])
            xv = torch.as_tensor(var_d["seq"] if embed else var_d["onehot"])
            for s in range(args.seeds):
                torch.manual_seed(s)
                m = ns["GRUMemory"](hidden, "cpu") if embed else ns["GRUMemory"](hidden)
                rows.append(("rnn.train", name, score(m, [x], judges.echo_accuracy, echo_d)))
                torch.manual_seed(s)
                m = ns["VariableDelayGRUMemory"](hidden, 12)
                rows.append(("rnn.vd_train", name, score(m, [xv, torch.as_tensor(var_d["delays"])],
                                                         judges.echo_accuracy, var_d)))
    print(f"untrained scores, {args.seeds} model seeds x {args.data_seeds} hidden-data seeds")
    print(f"{'check':<13} {'model':<14} {'min':>6} {'mean':>6} {'max':>6}")
    for check in ("cnn.train", "rnn.train", "rnn.vd_train"):
        for name in dict.fromkeys(n for c, n, _ in rows if c == check):
            vals = np.array([val for c, n, val in rows if c == check and n == name])
            print(f"{check:<13} {name:<14} {vals.min():6.3f} {vals.mean():6.3f} {vals.max():6.3f}")


if __name__ == "__main__":
    main()
