"""`train`: the student's own training code on grader-made data, measured on hidden data.

The child gets training arrays and a loader that stops yielding after `max_batches` (the
deterministic budget: same data, same seed, same number of steps, same score) or, as a
safety net, after `budget_seconds` of CPU time of the child's training thread (not wall time: a loaded machine
does not spend it; a run cut short by it is a clear "timeout" verdict, never a score); so a student's loop of any shape (one pass, several
epochs, globals such as BATCH_SIZE) is bounded without being killed. Then the child runs
the model on hidden *inputs*; the labels never leave the grader, which computes the
metric and scales the points between two thresholds.

Points are for *learning* (registry keys, each optional):

* ``before: {max: 0.2, min: 0.0, restore: true}``: the model as the student's code
  builds it is scored first; above ``max`` (or below ``min``: a two-class answer with the
  classes swapped) it knew the answer before training (a hand-written solution), so 0.
  With ``restore``, the trained model is scored again with its initial weights put back:
  a model whose score survives that did not learn it in its weights.
* ``must_draw_batches: true``: the training code must draw the grader's batches.
* ``params_must_change: true``: training must change the model's parameters.

``evaluate.alternatives`` lists calling conventions to try in order (e.g. one-hot input,
integer indices, ``test_run`` on strings with ``per_item: true``); the first whose outputs
score on the fresh model is the student's, and each may name its own ``metric``. Why the
others failed is said by exception type only: the inputs are hidden, and a student's
message could repeat them.
"""

from __future__ import annotations

import builtins
from typing import Any, Mapping

import numpy as np

from .base import SAFE_ERROR_TYPES, Measure, PROBLEM, Context, Reply, Request, Verdict, allowed_keys, check_ref, plain, resolve, rng_for

KEYS = ("model", "train", "driver", "data", "loader", "evaluate", "metric", "thresholds", "seed", "before",
        "must_draw_batches", "params_must_change")
EVAL_KEYS = ("inputs", "method", "per_item", "batch", "metric", "output_index")


