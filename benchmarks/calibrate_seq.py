"""Calibrate seq_classification's Section 8 checks (seq.no_spikes, seq.accuracy).

For each procedure of courses/nyu_dl_hw2/reference/hw2/seq_fixes.py (the course's, eight real fixes) and the
reference solution, build its notebook, grade it through the sandbox with the real
registry's seq checks, and print per kernel variant: every run's spike count, largest
climb back toward ln 4 and held accuracy, the checks' points, the measured value, the
thresholds and the margin; then, per procedure, the spread across variants and the gap
between the course's weakest run and the fixes' strongest one.

Each variant runs in its own process (the kernel choice is made when torch starts): the
sandbox child gets ATEN_CPU_CAPABILITY / ONEDNN_MAX_CPU_ISA / MKL_CBWR passed through, and
HW2_GRADER_THREADS sets its torch threads; the grader's own recomputation runs under the
same variables.

    nice -n 10 python benchmarks/calibrate_seq.py                       # all, variants native+portable
    python benchmarks/calibrate_seq.py --procedures course,reference --variants native,avx2,threads2
    python benchmarks/calibrate_seq.py --seeds 2,3,4,5,6               # more re-run seeds per grading
    python benchmarks/calibrate_seq.py --table runs.jsonl              # print the table of a saved run

Budget: one grading is the notebook's run plus one re-run per seed, ~15 s each on a free
core; the default (10 procedures, 2 variants, seeds 2 and 3) is ~15 min on 2 free cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VARIANTS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2"},
    "portable": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE"},
    "threads2": {"HW2_GRADER_TORCH_THREADS": "2"},
}
NAME = "seq_classification.ipynb"


def _notebook(procedure: str):
    """The notebook of a procedure name: `reference`, a seq_fixes name, `bug:NAME` (a planted
    bug), each optionally prefixed `class:` for the class notebook 08-seq_classification.ipynb
    (its `res/` stand-in must be importable: calibrate_seq_direct.py puts it on sys.path)."""
    from nyu_dl_hw2.reference.hw2.notebooks import solution_notebooks
    from nyu_dl_hw2.reference.hw2.seq_fixes import PROCEDURES

    if procedure.startswith("class:"):
        from nyu_dl_hw2.reference.hw2 import nb_seq_class

        procedure = procedure[len("class:"):]
        if procedure == "reference":
            return nb_seq_class.solution_notebook()
        if procedure.startswith("bug:"):
            from tests.hw2.test_planted_bugs import ALL_BUGS

            bug = next(b for b in ALL_BUGS if b.name == procedure[4:])
            nb = nb_seq_class.solution_notebook()
            for e in bug.edits:
                hits = [c for c in nb.cells if c.cell_type == "code" and e.old in c.source]
                assert len(hits) == 1, (procedure, e.old)
                hits[0].source = hits[0].source.replace(e.old, e.new)
            return nb
        return PROCEDURES[procedure].notebook(nb_seq_class.starter_notebook())
    if procedure == "reference":
        return solution_notebooks()[NAME]
    if procedure.startswith("bug:"):  # a planted bug of tests/hw2/test_planted_bugs.py
        from tests.hw2.test_planted_bugs import ALL_BUGS

        return next(b for b in ALL_BUGS if b.name == procedure[4:]).notebook_source()
    return PROCEDURES[procedure].notebook()


def worker(procedures: list[str], seeds: list[int] | None, variant: str) -> None:
    """Grade each procedure's notebook in this process's variant; one JSON line each."""
    import dataclasses

    import nbformat

    from grader import registry
    from grader.grading import Options, grade_notebook
    from grader.registry import thaw
    from grader.sandbox_runner import open_runner
    from nyu_dl_hw2.reference.hw2.seq_judge import SeqTraining

    assignment = registry.load_file(ROOT / "courses" / "nyu_dl_hw2" / "nyu-dl-hw2-2025.yaml")
    rule = next(f for f in assignment.submission.files if f.name == NAME)
    checks = [c for c in assignment.checks if c.notebook == NAME and c.kind == "plugin"]
    if seeds is not None:
        def reseed(c):
            params = thaw(c.params)
            params["with"]["seeds"] = list(seeds)
            params["with"]["max_count"] = 500 * (len(seeds) + 1)
            return dataclasses.replace(c, params=params)
        checks = [reseed(c) for c in checks]
    with open_runner() as runner:
        for proc in procedures:
            work = Path(tempfile.mkdtemp(prefix="calib-seq-"))
            (work / NAME).write_text(nbformat.writes(_notebook(proc)), encoding="utf-8")
            t0 = time.monotonic()
            results, ok, _ = grade_notebook(rule, work / NAME, work, checks, assignment, Options(), runner)
            seconds = time.monotonic() - t0
            runs = SeqTraining._last[2] if SeqTraining._last else []
            row = {"variant": variant, "procedure": proc, "seconds": round(seconds, 1), "executed_ok": ok,
                   "points": {r.id: r.points for r in results},
                   "runs": [{"label": r.label, "error": r.error, "steps": list(r.steps),
                             "losses": [round(v, 5) for v in r.losses], "accs": [round(v, 5) for v in r.accs]}
                            for r in runs]}
            print(json.dumps(row), flush=True)


def _judged(row: dict, params: dict):
    """The runs of one saved row, judged with the registry's current parameters."""
    from nyu_dl_hw2.reference.hw2.seq_judge import SeqRun

    return [SeqRun(u["label"], error=u["error"]) if u["error"] else
            SeqRun.from_curve(u["label"], u["steps"], u["losses"], u["accs"], params) for u in row["runs"]]


