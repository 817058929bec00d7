"""The one surface course code imports from the grader.

A course package (see `grader.courses`) holds judges, probes and a theory-key builder; they
import from here and from nowhere else under `grader` (a test scans every shipped course),
so the engine's modules can move and split without breaking a course.

Grader side (judges, run in the grader's own process):

- `Request` (what the sandbox child must run; `job="name"` runs it in a child of its own on
  a free lane when the notebook runs in definitions mode), `Reply` (what it said: a claim),
  `Verdict` (a judge's answer), `Measure` (the number a threshold verdict decided on);
- `rng_for(ctx, check_id, public)`: the check's random stream (public cases the same for
  everyone, hidden ones following the secret seed), `hidden_error(reply)`: a failure said
  without repeating hidden inputs;
- `tensor(array)`: marks an array to arrive in the child as a torch tensor;
- `threshold_credit(value, zero, full)`: the linear credit between two thresholds;
- `SNAPSHOT`: the request name asking for weight snapshots during a full notebook run;
- the verified-program toolkit (`ModuleKind`, `verified`, `calls`, `Call`, `decode`,
  `ProgramError`): a module's exported graph as the grader rebuilt and checked it, for judges
  that read a network's layers;
- judges are registered declaratively: the course's `course.yaml` names each judge, the
  probes it uses and whether it may run in a self-check bundle, so nothing is imported to
  list or validate the names (a judge is a class with `validate/requests/judge`).

Sandbox side (probes, run beside the student's code in the child; a probe module must import
nothing but torch, numpy, the standard library and this module's sandbox half):

- `probe("name")` registers `fn(ctx, args)`; `driver("name")` a training loop the `train` kind can name; `ProbeContext`, `ProbeError`, `R` (torch/numpy
  functions taken before student code can patch them), `seed_all`.

Theory key: `Answer` (one worked answer) and `KeyConfigError` (a bad value in a `theory:`
block, with its dotted key); `ItemSpec`/`Alternative` say what the PDF checker looks for.

Every name is loaded on first use: a probe module asking for `probe` pulls in only the
sandbox half (never the judging code), and importing this module imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

SNAPSHOT = "$snapshot"  # = grader.sandbox_runner.SNAPSHOT (a test keeps them equal)

# name -> module that defines it. Loaded on first use, so a probe module importing
# `probe` from here pulls in only the sandbox half (never the judging code), and a judge
# never imports torch through this module.
_WHERE = {
    "Context": "grader.checks.base", "Reply": "grader.checks.base", "Request": "grader.checks.base",
    "Verdict": "grader.checks.base", "hidden_error": "grader.checks.base", "rng_for": "grader.checks.base",
    "Measure": "grader.models",
    # the verified-program toolkit: a module check's exported graph, rebuilt and run by the grader
    "ModuleKind": "grader.checks.module", "verified": "grader.checks.module",
    "Call": "grader.checks.program", "ProgramError": "grader.checks.program", "calls": "grader.checks.program",
    "decode": "grader.checks.program",
    "tensor": "grader.sandbox.wire",
    "Answer": "grader.theory.keytypes", "KeyConfigError": "grader.theory.keytypes",
    "Alternative": "grader.theory.spec", "ItemSpec": "grader.theory.spec",
    "probe": "grader.sandbox.probes", "ProbeContext": "grader.sandbox.probes", "ProbeError": "grader.sandbox.probes",
    "R": "grader.sandbox.probes", "seed_all": "grader.sandbox.probes",
    "driver": "grader.sandbox.probes.drivers",
}


def threshold_credit(value: float, zero: float, full: float) -> float:
    """The fraction of the points for `value`: 0 at `zero`, 1 at `full`, linear between and
    clipped outside. `zero > full` means lower is better (e.g. a loss)."""
    if zero == full:
        return 1.0 if value >= full else 0.0
    return min(1.0, max(0.0, (value - zero) / (full - zero)))


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["SNAPSHOT", "threshold_credit", *_WHERE]
