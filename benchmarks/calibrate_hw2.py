"""Calibrate the HW2 training checks with the reference solution (in-process, no sandbox).

For each training check, train the reference's own functions on grader-made data
(``nyu_dl_hw2.reference.hw2.data``) under a wall-clock budget and measure the hidden-data accuracy.
The numbers say which budgets and thresholds a full-score submission passes with margin.

    python benchmarks/calibrate_hw2.py                 # everything (about 15-20 minutes)
    python benchmarks/calibrate_hw2.py echo cnn        # some parts
    python benchmarks/calibrate_hw2.py --quick         # tiny budgets, a smoke run
    python benchmarks/calibrate_hw2.py --json out.json

Parts: echo (fixed delay 4), variable (variable delay), cnn, moe, seq (seq_classification
Section 8: per-epoch time and loss-spike ratios, course procedure vs solution), and, not
in the default set, cnn-heavy (the CNN check with a CPU-hungry student-like model) and
notebooks (execute whole solution notebooks in IPython and time them).
Timings depend on the machine and its load; torch runs with --threads threads (default 1,
as a grader child would).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from nyu_dl_hw2.reference.hw2 import data  # noqa: E402
from nyu_dl_hw2.reference.hw2.metrics import echo_score, spikes, worst_climb  # noqa: E402
from nyu_dl_hw2.reference.hw2.solutions import load_solution_namespace, load_starter_namespace  # noqa: E402

ROWS: list[dict] = []


def row(part: str, setting: str, seconds: float, metric: str, value: float, **extra) -> None:
    r = {"part": part, "setting": setting, "seconds": round(seconds, 2), "metric": metric,
         "value": round(float(value), 4), **extra}
    ROWS.append(r)
    extras = " ".join(f"{k}={v}" for k, v in extra.items())
    print(f"  {part:<9} {setting:<34} {seconds:8.1f}s  {metric}={value:.4f}  {extras}", flush=True)


class TimedBatches:
    """Yields grader-made batches until `seconds` have passed (checked before each batch)."""

    def __init__(self, make_batch, seconds: float, max_batches: int | None = None):
        self.make_batch = make_batch
        self.seconds = seconds
        self.max_batches = max_batches
        self.batches = 0
        self.started = None

    def __iter__(self):
        self.started = time.perf_counter()
        i = 0
        while time.perf_counter() - self.started < self.seconds:
            if self.max_batches is not None and i >= self.max_batches:
                break
            yield self.make_batch(i)
            i += 1
            self.batches = i


# ---------------------------------------------------------------------------
def echo_model_accuracy(model, strings, delays) -> float:
    model.eval()
    if isinstance(delays, int):
        outs = [model.test_run(s) for s in strings]
    else:
        outs = [model.test_run(s, int(d)) for s, d in zip(strings, delays)]
    return echo_score(strings, outs, delays)


def calibrate_echo(budgets, batch_size=64, delay=4, seed=0, lr=None):
    ns = load_solution_namespace("hw2_rnn.ipynb")
    if lr is not None:
        ns["LEARNING_RATE"] = lr
    print(f"echo (fixed delay 4): GRUMemory({ns['HIDDEN_SIZE']}) + train_model (Adam lr {ns['LEARNING_RATE']}),"
          f" batches of {batch_size}, length 15-20")
    strings = data.echo_strings(500, seed=10_000 + seed)
    for budget in budgets:
        torch.manual_seed(seed)
        model = ns["GRUMemory"](ns["HIDDEN_SIZE"])

        def make(i):
            length = 15 + (i % 6)
            s, t = data.echo_batches(batch_size, length, delay, seed=seed * 1_000_003 + i)
            return torch.from_numpy(s), torch.from_numpy(t)

        loader = TimedBatches(make, budget)
        t0 = time.perf_counter()
        loss = ns["train_model"](model, loader)
        train_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        acc = echo_model_accuracy(model, strings, delay)
        row("echo", f"lr {ns['LEARNING_RATE']:g}, budget {budget}s", train_s, "acc", acc, batches=loader.batches,
            samples=loader.batches * batch_size, last_mean_loss=round(loss, 4),
            eval_s=round(time.perf_counter() - t1, 2))


def calibrate_variable(budgets, max_delays, batch_size=64, seq_length=20, seed=0, hidden=None):
    ns = load_solution_namespace("hw2_rnn.ipynb")
    hidden = hidden or 256
    print(f"variable delay: VariableDelayGRUMemory({hidden}, max_delay) + train_variable_delay_model,"
          f" batches of {batch_size}, length {seq_length}")
    rng = np.random.default_rng(20_000 + seed)
    strings = data.echo_strings(500, seed=30_000 + seed, min_len=seq_length, max_len=seq_length)
    for max_delay in max_delays:
        delays = rng.integers(0, max_delay + 1, size=len(strings))
        for budget in budgets:
            torch.manual_seed(seed)
            model = ns["VariableDelayGRUMemory"](hidden, max_delay)

            def make(i, max_delay=max_delay):
                s, d, t = data.variable_delay(batch_size, seq_length, max_delay, seed=seed * 1_000_003 + i)
                return torch.from_numpy(s), torch.from_numpy(d), torch.from_numpy(t)

            loader = TimedBatches(make, budget)
            t0 = time.perf_counter()
            ns["train_variable_delay_model"](model, loader)
            train_s = time.perf_counter() - t0
            acc = echo_model_accuracy(model, strings, delays)
            row("variable", f"max_delay {max_delay}, budget {budget}s", train_s, "acc", acc,
                batches=loader.batches, samples=loader.batches * batch_size)


class HeavyStudentCNN(torch.nn.Module):
    """What a student might write without minding the CPU: full-resolution first layers."""

    def __init__(self):
        super().__init__()
        nn = torch.nn
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2))
        self.res = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                                 nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32))
        self.tail = nn.Sequential(nn.ReLU(), nn.MaxPool2d(4), nn.Conv2d(32, 64, 3, padding=1),
                                  nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.fc = nn.Linear(64, 2)

    def forward(self, x):
        x = self.stem(x)  # 32 x 128 x 128
        x = x + self.res(x)
        return self.fc(self.tail(x).flatten(1))


def calibrate_cnn(max_seconds, batch_sizes, eval_every=5, seed=0, lr=1e-3, heavy=False):
    which = "HeavyStudentCNN()" if heavy else "CNN()"
    print(f"cnn: {which} + get_loss_and_correct + step, Adam lr 1e-3, fresh synthetic batches of 256x256")
    ns = dict(load_solution_namespace("hw2_cnn.ipynb"))
    if heavy:
        ns["CNN"] = HeavyStudentCNN
    Xv, yv = data.cnn_images(64, seed=50_000 + seed)
    Xv, yv = torch.from_numpy(Xv), torch.from_numpy(yv)
    crit = torch.nn.CrossEntropyLoss()
    for bs in batch_sizes:
        torch.manual_seed(seed)
        model = ns["CNN"]()
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        reached = {}
        t_train = 0.0
        step_i = 0
        best = 0.0
        t_gen = 0.0
        while t_train < max_seconds:
            g0 = time.perf_counter()
            X, y = data.cnn_images(bs, seed=seed * 1_000_003 + step_i)
            batch = (torch.from_numpy(X), torch.from_numpy(y))
            t_gen += time.perf_counter() - g0
            t0 = time.perf_counter()
            model.train()
            loss, _ = ns["get_loss_and_correct"](model, batch, crit, "cpu")
            ns["step"](loss, opt)
            t_train += time.perf_counter() - t0
            step_i += 1
            if step_i % eval_every == 0:
                model.eval()
                with torch.no_grad():
                    acc = sum(int(ns["get_loss_and_correct"](model, (Xv[i:i + 16], yv[i:i + 16]), crit, "cpu")[1])
                              for i in range(0, 64, 16)) / 64
                best = max(best, acc)
                for thr in (0.8, 0.9, 0.95):
                    if acc > thr and thr not in reached:
                        reached[thr] = (step_i, t_train)
                if 0.95 in reached:
                    break
        per_step = t_train / max(step_i, 1)
        for thr in (0.8, 0.9, 0.95):
            st, sec = reached.get(thr, (None, math.nan))
            row("cnn", f"{'heavy, ' if heavy else ''}batch {bs}, acc > {thr}", sec, "steps", st if st is not None else -1,
                sec_per_step=round(per_step, 3), best_acc=best, gen_s_per_batch=round(t_gen / max(step_i, 1), 3))


def calibrate_moe(seeds=5):
    """moe.trained's thresholds come from benchmarks/calibrate_moe.py (linear model vs correct
    two-expert mixtures on the course's data); here a short run of its two key rows."""
    from benchmarks.calibrate_moe import run

    print(f"moe: linear model vs the reference's two-expert training, {seeds} seeds (calibrate_moe.py for all)")
    t0 = time.perf_counter()
    report = run(["linear", "ref"], seeds, hidden=4000)
    for name, stats in report.items():
        row("moe", f"{name}, min over {seeds} seeds", time.perf_counter() - t0, "acc", stats["min"],
            median=round(stats["median"], 4), max=round(stats["max"], 4))


