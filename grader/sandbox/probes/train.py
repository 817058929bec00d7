"""``train``: train a fresh student model for a bounded time, then run it on hidden inputs.

args::

    {"class": "Net", "args": [{"$ref": "HIDDEN_SIZE"}], "kwargs": {}, "seed": 0,
     "data": {"fields": ["x", "delay", "y"],           # batch order
              "arrays": {"x": wire.tensor(X), "delay": wire.tensor(D), "y": wire.tensor(Y)},
              "batch_size": 64, "shuffle": true, "drop_last": false,
              "max_batches": 300,                         # optional, across epochs
              "batch_format": "list" | "tuple" | "dict" | "single"},
     "budget_seconds": 20,            # CPU seconds: the loader stops yielding after this
     # either a call of the student's own training function ...
     "train_call": {"target": "train_model", "args": ["$model", "$loader"], "kwargs": {}},
     # ... or a harness driver (grader.sandbox.probes.drivers)
     "driver": {"name": "cnn_loop", "args": {...}},
     "use_returned_model": true,      # a returned nn.Module replaces the model
     "eval": {"method": "forward",
              "inputs": [wire.tensor(X_hidden), wire.tensor(D_hidden)],
              "batch_size": 256, "output_index": null,
              "per_item": false},        # true: fn(inputs[0][i], inputs[1][i]) per item
                                         # (e.g. test_run on plain strings), a list back
     # or "eval": {"alternatives": [spec, spec, ...]}: specs run in order (one-hot, indices,
     # test_run...) up to the first that gives a tensor; the grader keeps the first that scores
     "before": true,                  # evaluate the freshly built model before training
     "restore": true}                 # and the trained model with its initial weights restored

The loader (:class:`BudgetLoader`) is what bounds a student's own epoch loop without
killing it: ``len()`` works, it can be iterated again and again, and once the budget is
spent (``max_batches`` batches drawn in all: deterministic; or ``budget_seconds`` of CPU
time of the thread that trains: the safety net, which the load of the machine does not
spend; the grader judges a run it cut short as a timeout) every iteration ends at once. The probe's own timeout (set by the grader, above the
budget) is the hard limit.

returns::

    train_seconds    wall time spent in the training call
    batches_drawn    batches the loader yielded;  epochs_started: iterations begun
    items_drawn      rows read one at a time through ``loader.dataset[i]``
    budget_exhausted whether the loader ran out of CPU time (budget_seconds)
    max_batches_reached  whether it stopped because max_batches were drawn
    stopped          "budget spent" when the loader had to break the student's epoch loop
                     (100 empty epochs after the budget)
    train_error      {"type", "message", "traceback"} when training raised (the model
                     is still evaluated)
    driver           what the driver reported (driver mode)
    runs             one entry per eval spec (alternative): {"outputs": ...} (concatenated
                     along dim 0, tensors -> arrays; a list per batch when they cannot be
                     concatenated; a list of answers with "per_item") or {"error": ...}
    runs_before      the same for the fresh model (with "before")
    runs_restored    the same for the trained model with its initial weights put back ("restore")
    params_change    largest absolute change of any parameter in training (None when the
                     trained model's parameters cannot be compared with the initial ones)

"Before", "restore" and "params_change" let the grader tell learning from a hand-written
answer: a model that scores before training, or keeps its score without its trained
weights, did not learn.
"""

from __future__ import annotations

import math
import time
import traceback
from typing import Any

import torch

from ..timer import CpuLimit, Timeout
from . import ProbeContext, ProbeError, R, probe, seed_all
from .drivers import DRIVERS

_randperm = torch.randperm
_Generator = torch.Generator
_monotonic = time.monotonic
# the budget's clock: CPU time of the thread that draws the batches (the student's loop), so
# other processes' load does not spend it, and neither do torch's worker threads (the same
# budget for 1 or 4 threads)
_cpu = time.thread_time
_load_state_dict = torch.nn.Module.load_state_dict


EMPTY_EPOCHS_BEFORE_STOP = 100


class BudgetSpent(BaseException):
    """Raised by the loader when a student loop keeps asking for epochs after the budget
    is spent (a BaseException, so ``except Exception`` in student code lets it through);
    the probe treats it as the normal end of training."""


class _Dataset:
    def __init__(self, loader: "BudgetLoader"):
        self._loader = loader

    def __len__(self) -> int:
        return self._loader.n

    def __getitem__(self, i: int) -> Any:
        return self._loader._item(i)


