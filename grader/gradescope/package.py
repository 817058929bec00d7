"""`grader gradescope ID OUT.zip`: the autograder zip Gradescope builds its image from.

Layout (the zip's root becomes /autograder/source; see the specification cited in
`grader/gradescope/__init__.py`):

    setup.sh          run once as root on Gradescope's Ubuntu image: Python 3.11, a CPU-only
                      torch at the version this grader pins, then the grader from grader-src/
    run_autograder    run per submission: `python -m grader gradescope-run` (python from
                      HW2_GRADER_PYTHON, default the venv setup.sh made)
    hw2-grader.json   the assignment file, reference folders, handout, seed and visibilities
    grader-src/       this project's source (pyproject.toml and its packages)
    registry/         the assignment's YAML file and its siblings (`extends:` bases)
    references/N/     each private reference folder (--references)
    starters/         the course's handout (--starters), when given

The zip is deterministic: sorted entries, a fixed timestamp, no caches; rebuilt from the same
inputs it has the same bytes.
"""

from __future__ import annotations

import fnmatch
import json
import re
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..registry import Assignment
from ..shipping import SKIP_PARTS, folder_files, registry_files
from . import CONFIG_NAME, VISIBILITIES

DATE_TIME = (2020, 1, 1, 0, 0, 0)

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (Ubuntu).
# It installs Python 3.11, a CPU-only torch=={torch} (the CPU index: never the multi-GB CUDA
# build) and the grader from grader-src/ into /autograder/venv, which run_autograder uses.
set -euo pipefail
cd "$(dirname "$0")"
export DEBIAN_FRONTEND=noninteractive
apt-get update -y
apt-get install -y --no-install-recommends libseccomp2 ca-certificates
if ! command -v python3.11 >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends python3.11 python3.11-venv || {{
    apt-get install -y --no-install-recommends software-properties-common
    add-apt-repository -y ppa:deadsnakes/ppa
    apt-get update -y
    apt-get install -y --no-install-recommends python3.11 python3.11-venv
  }}
fi
python3.11 -m venv /autograder/venv
/autograder/venv/bin/python -m pip install --upgrade pip
/autograder/venv/bin/python -m pip install --index-url https://download.pytorch.org/whl/cpu "torch=={torch}"
/autograder/venv/bin/python -m pip install ./grader-src
/autograder/venv/bin/python -m grader --version
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for every submission (working folder /autograder). It grades
# /autograder/submission/ and writes /autograder/results/results.json. HW2_GRADER_PYTHON picks
# the Python that has the grader (default: the venv setup.sh made); HW2_GRADER_GRADESCOPE_ROOT
# moves /autograder (tests use a temp folder).
ROOT="${HW2_GRADER_GRADESCOPE_ROOT:-/autograder}"
PY="${HW2_GRADER_PYTHON:-/autograder/venv/bin/python}"
export HW2_GRADER_GRADESCOPE_ROOT="$ROOT"
"$PY" -m grader gradescope-run
status=$?
if [ ! -s "$ROOT/results/results.json" ]; then
  # The grader could not even start: still leave a valid results file that says so.
  mkdir -p "$ROOT/results"
  printf '{"score": 0.0, "execution_time": %d, "visibility": "visible", "stdout_visibility": "hidden", "tests": [], "output": "The autograder could not run (exit status %s). Your submission was received; the course staff will grade it."}\\n' "$SECONDS" "$status" > "$ROOT/results/results.json"
