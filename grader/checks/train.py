"""`train`: the student's own training code on grader-made data, measured on hidden data.

The child gets training arrays and a loader that stops yielding after `max_batches` (the
deterministic budget: same data, same seed, same number of steps, same score) or, as a
safety net, after `budget_seconds`; so a student's loop of any shape (one pass, several
epochs, globals such as BATCH_SIZE) is bounded without being killed. Then the child runs
the model on hidden *inputs*; the labels never leave the grader, which computes the
metric and scales the points between two thresholds.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .base import Measure, PROBLEM, Context, Reply, Request, Verdict, allowed_keys, check_ref, plain, resolve, rng_for

KEYS = ("model", "train", "driver", "data", "loader", "evaluate", "metric", "thresholds", "seed")


class TrainKind:
    name = "train"
    needs_sandbox = True

    def validate(self, params: Mapping[str, Any]) -> list[PROBLEM]:
        problems: list[PROBLEM] = []
        allowed_keys(params, KEYS, problems)
        model = params.get("model")
        if not isinstance(model, Mapping) or not isinstance(model.get("class"), str):
            problems.append(("model", "missing the student model", "e.g. `model: {class: GRUMemory, args: [64]}`"))
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

    def requests(self, check: Any, ctx: Context) -> dict[str, Request]:
        p = check.params
        train_data = self._data(check, ctx, "data")
        evaluate = p["evaluate"]
        eval_data = self._data(check, ctx, "evaluate")
        inputs = list(evaluate.get("inputs") or [next(iter(eval_data))])
        from ..sandbox.wire import tensor

        loader = plain(p.get("loader") or {})
        model = plain(p["model"])
        fields = list(loader.get("fields", list(train_data)))
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
            "eval": {"method": evaluate.get("method", "forward"),
                     "inputs": [tensor(eval_data[name]) for name in inputs],
                     "batch_size": int(evaluate.get("batch", 256))},
        }
        if "driver" in p:
            args["driver"] = plain(p["driver"])
        else:
            train = plain(p["train"])
            args["train_call"] = {"target": train.get("function", "train"),
                                  "args": train.get("args", ["$model", "$loader"]), "kwargs": train.get("kwargs", {})}
        return {"train": Request("train", args, timeout=check.timeout)}

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict:
        reply = replies.get("train")
        if reply is None or not reply.ok:
            return Verdict(0.0, f"training or evaluation failed: {reply.error if reply else 'not run'}", "error")
        facts = reply.value if isinstance(reply.value, Mapping) else {}
        outputs = facts.get("outputs")
        eval_data = self._data(check, ctx, "evaluate")
        try:
            score = float(resolve(check.params["metric"])(outputs, eval_data))
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            return Verdict(0.0, f"the model's outputs could not be scored: {exc}")
        th = check.params["thresholds"]
        zero, full = float(th["zero"]), float(th["full"])
        fraction = (score - zero) / (full - zero)
        fraction = 0.0 if not np.isfinite(fraction) else min(1.0, max(0.0, fraction))
        # No seconds in the message: the same submission must give the same bytes every run.
        batches = facts.get("batches_drawn")
        trained = f"; trained on {batches} batches" if batches is not None else ""
        err = facts.get("train_error")
        if isinstance(err, Mapping) and err.get("type"):
            trained += f"; training raised {err.get('type')}: {str(err.get('message', ''))[:200]}"
        if facts.get("budget_exhausted"):
            trained += " (the time budget ran out first)"
        return Verdict(fraction, f"score {score:.3f} on hidden data (full marks at {full:g}, none at {zero:g}){trained}",
                       measure=Measure(score, (zero, full), name="metric on hidden data"))
