"""Cost of verified structure facts (not a test): ``python benchmarks/bench_verify.py``.

For the reference CNN (and its forward made unexportable, which takes the recorded-trace
path), prints per CNN:

- ``export``: the child's ``module`` probe with ``program: true`` minus the same probe
  without it (torch.export or the aten trace, plus encoding the weights);
- ``confirm``: the second-stage ``module_outputs`` probe (the live model on hidden inputs);
- ``rebuild+run``: the grader's decode, meta pass, two runs (public and hidden inputs),
  comparison and counting;
- the whole structure grading (``grade_notebook`` of the six cnn.* structure checks) with
  the verified path.

Options: ``--runs N`` (default 5). Sandbox child and grader on one torch thread each.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader import registry  # noqa: E402
from grader.checks import module as module_kind  # noqa: E402
from grader.checks.base import Context, Reply  # noqa: E402
from grader.grading import Options, grade_notebook  # noqa: E402
from grader.sandbox import Limits, NotebookJob, ProbeRequest  # noqa: E402
from grader.sandbox_runner import _plain_value, open_runner  # noqa: E402
from tests.hw2.conftest import QUICK, patched  # noqa: E402
from tests.hw2.test_verified_structure import GUARDED_FORWARD  # noqa: E402

CNN = "hw2_cnn.ipynb"
STRUCTURE = ("cnn.conv", "cnn.batchnorm", "cnn.activation", "cnn.pooling", "cnn.residual", "cnn.linear")
UNEXPORTABLE = GUARDED_FORWARD  # the test's data-dependent forward: one text, two users


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    opts = ap.parse_args()
    quick = registry.load_file(QUICK)
    reg = dataclasses.replace(quick, checks=tuple(c for c in quick.checks if c.id in STRUCTURE))
    check = next(c for c in reg.checks if c.id == "cnn.conv")
    ctx = Context(seed=Options().seed)
    kind = module_kind.ModuleKind()
    reqs = kind.requests(check, ctx)
    rule = next(f for f in reg.submission.files if f.name == CNN)
    import torch

    with open_runner() as runner:
        for label, append in (("reference CNN (torch.export)", ()), ("unexportable forward (aten trace)",
                                                                      (UNEXPORTABLE,))):
            work = Path(tempfile.mkdtemp(prefix="bench-verify-"))
            path = work / CNN
            path.write_text(nbformat.writes(patched(CNN, (), append)), encoding="utf-8")
            rows: dict[str, list[float]] = {"module probe, no program": [], "module probe + program": [],
                                            "confirm (hidden inputs)": [], "grader rebuild+run+count": [],
                                            "grade_notebook (6 checks)": []}
            for _ in range(opts.runs):
                plain = dict(reqs["run"].args)
                plain.pop("program")
                probes = (ProbeRequest("plain", "module", plain, 60), ProbeRequest("run", "module",
                                                                                   dict(reqs["run"].args), 60),
                          ProbeRequest("confirm", "module_outputs", dict(reqs["confirm"].args), 60))
                job = NotebookJob(notebook_path=str(path), scratch_dir=str(work), mode="definitions",
                                  limits=Limits(), probes=probes, label="bench")
                run = runner.server.run_notebook(job)
                r = {k: run.replies[k] for k in ("plain", "run", "confirm")}
                rows["module probe, no program"].append(r["plain"].seconds)
                rows["module probe + program"].append(r["run"].seconds)
                rows["confirm (hidden inputs)"].append(r["confirm"].seconds)
                replies = {k: Reply(v.ok, _plain_value(v.value), "" if v.ok else str(v.error)) for k, v in r.items()}
                torch.set_num_threads(1)
                module_kind._VERIFIED.clear()
                t = time.perf_counter()
                found = module_kind.verified(check, replies["run"], replies["confirm"], ctx)
                rows["grader rebuild+run+count"].append(time.perf_counter() - t)
                assert not isinstance(found, str), found
                module_kind._VERIFIED.clear()
                t = time.perf_counter()
                res, _, _ = grade_notebook(rule, path, work, list(reg.checks), reg, Options(), runner)
                rows["grade_notebook (6 checks)"].append(time.perf_counter() - t)
                assert sum(x.points for x in res) == sum(x.max_points for x in res), res
            print(f"{label}: median of {opts.runs} runs")
            for name, vals in rows.items():
                print(f"  {name:28s} {statistics.median(vals):6.2f} s  (min {min(vals):.2f}, max {max(vals):.2f})")
            print(f"  {'export cost in the child':28s} "
                  f"{statistics.median(rows['module probe + program']) - statistics.median(rows['module probe, no program']):6.2f} s")


if __name__ == "__main__":
    main()