class BudgetLoader:
    """A DataLoader-like iterable over grader arrays that stops when its budget is spent
    (`max_batches`, or `deadline` on the `_cpu` clock: the process's CPU time)."""

    def __init__(self, fields: list[str], arrays: dict[str, Any], batch_size: int, shuffle: bool, seed: int,
                 deadline: float, batch_format: str = "list", drop_last: bool = False,
                 max_batches: int | None = None):
        if not fields:
            raise ProbeError("train data needs at least one field")
        self.fields = fields
        self.tensors = []
        n = None
        for f in fields:
            t = arrays.get(f)
            if not R.is_tensor(t):
                t = R.as_tensor(t)
            if n is None:
                n = int(t.shape[0])
            elif int(t.shape[0]) != n:
                raise ProbeError(f"train data field {f!r} has {t.shape[0]} rows, not {n}")
            self.tensors.append(t)
        self.n = n or 0
        self.batch_size = max(1, int(batch_size))
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.deadline = deadline
        self.batch_format = batch_format
        self.gen = _Generator().manual_seed(int(seed))
        self.batches = 0
        self.items = 0  # rows read one by one through `loader.dataset[i]`
        self.epochs = 0
        self.empty_epochs = 0
        self.max_batches = None if max_batches is None else max(0, int(max_batches))
        self.out_of_time = False
        self.out_of_batches = False
        self.exhausted = False
        self.dataset = _Dataset(self)

    def __len__(self) -> int:
        if self.drop_last:
            return self.n // self.batch_size
        return math.ceil(self.n / self.batch_size)

    def _pack(self, parts: list) -> Any:
        if self.batch_format == "dict":
            return dict(zip(self.fields, parts))
        if self.batch_format == "single" and len(parts) == 1:
            return parts[0]
        if self.batch_format == "tuple":
            return tuple(parts)
        return list(parts)  # "list": what torch's DataLoader gives for a TensorDataset

    def _item(self, i: int) -> Any:
        self.items += 1
        return self._pack([t[i] for t in self.tensors])

    def _spent(self) -> bool:
        if self.max_batches is not None and self.batches >= self.max_batches:
            self.out_of_batches = self.exhausted = True
        elif _cpu() >= self.deadline:
            self.out_of_time = self.exhausted = True
        return self.exhausted

    def __iter__(self) -> Any:
        self.epochs += 1
        if self._spent():
            self.empty_epochs += 1
            if self.empty_epochs > EMPTY_EPOCHS_BEFORE_STOP:
                raise BudgetSpent(f"the training budget is spent and {EMPTY_EPOCHS_BEFORE_STOP} more epochs found no data")
            return iter(())
        return self._batches()

    def _batches(self) -> Any:
        order = _randperm(self.n, generator=self.gen) if self.shuffle else None
        for b in range(len(self)):
            if self._spent():
                return
            lo, hi = b * self.batch_size, min(self.n, (b + 1) * self.batch_size)
            idx = order[lo:hi] if order is not None else slice(lo, hi)
            self.batches += 1
            yield self._pack([t[idx] for t in self.tensors])

    @property
    def time_left(self) -> float:
        return max(0.0, self.deadline - _cpu())


def _error(exc: BaseException) -> dict[str, str]:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    lines = tb.strip().splitlines()[-12:]
    return {"type": type(exc).__name__, "message": str(exc)[:1000], "traceback": "\n".join(lines)[-3000:]}


def evaluate(model: Any, spec: dict, ctx: ProbeContext) -> Any:
    method = spec.get("method", "forward")
    inputs = ctx.resolve(list(spec.get("inputs", [])))
    kwargs = ctx.resolve(dict(spec.get("kwargs", {})))
    bs = max(1, int(spec.get("batch_size", 256)))
    index = spec.get("output_index")
    fn = model if method == "forward" else R.getattr_(model, method)
    if not inputs:
        raise ProbeError("eval needs inputs")
    n = len(inputs[0]) if spec.get("per_item") else int(inputs[0].shape[0])
    outs = []
    R.module_eval(model)
    with R.no_grad():
        if spec.get("per_item"):  # one call per item, e.g. test_run(s) or test_run(s, delay)
            return [fn(*[x[i] for x in inputs], **kwargs) for i in range(n)]
        for lo in range(0, n, bs):
            chunk = [x[lo:lo + bs] if R.is_tensor(x) else x for x in inputs]
            out = fn(*chunk, **kwargs)
            if index is not None and isinstance(out, (tuple, list)):
                out = out[int(index)]
            outs.append(out)
    if outs and all(R.is_tensor(o) for o in outs):
        try:
            return R.cat(outs, 0)
        except Exception:  # noqa: BLE001 - shapes differ: give the list
            return outs
    return outs


def _specs(spec: Any) -> list[dict]:
    if not isinstance(spec, dict):
        return []
    alternatives = spec.get("alternatives")
    return [a for a in alternatives if isinstance(a, dict)] if isinstance(alternatives, list) else [spec]