def spike_stats(losses):
    ratios = [losses[t] / losses[t - 1] for t in range(1, len(losses))]
    rises = [losses[t] - losses[t - 1] for t in range(1, len(losses))]
    worst = 1 + max(range(len(ratios)), key=ratios.__getitem__)
    # the seq checks' own measure (per-step runs and thresholds: benchmarks/calibrate_seq.py)
    return {"max_ratio": round(max(ratios), 3), "at_epoch": worst, "max_rise": round(max(rises), 4),
            "spikes": len(spikes(losses)), "worst_climb": round(worst_climb(losses), 3)}


def calibrate_seq(epochs=100, seeds=(1,)):
    print(f"seq: Section 8 (MODERATE, batch 32, hidden 12, RMSprop lr 1e-3, {epochs} epochs), "
          "course procedure vs solution")
    for which, loader in (("course", load_starter_namespace), ("solution", load_solution_namespace)):
        for seed in seeds:
            ns = loader("seq_classification.ipynb")
            T = ns["TemporalOrderExp6aSequence"]
            torch.manual_seed(seed)
            level = T.DifficultyLevel.MODERATE
            tr = T.get_predefined_generator(level, 32)
            te = T.get_predefined_generator(level, 32)
            model = ns["SimpleLSTM"](tr.n_symbols, 12, tr.n_classes)
            opt = torch.optim.RMSprop(model.parameters(), lr=0.001)
            t0 = time.perf_counter()
            hist = ns["train_and_test"](model, tr, te, torch.nn.CrossEntropyLoss(), opt, epochs, verbose=False)
            sec = time.perf_counter() - t0
            st = spike_stats(hist["train"]["loss"])
            row("seq", f"{which}, seed {seed}", sec, "final_test_acc", hist["test"]["acc"][-1] / 100,
                per_epoch_s=round(sec / epochs, 3), first_loss=round(hist["train"]["loss"][0], 4), **st)
            ROWS[-1]["train_loss"] = [round(v, 5) for v in hist["train"]["loss"]]
            # hidden-data accuracy with the grader's generator
            x, y = data.temporal_order(512, "MODERATE", seed=80_000 + seed)
            with torch.no_grad():
                pred = model(torch.from_numpy(x))[:, -1, :].argmax(1).numpy()
            row("seq", f"{which}, seed {seed}, hidden data", 0.0, "acc", float((pred == y.argmax(1)).mean()))