fi
exit 0
"""


@dataclass(frozen=True)
class AutograderZip:
    path: Path
    files: int
    size: int
    config: dict


def project_root() -> Path:
    """The source checkout this grader runs from (an editable install or a clone)."""
    import grader

    root = Path(grader.__file__).resolve().parent.parent
    if not (root / "pyproject.toml").is_file():
        raise UsageError(f"gradescope: the grader runs from {root}, which is not a source checkout "
                         "(no pyproject.toml); run `grader gradescope` from a clone installed with `pip install -e .`")
    return root


def _torch_pin(pyproject: dict) -> str:
    for dep in pyproject.get("project", {}).get("dependencies", []):
        m = re.fullmatch(r"\s*torch\s*==\s*([\w.+-]+)\s*", dep)
        if m:
            return m.group(1)
    raise UsageError("gradescope: pyproject.toml pins no `torch==VERSION`")


def source_files(root: Path) -> tuple[dict[str, Path], str]:
    """grader-src/ entries (zip name -> file) and the pinned torch version: pyproject.toml,
    the readme it names, and every top-level package its `packages.find.include` selects."""
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    find = pyproject.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {})
    include = find.get("include", ["*"])
    entries: dict[str, Path] = {"grader-src/pyproject.toml": root / "pyproject.toml"}
    readme = pyproject.get("project", {}).get("readme")
    if isinstance(readme, str) and (root / readme).is_file():
        entries[f"grader-src/{readme}"] = root / readme
    for where in find.get("where", ["."]):  # the engine at the top, course packages under courses/
        base = (root / where).resolve()
        prefix = "" if base == root.resolve() else f"{where.strip('/')}/"
        for top in sorted(p for p in base.iterdir() if p.is_dir() and (p / "__init__.py").is_file()):
            if top.name in SKIP_PARTS or not any(fnmatch.fnmatch(top.name, pat) for pat in include):
                continue
            for rel, f in folder_files(top).items():
                entries[f"grader-src/{prefix}{top.name}/{rel}"] = f
    return entries, _torch_pin(pyproject)


def build_autograder(assignment: Assignment, out: Path, *, references: list[str], starters: str | None,
                     seed: int, hidden_visibility: str = "after_published",
                     stdout_visibility: str = "hidden") -> AutograderZip:
    """Write the autograder zip for `assignment`; every input is checked before anything is written."""
    for name, value in (("--hidden-visibility", hidden_visibility), ("--stdout-visibility", stdout_visibility)):
        if value not in VISIBILITIES:
            raise UsageError(f"{name} {value}: use one of {', '.join(VISIBILITIES)}")
    if not assignment.source or not Path(assignment.source).is_file():
        raise UsageError(f"{assignment.id}: its registry file is not on disk ({assignment.source})")
    entries, torch_version = source_files(project_root())

    registry_file = Path(assignment.source).resolve()
    for name, y in registry_files(registry_file).items():
        entries[f"registry/{name}"] = y
    ref_names = []
    for i, folder in enumerate(references):
        path = Path(folder)
        if not path.is_dir():
            raise UsageError(f"--references {folder}: no such folder")
        ref_names.append(f"references/{i}")
        for rel, f in folder_files(path).items():
            entries[f"references/{i}/{rel}"] = f
    if starters:
        path = Path(starters)
        if not path.is_dir():
            raise UsageError(f"--starters {starters}: no such folder")
        for rel, f in folder_files(path).items():
            entries[f"starters/{rel}"] = f

    config = {
        "assignment": assignment.id,
        "assignment_file": f"registry/{registry_file.name}",
        "references": ref_names,
        "starters": "starters" if starters else None,
        "seed": seed,
        "hidden_visibility": hidden_visibility,
        "stdout_visibility": stdout_visibility,
        "registry_hash": assignment.registry_hash,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    texts = {"setup.sh": SETUP_SH.format(torch=torch_version), "run_autograder": RUN_AUTOGRADER,
             CONFIG_NAME: json.dumps(config, indent=2, sort_keys=True) + "\n"}
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(texts):
            info = zipfile.ZipInfo(name, DATE_TIME)
            info.external_attr = (0o755 if name in ("setup.sh", "run_autograder") else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, texts[name])
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, DATE_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[name].read_bytes())
    tmp.replace(out)
    return AutograderZip(out, len(entries) + len(texts), out.stat().st_size, config)
