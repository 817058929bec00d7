"""Inside Gradescope's container: grade /autograder/submission/ into results/results.json.

Called by `run_autograder` as `python -m grader gradescope-run`. Gradescope hands over a
folder of the student's files (an uploaded zip arrives extracted), so the folder is packed
into `<net_id>.zip` (the net id from the metadata's email; the registry's example name when
it is not known, so that no naming penalty comes from a name the student never chose) and
graded like any zip: the folder's layout, names and extra files still count. The submission
time and an extension come from `submission_metadata.json`. Whatever happens, a valid
results.json is written: a grader failure becomes score 0 with an output that says so, and
the traceback goes to stdout (shown to the instructors only).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any

from . import CONFIG_NAME, DEFAULT_ROOT, ENV_ROOT
from .metadata import SubmissionMeta, read_metadata

DATE_TIME = (2020, 1, 1, 0, 0, 0)


def gradescope_root() -> Path:
    return Path(os.environ.get(ENV_ROOT) or DEFAULT_ROOT)


def pack_submission(folder: Path, out: Path) -> Path:
    """The submission folder as one zip at `out`. A folder holding exactly one .zip (and
    nothing else) is that zip. Symbolic links are left out; entries are sorted, with a fixed
    time, so the same files give the same bytes."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()) if folder.is_dir() else []
    if len(files) == 1 and files[0].suffix.lower() == ".zip":
        shutil.copyfile(files[0], out)
        return out
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            info = zipfile.ZipInfo(f.relative_to(folder).as_posix(), DATE_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(f, "rb") as src, zf.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
    return out


def _time_line(meta: SubmissionMeta, deadline: Any) -> str:
    if meta.submitted_at is None:
        return ""
    line = f"Submitted at {meta.submitted_at.isoformat(timespec='seconds')} (Gradescope); deadline {deadline.isoformat()}"
    if meta.extension_hours > 0:
        line += f", extended by {meta.extension_hours:g} hours (Gradescope)"
    return line


def grade_folder(root: Path) -> tuple[Any, dict[str, Any], list[str]]:
    """(Grade, config, notes for the top-level output). Raises on the grader's own faults."""
    from ..checks.base import use_reference_folders
    from ..grading import Options, grade
    from ..registry import load_file
    from ..sandbox_runner import open_runner
    from ..starters import load_starters, require_complete
    from ..timestamps import Extension

    source = root / "source"
    config = json.loads((source / CONFIG_NAME).read_text(encoding="utf-8"))
    use_reference_folders([str(source / r) for r in config.get("references", [])])
    assignment = load_file(source / config["assignment_file"])
    starters = None
    if config.get("starters"):
        starters = load_starters(source / config["starters"], origin="the autograder's")
        require_complete(starters, assignment)
    meta = read_metadata(root / "submission_metadata.json", assignment.submission)
    example = assignment.submission.zip_example or "submission.zip"
    stem = meta.student or Path(example).stem
    extensions = {stem: Extension(stem, extra_hours=meta.extension_hours)} if meta.extension_hours > 0 else None
    options = Options(submitted_at=meta.submitted_at or assignment.deadline, extensions=extensions,
                      seed=int(config.get("seed", Options.seed)), starters=starters)
    with tempfile.TemporaryDirectory(prefix="grader-gradescope-") as tmp:
        zip_path = pack_submission(root / "submission", Path(tmp) / f"{stem}.zip")
        # The whole root is hidden from student code (the Python installation under it is bound
        # back read-only by the sandbox): the seed and references in source/, and the metadata,
        # whose previous_submissions hold earlier results, hidden checks included.
        with open_runner(hidden=(str(root),)) as runner:
            g = grade(zip_path, assignment, options, runner)
    if meta.student is None:
        g = dataclasses.replace(g, student=None)
    notes = [n for n in (_time_line(meta, assignment.deadline),) if n] + list(meta.notes)
    return g, config, notes


def failure_results(exc: BaseException, seconds: float) -> dict[str, Any]:
    return {"score": 0.0, "execution_time": round(seconds), "visibility": "visible", "stdout_visibility": "hidden",
            "output": f"The autograder failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
                      "Your submission was received; the course staff will grade it.",
            "tests": []}


def run_autograder(root: Path | None = None) -> tuple[Path, bool]:
    """Grade and write results/results.json; (its path, whether grading itself succeeded)."""
    from ..report.gradescope import gradescope_json

    root = root or gradescope_root()
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    ok = True
    try:
        g, config, notes = grade_folder(root)
        text = gradescope_json(g, hidden_visibility=config.get("hidden_visibility", "after_published"),
                               stdout_visibility=config.get("stdout_visibility", "hidden"),
                               execution_time=time.monotonic() - t0, notes=notes)
        print(f"graded {g.zip_name}: {g.verdict}, score {g.score:g}/{g.max_score:g}")
    except Exception as exc:  # noqa: BLE001 - the student always gets a results file
        ok = False
        traceback.print_exc()
        text = json.dumps(failure_results(exc, time.monotonic() - t0), indent=2, sort_keys=True) + "\n"
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out, ok
