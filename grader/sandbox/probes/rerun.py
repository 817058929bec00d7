"""`rerun_training`: run the cells that trained a model again, under another torch seed.

Whether a chaotic training spikes (seq_classification's Section 8: a jump of the loss
back to where it started) depends on the last bits of the arithmetic, so one run cannot
judge the procedure. This probe re-runs the student's own procedure, whatever shape it
has: the code cells from the last one that seeds torch (at or before the training cell)
to the cell that trained the snapshotted model (as grader.sandbox.snapshot noted it),
with ``torch.manual_seed`` pinned to the probe's seed, so the notebook's own seeding call
seeds with it. Weights are snapshotted as during the run; the reply holds the
snapshotter's step counts before and after, which tell the grader which snapshots belong
to this re-run, and the sources of the cells it ran (for the feedback). Nothing the
cells print or return is used.
"""

from __future__ import annotations

from typing import Any

import torch

from .. import shims
from .. import snapshot as _snapshot
from ..timer import CpuLimit, Timeout
from . import ProbeContext, ProbeError, R, probe

_SEEDERS = ((torch, "manual_seed"), (torch.random, "manual_seed"))


@probe("rerun_training")
def rerun_training(ctx: ProbeContext, args: dict) -> Any:
    """args: ``seed`` (int), ``marker`` (text of the seeding call, default ``manual_seed``)."""
    seed = int(args.get("seed", 0))
    marker = str(args.get("marker", "manual_seed"))
    snap = _snapshot.ACTIVE
    if snap is None:
        raise ProbeError("no weight snapshots were recorded during the run (full mode only)")
    last, cells = snap.training_cells()
    if last < 0:
        raise ProbeError(f"no {snap.class_name} was trained during the run")
    first = max((i for i in range(last + 1) if marker in cells[i]), default=last)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()

    def pinned(*_args: Any, **_kwargs: Any) -> Any:
        return R.manual_seed(seed)

    saved = [(obj, name, getattr(obj, name)) for obj, name in _SEEDERS]
    rebound = [k for k, v in ctx.ns.items() if v is R.manual_seed]
    start = snap.offset = snap.steps  # the re-run's snapshots fall on the same steps as the run's
    snap.record_cells = False
    try:
        for obj, name, _ in saved:
            setattr(obj, name, pinned)
        for k in rebound:
            ctx.ns[k] = pinned
        R.manual_seed(seed)
        for i in range(first, last + 1):
            result = shell.run_cell(cells[i], silent=True)
            shims.close_figures()
            err = result.error_before_exec or result.error_in_exec
            if isinstance(err, (Timeout, CpuLimit)):
                raise err
            if err is not None:
                raise ProbeError(f"re-running cell {i - first + 1} of {last - first + 1} of the training failed: "
                                 f"{type(err).__name__}: {str(err)[:300]}")
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)
        for k in rebound:
            if ctx.ns.get(k) is pinned:
                ctx.ns[k] = R.manual_seed
        snap.record_cells = True
    return {"seed": seed, "steps": [start, snap.steps], "sources": [cells[i][:20_000] for i in range(first, last + 1)]}
