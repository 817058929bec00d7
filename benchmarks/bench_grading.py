"""How long grading one HW2 submission takes, notebook by notebook (real registry).

Not a test. Grades the reference solution and the starter submission once each with one
warm sandbox server and prints the per-notebook seconds, the per-check seconds of the
slowest checks, and the server start-up time.

    python benchmarks/bench_grading.py
"""

from __future__ import annotations

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
from nyu_dl_hw2.reference.hw2 import starter_notebooks, theory_pdf_bytes, write_solution_zip  # noqa: E402


def main() -> None:
    a = registry.load("nyu-dl-hw2-2025")
    tmp = Path(tempfile.mkdtemp())
    solution = write_solution_zip(tmp / "abc1234.zip")
    starter = tmp / "start" / "abc1234.zip"
    starter.parent.mkdir()
    with zipfile.ZipFile(starter, "w") as zf:
        for name, nb in starter_notebooks().items():
            zf.writestr(name, nbformat.writes(nb))
        zf.writestr("hw2_theory.pdf", theory_pdf_bytes())
    t0 = time.monotonic()
    with open_runner() as runner:
        print(f"sandbox server start: {time.monotonic() - t0:.1f} s")
        for label, z in (("reference solution", solution), ("starter", starter)):
            t = time.monotonic()
            g = grade(z, a, Options(submitted_at=a.deadline), runner)
            total = time.monotonic() - t
            print(f"\n{label}: {g.raw_score:g}/{g.auto_max:g} automatic points, final {g.score:g}, "
                  f"{total:.1f} s in all")
            for name, seconds in g.timings:
                print(f"  {name:<28} {seconds:7.1f} s")
            slow = sorted(g.checks, key=lambda c: -c.seconds)[:5]
            print("  slowest checks: " + ", ".join(f"{c.id} {c.seconds:.1f} s" for c in slow))


if __name__ == "__main__":
    main()
