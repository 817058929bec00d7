"""Batch grading on a Dask distributed cluster (`grader batch FOLDER --cluster ADDRESS`).

The parent keeps everything that makes a gradebook: the plan, the cache, the progress bar
and the outputs (`grader.batch`). Only the grading of one zip travels, as a task:

- Each worker gets a `GraderPlugin` (a Dask worker plugin) when the batch starts. Its
  `setup` writes the course payload it carries (the assignment's YAML files, the private
  reference folders) into a private temp folder, loads the assignment, checks that the
  worker runs the same grader version and registry as the parent, and starts one warm
  sandbox server; its `teardown` closes the server. Nothing depends on a shared disk.
- The plugin also carries the parent's numeric settings (kernel variables, torch threads; see
  `grader.numerics`), set in the worker before its sandbox starts: the cache key holds them.
- A task carries one zip's bytes and name and returns the Grade as JSON; the worker's sandbox
  grades it exactly as the local pool does. One worker process grades one zip at a time (a
  lock), whatever its thread count.
- A worker lost mid-task (killed, out of memory, machine gone): the scheduler re-runs its
  tasks on other workers. Results are keyed by submission in the parent, which writes each
  one once, so a retried task can never put a student twice in the gradebook. A zip that
  keeps killing workers ends as Dask's KilledWorker: that student gets an `error` verdict.

Dask is optional (`pip install -e '.[cluster]'`); without it `--cluster` is a usage error.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any, Callable, Mapping

from . import __version__
from .errors import GraderError, UsageError

PLUGIN_NAME = "hw2-grader"
CONNECT_TIMEOUT = "20s"  # how long to wait for the scheduler before a usage error
TASK_RETRIES = 1  # an exception inside a task (not a lost worker: the scheduler handles those)
_STATE: dict[str, Any] = {}
_LOCK = threading.Lock()


class ClusterError(GraderError):
    """The cluster's workers cannot grade (another grader version, a registry that differs, a
    sandbox that will not start there): one line, exit status 3."""

    exit_code = 3


def course_payload(assignment_source: str, references: list[str]) -> dict[str, Any]:
    """What a worker needs besides the installed grader: the YAML folder and reference folders, as
    bytes, and the parent's numeric settings (kernel variables, torch threads), which the batch's
    cache key holds: every worker grades under them, whatever its own environment says."""
    from .numerics import ENV_TORCH_THREADS, from_environ
    from .shipping import folder_files, registry_files

    settings = from_environ()
    return {"assignment_file": Path(assignment_source).name,
            "registry": {name: p.read_bytes() for name, p in registry_files(assignment_source).items()},
            "references": [{rel: p.read_bytes() for rel, p in folder_files(Path(r)).items()} for r in references],
            "numeric_env": {**settings.env(), ENV_TORCH_THREADS: str(settings.torch_threads)}}


def _use_numeric_env(wanted: Mapping[str, str]) -> None:
    from .numerics import ENV_TORCH_THREADS, KERNEL_VARIABLES

    for name in (*KERNEL_VARIABLES, ENV_TORCH_THREADS):
        if name in wanted:
            os.environ[name] = wanted[name]
        else:
            os.environ.pop(name, None)


def _write(folder: Path, files: Mapping[str, bytes]) -> None:
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


try:  # the plugin base class only when Dask is installed; the module stays importable without it
    from distributed.diagnostics.plugin import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover - exercised only without the extra
    _PluginBase = object  # type: ignore[misc,assignment]


class GraderPlugin(_PluginBase):  # type: ignore[misc,valid-type]
    """One warm sandbox server per worker process, for the worker's whole life."""

    name = PLUGIN_NAME

    def __init__(self, payload: Mapping[str, Any], options: Any, version: str, registry_hash: str):
        self.payload = dict(payload)
        self.options = options
        self.version = version
        self.registry_hash = registry_hash

    def setup(self, worker: Any = None) -> None:
        from .checks.base import use_reference_folders
        from .registry import load_file
        from .sandbox_runner import open_runner

        if self.version != __version__:
            raise RuntimeError(f"this worker runs grader {__version__}, the batch was started with {self.version}: "
                               "install the same grader on every worker")
        _use_numeric_env(self.payload.get("numeric_env", {}))
        tmp = Path(tempfile.mkdtemp(prefix="hw2-grader-worker-"))
        _write(tmp / "registry", self.payload["registry"])
        refs = []
        for i, files in enumerate(self.payload["references"]):
            _write(tmp / f"references{i}", files)
            refs.append(str(tmp / f"references{i}"))
        use_reference_folders(refs)
        assignment = load_file(tmp / "registry" / self.payload["assignment_file"])
        if assignment.registry_hash != self.registry_hash:
            raise RuntimeError(f"the registry loaded on this worker ({assignment.registry_hash}) differs from the "
                               f"batch's ({self.registry_hash})")
        runner_cm = open_runner(hidden=(str(tmp),))
        runner = runner_cm.__enter__()
        _STATE.update(assignment=assignment, options=self.options, runner=runner, runner_cm=runner_cm, tmp=tmp)

    def teardown(self, worker: Any = None) -> None:
        cm, tmp = _STATE.pop("runner_cm", None), _STATE.pop("tmp", None)
        _STATE.clear()
        if cm is not None:
            cm.__exit__(None, None, None)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def grade_task(zip_name: str, data: bytes) -> dict[str, Any]:
    """Runs on a worker: the zip's bytes under its own name in a temp folder, graded by the warm sandbox."""
    from .grading import grade

    if "runner" not in _STATE:
        raise RuntimeError("the hw2-grader worker plugin is not set up on this worker")
    with _LOCK, tempfile.TemporaryDirectory(prefix="hw2-grader-zip-") as tmp:
        path = Path(tmp) / Path(zip_name).name
        path.write_bytes(data)
        g = grade(path, _STATE["assignment"], _STATE["options"], _STATE["runner"])
        return g.to_json(with_timings=True)


