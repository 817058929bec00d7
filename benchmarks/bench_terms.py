"""Every NYU term of HW2 graded end to end: one table for the closing note.

Not a test. For each term: its files, automatic checks and points, manual points, then the
reference solution (`grader solution`) and the untouched starters (`grader starter` + the
theory PDF) graded with the term's registry, one warm sandbox server, submitted on time.

    python benchmarks/bench_terms.py              # the real registries (several minutes a term)
    python benchmarks/bench_terms.py --quick      # training budgets of tests/hw2/quick.yaml
    python benchmarks/bench_terms.py --only nyu-dl-hw2-2022fall

`--quick` grades each term through a registry that extends it with the quick budgets (the
same overrides for version 1 and 2: tests/terms/quick_v1.yaml, tests/hw2/quick.yaml).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import nbformat  # noqa: E402

from grader import registry  # noqa: E402
from grader.grading import Options, grade  # noqa: E402
from grader.sandbox_runner import open_runner  # noqa: E402
from nyu_dl_hw2.reference.hw2 import terms, theory_pdf_bytes  # noqa: E402

QUICK = """checks:
  - id: cnn.train
    loader: {max_batches: 48}
    thresholds: {zero: 0.55, full: 0.7}
  - id: rnn.train
    data: {args: {n: 25600}}
    loader: {max_batches: 400, budget_seconds: 60}
    thresholds: {zero: 0.15, full: 0.5}
  - id: rnn.vd_train
    data: {args: {n: 9600}}
    loader: {max_batches: 150, budget_seconds: 60}
    thresholds: {zero: 0.08, full: 0.16}
"""


def _assignment(term_id: str, quick: bool, tmp: Path) -> registry.Assignment:
    real = registry.assignment_files()[term_id]
    if not quick:
        return registry.load_file(real)
    path = tmp / f"{term_id}-quick.yaml"
    path.write_text(f"extends: {os.path.relpath(real, tmp)}\nid: {term_id}-quick\n" + QUICK)
    return registry.load_file(path)


def _starter_zip(term_id: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "abc1234.zip"
    when = terms.TERMS[term_id].zip_time
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("hw2_theory.pdf", date_time=when), theory_pdf_bytes())
        for name, nb in terms.notebooks(term_id, starter=True).items():
            zf.writestr(zipfile.ZipInfo(name, date_time=when), nbformat.writes(nb))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", action="append", default=[])
    args = parser.parse_args()
    ids = args.only or sorted(terms.TERMS)
    tmp = Path(tempfile.mkdtemp())
    rows = []
    with open_runner() as runner:
        for term_id in ids:
            a = _assignment(term_id, args.quick, tmp)
            ref_zip = terms.write_term_solution_zip(term_id, tmp / term_id / "ref" / "abc1234.zip")
            st_zip = _starter_zip(term_id, tmp / term_id / "starter")
            out = []
            for zip_path in (ref_zip, st_zip):
                t0 = time.monotonic()
                g = grade(zip_path, a, Options(submitted_at=a.deadline), runner)
                pens = "+".join(f"{p.rule} {p.percent:g}%" for p in g.penalties)
                out.append((g.raw_score, time.monotonic() - t0, pens))
            manual = sum(m.points for m in a.manual)
            files = ", ".join(f.name.removesuffix(".ipynb").removesuffix(".pdf") for f in a.submission.files)
            rows.append((term_id, files, len(a.checks), a.auto_max, manual, out[0], out[1]))
            print(f"done {term_id}: reference {out[0][0]:g}/{a.auto_max:g} {out[0][2]}, starter "
                  f"{out[1][0]:g}/{a.auto_max:g} {out[1][2]}", flush=True)
    print()
    print("| assignment | files | automatic checks / points | manual points | reference score | starter score "
          "| grading time ref / starter |")
    print("|---|---|---|---|---|---|---|")
    for term_id, files, n, auto, manual, ref, st in rows:
        ref_s = f"{ref[0]:g}/{auto:g}" + (f" ({ref[2]})" if ref[2] else "")
        st_s = f"{st[0]:g}/{auto:g}" + (f" ({st[2]})" if st[2] else "")
        print(f"| {term_id} | {files} | {n} / {auto:g} | {manual:g} | {ref_s} | {st_s} | {ref[1]:.0f} s / {st[1]:.0f} s |")


if __name__ == "__main__":
    main()