def evaluate_all(model: Any, specs: list[dict], ctx: ProbeContext) -> list[dict[str, Any]]:
    """The ways of running the model, in order, up to the first that gives one tensor:
    ``{"outputs": ...}`` or ``{"error": "Type: message"}`` each. The grader scores them and
    keeps the first that gives scorable outputs (the student's own calling convention);
    stopping at a tensor spares the per-item ``test_run`` calls for most models."""
    runs: list[dict[str, Any]] = []
    for spec in specs:
        if runs and R.is_tensor(runs[-1].get("outputs")):
            break
        try:
            runs.append({"outputs": evaluate(model, spec, ctx)})
        except (Timeout, CpuLimit, ProbeError):
            raise
        except Exception as exc:  # noqa: BLE001 - not this convention
            runs.append({"error": f"{type(exc).__name__}: {str(exc)[:200]}"})
    return runs


def _params(model: Any) -> dict[str, Any]:
    return {k: R.tensor_clone(R.tensor_detach(v)) for k, v in R.module_named_parameters(model)}


def params_change(before: dict[str, Any], model: Any) -> float | None:
    """Largest absolute change of a parameter; None when the sets of parameters differ."""
    after = dict(R.module_named_parameters(model))
    if set(after) != set(before) or any(tuple(after[k].shape) != tuple(before[k].shape) for k in before):
        return None
    change = 0.0
    with R.no_grad():
        for k, v in before.items():
            if R.numel(v):
                change = max(change, float((R.tensor_detach(after[k]).float() - v.float()).abs().max()))
    return change if math.isfinite(change) else float("inf")


@probe("train")
def train(ctx: ProbeContext, args: dict) -> Any:
    if not isinstance(args.get("class"), str):
        raise ProbeError("train needs a 'class' name")
    seed = int(args.get("seed", 0))
    model = ctx.construct({"class": args["class"], "args": args.get("args", []), "kwargs": args.get("kwargs", {}),
                           "seed": seed})
    if not R.isinstance_(model, R.Module):
        raise ProbeError(f"{args['class']}(...) is not a torch.nn.Module")
    specs = _specs(args.get("eval"))
    facts: dict[str, Any] = {"train_error": None, "driver": None, "stopped": None, "params_change": None}
    initial_state = None
    if args.get("before") and specs:
        # the model as the student's code builds it, before any training: near chance
        facts["runs_before"] = evaluate_all(model, specs, ctx)
        if args.get("restore"):
            initial_state = {k: R.tensor_clone(R.tensor_detach(v)) if R.is_tensor(v) else v
                             for k, v in R.module_state_dict(model).items()}
    initial_params = _params(model)
    data = args.get("data") or {}
    budget = float(args.get("budget_seconds", 10.0))
    t0 = _monotonic()
    loader = BudgetLoader(list(data.get("fields", [])), dict(data.get("arrays", {})), data.get("batch_size", 32),
                          data.get("shuffle", True), seed, _cpu() + budget, data.get("batch_format", "list"),
                          data.get("drop_last", False), data.get("max_batches"))
    ctx.vars.update(model=model, loader=loader, dataset=loader.dataset, budget=budget)
    seed_all(seed)
    R.module_train(model)
    try:
        if "driver" in args:
            spec = args["driver"] or {}
            drv = DRIVERS.get(spec.get("name"))
            if drv is None:
                raise ProbeError(f"unknown driver {spec.get('name')!r} (known: {', '.join(sorted(DRIVERS))})")
            facts["driver"] = drv(ctx, model, loader, dict(spec.get("args", {})))
        else:
            call = args.get("train_call") or {}
            returned = ctx.call_target(call.get("target", "train"), call.get("args", ["$model", "$loader"]),
                                       call.get("kwargs", {}))
            if args.get("use_returned_model", True) and R.isinstance_(returned, R.Module):
                model = returned
    except (Timeout, CpuLimit):
        raise
    except ProbeError:
        raise
    except BudgetSpent:
        facts["stopped"] = "budget spent"
    except BaseException as exc:  # noqa: BLE001 - the student's training failed: still evaluate
        facts["train_error"] = _error(exc)
    facts["train_seconds"] = round(_monotonic() - t0, 4)
    facts["batches_drawn"] = loader.batches
    facts["items_drawn"] = loader.items
    facts["epochs_started"] = loader.epochs
    facts["budget_exhausted"] = loader.out_of_time
    facts["max_batches_reached"] = loader.out_of_batches
    facts["params_change"] = params_change(initial_params, model)
    if specs:
        facts["runs"] = evaluate_all(model, specs, ctx)
        if initial_state is not None:
            try:
                _load_state_dict(model, initial_state)
            except Exception as exc:  # noqa: BLE001 - e.g. a different model came back from training
                facts["restore_error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
            else:
                facts["runs_restored"] = evaluate_all(model, specs, ctx)
    return facts
