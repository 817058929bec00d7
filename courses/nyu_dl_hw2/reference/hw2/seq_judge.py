"""seq_classification, Section 8: does the student's training procedure still spike?

The course's procedure (RMSprop, lr 1e-3, no clipping) spikes: once the loss is near 0
it jumps back toward, or above, the initial loss ln 4 = 1.386. The task is chaotic:
whether and where one run spikes depends on the last bits of the arithmetic, so the same
procedure spikes on one machine (kernel set, thread count) and not on another, and one
curve cannot decide. What does not flip is how *often* a procedure spikes:

* **Several runs of the student's own procedure.** The notebook's full run (its seed)
  plus re-runs of the cells that trained Section 8's model under the grader's seeds
  (``rerun_training`` probe: the student's cells, any shape of fix, with
  ``torch.manual_seed`` pinned). Each run's loss curve is recomputed here from weight
  snapshots of the student's ``SimpleLSTM`` (every ``every`` optimizer steps: the
  course's spikes are short, most recover within an epoch, so one point per epoch misses
  most of them), with the provided model class, on grader data.
* **A spike is what the course means**: once the loss has fallen to ``armed`` x ln 4
  (the task nearly learned), a climb back at least ``climb`` of the way from its running
  minimum to ln 4 (metrics.spikes). Jitter near zero (0.038 -> 0.126: 6 % of the way) is
  no spike; relapses while still learning (0.45 -> 1.2, seen in robust fixes too) are
  not counted either.
* **Score by runs**: a run is judged when it learned something (loss below ``learned`` x
  ln 4; a run stuck on the plateau is no evidence either way, and if no run learned the
  check fails; a run that could not be re-run counts and is not clean). ``seq.no_spikes`` earns
  ``(clean - lucky) / (judged - lucky - spiky_allowed)`` of its points (at most all),
  ``clean`` being the judged runs without a spike: one clean run can be luck (the course's
  own procedure has runs with few spikes), and one spiky run of a smooth procedure can be
  chaos (the reference's procedure spiked in one of three runs with two torch threads, in
  issue 9's run), so with three runs, ``lucky: 1`` and ``spiky_allowed: 1`` it is a
  majority vote: two or three clean -> full, one or none -> nothing. Calibration on the
  course's data (benchmarks/calibrate_seq_direct.py; numbers in the registry and in
  benchmarks/results/calibration-seq.md) found the course's procedure spiking in 9 of 9
  runs over three kernel variants (largest climbs 0.52 to 2.96 of the way back) and the
  reference's runs at most 0.35 on any evaluation set: the threshold is half way back
  (``climb: 0.5``; it was 0.3, which one relapse of the reference while still learning
  crossed on the graded set and not on others), and both verdicts are decided by runs
  far from it (the course's second-weakest run 0.85, the reference's second-strongest
  0.12). Fixes that only damp the spikes (clip-norm 1.0 or 0.25, Adam 1e-3, weight decay
  + clamp hooks) spike in most runs and earn nothing; one that spikes now and then may
  earn nothing on one machine and all on another: such a procedure is chaotic itself,
  and the message shows every run so a TA can see why.
* ``seq.accuracy`` is judged on the same runs: the median over runs of the accuracy each
  run *held*: its lowest accuracy over the last ``tail`` of training, and for a run with a
  loss spike, from the moment it first reached ``reach`` (the task learned) to the end.
  The course's runs often *end* near 100 % between two spikes, and may have no spike in
  the last quarter (with two torch threads its notebook's run held 0.87 there: issue 9's
  starter earned a last-quarter accuracy check), but every course spike comes after the
  task was learned (a jump from a loss near 0) and drops the accuracy to ~25 %: held from
  ``reach`` on, it counts wherever it falls. A run without a spike is judged on its last
  quarter only: its relapses while still learning (the reference's seed-2 run, one
  thread: 0.43 after first reaching 0.9) are no spike here either. One unlucky run of a
  fix is not fatal (the median).

The feedback lists what the student changed in the procedure (seq_changes.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from grader.api import Measure, Reply, Request, Verdict, rng_for

from . import data
from .metrics import LN4, SPIKE_ARMED, SPIKE_CLIMB, Spike, spikes, worst_climb

RERUN = "rerun_training"


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


@dataclass(frozen=True)
class SeqRun:
    """One run of the procedure, as recomputed here."""

    label: str  # "the notebook's run" or "seed N"
    steps: tuple[int, ...] = ()
    losses: tuple[float, ...] = ()
    accs: tuple[float, ...] = ()
    spikes: tuple[Spike, ...] = ()
    learned: bool = False  # judged: the loss fell below `learned` x ln 4
    error: str = ""
    top: float = 0.0  # the largest climb back toward ln 4, spike or not (the measured value)

    @property
    def clean(self) -> bool:
        return not self.error and self.learned and not self.spikes

    @classmethod
    def from_curve(cls, label: str, steps, losses, accs, params: Mapping[str, Any]) -> "SeqRun":
        """A run judged with the registry's `learned`, `armed` and `climb`."""
        losses = tuple(float(v) for v in losses)
        armed = float(params.get("armed", SPIKE_ARMED))
        found = spikes(losses, LN4, armed, float(params.get("climb", SPIKE_CLIMB)))
        return cls(label, tuple(int(s) for s in steps), losses, tuple(float(a) for a in accs), tuple(found),
                   learned=min(losses, default=math.inf) <= float(params.get("learned", 0.75)) * LN4,
                   top=worst_climb(losses, LN4, armed))

    def held_accuracy(self, tail: float, reach: float | None = None) -> float:
        """The lowest accuracy over the last `tail` of the run; for a run with a loss spike
        (given `reach`), from the first point at or above `reach` to the end, so that a spike
        counts wherever it falls (0.0 for a failed run). Relapses of a run without a spike,
        while it is still learning, are not counted, as in `spikes`."""
        if self.error or not self.accs:
            return 0.0
        first = next((i for i, a in enumerate(self.accs) if a >= reach), None) \
            if reach is not None and self.spikes else None
        if first is not None:
            return min(self.accs[first:])
        k = max(1, int(round(len(self.accs) * tail)))
        return min(self.accs[-k:])

    def summary(self) -> str:
        if self.error:
            return f"{self.label}: {self.error}"
        if not self.learned:
            return f"{self.label}: never learned (lowest loss {min(self.losses):.3f})"
        if not self.spikes:
            return f"{self.label}: no spike (loss {self.losses[0]:.3f} -> {self.losses[-1]:.3f})"
        s = max(self.spikes, key=lambda sp: sp.climb)
        return (f"{self.label}: {len(self.spikes)} spike(s), the highest at optimizer step "
                f"{self.steps[s.peak]}: {s.low:.3f} -> {s.high:.3f} ({_pct(s.climb)} of the way back to ln 4)")


