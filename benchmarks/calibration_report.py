"""Calibration report: does any verdict depend on the machine?

Grades, with the Spring 2025 registry, the reference solution, the untouched starter and
every planted bug of tests/hw2/test_planted_bugs.py, once per *variant*: a set of kernel
choices (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, MKL_CBWR) and a torch thread count
(HW2_GRADER_TORCH_THREADS), which on one machine stand in for other machines. Each variant
runs in its own grader process (torch reads the variables when it loads), through the
sandbox as in real grading. For every threshold check (a verdict carrying a `measure`)
it prints the measured value per variant, the thresholds, the margin (smallest distance
from a value to a bound) and the spread (max - min across variants), and flags a check
whose margin is smaller than its spread or whose points differ between variants; any
other check whose verdict differs between variants is listed too. A flag is a bug to fix
in the judge (a wider margin), not in a test.

    python benchmarks/calibration_report.py                     # the default matrix (~30-40 min, 2 idle cores)
    python benchmarks/calibration_report.py --quick             # one variant, the reference only (~2 min)
    python benchmarks/calibration_report.py --variants native,default-t1 --subjects reference,starter \\
        --checks seq.,moe.trained --out /tmp/cal                # a subset
    nice -n 10 python benchmarks/calibration_report.py --out calibration > cal.log 2>&1 &

Subjects: `reference` and `starter` are whole zips graded with the real registry; `bug:NAME`
(or `bugs` for all) are planted bugs, each graded on its own notebook with the registry its
test uses (tests/hw2/quick.yaml: small training budgets; `--bug-registry real` for the real
one). Writes OUT.md (the tables) and OUT.json (variants, rows, flips, raw verdicts); exits 1
when anything is flagged.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from grader.numerics import ENV_TORCH_THREADS, KERNEL_VARIABLES  # noqa: E402

# A bounded matrix for an AVX-512 machine with 2 cores: this machine's own kernels, the
# portable ones (the oldest machine), AVX2 (a laptop), and thread counts 1, 2 and 4.
VARIANTS: dict[str, dict[str, str]] = {
    "native": {},
    "default-t1": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE"},
    "avx2-t2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
                ENV_TORCH_THREADS: "2"},
    "avx512-t4": {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE", "MKL_CBWR": "AVX512",
                  ENV_TORCH_THREADS: "4"},
    "default-t2": {"ATEN_CPU_CAPABILITY": "default", ENV_TORCH_THREADS: "2"},
}
DEFAULT_MATRIX = ("native", "default-t1", "avx2-t2", "avx512-t4")  # threads 1/2/4, three kernel sets
REAL = ROOT / "courses" / "nyu_dl_hw2" / "nyu-dl-hw2-2025.yaml"
QUICK = ROOT / "tests" / "hw2" / "quick.yaml"


# --------------------------------------------------------------------------- worker (one variant)


def _bugs() -> dict[str, Any]:
    """The planted bugs, from their test module (one list, never copied)."""
    from tests.hw2.test_planted_bugs import ALL_BUGS

    return {b.name: b for b in ALL_BUGS}


def _record(subject: str, registry_id: str, results, seconds: float, provenance: dict) -> dict:
    return {"subject": subject, "registry": registry_id, "seconds": round(seconds, 1), "provenance": provenance,
            "checks": [{"id": r.id, "status": r.status, "points": r.points, "max_points": r.max_points,
                        "message": r.message, "measure": r.measure.to_json() if r.measure else None}
                       for r in results]}


def _only(assignment, prefixes: list[str]):
    if not prefixes:
        return assignment
    return dataclasses.replace(assignment, checks=tuple(c for c in assignment.checks
                                                        if any(c.id.startswith(p) for p in prefixes)))


def worker(subjects: list[str], prefixes: list[str], bug_registry: str, out: Path) -> None:
    """Grade every subject under this process's environment; one JSON line per subject."""
    import nbformat

    from grader import registry
    from grader.grading import Options, grade, grade_notebook
    from grader.sandbox_runner import open_runner
    from nyu_dl_hw2.reference.hw2.notebooks import write_solution_zip
    from tests.hw2.conftest import write_starter_zip

    real = _only(registry.load_file(REAL), prefixes)
    bug_reg = _only(registry.load_file(REAL if bug_registry == "real" else QUICK), prefixes)
    bugs = _bugs()
    with tempfile.TemporaryDirectory(prefix="hw2-calibration-") as tmp, open_runner() as runner, \
            out.open("a") as sink:
        tmp_path = Path(tmp)
        for subject in subjects:
            t0 = time.monotonic()
            try:
                if subject in ("reference", "starter"):
                    folder = tmp_path / subject
                    folder.mkdir()
                    zip_path = write_solution_zip(folder) if subject == "reference" else write_starter_zip(folder)
                    g = grade(zip_path, real, Options(submitted_at=real.deadline), runner)
                    rec = _record(subject, real.id, g.checks, time.monotonic() - t0, runner.provenance())
                    rec["penalties"] = [f"{p.rule} {p.percent:g}%: {p.reason}" for p in g.penalties]
                else:
                    bug = bugs[subject.removeprefix("bug:")]
                    checks = [c for c in bug_reg.checks if c.notebook == bug.notebook]
                    if not checks:  # --checks left none of its notebook's checks
                        continue
                    work = tmp_path / subject.replace(":", "-")
                    work.mkdir()
                    path = work / bug.notebook
                    path.write_text(nbformat.writes(bug.notebook_source()), encoding="utf-8")
                    results, _, _ = grade_notebook(bug_reg.file_rule(bug.notebook), path, work, checks, bug_reg,
                                                   Options(), runner)
                    rec = _record(subject, bug_reg.id, results, time.monotonic() - t0, runner.provenance())
            except Exception as exc:  # noqa: BLE001 - one subject never stops the report
                rec = {"subject": subject, "error": f"{type(exc).__name__}: {exc}", "checks": []}
            sink.write(json.dumps(rec) + "\n")
            sink.flush()
            print(f"  {subject:<28} {rec.get('seconds', 0):7.1f} s", flush=True)


