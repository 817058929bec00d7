"""The Gradescope autograder: the zip `grader gradescope` writes, and `run_autograder` run on a
Gradescope layout in a temp root (HW2_GRADER_GRADESCOPE_ROOT), with the current venv's python
standing in for the one setup.sh installs (HW2_GRADER_PYTHON; setup.sh itself is not run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.gradescope import VISIBILITIES
from grader.gradescope.metadata import read_metadata
from grader.gradescope.run import pack_submission

from .conftest import MINI, PRIVATE, RIGHT, work_notebook

# Gradescope's documented results.json fields (https://gradescope-autograders.readthedocs.io/en/latest/specs/)
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
             "visibility", "extra_data"}


def assert_results_schema(data: dict) -> None:
    """results.json as Gradescope documents it, plus this grader's promises (leaderboard off)."""
    assert set(data) <= TOP_KEYS, set(data) - TOP_KEYS
    assert "leaderboard" not in data
    assert isinstance(data["score"], (int, float)) and data["score"] >= 0
    assert isinstance(data["output"], str) and data["output"]
    assert isinstance(data["execution_time"], int) and data["execution_time"] >= 0
    assert data.get("visibility", "visible") in VISIBILITIES
    assert data.get("stdout_visibility", "hidden") in VISIBILITIES
    assert isinstance(data["tests"], list)
    for t in data["tests"]:
        assert set(t) <= TEST_KEYS, set(t) - TEST_KEYS
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], (int, float))
        assert t["status"] in ("passed", "failed")
        assert isinstance(t["output"], str)
        assert t["visibility"] in VISIBILITIES


def handout(folder: Path) -> Path:
    (folder / "work.ipynb").write_bytes(work_notebook(["import numpy as np", "def double(x):\n    pass  # TODO"]))
    return folder


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gs") / "autograder.zip"
    r = CliRunner().invoke(main, ["gradescope", str(MINI), str(out), "--references", str(PRIVATE), "--seed", "7",
                                  "--starters", str(handout(tmp_path_factory.mktemp("handout")))])
    assert r.exit_code == 0, r.output
    return out


def lay_out(root: Path, autograder_zip: Path, files: dict[str, bytes], metadata: dict | None) -> Path:
    """Gradescope's folders under `root`: source/ (the zip extracted), submission/, results/, metadata."""
    with zipfile.ZipFile(autograder_zip) as zf:
        zf.extractall(root / "source")
    for name, data in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_bytes(data)
    (root / "submission").mkdir(exist_ok=True)
    (root / "results").mkdir()
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    return root


def run_autograder(root: Path, python: str = sys.executable) -> dict:
    env = {**os.environ, "HW2_GRADER_GRADESCOPE_ROOT": str(root), "HW2_GRADER_PYTHON": python}
    proc = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((root / "results" / "results.json").read_text())
    assert_results_schema(data)
    return data


def metadata(created_at: str, email: str = "xy987@nyu.edu", own_due: str | None = None) -> dict:
    user = {"email": email, "id": 1, "name": "A Student"}
    if own_due:
        user["assignment"] = {"due_date": own_due, "late_due_date": None, "release_date": "2025-02-01T00:00:00-05:00"}
    return {"id": 42, "created_at": created_at, "submission_method": "upload", "users": [user],
            "assignment": {"due_date": "2025-02-25T23:59:00.000000-05:00", "late_due_date": None, "id": 7,
                           "title": "HW2", "total_points": "10.0"},
            "previous_submissions": []}


# ----------------------------------------------------------------------------- the zip


def test_autograder_zip_holds_what_gradescope_runs(autograder_zip, tmp_path):
    with zipfile.ZipFile(autograder_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in zf.infolist()}
        setup = zf.read("setup.sh").decode()
        config = json.loads(zf.read("hw2-grader.json"))
    assert {"setup.sh", "run_autograder", "hw2-grader.json", "registry/mini.yaml", "references/0/scale_ref.py",
            "grader-src/pyproject.toml", "grader-src/README.md", "grader-src/grader/cli.py",
            "starters/work.ipynb"} <= names
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert "download.pytorch.org/whl/cpu" in setup and '"torch==2.13.0"' in setup and "pip install ./grader-src" in setup
    assert config == {"assignment": "scale-mini", "assignment_file": "registry/mini.yaml", "references": ["references/0"],
                      "starters": "starters", "seed": 7, "hidden_visibility": "after_published",
                      "stdout_visibility": "hidden", "registry_hash": config["registry_hash"]}
    again = tmp_path / "again.zip"
    (tmp_path / "h").mkdir()
    r = CliRunner().invoke(main, ["gradescope", str(MINI), str(again), "--references", str(PRIVATE), "--seed", "7",
                                  "--starters", str(handout(tmp_path / "h"))])
    assert r.exit_code == 0, r.output
    assert again.read_bytes() == autograder_zip.read_bytes()  # deterministic