def _pct(frac: float) -> str:
    return "all" if not math.isfinite(frac) else f"{100 * frac:.0f} %"


def _timed_out(reply: Reply) -> bool:
    """A re-run stopped by a time limit (the probe's wall-clock net or the child's CPU limit)."""
    return not reply.ok and (reply.status == "timeout" or reply.error_type in ("Timeout", "CpuLimit"))


class _Evaluator:
    """The provided model class (the reference's copy, from the solution notebook `solution`)
    loaded with each snapshot in turn; its sizes are read from the state-dict entries `keys`
    (input-to-hidden LSTM weight, output weight), which differ between terms."""

    def __init__(self, x: np.ndarray, y: np.ndarray, solution: str, class_name: str, keys: tuple[str, str]):
        import torch

        self.solution, self.class_name, self.keys = solution, class_name, keys
        self.torch = torch
        self.x = torch.as_tensor(x, dtype=torch.float32)
        self.target = torch.as_tensor(y.argmax(axis=1))
        self.models: dict[tuple[int, int, int], Any] = {}

    def model(self, state: Mapping[str, np.ndarray]) -> Any:
        from .solutions import load_solution_namespace

        w_ih, w_out = np.asarray(state[self.keys[0]]), np.asarray(state[self.keys[1]])
        shape = (int(w_ih.shape[1]), int(w_ih.shape[0] // 4), int(w_out.shape[0]))
        if shape not in self.models:
            self.models[shape] = load_solution_namespace(self.solution)[self.class_name](*shape).eval()
        m = self.models[shape]
        m.load_state_dict({k: self.torch.as_tensor(np.asarray(v, dtype=np.float32)) for k, v in state.items()},
                          strict=True)
        return m

    def twin(self) -> "_Evaluator":
        """A copy with models of its own (the data shared, read only), for a run in another thread."""
        import copy

        twin = copy.copy(self)
        twin.models = {shape: copy.deepcopy(m) for shape, m in self.models.items()}
        return twin

    def curve(self, states: list[Mapping[str, np.ndarray]]) -> tuple[list[float], list[float]]:
        F = self.torch.nn.functional
        losses, accs = [], []
        with self.torch.no_grad():
            for state in states:
                logits = self.model(state)(self.x)[:, -1, :]
                losses.append(float(F.cross_entropy(logits, self.target)))
                accs.append(float((logits.argmax(dim=1) == self.target).double().mean()))
        return losses, accs


def _pick(snaps: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Snapshots of the instance trained longest (ties: the one first seen last), by step."""
    by_instance: dict[int, list[Mapping[str, Any]]] = {}
    for s in snaps:
        by_instance.setdefault(int(s["instance"]), []).append(s)
    if not by_instance:
        return []
    instance = max(by_instance, key=lambda k: (len(by_instance[k]), k))
    return sorted(by_instance[instance], key=lambda s: int(s["step"]))


class SeqTraining:
    """`part: spikes` or `part: accuracy`; both parts share one set of runs."""

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        problems = []
        if params.get("part") not in ("spikes", "accuracy"):
            problems.append(("part", f"unknown part {params.get('part')!r}", "spikes or accuracy"))
        seeds = params.get("seeds", [])
        if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            problems.append(("seeds", "must be a list of integers", "e.g. seeds: [2, 3]"))
        for key, kind in (("spiky_allowed", int), ("lucky", int), ("reach", float)):
            v = params.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0
                                  or (kind is int and not isinstance(v, int))):
                problems.append((key, f"must be a non-negative {'integer' if kind is int else 'number'}",
                                 f"e.g. {key}: {1 if kind is int else 0.9}"))
        if params.get("part") == "accuracy" and not isinstance(params.get("thresholds"), Mapping):
            problems.append(("thresholds", "missing", "e.g. {zero: 0.5, full: 0.95}"))
        return problems

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        from grader.api import SNAPSHOT

        out = {"snap": Request(SNAPSHOT, {"class_name": params.get("class", "SimpleLSTM"),
                                          "every": int(params.get("every", 8)),
                                          "max_count": int(params.get("max_count", 2000))}, timeout=check.timeout)}
        for s in params.get("seeds", []):
            out[f"seed{s}"] = Request(RERUN, {"seed": int(s)}, timeout=float(params.get("rerun_timeout", 600)))
        return out

    # -- the runs ------------------------------------------------------------------------
    _last: tuple[Any, Any, Any] | None = None  # (snapshot reply, key, runs): both parts share one computation

    def runs(self, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any, check: Any) -> list[SeqRun]:
        snap = replies.get("snap")
        shared = tuple(repr(params.get(k)) for k in ("seeds", "every", "n", "difficulty", "learned", "armed", "climb",
                                                     "min_snapshots"))
        key = (shared, check.public, ctx.seed, tuple((k, id(r)) for k, r in sorted(replies.items())))
        cached = SeqTraining._last
        if cached is not None and cached[0] is snap and cached[1] == key:
            return cached[2]
        result = self._compute(params, replies, ctx, check)
        SeqTraining._last = (snap, key, result)
        return result

    def _compute(self, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any, check: Any) -> list[SeqRun]:
        snaps = list(replies["snap"].value or [])
        minimum = int(params.get("min_snapshots", 50))
        ranges: list[tuple[str, tuple[int, int] | None, str]] = []
        for s in params.get("seeds", []):
            r = replies.get(f"seed{s}")
            if r is not None and r.ok and isinstance(r.value, Mapping):
                try:
                    lo, hi = (int(v) for v in r.value["steps"])
                    ranges.append((f"seed {s}", (lo, hi), ""))
                    continue
                except (KeyError, TypeError, ValueError):
                    pass
            why = r.error if r is not None else "not run"
            ranges.append((f"seed {s}", None, f"the procedure could not be re-run: {str(why).splitlines()[0][:200]}"))
        first_rerun = min((rg[0] for _, rg, _ in ranges if rg is not None), default=None)
        groups = [("the notebook's run",
                   [s for s in snaps if first_rerun is None or int(s["step"]) <= first_rerun], "")]
        groups += [(label, [s for s in snaps if rg is not None and rg[0] < int(s["step"]) <= rg[1]], err)
                   for label, rg, err in ranges]
        x, y = data.temporal_order(int(params.get("n", 256)), params.get("difficulty", "MODERATE"),
                                   _seed(rng_for(ctx, "seq.curve", public=check.public)))
        keys = params.get("state_keys") or {}
        evaluator = _Evaluator(x, y, str(params.get("solution") or check.notebook), str(params.get("class", "SimpleLSTM")),
                               (str(keys.get("input", "lstm.weight_ih_l0")), str(keys.get("output", "linear.weight"))))
        runs: list[SeqRun | None] = []
        todo: list[tuple[int, str, list[Mapping[str, Any]]]] = []
        for label, group, err in groups:
            chosen = _pick(group)
            if err:
                runs.append(SeqRun(label, error=err))
                continue
            if len(chosen) < minimum:
                runs.append(SeqRun(label, error=f"only {len(chosen)} weight snapshots of SimpleLSTM (at least "
                                                f"{minimum} needed): did Section 8 train?"))
                continue
            todo.append((len(runs), label, chosen))
            runs.append(None)

        def judged(label: str, chosen: list[Mapping[str, Any]], ev: _Evaluator) -> SeqRun:
            try:
                losses, accs = ev.curve([s["state"] for s in chosen])
            except (KeyError, RuntimeError, ValueError) as exc:
                return SeqRun(label, error="the trained SimpleLSTM does not match the provided model: "
                                           f"{str(exc).splitlines()[0][:200]}")
            return SeqRun.from_curve(label, [s["step"] for s in chosen], losses, accs, params)

        # The runs' curves at once, each on its own copy of the evaluator (the same float ops,
        # so the same bits; the model is built once, here: copies draw no random numbers):
        # the grader's own share of the critical path (~6 s of one core) over the free cores.
        # Only with one torch thread (the default): with more, torch spreads each op already.
        evaluators = [evaluator]
        if len(todo) > 1 and evaluator.torch.get_num_threads() == 1:
            try:
                evaluator.model(todo[0][2][0]["state"])
            except (KeyError, RuntimeError, ValueError):
                pass  # `judged` says why, one run after the other
            else:
                evaluators += [evaluator.twin() for _ in todo[1:]]
        if len(evaluators) > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(max_workers=len(todo), thread_name_prefix="seq-curve") as pool:
                done = [(i, pool.submit(judged, label, chosen, ev)) for (i, label, chosen), ev in zip(todo, evaluators)]
            for i, future in done:
                runs[i] = future.result()
        else:
            for i, label, chosen in todo:
                runs[i] = judged(label, chosen, evaluator)
        return [r for r in runs if r is not None]

    # -- verdicts ------------------------------------------------------------------------
    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        snap = replies.get("snap")
        if snap is None or not snap.ok:
            return Verdict(0.0, f"recording the training failed: {snap.error if snap else 'not run'}", "error")
        cut = [c for c in getattr(ctx.notebook, "failed_cells", ()) if ": timeout" in c]
        if cut:
            return Verdict(0.0, f"timeout: a cell of the notebook's run hit the sandbox's time limit ({cut[0][:200]}); "
                                f"the run was cut short (Section 8's training takes ~30 s of CPU the course's "
                                f"way), so its spikes cannot be judged", "error")
        timed_out = [k for k, r in sorted(replies.items()) if k != "snap" and _timed_out(r)]
        if timed_out:
            # the wall-clock safety net, not a budget: a run cut short says nothing about spikes
            return Verdict(0.0, f"timeout: re-running Section 8's training ({', '.join(timed_out)}) hit the "
                                f"{float(params.get('rerun_timeout', 600)):g} s safety net (the course's procedure "
                                f"takes ~20 s of CPU); no verdict on a run cut short: regrade on a less loaded "
                                f"machine", "error")
        runs = self.runs(params, replies, ctx, check)
        if params["part"] == "accuracy":
            return accuracy_verdict(params, runs)
        v = spike_verdict(params, runs)
        return Verdict(v.fraction, v.message + " " + self._changes(replies, ctx), v.status, v.measure)

    @staticmethod
    def _changes(replies: Mapping[str, Reply], ctx: Any) -> str:
        from .seq_changes import describe_changes

        cells: list[str] = []
        for r in replies.values():
            if r.ok and isinstance(r.value, Mapping) and isinstance(r.value.get("sources"), list):
                cells = [str(c) for c in r.value["sources"]]
                break
        if not cells:
            why = "no re-run was asked" if len(replies) <= 1 else "the training could not be re-run"
            return f"Changes to the training procedure: unknown ({why})."
        found = describe_changes(cells, ctx.notebook.cell_sources)
        return ("Changes to the course's training procedure: " + "; ".join(found) + "."
                if found else "No change to the course's training procedure found in the code.")


def accuracy_verdict(params: Mapping[str, Any], runs: list[SeqRun]) -> Verdict:
    """seq.accuracy: the median over runs of the accuracy each run held (SeqRun.held_accuracy)."""
    tail = float(params.get("tail", 0.25))
    reach = float(params["reach"]) if params.get("reach") is not None else None
    zero, full = float(params["thresholds"]["zero"]), float(params["thresholds"]["full"])
    held = sorted(r.held_accuracy(tail, reach) for r in runs)
    value = float(np.median(held))
    frac = min(1.0, max(0.0, (value - zero) / (full - zero)))
    per_run = ", ".join(f"{r.label} {r.held_accuracy(tail, reach):.3f}" for r in runs)
    how = (f"accuracy held over the last {100 * tail:.0f} % of training (a run with a loss spike: from "
           f"the point it first reached {reach:g})" if reach is not None else
           f"accuracy held over the last {100 * tail:.0f} % of training")
    return Verdict(frac, f"{how}, median over {len(runs)} run{'s' if len(runs) != 1 else ''}: {value:.3f} "
                         f"({per_run}; full marks at {full:g}, none at {zero:g}; recomputed on grader data)",
                   measure=Measure(value, (zero, full), name="median over runs of the accuracy held (spiky runs: once reached)"))


def _deciding(climbs: list[float], frac: float, lucky: int, allowed: int) -> float:
    """The climb that decided the verdict (`climbs` ascending; margin = its distance to the
    threshold): for full marks the (allowed + 1)-th largest, which had to stay below it; for
    nothing the (lucky + 1)-th smallest, which had to reach it; else the median."""
    if frac >= 1.0:
        return climbs[max(0, len(climbs) - 1 - allowed)]
    if frac <= 0.0 and len(climbs) > lucky:
        return climbs[lucky]
    return float(np.median(climbs))


def spike_verdict(params: Mapping[str, Any], runs: list[SeqRun]) -> Verdict:
    """seq.no_spikes without the change report: points for the clean runs beyond the `lucky` first."""
    climb = float(params.get("climb", SPIKE_CLIMB))
    lucky = int(params.get("lucky", 1))
    allowed = int(params.get("spiky_allowed", 0))
    judged = [r for r in runs if r.error or r.learned]  # a run that could not be re-run earns nothing
    clean = sum(r.clean for r in judged)
    worst = sorted(math.inf if r.error else r.top for r in judged)
    if not any(r.learned for r in judged):
        frac, value = 0.0, 0.0
    else:
        # (clean - lucky) of (judged - lucky - allowed) runs: with 3 runs, lucky 1 and one spiky
        # run allowed, a majority vote (2 or 3 clean: full; 1 or 0: nothing)
        span = len(judged) - lucky - allowed
        frac = min(1.0, max(0, clean - lucky) / span) if span > 0 else float(clean == len(judged))
        value = _deciding(worst, frac, lucky, allowed)
    course = params.get("course", "")
    head = (f"{clean} of {len(runs)} runs of your Section 8 procedure without a loss spike"
            + (f" ({len(judged)} judged: a run that never learned is left out)" if len(judged) < len(runs) else "")
            + (f"; the course's procedure: {course}" if course else "")
            + (f"; points: (clean runs - {lucky}) / (judged runs - {lucky + allowed}), at most full: a clean run "
               f"can be luck" + (f", and {allowed} spiky run can be chaos" if allowed else "") if lucky else "")
            + ". ")
    if not any(r.learned for r in judged):
        head = f"no run of your Section 8 procedure learned (loss never below " \
               f"{float(params.get('learned', 0.75)):g} x ln 4), so its spikes cannot be judged. "
    lines = "; ".join(r.summary() for r in runs)
    rule = (f" A spike: once the loss is below {float(params.get('armed', SPIKE_ARMED)):g} x ln 4, a climb back "
            f"at least {_pct(climb)} of the way from its lowest point to ln 4 = {LN4:.3f} (losses recomputed "
            f"on grader data from the model's weights every {int(params.get('every', 8))} optimizer steps).")
    return Verdict(frac, head + lines + "." + rule,
                   measure=Measure(min(value, 99.0), (climb,), higher_is_better=False,
                                   name="largest climb back toward ln 4 (fraction of the way) of the deciding run"))