def table(rows: list[dict]) -> None:
    """Re-judge the saved curves with the registry's parameters (so thresholds can be
    tuned without re-running) and print the calibration table."""
    from grader import registry
    from grader.registry import thaw
    from nyu_dl_hw2.reference.hw2.seq_judge import accuracy_verdict, spike_verdict

    assignment = registry.load_file(ROOT / "courses" / "nyu_dl_hw2" / "nyu-dl-hw2-2025.yaml")
    params = {c.id: thaw(c.params)["with"] for c in assignment.checks if c.id in ("seq.no_spikes", "seq.accuracy")}
    ps, pa = params["seq.no_spikes"], params["seq.accuracy"]
    climb, tail = float(ps["climb"]), float(pa.get("tail", 0.25))
    print(f"\nthresholds: spike = climb >= {climb:g} of the way back to ln 4 once the loss is below {ps['armed']} x ln 4"
          f" (runs judged when below {ps['learned']} x ln 4, lucky runs {ps.get('lucky', 1)}, spiky runs allowed "
          f"{ps.get('spiky_allowed', 0)}); accuracy held over the last {tail:g} (spiky runs: from {pa.get('reach')}): zero {pa['thresholds']['zero']}, full {pa['thresholds']['full']}")
    print(f"{'procedure':22s} {'variant':9s} {'s':>5s}  {'no_spikes':>9s} {'value':>6s} {'margin':>6s}  "
          f"{'accuracy':>8s} {'value':>6s} {'margin':>6s}  runs: spikes/largest climb/held accuracy")
    by_proc: dict[str, list[tuple[dict, list]]] = {}
    for r in rows:
        by_proc.setdefault(r["procedure"], []).append((r, _judged(r, ps)))
    for proc, rs in by_proc.items():
        points = {"seq.no_spikes": set(), "seq.accuracy": set()}
        values = {"seq.no_spikes": [], "seq.accuracy": []}
        for r, runs in rs:
            vs, va = spike_verdict(ps, runs), accuracy_verdict(pa, runs)
            points["seq.no_spikes"].add(round(3 * vs.fraction, 2))
            points["seq.accuracy"].add(round(va.fraction, 2))
            values["seq.no_spikes"].append(vs.measure.value)
            values["seq.accuracy"].append(va.measure.value)
            desc = " ".join(f"{'x' if u.error else ('-' if not u.learned else len(u.spikes))}/{u.top:.2f}/"
                            f"{u.held_accuracy(tail, pa.get('reach')):.2f}" for u in runs)
            print(f"{proc:22s} {r['variant']:9s} {r['seconds']:5.0f}  {3 * vs.fraction:4.1f}/3    "
                  f"{vs.measure.value:6.2f} {vs.measure.margin:6.2f}  {va.fraction:4.2f}/1   "
                  f"{va.measure.value:6.3f} {va.measure.margin:6.3f}  {desc}")
        spread = {k: max(v) - min(v) for k, v in values.items()}
        flips = [k for k, v in points.items() if len(v) > 1]
        print(f"{'':22s} spread over variants: no_spikes value {spread['seq.no_spikes']:.2f}, accuracy value "
              f"{spread['seq.accuracy']:.3f}; points differ between variants in: {', '.join(flips) or 'nothing'}")
    course = [u for r, runs in by_proc.get("course", []) for u in runs if not u.error and u.learned]
    smooth = [u for p, rs in by_proc.items() if p in SMOOTH for r, runs in rs for u in runs
              if not u.error and u.learned]
    clean = [u for p, rs in by_proc.items() if p != "course" for r, runs in rs for u in runs if u.clean]
    if course and smooth:
        lo, hi, hc = min(u.top for u in course), max(u.top for u in smooth), max(u.top for u in clean)
        print(f"\nspike gap: the course's weakest run climbs {lo:.2f} of the way back to ln 4; the smooth fixes' "
              f"({', '.join(SMOOTH)}) strongest run {hi:.2f}, the strongest clean run of any fix {hc:.2f}; "
              f"threshold {climb:g} (margins {lo - climb:+.2f} / {climb - hi:+.2f} to the smooth fixes)")
        print(f"course runs with at least one spike: {sum(bool(u.spikes) for u in course)} of {len(course)}; "
              f"spikes per course run: median {statistics.median(len(u.spikes) for u in course):g}")
    for p, rs in by_proc.items():
        runs = [u for r, rr in rs for u in rr if not u.error and u.learned]
        print(f"  {p:22s} spiky runs {sum(bool(u.spikes) for u in runs)} of {len(runs)} judged")