# --------------------------------------------------------------------------- parent (the matrix)


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()] if out.exists() else []


def run_variant(name: str, subjects: list[str], prefixes: list[str], bug_registry: str, out: Path,
                reuse: bool | None = False) -> list[dict]:
    """Grade the subjects under the variant in a fresh process; its records. `reuse`: keep the
    records already in `out` and grade only the others (None: grade nothing, only read them)."""
    if reuse is None:
        return _records(out)
    if reuse:
        done = {r["subject"] for r in _records(out)}
        subjects = [s for s in subjects if s not in done]
    else:
        out.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES and k != ENV_TORCH_THREADS}
    env.update(VARIANTS[name])
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--subjects", ",".join(subjects),
           "--checks", ",".join(prefixes), "--bug-registry", bug_registry, "--worker-out", str(out)]
    if subjects:
        subprocess.run(cmd, env=env, check=False)
    return _records(out)


def _fmt(v: float | None, limited: bool = False) -> str:
    return "-" if v is None else f"{v:.4f}" + ("*" if limited else "")


# A wall-clock limit that ran out is the machine's load, not its kernels: such a value is
# shown (marked *) but left out of the margin and the spread, and reported apart.
TIME_LIMITED = ("time budget ran out", "timed out after")


def _limited(check: dict) -> bool:
    return any(t in check["message"] for t in TIME_LIMITED)


def analyse(runs: dict[str, list[dict]]) -> tuple[list[dict], list[dict]]:
    """(threshold rows, verdict flips of checks without a measure)."""
    table: dict[tuple[str, str], dict[str, dict]] = {}
    for variant, records in runs.items():
        for rec in records:
            for c in rec["checks"]:
                table.setdefault((rec["subject"], c["id"]), {})[variant] = c
    rows, flips = [], []
    for (subject, check), per in sorted(table.items()):
        limited = sorted(v for v, c in per.items() if _limited(c))
        clean = {v: c for v, c in per.items() if v not in limited}
        verdicts = {v: (c["status"], c["points"]) for v, c in per.items()}
        differs = len({verdicts[v] for v in clean}) > 1
        measures = {v: c["measure"] for v, c in per.items() if c.get("measure")}
        if not measures:
            if len(set(verdicts.values())) > 1:
                flips.append({"subject": subject, "check": check, "verdicts": verdicts, "time_limited": limited,
                              "messages": {v: c["message"] for v, c in per.items()}})
            continue
        values = {v: m["value"] for v, m in measures.items()}
        kept = [x for v, x in values.items() if v not in limited] or list(values.values())
        bounds = next(iter(measures.values()))["bounds"]
        margin = min(min(abs(x - b) for b in bounds) for x in kept)
        spread = max(kept) - min(kept)
        reasons = [w for w, on in (("verdict differs", differs), ("margin < spread", margin < spread),
                                   ("measure missing in a variant", len(measures) < len(per))) if on]
        rows.append({"subject": subject, "check": check, "name": next(iter(measures.values()))["name"],
                     "values": values, "bounds": bounds, "margin": margin, "spread": spread,
                     "verdicts": verdicts, "time_limited": limited, "flag": bool(reasons), "why": "; ".join(reasons)})
    return rows, flips