def run_notebooks(names, starter=False):
    """Execute whole notebooks top to bottom in an IPython shell; time each cell.

    Shell escapes (``!wget ...``) are not run: the system hook is replaced by a no-op.
    matplotlib uses the Agg backend. An exception in a cell is reported and stops that
    notebook (as in Jupyter).
    """
    import os

    os.environ.setdefault("MPLBACKEND", "Agg")
    if not hasattr(np, "unicode_"):  # the grader's shim for the course's NumPy-1 idiom
        np.unicode_ = np.str_
    from IPython.core.interactiveshell import InteractiveShell

    from nyu_dl_hw2.reference.hw2 import solution_notebooks, starter_notebooks

    nbs = starter_notebooks() if starter else solution_notebooks()
    print(f"notebooks ({'starter' if starter else 'solution'}), executed cell by cell in IPython")
    for name in names:
        shell = InteractiveShell.instance()
        shell.system = lambda cmd: None  # no downloads here
        shell.reset(new_session=True)
        nb = nbs[name]
        total = 0.0
        failed = None
        slowest = (0.0, -1)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            t0 = time.perf_counter()
            res = shell.run_cell(cell.source, silent=True)
            dt = time.perf_counter() - t0
            total += dt
            slowest = max(slowest, (dt, i))
            if not res.success:
                err = res.error_in_exec or res.error_before_exec
                failed = f"cell {i}: {type(err).__name__}: {err}"
                break
        row("notebook", name, total, "ok", 0.0 if failed else 1.0,
            slowest_cell=slowest[1], slowest_s=round(slowest[0], 1), error=failed or "")
        InteractiveShell.clear_instance()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("parts", nargs="*", default=["echo", "variable", "cnn", "moe", "seq"])
    ap.add_argument("--quick", action="store_true", help="tiny budgets: check the script runs")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--echo-budgets", default="20,40,60")
    ap.add_argument("--echo-lr", type=float, default=None, help="override the reference's Adam lr (3e-3)")
    ap.add_argument("--variable-budgets", default="120,240,420")
    ap.add_argument("--max-delays", default="12,8")
    ap.add_argument("--cnn-seconds", type=float, default=120)
    ap.add_argument("--cnn-batches", default="8,16")
    ap.add_argument("--seq-epochs", type=int, default=100)
    ap.add_argument("--seq-seeds", default="1")
    ap.add_argument("--notebooks", default="hw2_moe.ipynb,hw2_cnn.ipynb,seq_classification.ipynb,hw2_rnn.ipynb",
                    help="for the 'notebooks' part: which notebooks to execute end to end")
    ap.add_argument("--starter", action="store_true", help="'notebooks' part: run the starters instead")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ints = lambda s: [int(v) for v in s.split(",") if v]  # noqa: E731
    if args.quick:
        args.echo_budgets, args.variable_budgets, args.max_delays = "2", "2", "4"
        args.cnn_seconds, args.cnn_batches, args.seq_epochs = 3, "8", 2
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    started = time.perf_counter()
    for part in args.parts:
        if part == "echo":
            calibrate_echo(ints(args.echo_budgets), lr=args.echo_lr)
        elif part == "variable":
            calibrate_variable(ints(args.variable_budgets), ints(args.max_delays))
        elif part == "cnn":
            calibrate_cnn(args.cnn_seconds, ints(args.cnn_batches))
        elif part == "cnn-heavy":
            calibrate_cnn(args.cnn_seconds, ints(args.cnn_batches), heavy=True)
        elif part == "moe":
            calibrate_moe()
        elif part == "seq":
            calibrate_seq(args.seq_epochs, tuple(ints(args.seq_seeds)))
        elif part == "notebooks":
            run_notebooks(args.notebooks.split(","), starter=args.starter)
        else:
            ap.error(f"unknown part {part!r}")
    print(f"\n{'part':<9} {'setting':<34} {'seconds':>8}  metric")
    for r in ROWS:
        print(f"{r['part']:<9} {r['setting']:<34} {r['seconds']:>8}  {r['metric']}={r['value']}")
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(ROWS, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
