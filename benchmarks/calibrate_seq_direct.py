"""Explore Section 8 procedures fast: run them in this process, no sandbox, no grading.

benchmarks/calibrate_seq.py grades each procedure's notebook through the sandbox (the
real path, ~1 min a grading). This script runs only what decides the seq verdicts: the
notebook's code cells up to Section 8's training cell, under each seed and torch thread
count, with the model's weights recorded every ``every`` optimizer steps (a global
optimizer step hook, as the sandbox's snapshotter does), then judges the runs with the
registry's seq parameters (reference/hw2/seq_judge.py) on the evaluation set a default
grading draws (``--eval grader``; before 2026-12-01 this script used data seed 12345, which
is why its avx2 seed-1 run was clean where the sandbox's was not), and reports the climbs
on further sets (data seeds) beside it. A kernel variant is a process:

    nice -n 10 python benchmarks/calibrate_seq_direct.py --procedures reference,course --threads 1,2,4
    python benchmarks/calibrate_seq_direct.py --variant avx2 --procedures reference --seeds 1,2,3,4

Prints one line per (procedure, threads): each run's spike count / largest climb / held
accuracy, and the two verdicts. ``--out`` appends JSON lines (the table of
calibrate_seq.py reads the same rows: ``--table``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from calibrate_seq import VARIANTS, _notebook, collect  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

SEED_CELL = "torch.manual_seed(1)"


def run_once(nb, seed: int, threads: int, every: int) -> tuple[list[int], list[dict]]:
    """Execute the notebook's code cells up to Section 8's training under `seed`; return the
    optimizer steps and weight snapshots of the trained model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from nyu_dl_hw2.reference.hw2.nb_seq_class import SUPPORT

    if str(SUPPORT.parent) not in sys.path:  # the class notebook imports `res.*`: the grader's stand-in
        sys.path.insert(0, str(SUPPORT.parent))
    np.unicode_ = np.str_  # the sandbox's shim for the course's NumPy-1 idiom
    plt.show = lambda *a, **k: plt.close("all")
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    train_at = max(i for i, src in enumerate(cells) if "train_and_test(model" in src)
    state = {"steps": 0, "snaps": [], "steps_at": []}
    ns: dict = {"np": np, "torch": torch, "__name__": "__main__"}

    def hook(optimizer, _args, _kwargs):
        state["steps"] += 1
        if state["steps"] % every == 0:
            params = optimizer.param_groups[0]["params"]
            state["snaps"].append([p.detach().numpy().copy() for p in params])
            state["steps_at"].append(state["steps"])

    import contextlib
    import io

    from torch.optim.optimizer import register_optimizer_step_post_hook

    handle = register_optimizer_step_post_hook(hook)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            for i, src in enumerate(cells[:train_at + 1]):
                if src.lstrip().startswith(("!", "%")):
                    continue
                exec(compile(src.replace(SEED_CELL, f"torch.manual_seed({seed})"), f"<cell {i}>", "exec"), ns)
    finally:
        handle.remove()
    names = list(ns["model"].state_dict().keys())
    return state["steps_at"], [dict(zip(names, s)) for s in state["snaps"]]


def _eval_sets(spec: str) -> list[tuple[str, int, int]]:
    """The evaluation sets a run's curve is recomputed on: ``grader`` is the one a default
    grading draws (the grader's default seed, hidden checks), so a run judged here gets the
    verdict the sandbox gives; other entries are data seeds (how much the verdict depends on
    which 256 sequences judge it); ``NAME:N`` draws N sequences instead of the registry's 256."""
    import numpy as np

    from grader.checks.base import case_seed
    from grader.grading import DEFAULT_SEED
    from nyu_dl_hw2.reference.hw2.seq_judge import _seed

    out = []
    for item in spec.split(","):
        name, _, n = item.partition(":")
        if name == "grader":
            data_seed = _seed(np.random.default_rng(case_seed(DEFAULT_SEED, "seq.curve", False)))  # seq_judge's
        else:
            data_seed = int(name)
        out.append((item, data_seed, int(n or 256)))
    return out


def worker(procedures: list[str], seeds: list[int], threads: list[int], variant: str, every: int,
           eval_spec: str = "grader") -> None:
    from nyu_dl_hw2.reference.hw2 import data
    from nyu_dl_hw2.reference.hw2.metrics import LN4, SPIKE_ARMED, worst_climb
    from nyu_dl_hw2.reference.hw2.seq_judge import _Evaluator

    evaluators = []
    for name, data_seed, n in _eval_sets(eval_spec):
        x, y = data.temporal_order(n, "MODERATE", data_seed)
        evaluators.append((name, _Evaluator(x, y, "seq_classification.ipynb", "SimpleLSTM",
                                            ("lstm.weight_ih_l0", "linear.weight"))))
    for proc in procedures:
        nb = _notebook(proc)
        for t in threads:
            runs, t0 = [], time.process_time()
            for s in seeds:
                steps, states = run_once(nb, s, t, every)
                import torch

                torch.set_num_threads(1)  # the grader's recomputation runs on one thread
                curves = [(name, *ev.curve(states)) for name, ev in evaluators]
                shown = []
                for name, losses, accs in curves:
                    tail = accs[-max(1, len(accs) // 4):]
                    shown.append(f"[{name}] climb {worst_climb(losses, LN4, SPIKE_ARMED):.2f}, lowest loss {min(losses):.3f}, "
                                 f"last quarter's lowest accuracy {min(tail):.3f}")
                print(f"{variant}-t{t} {proc} seed {s}: {time.process_time() - t0:.0f} s CPU; " + "; ".join(shown),
                      file=sys.stderr, flush=True)
                _, losses, accs = curves[0]
                runs.append({"label": f"seed {s}", "error": "", "steps": steps, "eval": curves[0][0],
                             "losses": [round(v, 5) for v in losses], "accs": [round(v, 5) for v in accs],
                             "other_evals": {name: {"losses": [round(v, 5) for v in ls], "accs": [round(v, 5) for v in ac]}
                                             for name, ls, ac in curves[1:]}})
            print(json.dumps({"variant": f"{variant}-t{t}", "procedure": proc,
                              "seconds": round(time.process_time() - t0, 1), "executed_ok": True, "points": {},
                              "runs": runs}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procedures", default="reference,course")
    ap.add_argument("--variants", default="native")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--every", type=int, default=8)
    ap.add_argument("--eval", default="grader,12345",
                    help="evaluation sets, the first judged: 'grader' (a default grading's) and/or data seeds")
    ap.add_argument("--out", default="")
    ap.add_argument("--worker", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    procs, seeds = a.procedures.split(","), [int(s) for s in a.seeds.split(",")]
    threads = [int(t) for t in a.threads.split(",")]
    if a.worker:
        worker(procs, seeds, threads, a.worker, a.every, a.eval)
        return
    from calibrate_seq import table

    rows = []
    out = open(a.out, "a") if a.out else None
    for variant in a.variants.split(","):
        # passive OpenMP waits: spinning threads would burn the shared cores (the numbers do not change)
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", **VARIANTS[variant])
        cmd = [sys.executable, __file__, "--worker", variant, "--procedures", a.procedures, "--seeds", a.seeds,
               "--threads", a.threads, "--every", str(a.every), "--eval", a.eval]
        rows += collect(cmd, env, out)
    table(rows)


if __name__ == "__main__":
    main()
