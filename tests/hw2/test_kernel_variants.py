"""Verdicts that do not depend on the machine: the reference and the starter graded under
two kernel variants, each set through the environment of a fresh `grader grade --json
--timings` process (so torch, oneDNN and MKL load with them in the grader and in the
sandbox server alike, as on another machine).

* `default-t1`: torch's portable kernels (ATEN_CPU_CAPABILITY=default), oneDNN capped at
  SSE4.1, MKL in its COMPATIBLE branch, one torch thread: the oldest x86-64 machine.
* `avx2-t2`: AVX2 kernels everywhere, two torch threads: a common laptop.

Under both, the reference gets every automatic point, the starter
only the provided-code points, every check keeps the same verdict, and the JSON's provenance says which kernels
the sandbox child really ran. The registry is the quick test registry (quick.yaml: small
training budgets, one run of seq_classification's Section 8), so the four gradings (run at
once, one process each) take ~1 minute of two cores; the real registry's budgets under the
variants and thread counts 1/2/4 are measured by benchmarks/calibration_report.py and
benchmarks/calibrate_seq*.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from grader.numerics import ENV_TORCH_THREADS, KERNEL_VARIABLES

from .conftest import QUICK, write_starter_zip

pytestmark = pytest.mark.slow

VARIANTS = {
    "default-t1": ({"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_CBWR": "COMPATIBLE",
                    ENV_TORCH_THREADS: "1"}, "DEFAULT"),
    "avx2-t2": ({"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "AVX2",
                 ENV_TORCH_THREADS: "2"}, "AVX2"),
}


def provided_code_check(check) -> bool:
    """The checks a starter submitted untouched passes: the provided-code checks."""
    return check.kind == "integrity" or check.id.endswith(".provided")


@pytest.fixture(scope="session")
def zips(tmp_path_factory) -> dict[str, Path]:
    from nyu_dl_hw2.reference.hw2.notebooks import write_solution_zip

    return {"reference": write_solution_zip(tmp_path_factory.mktemp("variant-reference")),
            "starter": write_starter_zip(tmp_path_factory.mktemp("variant-starter"))}


def _start(zip_path: Path, settings: dict[str, str], deadline: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in KERNEL_VARIABLES}
    env.update(settings)
    return subprocess.Popen([sys.executable, "-m", "grader", "grade", str(zip_path), "--assignment", str(QUICK),
                             "--submitted-at", deadline, "--json", "--timings"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="session")
def variants(zips, quick) -> dict[str, dict[str, dict]]:
    """{variant: {"reference": json, "starter": json}}: each zip graded once per variant, the
    four gradings at once."""
    procs = {(name, which): _start(path, settings, quick.deadline.isoformat())
             for name, (settings, _) in VARIANTS.items() for which, path in zips.items()}
    out: dict[str, dict[str, dict]] = {}
    for (name, which), proc in procs.items():
        stdout, stderr = proc.communicate(timeout=900)
        assert stdout.strip(), stderr[-3000:]
        out.setdefault(name, {})[which] = json.loads(stdout)
    return out


# Section 8 is chaotic, so its verdicts rest on a margin (benchmarks/results/calibration-seq.md):
# this test judges the notebook's seed-1 run alone; the reference's climbs 0.11-0.35 of the way
# back to ln 4 (0.32 under avx2-t2: a relapse while still learning), the course's 0.85-2.72,
# and a spike is a climb of 0.5. Any lost point fails here.


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_reference_scores_full_automatic_marks(variants, name):
    g = variants[name]["reference"]
    lost = {c["id"]: (c["points"], c["message"]) for c in g["checks"] if c["points"] != c["max_points"]}
    assert lost == {}
    assert g["penalties"] == []
    assert g["raw_score"] == g["auto_max"] == g["score"]


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_starter_scores_only_the_provided_code_points(variants, name, quick):
    checks = variants[name]["starter"]["checks"]
    kept = {c["id"]: (c["points"], c["max_points"]) for c in checks if c["points"] > 0}
    assert set(kept) == {c.id for c in quick.checks if provided_code_check(c)}, kept
    assert all(points == full for points, full in kept.values()), kept


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_provenance_names_the_kernels_the_child_ran(variants, name):
    settings, capability = VARIANTS[name]
    for g in variants[name].values():
        prov = g["provenance"]
        assert {k: prov[k] for k in KERNEL_VARIABLES} == {k: settings[k] for k in KERNEL_VARIABLES}
        assert prov["torch_threads"] == int(settings[ENV_TORCH_THREADS])
        assert prov["cpu_capability"] == prov["grader_cpu_capability"] == capability


def test_every_verdict_is_the_same_under_every_variant(variants):
    """Per check: the same status and points (the numbers in messages, e.g. an accuracy's
    last digit, may differ; the verdict may not)."""
    verdicts = {name: {which: [(c["id"], c["status"], c["points"]) for c in g["checks"]] for which, g in grades.items()}
                for name, grades in variants.items()}
    first, *others = sorted(verdicts)
    for other in others:
        for which in verdicts[first]:
            assert verdicts[first][which] == verdicts[other][which], (first, other, which)