def test_bad_options_are_one_line_usage_errors(tmp_path):
    r = CliRunner().invoke(main, ["gradescope", str(MINI), str(tmp_path / "a.zip"), "--references", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "no such folder" in r.output
    r = CliRunner().invoke(main, ["gradescope", str(MINI), str(tmp_path / "a.zip"), "--references", str(PRIVATE),
                                  "--starters", str(tmp_path / "nope")])
    assert r.exit_code == 2 and "no such folder" in r.output
    assert not (tmp_path / "a.zip").exists()


# ----------------------------------------------------------------------------- the metadata and the folder


def test_metadata_gives_time_student_and_extension(mini, tmp_path):
    path = tmp_path / "submission_metadata.json"
    path.write_text(json.dumps(metadata("2025-02-27T10:00:00.123456-05:00", own_due="2025-02-27T23:59:00-05:00")))
    meta = read_metadata(path, mini.submission)
    assert meta.submitted_at == datetime(2025, 2, 27, 15, 0, 0, 123456, tzinfo=timezone.utc)
    assert meta.student == "xy987" and meta.extension_hours == pytest.approx(48.0) and meta.notes == ()

    path.write_text(json.dumps(metadata("yesterday", email="Some.One@example.com")))
    meta = read_metadata(path, mini.submission)
    assert meta.submitted_at is None and meta.student is None and meta.extension_hours == 0
    assert any("created_at" in n for n in meta.notes) and any("net id" in n for n in meta.notes)

    path.write_text("{not json")
    assert "unreadable" in read_metadata(path, mini.submission).notes[0]
    assert "graded as on time" in read_metadata(tmp_path / "missing.json", mini.submission).notes[0]


def test_submission_folder_is_packed_deterministically(tmp_path):
    sub = tmp_path / "submission"
    (sub / "abc1234").mkdir(parents=True)
    (sub / "abc1234" / "work.ipynb").write_bytes(b"{}")
    (sub / "notes.txt").write_text("hi")
    (sub / "link").symlink_to("/etc/passwd")
    a = pack_submission(sub, tmp_path / "a.zip")
    with zipfile.ZipFile(a) as zf:
        assert zf.namelist() == ["abc1234/work.ipynb", "notes.txt"]  # no symlink, sorted
    assert pack_submission(sub, tmp_path / "b.zip").read_bytes() == a.read_bytes()
    only = tmp_path / "one"
    only.mkdir()
    (only / "given.zip").write_bytes(a.read_bytes())
    assert pack_submission(only, tmp_path / "c.zip").read_bytes() == a.read_bytes()  # a lone zip is graded as it is


# ----------------------------------------------------------------------------- run_autograder end to end


@pytest.fixture
def open_root():
    """A root outside the folders the sandbox hides on its own (/tmp, /home, /root, /opt, the
    project), as /autograder is on Gradescope: only then does hiding the root show."""
    import shutil
    import tempfile

    for base in ("/mnt", "/var/lib", "/usr/local"):
        if os.path.isdir(base) and os.access(base, os.W_OK):
            root = Path(tempfile.mkdtemp(prefix="hw2-grader-gs-", dir=base))
            root.chmod(0o755)  # world-readable like Gradescope's /autograder: the hiding, not the mode, protects
            yield root
            shutil.rmtree(root, ignore_errors=True)
            return
    pytest.skip("no writable folder outside the sandbox's own hidden ones")


def test_run_autograder_grades_with_late_penalty_and_hidden_checks(autograder_zip, open_root):
    # `double` is right only if student code can read the metadata (earlier results) or the seed:
    # the root is hidden from it, so it fails.
    tmp_path = open_root
    peeking = RIGHT[:1] + [f"""def double(x):
    open({str(tmp_path / 'submission_metadata.json')!r}).read()
    open({str(tmp_path / 'source' / 'hw2-grader.json')!r}).read()
    return np.asarray(x) * 2"""] + RIGHT[2:]
    root = lay_out(tmp_path, autograder_zip, {"work.ipynb": work_notebook(peeking)},
                   metadata("2025-02-26T10:00:00.000000-05:00"))
    data = run_autograder(root)
    tests = {t["name"]: t for t in data["tests"]}
    assert tests["work.ipynb: work.double"]["status"] == "failed" and tests["work.ipynb: work.double"]["score"] == 0
    assert "FileNotFoundError" in tests["work.ipynb: work.double"]["output"]
    assert tests["work.ipynb: work.double"]["visibility"] == "visible"  # public
    assert tests["work.ipynb: work.square"] == {**tests["work.ipynb: work.square"], "status": "passed", "score": 6.0,
                                                 "visibility": "after_published"}  # hidden until published
    assert tests["Penalty: late (-10%)"]["score"] == -1.0
    assert data["score"] == 5.0  # 6 - 10% of 10
    assert "xy987" in data["output"] and "Submitted at 2025-02-26T10:00:00-05:00 (Gradescope)" in data["output"]
    assert "work.square" not in data["output"]  # hidden results stay out of the always-visible text


def test_run_autograder_applies_a_gradescope_extension(autograder_zip, tmp_path):
    root = lay_out(tmp_path, autograder_zip, {"xy987/work.ipynb": work_notebook(RIGHT)},  # a wrapping folder
                   metadata("2025-02-26T10:00:00-05:00", own_due="2025-02-27T23:59:00-05:00"))
    data = run_autograder(root)
    assert data["score"] == 10.0 and not any(t["name"].startswith("Penalty") for t in data["tests"])
    assert "extended by 48 hours (Gradescope)" in data["output"]


def test_bad_submission_gives_valid_results_with_a_clear_output(autograder_zip, tmp_path):
    root = lay_out(tmp_path, autograder_zip, {"hw2.ipynb": b"this is not a notebook", "notes.txt": b"x"},
                   metadata("2025-02-25T20:00:00-05:00"))
    data = run_autograder(root)
    assert data["score"] == 0
    assert "work.ipynb" in data["output"]  # what is missing, with its fix
    assert all(t["score"] <= 0 for t in data["tests"])


def test_grader_failure_still_writes_results(autograder_zip, tmp_path):
    root = lay_out(tmp_path, autograder_zip, {"work.ipynb": work_notebook(RIGHT)}, None)
    (root / "source" / "hw2-grader.json").write_text("{broken")
    data = run_autograder(root)
    assert data["score"] == 0 and data["tests"] == [] and "The autograder failed" in data["output"]
    # and when the grader cannot even start, run_autograder's own fallback
    (root / "results" / "results.json").unlink()
    data = run_autograder(root, python=str(tmp_path / "no-python"))
    assert "could not run" in data["output"]