# procedures whose runs stay smooth (the others only damp the spikes, or spike now and then)
SMOOTH = ("reference", "adamw-clip-value-1")


def main() -> None:
    from nyu_dl_hw2.reference.hw2.seq_fixes import PROCEDURES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--procedures", default=",".join(["reference", *PROCEDURES]))
    ap.add_argument("--variants", default="native,portable")
    ap.add_argument("--seeds", default="", help="re-run seeds (default: the registry's)")
    ap.add_argument("--out", default="", help="also write the JSON lines here")
    ap.add_argument("--table", default="", help="only print the table of a saved JSON-lines file")
    ap.add_argument("--worker", default="", help=argparse.SUPPRESS)
    a = ap.parse_args()
    procedures = [p for p in a.procedures.split(",") if p]
    seeds = [int(s) for s in a.seeds.split(",") if s] if a.seeds else None
    if a.worker:
        worker(procedures, seeds, a.worker)
        return
    if a.table:
        table([json.loads(line) for line in Path(a.table).read_text().splitlines() if line.strip()])
        return
    rows = []
    out = open(a.out, "a") if a.out else None
    for variant in a.variants.split(","):
        env = dict(os.environ, **VARIANTS[variant])
        cmd = [sys.executable, __file__, "--worker", variant, "--procedures", ",".join(procedures)]
        if a.seeds:
            cmd += ["--seeds", a.seeds]
        rows += collect(cmd, env, out)
    table(rows)


def collect(cmd: list[str], env: dict[str, str], out) -> list[dict]:
    """Run one worker and keep its JSON rows, each also written to `out` as it comes
    (streamed: a long calibration keeps what it measured)."""
    rows = []
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) as proc:
        for line in proc.stdout:
            if line.startswith("{"):
                rows.append(json.loads(line))
                if out:
                    out.write(line)
                    out.flush()
    return rows


if __name__ == "__main__":
    main()
