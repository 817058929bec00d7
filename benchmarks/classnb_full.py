"""08-seq_classification.ipynb at the real budget: the reference and the starter graded
with tests/classnb/classnb.yaml (Section 8's 100 epochs, the notebook's run + re-runs
under seeds 2 and 3), without `res/` in the zip (the grader's stand-in) and, with
`--own-res`, with the stand-in's files carried in the zip as the student's own copy.

    nice -n 10 python benchmarks/classnb_full.py                  # reference and starter
    python benchmarks/classnb_full.py --subjects reference --own-res
    python benchmarks/classnb_full.py --subjects adamw-clip-value-1   # a fix of reference/hw2/seq_fixes.py

Prints, per subject: points per check, the checks' measured values and the wall time.
Budget: ~1 min of one free core per subject (three 100-epoch runs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader import registry  # noqa: E402
from grader.grading import Options, grade  # noqa: E402
from grader.sandbox_runner import open_runner  # noqa: E402
from nyu_dl_hw2.reference.hw2 import nb_seq_class  # noqa: E402
from tests.classnb.conftest import make_zip  # noqa: E402

SUBJECTS = {"reference": nb_seq_class.solution_notebook, "starter": nb_seq_class.starter_notebook}


def _procedure(name: str):
    """A student fix of seq_fixes.PROCEDURES, applied to this notebook's starter (the same
    training cells as seq_classification.ipynb's)."""
    from nyu_dl_hw2.reference.hw2 import seq_fixes

    seq_fixes.starter_notebooks = lambda: {seq_fixes.NAME: nb_seq_class.starter_notebook()}
    return seq_fixes.PROCEDURES[name].notebook


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subjects", default="reference,starter")
    ap.add_argument("--own-res", action="store_true", help="carry the stand-in res/ in the zip")
    args = ap.parse_args()
    assignment = registry.load_file(ROOT / "tests" / "classnb" / "classnb.yaml")
    extra = {n: Path(p).read_bytes() for n, p in assignment.file_rule(nb_seq_class.NAME).support_files().items()} \
        if args.own_res else {}
    with open_runner() as runner, tempfile.TemporaryDirectory() as tmp:
        for name in args.subjects.split(","):
            zip_path = make_zip(Path(tmp) / name, (SUBJECTS.get(name) or _procedure(name))(), extra)
            t0 = time.monotonic()
            g = grade(zip_path, assignment, Options(submitted_at=assignment.deadline), runner)
            print(f"== {name}{' (own res/)' if extra else ''}: {g.raw_score}/{g.auto_max} in {time.monotonic() - t0:.0f} s"
                  f"; penalties {[p.rule for p in g.penalties]}; problems {[p.message for p in g.problems]}")
            for c in g.checks:
                value = f" value {c.measure.value:.3f}" if c.measure is not None else ""
                print(f"   {c.id:14} {c.points:g}/{c.max_points:g} {c.status}{value}: {c.message[:600]}")


if __name__ == "__main__":
    main()