class TrainKind:
    name = "train"
    needs_sandbox = True

    def validate(self, params: Mapping[str, Any]) -> list[PROBLEM]:
        problems: list[PROBLEM] = []
        allowed_keys(params, KEYS, problems)
        model = params.get("model")
        if not isinstance(model, Mapping) or not isinstance(model.get("class"), str):
            problems.append(("model", "missing the student model", "e.g. `model: {class: Net, args: [64]}`"))
        if "train" not in params and "driver" not in params:
            problems.append(("train", "say how to train", "e.g. `train: {function: train_model, args: [$model, $loader]}`"))
        for key in ("data", "evaluate"):
            block = params.get(key)
            if not isinstance(block, Mapping):
                problems.append((key, "missing", f"`{key}: {{generator: package.module:function, args: {{...}}}}`"))
                continue
            sub: list[PROBLEM] = []
            check_ref(block, "generator", sub)
            problems += [(f"{key}.{k}", t, f) for k, t, f in sub]
        check_ref(params, "metric", problems)
        evaluate = params.get("evaluate")
        alternatives = evaluate.get("alternatives") if isinstance(evaluate, Mapping) else None
        if alternatives is not None:
            if not isinstance(alternatives, (list, tuple)) or not alternatives \
                    or not all(isinstance(a, Mapping) for a in alternatives):
                problems.append(("evaluate.alternatives", "expected a list of ways to run the model",
                                 "e.g. `[{inputs: [onehot]}, {inputs: [seq]}]`"))
            else:
                for i, alt in enumerate(alternatives):
                    sub = []
                    allowed_keys(alt, EVAL_KEYS, sub)
                    check_ref(alt, "metric", sub, required=False)
                    problems += [(f"evaluate.alternatives[{i}].{k}", t, f) for k, t, f in sub]
        before = params.get("before")
        if before is not None and (not isinstance(before, Mapping) or set(before) - {"min", "max", "restore"}
                                   or not _number(before.get("max")) or not _number(before.get("min", 0))
                                   or not isinstance(before.get("restore", False), bool)):
            problems.append(("before", "expected `{max: NUMBER, min: NUMBER, restore: true|false}`",
                             "e.g. `before: {max: 0.6}`: the untrained model must score at most 0.6"))
        for key in ("must_draw_batches", "params_must_change"):
            if key in params and not isinstance(params[key], bool):
                problems.append((key, "expected true or false", f"`{key}: true`"))
        th = params.get("thresholds")
        if not isinstance(th, Mapping) or not {"zero", "full"} <= set(th):
            problems.append(("thresholds", "need `zero` and `full`", "e.g. `thresholds: {zero: 0.5, full: 0.99}`"))
        elif not all(isinstance(th[k], (int, float)) and not isinstance(th[k], bool) for k in ("zero", "full")) \
                or th["zero"] == th["full"]:
            problems.append(("thresholds", "`zero` and `full` must be two different numbers", "e.g. {zero: 0.5, full: 0.99}"))
        loader = params.get("loader") or {}
        if not isinstance(loader, Mapping):
            problems.append(("loader", "expected a mapping", "e.g. `{batch_size: 64, max_batches: 300, budget_seconds: 60}`"))
        return problems

    def _data(self, check: Any, ctx: Context, which: str) -> dict[str, np.ndarray]:
        block = check.params[which]
        rng = rng_for(ctx, f"{check.id}:{which}", public=ctx.public_only)
        return dict(resolve(block["generator"])(rng, **plain(block.get("args", {}))))

    def _specs(self, check: Any) -> list[dict[str, Any]]:
        """The ways to run the model on hidden inputs, in order (one unless `alternatives`)."""
        evaluate = plain(check.params["evaluate"])
        base = {k: evaluate[k] for k in EVAL_KEYS if k in evaluate}
        return [{**base, **alt} for alt in evaluate.get("alternatives") or [{}]]

    def requests(self, check: Any, ctx: Context) -> dict[str, Request]:
        p = check.params
        train_data = self._data(check, ctx, "data")
        eval_data = self._data(check, ctx, "evaluate")
        from ..sandbox.wire import tensor

        def wire(name: str, per_item: bool) -> Any:
            value = eval_data[name]
            if per_item:  # plain values, one per call (strings, ints)
                return value.tolist() if isinstance(value, np.ndarray) else list(value)
            return tensor(value)

        specs = []
        for spec in self._specs(check):
            per_item = bool(spec.get("per_item", False))
            specs.append({"method": spec.get("method", "forward"), "per_item": per_item,
                          "inputs": [wire(n, per_item) for n in spec.get("inputs") or [next(iter(eval_data))]],
                          "batch_size": int(spec.get("batch", 256)), "output_index": spec.get("output_index")})

        loader = plain(p.get("loader") or {})
        model = plain(p["model"])
        fields = list(loader.get("fields", list(train_data)))
        before = p.get("before")
        args: dict[str, Any] = {
            "class": model["class"],
            "args": list(model.get("args", [])),
            "kwargs": dict(model.get("kwargs", {})),
            "seed": int(p.get("seed", 0)),
            "data": {"fields": fields, "arrays": {n: tensor(train_data[n]) for n in fields},
                     "batch_size": int(loader.get("batch_size", 32)), "shuffle": bool(loader.get("shuffle", True)),
                     "batch_format": loader.get("batch_format", "list"),
                     "max_batches": int(loader.get("max_batches", 200))},
            "budget_seconds": float(loader.get("budget_seconds", 60)),
            "eval": specs[0] if len(specs) == 1 else {"alternatives": specs},
            "before": before is not None,
            "restore": bool(before is not None and before.get("restore", False)),
        }
        if "driver" in p:
            args["driver"] = plain(p["driver"])
        else:
            train = plain(p["train"])
            args["train_call"] = {"target": train.get("function", "train"),
                                  "args": train.get("args", ["$model", "$loader"]), "kwargs": train.get("kwargs", {})}
        # its own child (grader.grading: sub-jobs): a training beside the notebook's other checks
        return {"train": Request("train", args, timeout=check.timeout, job=check.id)}

    def _score(self, check: Any, spec: Mapping[str, Any], outputs: Any, eval_data: Mapping[str, Any]) -> float:
        return float(resolve(spec.get("metric") or check.params["metric"])(outputs, eval_data))

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict:
        reply = replies.get("train")
        if reply is None or not reply.ok:
            return Verdict(0.0, f"training or evaluation failed: {reply.error if reply else 'not run'}", "error")
        facts = reply.value if isinstance(reply.value, Mapping) else {}
        eval_data = self._data(check, ctx, "evaluate")
        specs = self._specs(check)
        before = check.params.get("before")
        # the student's convention: the first way of running the model whose outputs score
        # (on the fresh model when it was run before training)
        first_runs = facts.get("runs_before") if before is not None else facts.get("runs")
        choice, problems = self._choose(check, specs, first_runs, eval_data)
        if choice is None:
            when = " before training" if before is not None else ""
            return Verdict(0.0, f"the model's outputs{when} could not be scored: {'; '.join(problems)}")
        spec = specs[choice]
        how = f" (run as {_describe(spec)})" if len(specs) > 1 else ""
        try:
            score = self._score(check, spec, _outputs(facts.get("runs"), choice), eval_data)
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            return Verdict(0.0, f"the model's outputs could not be scored{how}: {exc}")
        th = check.params["thresholds"]
        zero, full = float(th["zero"]), float(th["full"])
        measure = Measure(score, (zero, full), name="metric on hidden data")
        fraction = (score - zero) / (full - zero)
        fraction = 0.0 if not np.isfinite(fraction) else min(1.0, max(0.0, fraction))
        # No seconds in the message: the same submission must give the same bytes every run.
        batches = facts.get("batches_drawn")
        trained = f"; trained on {batches} batches" if batches is not None else ""
        err = facts.get("train_error")
        if isinstance(err, Mapping) and err.get("type"):
            trained += f"; training raised {err.get('type')}: {str(err.get('message', ''))[:200]}"
        if facts.get("budget_exhausted"):
            # the safety net, not the budget: the training is cut short, so its score is no verdict
            loader = plain(check.params.get("loader") or {})
            return Verdict(0.0, f"timeout: the training used up its CPU-time budget of "
                                f"{float(loader.get('budget_seconds', 60)):g} s before the "
                                f"{int(loader.get('max_batches', 200))} batches it is given were drawn "
                                f"(the time budget ran out first{trained}); score {score:.3f} not counted",
                           "error", measure=measure)
        not_learned, first = self._not_learned(check, spec, choice, facts, eval_data)
        if not_learned:
            return Verdict(0.0, f"the model did not learn: {not_learned}; score {score:.3f} after training{how}{trained}",
                           measure=measure)
        was = f", {first:.3f} before training" if first is not None else ""
        return Verdict(fraction, f"score {score:.3f} on hidden data (full marks at {full:g}, none at {zero:g}){was}"
                                 f"{how}{trained}", measure=measure)

    def _choose(self, check: Any, specs: list[dict[str, Any]], runs: Any,
                eval_data: Mapping[str, Any]) -> tuple[int | None, list[str]]:
        problems: list[str] = []
        for i, spec in enumerate(specs):
            run = runs[i] if isinstance(runs, list) and i < len(runs) and isinstance(runs[i], Mapping) else {}
            label = _describe(spec) if len(specs) > 1 else "the model"
            if "outputs" not in run:
                problems.append(f"{label}: {_error_type(run.get('error'))}")
                continue
            try:
                self._score(check, spec, run["outputs"], eval_data)
            except (ValueError, TypeError, IndexError, KeyError) as exc:
                problems.append(f"{label}: {str(exc)[:200]}")  # the grader's metric's words
                continue
            return i, problems
        return None, problems

    def _not_learned(self, check: Any, spec: Mapping[str, Any], choice: int, facts: Mapping[str, Any],
                     eval_data: Mapping[str, Any]) -> tuple[str, float | None]:
        """(why the score is not the student's model learning, or "", the score before training)."""
        p = check.params
        before = p.get("before")
        first, scored = None, ""
        if before is not None:
            low, high = _band(before)
            first = self._score(check, spec, _outputs(facts.get("runs_before"), choice), eval_data)  # scored in _choose
            scored = f"it scored {first:.3f} before training"
            if not low <= first <= high:
                return (f"{scored} (an untrained model scores {_band_text(low, high)}: the answer was there "
                        "before any training)"), first
        if p.get("must_draw_batches") and not facts.get("batches_drawn") and not facts.get("items_drawn"):
            return "training drew none of the grader's batches" + (f" ({scored})" if scored else ""), first
        if p.get("params_must_change"):
            change = facts.get("params_change")
            if isinstance(change, (int, float)) and not isinstance(change, bool) and change == 0:
                return "training left every parameter unchanged" + (f" ({scored})" if scored else ""), first
        if before is not None and before.get("restore") and "runs_restored" in facts:
            try:
                again = self._score(check, spec, _outputs(facts.get("runs_restored"), choice), eval_data)
            except (ValueError, TypeError, IndexError, KeyError):
                again = None
            if again is not None and not _band(before)[0] <= again <= _band(before)[1]:
                return (f"{scored}, but {again:.3f} after training with its initial weights put back: what it "
                        "knows is not in its trained weights"), first
        return "", first


