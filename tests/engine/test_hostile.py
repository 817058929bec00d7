"""Hostile and broken notebooks: crashing, hanging, allocating, forking, exiting,
monkeypatching, forging, peeking at the grader. One behaviour per zip (hostile.yaml).

Every zip holds the same cells twice: `full.ipynb` (full mode, execution penalty 25 %)
and `defs.ipynb` (definitions mode). `good(x)` is right in every notebook and must keep
its point whatever else happens; `bad(x)` is where a hostile behaviour lives (when it
lives in a top-level cell instead, `bad` is right too). Each run must end within the
limits (2 s per probe, 3 s per cell, 2 s grace), and the grader process must survive
all of them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import grader.registry
from grader.grading import Options, grade

from .conftest import Graded, notebook

GOOD = "import numpy as np\ndef good(x):\n    return np.asarray(x) * 2"
BAD_RIGHT = "def bad(x):\n    return np.asarray(x) * 2"


def in_bad(statements: str, prelude: str = "") -> str:
    """A `bad` that runs `statements` first and would then return the right answer."""
    body = "\n".join("    " + line for line in statements.splitlines())
    return f"{prelude}def bad(x):\n{body}\n    return np.asarray(x) * 2"


def top(statements: str) -> list[str]:
    """Hostile top-level cell between two right definitions."""
    return [GOOD, statements, BAD_RIGHT]


REGISTRY_FILE = str(Path(grader.registry.__file__).resolve())

# name -> (cells, status of `bad` in both notebooks, execution penalty?, words in bad's message (or
# alternatives), wall-time bound in seconds for the whole zip)
PASS = "pass"
SCENARIOS = {
    # ------------------------------------------------------------------ crashing
    "raise in function": ([GOOD, in_bad("raise ValueError('boom')")], "error", False, "ValueError: boom", 3),
    "syntax error cell": (top("def broken(:\n    pass"), PASS, True, "", 3),
    "name error at top level": (top("value = undefined_name + 1"), PASS, True, "", 3),
    # ------------------------------------------------------------------ hanging
    "hang in a top-level definition cell": (top("def helper():\n    return 1\nwhile True:\n    pass"),
                                            PASS, True, "", 3 + 2 + 3),
    "hang in function": ([GOOD, in_bad("while True:\n    pass")], "error", False, "timed out after 2 s", 2 * 4 + 3),
    # ------------------------------------------------------------------ memory
    "allocate without bound in function": (
        [GOOD, in_bad("blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 2**20))")],
        "error", False, ("MemoryError", "timed out"), 12),
    "allocate without bound at top level": (
        top("blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 2**20))"), PASS, True, "", 12),
    # ------------------------------------------------------------------ forking
    "os.fork in function": ([GOOD, in_bad("import os\nos.fork()")], "error", False, "Error", 3),
    "subprocess.run in function": ([GOOD, in_bad("import subprocess\nsubprocess.run(['ls'])")],
                                   "error", False, "Error", 3),
    # os.system does not raise: it reports failure, so `bad` is right only if `ls` really ran
    "os.system in function": ([GOOD, "import os\ndef bad(x):\n    rc = os.system('ls')\n"
                                     "    return np.asarray(x) * (2 if rc == 0 else 0)"], "fail", False, "", 3),
    "fork at top level": ([GOOD, BAD_RIGHT, "import os\npid = os.fork()", "import subprocess\nsubprocess.run(['ls'])",
                           "import os\nrc = os.system('ls')\nassert rc == 0, rc"], PASS, True, "", 3),
    # ------------------------------------------------------------------ exiting
    "sys.exit(0) in a cell": (top("import sys\nsys.exit(0)"), PASS, True, "", 3),
    "os._exit(3) in a cell": (top("import os\nos._exit(3)"), PASS, True, "", 3),
    "raise SystemExit in a cell": (top("raise SystemExit"), PASS, True, "", 3),
    "raise KeyboardInterrupt in a cell": (top("raise KeyboardInterrupt"), PASS, True, "", 3),
    "sys.exit(0) in function": ([GOOD, in_bad("sys.exit(0)", "import sys\n")], "error", False, "SystemExit", 3),
    "os._exit(3) in function": ([GOOD, in_bad("os._exit(3)", "import os\n")], "error", False, "os._exit(3)", 3),
    "raise SystemExit in function": ([GOOD, in_bad("raise SystemExit")], "error", False, "SystemExit", 3),
    "raise KeyboardInterrupt in function": ([GOOD, in_bad("raise KeyboardInterrupt")], "error", False,
                                            "KeyboardInterrupt", 3),
    # ------------------------------------------------------------------ monkeypatching (bad is wrong: 3x)
    "patch numpy/torch/builtins/json at top level": (
        [GOOD, "import numpy as np, torch, builtins, json\n"
               "np.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
               "np.isclose = lambda *a, **k: True\ntorch.Tensor.__eq__ = lambda *a, **k: True\n"
               "torch.allclose = lambda *a, **k: True\nbuiltins.abs = lambda v: 0\n"
               "json.dumps = lambda *a, **k: '{\"score\": 100}'",
         "def bad(x):\n    return np.asarray(x) * 3"], "fail", False, "differ from the reference", 3),
    "patch inside the checked function": (
        [GOOD, "import torch, builtins, json\ndef bad(x):\n    np.allclose = lambda *a, **k: True\n"
               "    np.isclose = lambda *a, **k: True\n    torch.Tensor.__eq__ = lambda *a, **k: True\n"
               "    builtins.abs = lambda v: 0\n    json.dumps = lambda *a, **k: '{}'\n"
               "    return torch.tensor(x) * 3"], "fail", False, "differ from the reference", 3),
    # ------------------------------------------------------------------ forging output (bad is wrong: 3x)
    "forged score output and results.json": (
        [GOOD, "print('All tests passed! Score: 100/100')\nimport json\nwith open('results.json', 'w') as fh:\n"
               "    json.dump({'score': 100, 'tests': [{'score': 1, 'max_score': 1}]}, fh)",
         "def bad(x):\n    print('All tests passed! Score: 100/100')\n"
         "    open('results.json', 'w').write('{\"score\": 100}')\n    return np.asarray(x) * 3"],
        "fail", False, "differ from the reference", 3),
    # ------------------------------------------------------------------ peeking at the grader
    "read the grader's registry": ([GOOD, in_bad(f"open({REGISTRY_FILE!r}).read()")], "error", False,
                                   "FileNotFoundError", 3),
    # ------------------------------------------------------------------ killing its own process in a probe
    "segfault in function": ([GOOD, in_bad("import ctypes\nctypes.string_at(0)")], "error", False,
                             "process died", 6),
    # a loop in C that never looks at signals: the server kills the child after the grace period
    "uninterruptible hang in function": ([GOOD, in_bad("sum(range(10**12))")], "error", False, "timed out", 14),
    # the child dies in a cell: a failed run (penalty), and in full mode nothing is left to probe
    "segfault in a cell": ([GOOD, BAD_RIGHT, "import ctypes\nctypes.string_at(0)", "print('after')"],
                           PASS, True, "", 4),
}

# When the child dies (in a probe or a cell), a fresh child re-runs the notebook's definitions
# and answers the probes still open, in both modes.
FULL_MODE_KILL = ("segfault in function", "uninterruptible hang in function", "segfault in a cell")

_cache: dict[str, Graded] = {}


@pytest.fixture(scope="module")
def graded(runner, hostile, tmp_path_factory):
    """graded(name) -> Graded, each scenario graded once per module."""
    import time

    from tests.zipfactory import make_submission

    def _get(name: str) -> Graded:
        if name not in _cache:
            cells = SCENARIOS[name][0]
            folder = tmp_path_factory.mktemp("hostile")
            zp = make_submission(folder, files={"full.ipynb": notebook(cells), "defs.ipynb": notebook(cells)})
            t0 = time.monotonic()
            g = grade(zp, hostile, Options(submitted_at=hostile.deadline), runner)
            _cache[name] = Graded(g, time.monotonic() - t0)
        return _cache[name]

    return _get


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_hostile_notebook(graded, name):
    cells, bad_status, penalised, words, bound = SCENARIOS[name]
    cwd_before = sorted(os.listdir(os.getcwd()))
    g = graded(name)
    # the sandbox's limits count CPU time: on a loaded machine a child gets a share of a core, and
    # the wall time of a hang stretches by the load per core (the verdict does not change)
    slack = max(1.0, os.getloadavg()[0] / len(os.sched_getaffinity(0)))
    assert g.seconds < bound * slack, f"{name}: took {g.seconds:.1f} s (bound {bound} s x load {slack:.1f})"
    assert sorted(os.listdir(os.getcwd())) == cwd_before  # nothing written where the grader runs
    assert g["defs.good"].status == "pass", g["defs.good"].message
    if name not in FULL_MODE_KILL:
        assert g["full.good"].status == "pass", g["full.good"].message
    for nb in ("full", "defs"):
        bad = g[f"{nb}.bad"]
        assert bad.status == bad_status, (nb, bad.message)
        assert bad.points == (1.0 if bad_status == "pass" else 0.0)
        assert any(w in bad.message for w in ((words,) if isinstance(words, str) else words)), (nb, bad.message)
    # only a failing *cell* of the full-mode notebook costs the execution penalty; a probe
    # that crashes costs its own check, and definitions mode has no penalty here
    assert g.penalty_rules == (["execution"] if penalised else []), g.grade.penalties
    if penalised:
        assert "full.ipynb" in g.grade.penalties[0].reason and "defs.ipynb" not in g.grade.penalties[0].reason
    assert g.grade.score == pytest.approx(max(0.0, g.grade.raw_score - (1.0 if penalised else 0.0)))


@pytest.mark.parametrize("name", FULL_MODE_KILL)
def test_full_mode_keeps_other_checks_after_the_child_dies(graded, name):
    g = graded(name)
    assert g["full.good"].status == "pass", g["full.good"].message


def test_the_grader_survives_and_still_grades(runner, hostile, grade_files):
    """After every hostile notebook above, the same runner grades a right submission."""
    g = grade_files(hostile, {"full.ipynb": [GOOD, BAD_RIGHT], "defs.ipynb": [GOOD, BAD_RIGHT]})
    assert g.where("") == {c: ("pass", 1.0) for c in ("full.good", "full.bad", "defs.good", "defs.bad")}
    assert g.grade.score == 4.0 and g.penalty_rules == []


# ------------------------------------------------------------------ one student's run, that student's only
# (the sandbox-level tests of each attack are in tests/sandbox/test_isolation.py)

FLOOD = """import json, os, struct
head = json.dumps({"t": "snapshot", "step": 0, "instance": 0, "class_name": "Net"}).encode()
blob = b"\\x93NUMPY" + bytes(60 << 20)
body = b"HW2W" + struct.pack("<II", len(head), 1) + struct.pack("<Q", len(blob)) + head + blob
for _ in range(16):
    os.write(3, struct.pack("<Q", len(body)) + body)"""


def test_unasked_messages_end_the_run_with_a_clear_verdict(runner, hostile, grade_files):
    """16 x 60 MiB snapshot messages nobody asked for, written straight to the result channel."""
    from grader.sandbox.expect import UNASKED

    g = grade_files(hostile, {"full.ipynb": [FLOOD, GOOD, BAD_RIGHT], "defs.ipynb": [GOOD, BAD_RIGHT]})
    for cid in ("full.good", "full.bad"):
        assert g[cid].status != "pass" and UNASKED in g[cid].message, g[cid].message
    assert g["defs.good"].status == "pass" and g["defs.bad"].status == "pass"  # the other notebook is untouched
    assert g.penalty_rules == ["execution"]


def test_writes_past_the_disk_quota_are_reported(runner, hostile, grade_files):
    import dataclasses

    small = dataclasses.replace(hostile, sandbox=dataclasses.replace(hostile.sandbox, disk_mb=16))
    fill = "for i in range(6):\n    open(f'block{i}.bin', 'wb').write(b'x' * (6 << 20))"
    g = grade_files(small, {"full.ipynb": [GOOD, fill, BAD_RIGHT], "defs.ipynb": [GOOD, BAD_RIGHT]})
    assert g.where("") == {c: ("pass", 1.0) for c in ("full.good", "full.bad", "defs.good", "defs.bad")}
    assert g.penalty_rules == ["execution"]  # the cell failed with "No space left on device"
    quota = [p for p in g.grade.problems if "disk quota" in p.message]
    assert len(quota) == 1 and quota[0].file == "full.ipynb", g.grade.problems
    assert "16 MiB" in quota[0].message and "sandbox.disk_mb" in quota[0].message and "cell 2" in quota[0].message
