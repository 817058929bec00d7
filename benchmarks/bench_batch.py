"""Time `grader batch` on 20 generated HW2 submissions with 1 and 2 workers.

Not a test: it prints numbers for the closing notes and the README. The submissions are a
realistic mix: full-score ones (on time, late, misnamed, with an extension), starter
ones, partial ones (a notebook missing), and broken or hostile zips.

    python benchmarks/bench_batch.py                 # real registry, workers 1 and 2
    python benchmarks/bench_batch.py --workers 2 --assignment tests/hw2/quick.yaml
    python benchmarks/bench_batch.py --make-only demo/     # just write the 20 zips (+ demo-times.csv)

Each configuration grades into its own fresh output folder (no cache hits).
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nyu_dl_hw2.reference.hw2 import starter_notebooks, theory_pdf_bytes, write_solution_zip  # noqa: E402


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name, (2025, 2, 24, 12, 0, 0)), data)
    return path


def _solution_entries(tmp: Path) -> dict[str, bytes]:
    z = write_solution_zip(tmp / "abc0000.zip", "abc0000")
    with zipfile.ZipFile(z) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def make_submissions(folder: Path) -> tuple[list[str], str]:
    """20 zips in `folder`; returns (descriptions, timestamps CSV text)."""
    import nbformat

    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp())
    sol = _solution_entries(tmp)
    starter = {name: nbformat.writes(nb).encode() for name, nb in starter_notebooks().items()}
    starter["hw2_theory.pdf"] = theory_pdf_bytes()
    kinds: list[str] = []
    times: dict[str, str] = {}

    def add(student: str, entries: dict[str, bytes], kind: str, when: str = "2025-02-25T20:00:00-05:00",
            zip_name: str | None = None) -> None:
        _zip(folder / (zip_name or f"{student}.zip"), entries)
        kinds.append(f"{zip_name or student + '.zip'}: {kind}")
        times[student] = when

    for i in range(3):
        add(f"sol{i:04d}", sol, "full score, on time")
    add("late0001", sol, "full score, 30 h late", "2025-02-27T05:59:00-05:00")
    add("late0002", sol, "full score, 97 h late (not accepted)", "2025-03-02T00:59:00-05:00")
    renamed = {("HW2_CNN.ipynb" if n == "hw2_cnn.ipynb" else n): d for n, d in sol.items()}
    add("name0001", renamed, "full score, misnamed notebook")
    add("name0002", {**sol, "test_script.py": b"print('hi')\n"}, "full score, extra file")
    for i in range(5):
        add(f"start{i:03d}", starter, "starter notebooks")
    no_skip = sol["hw2_cnn.ipynb"].decode().replace("F.relu(out + x)", "F.relu(out)")
    add("wrong001", {**sol, "hw2_cnn.ipynb": no_skip.encode()}, "CNN without its residual connection")
    mixed = {**sol, "hw2_cnn.ipynb": starter["hw2_cnn.ipynb"]}
    add("part0001", mixed, "CNN left as the starter")
    add("part0002", {n: d for n, d in sol.items() if n != "hw2_rnn.ipynb"}, "RNN notebook missing")
    add("part0003", {n: d for n, d in sol.items() if n.endswith(".pdf")}, "only the PDF")
    (folder / "brok0001.zip").write_bytes(b"not a zip at all")
    kinds.append("brok0001.zip: not a zip")
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("hw2_cnn.ipynb", b"\0" * (400 << 20))
    (folder / "bomb0001.zip").write_bytes(bomb.getvalue())
    kinds.append("bomb0001.zip: zip bomb (400 MiB of zeros)")
    trav = io.BytesIO()
    with zipfile.ZipFile(trav, "w") as zf:
        zf.writestr("../../evil.ipynb", b"{}")
    (folder / "trav0001.zip").write_bytes(trav.getvalue())
    kinds.append("trav0001.zip: path traversal")
    hostile = dict(sol)
    nb = nbformat.reads(sol["hw2_rnn.ipynb"].decode(), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import os\nos.fork()\nwhile True:\n    pass"))
    hostile["hw2_rnn.ipynb"] = nbformat.writes(nb).encode()
    add("host0001", hostile, "forks and loops forever in a cell")
    shutil.rmtree(tmp, ignore_errors=True)
    csv = "net_id,submitted_at\n" + "".join(f"{k},{v}\n" for k, v in sorted(times.items()))
    return kinds, csv


def run(folder: Path, csv: Path, workers: int, assignment: str) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"bench-batch-{workers}-"))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "-a", assignment,
                           "--timestamps", str(csv), "--workers", str(workers), "--out", str(out), "--json"],
                          capture_output=True, text=True, cwd=ROOT)
    seconds = time.monotonic() - t0
    if proc.returncode not in (0, 1):
        print(proc.stderr, file=sys.stderr)
        raise SystemExit(f"batch failed with exit status {proc.returncode}")
    grades = json.loads((out / "grades.json").read_text())
    return {"workers": workers, "seconds": seconds, "count": len(grades), "out": str(out),
            "scores": {g["zip"]: (g["verdict"], g["score"]) for g in grades}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assignment", default="nyu-dl-hw2-2025")
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--make-only", metavar="DIR", default=None,
                        help="write the submissions and their timestamps CSV into DIR, grade nothing")
    args = parser.parse_args()
    folder = Path(args.make_only) if args.make_only else Path(tempfile.mkdtemp(prefix="bench-subs-"))
    kinds, csv_text = make_submissions(folder)
    csv = folder.parent / (folder.name.rstrip("/") + "-times.csv")
    csv.write_text(csv_text)
    print(f"{len(kinds)} submissions in {folder} (submission times in {csv}):")
    for k in kinds:
        print(f"  {k}")
    if args.make_only:
        return
    results = [run(folder, csv, w, args.assignment) for w in args.workers]
    print()
    print(f"{'workers':>7} {'total s':>9} {'s/submission':>13}")
    for r in results:
        print(f"{r['workers']:>7} {r['seconds']:>9.1f} {r['seconds'] / r['count']:>13.2f}")
    if len(results) > 1:
        same = all(r["scores"] == results[0]["scores"] for r in results)
        print(f"same verdicts and scores with every worker count: {same}")
    print()
    for zip_name, (verdict, score) in sorted(results[0]["scores"].items()):
        print(f"  {zip_name:<16} {verdict:<13} {score:g}")
    print(f"median score {statistics.median(s for _, s in results[0]['scores'].values()):g}")


if __name__ == "__main__":
    main()
