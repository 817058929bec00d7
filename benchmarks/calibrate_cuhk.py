"""Margins of the CUHK ELEG 5491 HW2 problem 5 thresholds (courses/cuhk_eleg5491/cuhk-eleg5491-2017-hw2.yaml).

    python benchmarks/calibrate_cuhk.py init            # He measure over many seeds, per init scheme (~20 s)
    python benchmarks/calibrate_cuhk.py train [--seeds 3]   # cifar.train under kernel variants x threads

`init` builds the reference network with each initialisation scheme a student may use and
prints the judged measure (reference.cuhk.judges.he_measure: min over hidden layers of
min(r, 1/r), r = n_l Var[w_l] / 2) as min / median / max over seeds. `train` runs the
check's training (the `supervised` driver's loop: SGD lr 0.001, momentum 0.9, wd 5e-4,
600 batches of 64 of the grader's CIFAR-like data) and the hidden accuracy, in a fresh
process per variant (ATEN_CPU_CAPABILITY, torch threads), for several data seeds; plus
the untrained accuracy (the check's `before` band).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = (("native", {}, 1), ("default", {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE",
                                            "ONEDNN_MAX_CPU_ISA": "SSE41"}, 1),
            ("avx2", {"ATEN_CPU_CAPABILITY": "avx2"}, 2), ("avx512", {"ATEN_CPU_CAPABILITY": "avx512"}, 4))


def _namespace() -> dict:
    from cuhk_eleg5491.reference.notebooks import HE_NET, IMPORTS, NET

    ns: dict = {}
    for src in (IMPORTS, NET, HE_NET):
        exec(src, ns)  # noqa: S102 - our own reference code
    return ns


def _layers(model):
    import torch.nn as nn

    from cuhk_eleg5491.reference.judges import Layer

    out = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            out.append(Layer("conv", m.in_channels, m.out_channels, tuple(m.kernel_size), (4, 4),
                             m.weight.detach().numpy(), ()))
        elif isinstance(m, nn.Linear):
            out.append(Layer("linear", m.in_features, m.out_features, (), (), m.weight.detach().numpy(), ()))
    return out


def init_table(seeds: int) -> None:
    import numpy as np
    import torch
    import torch.nn as nn

    from cuhk_eleg5491.reference.judges import he_measure

    ns = _namespace()

    def scheme(fn):
        def build():
            net = ns["Net"]()
            for m in net.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    fn(m.weight)
            return net
        return build

    schemes = {
        "reference HeNet (normal, fan_in)": ns["HeNet"],
        "kaiming_normal_ relu fan_in": scheme(lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
        "kaiming_uniform_ relu fan_in": scheme(lambda w: nn.init.kaiming_uniform_(w, nonlinearity="relu")),
        "kaiming_normal_ relu fan_out": scheme(lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")),
        "PyTorch default": ns["Net"],
        "xavier_normal_": scheme(nn.init.xavier_normal_),
        "normal std 0.01 (the course's Caffe default)": scheme(lambda w: nn.init.normal_(w, 0.0, 0.01)),
        "kaiming_normal_ linear gain (Var 1/n)": scheme(lambda w: nn.init.kaiming_normal_(w, nonlinearity="linear")),
    }
    for name, build in schemes.items():
        vals = []
        for s in range(seeds):
            torch.manual_seed(s)
            vals.append(he_measure(_layers(build()))[0])
        v = np.array(vals)
        print(f"{name:48s} min {v.min():.3f}  median {np.median(v):.3f}  max {v.max():.3f}  ({seeds} seeds)")


def train_one(seed: int) -> dict:
    """One run of the check's training in this process (the variant is the environment)."""
    import numpy as np
    import torch
    import torch.nn as nn

    from cuhk_eleg5491.reference.judges import accuracy, cifar_data

    torch.set_num_threads(int(os.environ.get("CAL_THREADS", "1")))
    ns = _namespace()
    rng = np.random.default_rng(seed)
    train, hidden = cifar_data(rng, 4096), cifar_data(rng, 1000)
    torch.manual_seed(0)
    model = ns["Net"]()
    with torch.no_grad():
        model.eval()
        before = accuracy(model(torch.from_numpy(hidden["images"])).numpy(), hidden)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()
    x, y = torch.from_numpy(train["images"]), torch.from_numpy(train["labels"])
    g = torch.Generator().manual_seed(seed)
    steps = 0
    while steps < 600:
        perm = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
            steps += 1
            if steps == 600:
                break
    model.eval()
    with torch.no_grad():
        after = accuracy(model(torch.from_numpy(hidden["images"])).numpy(), hidden)
    return {"before": before, "after": after, "capability": torch.backends.cpu.get_cpu_capability()}


def train_table(seeds: int) -> None:
    for name, env, threads in VARIANTS:
        row = []
        for seed in range(seeds):
            out = subprocess.run([sys.executable, __file__, "_one", str(seed)], capture_output=True, text=True,
                                 env={**os.environ, **env, "CAL_THREADS": str(threads),
                                      # OpenMP's spin-wait makes 2-4 threads crawl on a loaded machine
                                      # (one batch took 2.5 s at load 22): passive waiting, same arithmetic
                                      "OMP_WAIT_POLICY": "PASSIVE"}, check=True)
            row.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"{name:8s} threads {threads}: " + "; ".join(
            f"seed {s}: before {r['before']:.3f} after {r['after']:.3f} ({r['capability']})" for s, r in enumerate(row)),
            flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("init", "train", "_one"))
    ap.add_argument("seed", nargs="?", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=None)
    a = ap.parse_args()
    if a.what == "init":
        init_table(a.seeds or 200)
    elif a.what == "train":
        train_table(a.seeds or 3)
    else:
        print(json.dumps(train_one(a.seed)))


if __name__ == "__main__":
    main()
