"""Weight snapshots during a full run (``NotebookJob.snapshot``).

Installed in the child before the first cell: a global forward pre-hook notes every
module instance of the requested class when it first runs (weak references), and a global
optimizer step post-hook (``torch.optim.optimizer.register_optimizer_step_post_hook``)
counts steps; after every ``every`` steps it copies the ``state_dict`` of each noted
instance whose parameters the stepping optimizer updates, and sends it to the server at
once (so snapshots survive a cell that is later killed). Capped by ``max_count`` and
``max_mb``. Losses the student prints or returns are not recorded: the grader recomputes
them from these weights.

The snapshotter also notes which cell stepped each instance (IPython's ``pre_run_cell``
event gives the source of every cell as it starts), so that a probe can re-run the cells
that trained a model (``rerun_training`` in grader/sandbox/probes/rerun.py): the module's
``ACTIVE`` is the installed snapshotter, ``steps`` its step count (a re-run's snapshots
are those between the counts before and after it).
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import torch

from torch.optim.optimizer import register_optimizer_step_post_hook as _register_step_hook
_register_pre = torch.nn.modules.module.register_module_forward_pre_hook
_state_dict = torch.nn.Module.state_dict
_parameters = torch.nn.Module.parameters
_detach = torch.Tensor.detach
_clone = torch.Tensor.clone


ACTIVE: "Snapshotter | None" = None


class Snapshotter:
    def __init__(self, spec: dict, send: Callable[[dict, Any], None]):
        self.class_name = str(spec.get("class_name", ""))
        self.every = max(1, int(spec.get("every", 1)))
        self.max_count = max(0, int(spec.get("max_count", 20)))
        self.max_bytes = int(float(spec.get("max_mb", 64.0)) * (1 << 20))
        self.send = send
        self.instances: list[weakref.ref] = []
        self.ids: set[int] = set()
        self.steps = 0
        self.offset = 0  # snapshots after every `every` steps counted from here (a re-run restarts it)
        self.count = 0
        self.bytes = 0
        self.handles: list[Any] = []
        self.stopped = ""
        self.cells: list[str] = []  # sources of the cells run, in order (while record_cells)
        self.record_cells = True
        self.trained: dict[int, tuple[int, int]] = {}  # instance -> (snapshots, last cell ordinal)

    def install(self) -> None:
        global ACTIVE
        self.handles.append(_register_pre(self._pre))
        self.handles.append(_register_step_hook(self._post_step))
        try:
            from IPython.core.interactiveshell import InteractiveShell

            if InteractiveShell.initialized():
                InteractiveShell.instance().events.register("pre_run_cell", self._cell)
        except Exception:  # noqa: BLE001 - no shell (a plain script): no cell record
            pass
        ACTIVE = self

    def _cell(self, info: Any) -> None:
        if self.record_cells:
            self.cells.append(str(getattr(info, "raw_cell", "") or ""))
            self.offset = self.steps  # every cell's snapshots fall on the same steps of its own count

    def training_cells(self) -> tuple[int, list[str]]:
        """(ordinal of the cell that stepped the most-snapshotted instance, all cell
        sources run so far); ties go to the instance first seen last. (-1, ...) if none."""
        if not self.trained:
            return -1, list(self.cells)
        best = max(self.trained, key=lambda i: (self.trained[i][0], i))
        return self.trained[best][1], list(self.cells)

    def _pre(self, module: Any, inputs: Any) -> None:
        if type(module).__name__ == self.class_name and id(module) not in self.ids:
            self.ids.add(id(module))
            self.instances.append(weakref.ref(module))

    def _post_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        self.steps += 1
        if self.stopped or (self.steps - self.offset) % self.every:
            return
        try:
            stepped = {id(p) for g in optimizer.param_groups for p in g["params"]}
        except Exception:  # noqa: BLE001 - a student optimizer with odd groups
            stepped = set()
        for i, ref in enumerate(self.instances):
            module = ref()
            if module is None:
                continue
            try:
                if stepped and not any(id(p) in stepped for p in _parameters(module)):
                    continue
                state = {k: _clone(_detach(v)) for k, v in _state_dict(module).items() if isinstance(v, torch.Tensor)}
            except Exception:  # noqa: BLE001
                continue
            size = sum(v.numel() * v.element_size() for v in state.values())
            if self.count >= self.max_count:
                self.stopped = f"max_count {self.max_count} reached"
                return
            if self.bytes + size > self.max_bytes:
                self.stopped = f"max_mb {self.max_bytes >> 20} reached"
                return
            self.count += 1
            self.bytes += size
            if self.record_cells:
                n = self.trained.get(i, (0, -1))[0]
                self.trained[i] = (n + 1, len(self.cells) - 1)
            self.send({"step": self.steps, "instance": i, "class_name": self.class_name}, state)