def _client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--cluster needs Dask: pip install -e '.[cluster]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise UsageError(f"--cluster {address}: no Dask scheduler answered ({type(exc).__name__}: {exc})") from None


def run_on_cluster(address: str, todo: list, assignment: Any, options: Any,
                   finish: Callable[[Any, Any], None], crashed_grade: Callable[[Any, str], Any]) -> int:
    """Grade `todo` (BatchItems) as tasks on the cluster at `address`; `finish(item, grade)` per
    submission, in the parent, once each. Returns how many ended as grader failures."""
    from distributed import as_completed

    from .checks.base import reference_folders
    from .models import grade_from_json

    client = _client(address)
    crashed = 0
    try:
        plugin = GraderPlugin(course_payload(assignment.source, reference_folders()), options, __version__,
                              assignment.registry_hash)
        try:
            answers = client.register_plugin(plugin, name=PLUGIN_NAME)
        except Exception as exc:  # noqa: BLE001 - a worker's setup raised: say which and why
            raise ClusterError(f"--cluster {address}: the workers could not be set up: "
                               f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
        for worker, answer in (answers or {}).items():
            if isinstance(answer, dict) and answer.get("status") == "error":
                raise ClusterError(f"--cluster {address}: worker {worker} could not be set up: "
                                   f"{answer.get('exception_text') or answer.get('exception')}")
        futures = {}
        batch = uuid.uuid4().hex[:8]  # keys unique per batch and per item, even for two copies of one zip
        for i, item in enumerate(todo):
            fut = client.submit(grade_task, item.zip_path.name, item.zip_path.read_bytes(), pure=False,
                                retries=TASK_RETRIES, key=f"grade-{batch}-{i}-{item.cache_key[:12]}")
            futures[fut] = item
        for fut in as_completed(list(futures)):
            item = futures[fut]
            try:
                g = grade_from_json(fut.result())
            except Exception as exc:  # noqa: BLE001 - a lost cause for this zip only (e.g. KilledWorker)
                crashed += 1
                g = crashed_grade(item, f"grader failure on the cluster: {type(exc).__name__}: {exc}")
            finish(item, g)
    finally:
        try:
            client.unregister_worker_plugin(PLUGIN_NAME)  # teardown: each worker closes its sandbox
        except Exception:  # noqa: BLE001 - the cluster may be gone; nothing left to close then
            pass
        client.close()
    return crashed