def _error_type(error: Any) -> str:
    """"raised NAME" for a builtin or grader exception type, without the student's message."""
    if not isinstance(error, str):
        return "not tried"
    name = error.split(":", 1)[0].strip()
    if isinstance(getattr(builtins, name, None), type) or name in SAFE_ERROR_TYPES:
        return f"raised {name}"
    return "raised an exception"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _band(before: Mapping[str, Any]) -> tuple[float, float]:
    """The scores an untrained model may have: near chance (e.g. 0.25..0.75 for two classes;
    far below chance on a two-class task is a hand-set answer with the classes swapped)."""
    return float(before.get("min", float("-inf"))), float(before["max"])


def _band_text(low: float, high: float) -> str:
    return f"at most {high:g}" if low == float("-inf") else f"between {low:g} and {high:g}"


def _outputs(runs: Any, choice: int) -> Any:
    """The outputs of run `choice`; KeyError when that way of running the model failed."""
    if not isinstance(runs, list) or choice >= len(runs) or not isinstance(runs[choice], Mapping):
        raise KeyError("no outputs")
    run = runs[choice]
    if "outputs" not in run:
        raise ValueError(f"it {_error_type(run.get('error'))}")
    return run["outputs"]


def _describe(spec: Mapping[str, Any]) -> str:
    method = spec.get("method", "forward")
    names = ", ".join(str(n) for n in spec.get("inputs") or [])
    return f"{method}({names})" + (" per item" if spec.get("per_item") else "")