def markdown(variants: list[str], runs: dict[str, list[dict]], rows: list[dict], flips: list[dict],
             minutes: float) -> str:
    lines = ["# Calibration report (kernel variants x thread counts)", ""]
    lines.append("| variant | settings | child cpu capability | threads | seconds |")
    lines.append("|---|---|---|---|---|")
    for v in variants:
        prov = next((r.get("provenance") for r in runs.get(v, []) if r.get("provenance")), {}) or {}
        secs = sum(r.get("seconds", 0) for r in runs.get(v, []))
        settings = ", ".join(f"{k}={val}" for k, val in VARIANTS[v].items()) or "(none: this machine's own)"
        lines.append(f"| {v} | {settings} | {prov.get('cpu_capability')} | {prov.get('torch_threads')} | {secs:.0f} |")
    errors = [(v, r["subject"], r["error"]) for v in variants for r in runs.get(v, []) if r.get("error")]
    total = f"Total {minutes:.1f} min. " if minutes else "Tables from the records as they were. "
    lines += ["", total + "Margin: smallest distance from a value to a bound; spread: max - min "
              "across variants. FLAG: margin < spread, or the points differ between variants. *: a wall-clock "
              "limit ran out (load, not kernels): shown, but left out of margin, spread and FLAG.", ""]
    lines.append("| subject | check | " + " | ".join(variants) + " | bounds | margin | spread | points | flag |")
    lines.append("|---|---|" + "---|" * len(variants) + "---|---|---|---|---|")
    for r in rows:
        pts = sorted({p for _, p in r["verdicts"].values()})
        lines.append(f"| {r['subject']} | {r['check']} | " + " | ".join(_fmt(r["values"].get(v), v in r["time_limited"]) for v in variants)
                     + f" | {'/'.join(f'{b:g}' for b in r['bounds'])} | {r['margin']:.4f} | {r['spread']:.4f}"
                     + f" | {'/'.join(f'{p:g}' for p in pts)} | {('**' + r['why'] + '**') if r['flag'] else ''} |")
    limited = sum(bool(r["time_limited"]) for r in rows)
    lines += ["", f"Flagged threshold checks: {sum(r['flag'] for r in rows)} of {len(rows)}; "
              f"{limited} hit a wall-clock limit in some variant (*).", ""]
    lines.append("Checks without a measure whose verdict differs between variants: " + ("none." if not flips else ""))
    for f in flips:
        note = f" (wall-clock limit in {', '.join(f['time_limited'])})" if f["time_limited"] else ""
        lines.append(f"- {f['subject']} {f['check']}: {f['verdicts']}{note}")
    penalties = [(v, r["subject"], p) for v in variants for r in runs.get(v, []) for p in r.get("penalties", [])]
    if penalties:  # e.g. a notebook that timed out under load: its training checks saw a cut run
        lines += ["", "Penalties of the whole-zip subjects:"] + [f"- {v} {s}: {p}" for v, s, p in penalties]
    if errors:
        lines += ["", "Errors (subject not graded):"] + [f"- {v} {s}: {e}" for v, s, e in errors]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default=",".join(DEFAULT_MATRIX), help=f"comma list of {', '.join(VARIANTS)}")
    ap.add_argument("--subjects", default="reference,starter,bugs",
                    help="comma list: reference, starter, bugs (all planted bugs) or bug:NAME")
    ap.add_argument("--checks", default="", help="comma list of check-id prefixes to grade (default: all)")
    ap.add_argument("--bug-registry", choices=("quick", "real"), default="quick")
    ap.add_argument("--quick", action="store_true", help="one variant (native), the reference only")
    ap.add_argument("--out", type=Path, default=Path("calibration"), help="writes OUT.md and OUT.json")
    ap.add_argument("--reuse", action="store_true",
                    help="keep the subjects already in OUT.VARIANT.jsonl (resume a run)")
    ap.add_argument("--tables-only", action="store_true", help="grade nothing: tables from OUT.VARIANT.jsonl as they are")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    prefixes = [p for p in args.checks.split(",") if p]
    subjects = [s for s in args.subjects.split(",") if s]
    if args.worker:
        worker(subjects, prefixes, args.bug_registry, args.worker_out)
        return 0
    if args.quick:
        args.variants, subjects = "native", ["reference"]
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    expanded: list[str] = []
    for s in subjects:
        expanded += [f"bug:{n}" for n in _bugs()] if s == "bugs" else [s]
    started = time.monotonic()
    runs: dict[str, list[dict]] = {}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for v in variants:
        print(f"variant {v}: {VARIANTS[v] or 'this machine'}", flush=True)
        runs[v] = run_variant(v, expanded, prefixes, args.bug_registry, args.out.with_suffix(f".{v}.jsonl"),
                             None if args.tables_only else args.reuse)
    rows, flips = analyse(runs)
    minutes = 0.0 if args.tables_only else (time.monotonic() - started) / 60
    text = markdown(variants, runs, rows, flips, minutes)
    args.out.with_suffix(".md").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(
        {"variants": {v: VARIANTS[v] for v in variants}, "rows": rows, "flips": flips, "runs": runs,
         "minutes": round(minutes, 1)}, indent=1))
    print(text)
    return 1 if any(r["flag"] for r in rows) or flips else 0


if __name__ == "__main__":
    raise SystemExit(main())
