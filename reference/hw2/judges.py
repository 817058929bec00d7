"""HW2 (Spring 2025) grading logic that the generic check kinds cannot express.

Everything here runs in the grader's process. The registry names these objects:
data generators in the `train` kind's signature (`fn(rng, **args) -> {name: array}`),
metrics (`fn(outputs, eval_data) -> float`) and plugins (objects with `validate`,
`requests` and `judge`) for the checks that need the student's own conventions:

* the CNN may answer with (B, 2) logits for CrossEntropyLoss, one sigmoid score per image
  for BCELoss, or one raw score for BCEWithLogitsLoss; all are right, so its output and
  its `get_loss_and_correct` are judged in the convention of the student's `criterion`;
* `test_run` must map a string to a string of the same length over ' ' and a..z;
* the mixture of experts must equal the gate-weighted sum of its own experts' outputs;
* (seq_classification's spike and accuracy checks have their own module, seq_judge.py.)
"""

from __future__ import annotations

import string
from typing import Any, Mapping

import numpy as np

from grader.checks.base import Reply, Request, Verdict, rng_for
from grader.sandbox.wire import tensor

from . import data

ALPHABET = " " + string.ascii_lowercase  # token 0 is the blank


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**31 - 1))


def one_hot(seq: np.ndarray, k: int = data.N_LETTERS + 1) -> np.ndarray:
    return np.eye(k, dtype=np.float32)[seq]


def _reply_error(reply: Reply | None, what: str) -> Verdict:
    return Verdict(0.0, f"{what} failed: {reply.error if reply else 'not run'}", "error")


# --------------------------------------------------------------------------- data generators


def cnn_data(rng: np.random.Generator, n: int = 64, size: int = 256) -> dict[str, np.ndarray]:
    images, labels = data.cnn_images(n, _seed(rng), size)
    return {"images": images, "labels": labels}


def echo_train(rng: np.random.Generator, n: int = 6400, seq_length: int = 15, delay: int = 4) -> dict[str, np.ndarray]:
    seq, target = data.echo_batches(n, seq_length, delay, _seed(rng))
    return {"seq": seq, "target": target}


def echo_eval(rng: np.random.Generator, n: int = 500, seq_length: int = 20, delay: int = 4) -> dict[str, np.ndarray]:
    seq, target = data.echo_batches(n, seq_length, delay, _seed(rng))
    return {"onehot": one_hot(seq), "target": target, "delays": np.full(n, delay, dtype=np.int64)}


def variable_train(rng: np.random.Generator, n: int = 6400, seq_length: int = 20,
                   max_delay: int = 12) -> dict[str, np.ndarray]:
    seq, delays, target = data.variable_delay(n, seq_length, max_delay, _seed(rng))
    return {"seq": seq, "delay": delays, "target": target}


def variable_eval(rng: np.random.Generator, n: int = 500, seq_length: int = 20,
                  max_delay: int = 12) -> dict[str, np.ndarray]:
    seq, delays, target = data.variable_delay(n, seq_length, max_delay, _seed(rng))
    return {"onehot": one_hot(seq), "delays": delays, "target": target}


def blobs_eval(rng: np.random.Generator, n: int = 400) -> dict[str, np.ndarray]:
    X, y = data.blobs(n, _seed(rng))
    return {"X": X, "y": y}


# --------------------------------------------------------------------------- metrics


def echo_accuracy(outputs: Any, d: Mapping[str, np.ndarray]) -> float:
    """Fraction of echoed letters right, at positions >= the row's delay (a delay of 0 scores all)."""
    logits = np.asarray(outputs)
    target, delays = d["target"], d["delays"]
    if logits.ndim != 3 or logits.shape[:2] != target.shape:
        raise ValueError(f"expected logits of shape {target.shape + (data.N_LETTERS + 1,)}, got {logits.shape}")
    pred = logits.argmax(axis=-1)
    positions = np.arange(target.shape[1])[None, :]
    mask = positions >= delays[:, None]
    return float((pred == target)[mask].mean())


def binary_predictions(outputs: Any) -> np.ndarray:
    """Class predictions from (B, k) scores (k >= 2: the argmax), or from one score per image.

    One score: a probability (all values in [0, 1], as after a sigmoid) is thresholded at
    0.5, a raw score at 0. The CNN checks that see the criterion use `predictions_for`.
    More than two scores are still scored by their argmax: a model with a spare class that
    learned the task has learned it (its output shape is `cnn.output`'s business, not the
    training check's).
    """
    out = np.asarray(outputs, dtype=np.float64)
    if out.ndim == 2 and out.shape[1] >= 2:
        return out.argmax(axis=1)
    out = out.reshape(out.shape[0], -1)
    if out.shape[1] != 1:
        raise ValueError(f"expected (B, 2) scores or one score per image, got shape {np.asarray(outputs).shape}")
    score = out[:, 0]
    threshold = 0.5 if np.all((score >= 0) & (score <= 1)) else 0.0
    return (score > threshold).astype(np.int64)


def binary_accuracy(outputs: Any, d: Mapping[str, np.ndarray]) -> float:
    labels = d.get("labels", d.get("y"))
    return float((binary_predictions(outputs) == np.asarray(labels).astype(np.int64)).mean())


# --------------------------------------------------------------------------- CNN conventions

CONVENTIONS = {  # criterion class -> (output shapes accepted, prediction rule)
    "CrossEntropyLoss": ("two", "argmax"),
    "NLLLoss": ("two", "argmax"),
    "BCELoss": ("one", "prob"),
    "BCEWithLogitsLoss": ("one", "logit"),
    "MSELoss": ("one", "prob"),
}


def predictions_for(criterion: str, outputs: np.ndarray) -> np.ndarray:
    rule = CONVENTIONS.get(criterion, ("", "auto"))[1]
    out = np.asarray(outputs, dtype=np.float64)
    if rule == "argmax":
        return out.reshape(out.shape[0], -1).argmax(axis=1)
    if rule == "prob":
        return (out.reshape(out.shape[0]) > 0.5).astype(np.int64)
    if rule == "logit":
        return (out.reshape(out.shape[0]) > 0.0).astype(np.int64)
    return binary_predictions(out)


def shape_ok(criterion: str, shape: tuple[int, ...], batch: int) -> bool:
    kind = CONVENTIONS.get(criterion, ("any", ""))[0]
    two = shape == (batch, 2)
    one = shape in ((batch,), (batch, 1))
    return two if kind == "two" else one if kind == "one" else (two or one)


def reference_loss(criterion: str, params: Mapping[str, Any], outputs: np.ndarray, labels: np.ndarray) -> float:
    """The loss the student's criterion should give on these outputs, computed here with torch."""
    import torch

    out = torch.as_tensor(np.asarray(outputs, dtype=np.float64))
    y = torch.as_tensor(np.asarray(labels))
    reduction = params.get("reduction", "mean")
    if criterion == "CrossEntropyLoss":
        weight = params.get("weight")
        return float(torch.nn.functional.cross_entropy(
            out, y.long(), weight=None if weight is None else torch.as_tensor(np.asarray(weight, dtype=np.float64)),
            reduction=reduction, label_smoothing=float(params.get("label_smoothing", 0.0) or 0.0)))
    if criterion == "NLLLoss":
        return float(torch.nn.functional.nll_loss(out, y.long(), reduction=reduction))
    target = y.double().reshape(out.shape)
    if criterion == "BCELoss":
        return float(torch.nn.functional.binary_cross_entropy(out, target, reduction=reduction))
    if criterion == "BCEWithLogitsLoss":
        pos = params.get("pos_weight")
        return float(torch.nn.functional.binary_cross_entropy_with_logits(
            out, target, reduction=reduction, pos_weight=None if pos is None else torch.as_tensor(np.asarray(pos, dtype=np.float64))))
    if criterion == "MSELoss":
        return float(torch.nn.functional.mse_loss(out, target, reduction=reduction))
    raise ValueError(f"criterion {criterion} is not one the grader knows")


class CnnOutput:
    """`CNN()` on a (4, 3, 256, 256) batch gives one prediction per image in the convention
    of the student's `criterion` ((4, 2) for cross-entropy, (4,) or (4, 1) for BCE)."""

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        return []

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        batch = int(params.get("batch", 4))
        rng = rng_for(ctx, check.id, public=True)
        images, _ = data.cnn_images(batch, _seed(rng), int(params.get("size", 256)))
        return {"run": Request("hw2_cnn", {"class": params.get("class", "CNN"), "images": tensor(images),
                                           "seed": 0}, timeout=check.timeout)}

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        reply = replies.get("run")
        if reply is None or not reply.ok:
            return _reply_error(reply, "CNN()(images)")
        facts = reply.value
        out = facts.get("output")
        if not isinstance(out, np.ndarray):
            return Verdict(0.0, f"forward returned {type(out).__name__}, not a tensor")
        batch = int(params.get("batch", 4))
        crit = facts.get("criterion") or ""
        shape = tuple(int(s) for s in out.shape)
        if not np.all(np.isfinite(out)):
            return Verdict(0.0, f"output of shape {shape} has NaN or inf values")
        if not shape_ok(crit, shape, batch):
            expect = {"two": f"({batch}, 2)", "one": f"({batch},) or ({batch}, 1)"}.get(
                CONVENTIONS.get(crit, ("any", ""))[0], f"({batch}, 2), ({batch},) or ({batch}, 1)")
            return Verdict(0.0, f"output shape {shape} does not fit criterion {crit or '(none found)'}: expected {expect}")
        if crit == "BCELoss" and not np.all((out >= 0) & (out <= 1)):
            return Verdict(0.5, f"output shape {shape} fits BCELoss, but BCELoss needs probabilities in [0, 1] "
                                "(apply a sigmoid, or use BCEWithLogitsLoss)")
        return Verdict(1.0, f"one prediction per image: output {shape} with {crit or 'no criterion found'}")


class CnnLossAndCorrect:
    """`get_loss_and_correct(model, batch, criterion, device)` against the student's own
    criterion applied here to the same outputs, and the correct count in that convention."""

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        return []

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        batch = int(params.get("batch", 8))
        rng = rng_for(ctx, check.id, public=check.public)
        images, labels = data.cnn_images(batch, _seed(rng), int(params.get("size", 256)))
        return {"run": Request("hw2_cnn", {"class": params.get("class", "CNN"), "images": tensor(images),
                                           "labels": tensor(labels), "seed": 0,
                                           "function": params.get("function", "get_loss_and_correct")},
                               timeout=check.timeout)}

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        reply = replies.get("run")
        if reply is None or not reply.ok:
            return _reply_error(reply, "get_loss_and_correct")
        facts = reply.value
        if facts.get("function_error"):
            return Verdict(0.0, f"get_loss_and_correct raised {facts['function_error']}", "error")
        rng = rng_for(ctx, check.id, public=check.public)
        _, labels = data.cnn_images(int(params.get("batch", 8)), _seed(rng), int(params.get("size", 256)))
        out = facts.get("output")
        crit = facts.get("criterion") or ""
        result = facts.get("result")
        if not isinstance(result, (list, tuple)) or len(result) != 2:
            return Verdict(0.0, f"expected (loss, number correct), got {_describe(result)}")
        loss, correct = result
        if crit not in CONVENTIONS:
            return Verdict(0.0, f"criterion {crit or '(none)'} is not one the grader can check "
                                f"(expected one of {', '.join(CONVENTIONS)})")
        try:
            want_loss = reference_loss(crit, facts.get("criterion_params") or {}, out, labels)
            want_correct = int((predictions_for(crit, out) == labels).sum())
        except (ValueError, RuntimeError) as exc:
            return Verdict(0.0, f"the model's outputs do not fit {crit}: {str(exc).splitlines()[0]}")
        notes, score = [], 0.0
        got_loss = _scalar(loss)
        if got_loss is not None and np.isclose(got_loss, want_loss, rtol=1e-4, atol=1e-5):
            score += 0.5
        else:
            notes.append(f"loss {got_loss if got_loss is not None else _describe(loss)} differs from {crit} of the outputs")
        got_correct = _scalar(correct)
        if got_correct is not None and got_correct == want_correct:
            score += 0.5
        elif got_correct is not None and np.isclose(got_correct, want_correct / len(labels)):
            score += 0.25
            notes.append("returned the accuracy (a fraction), not the number of correct predictions")
        else:
            notes.append(f"correct count {got_correct if got_correct is not None else _describe(correct)} is wrong")
        if not notes:
            return Verdict(1.0, f"loss and correct count match {crit} on a batch of {len(labels)}")
        return Verdict(score, "; ".join(notes))


def _scalar(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value.reshape(()))
    return None


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {tuple(value.shape)}"
    if isinstance(value, dict) and "$unencodable" in value:
        return f"a {value['$unencodable']}"
    return type(value).__name__


# --------------------------------------------------------------------------- RNN test_run


class TestRunContract:
    """`test_run(s[, delay])` returns a string of the same length over ' ' and a..z."""

    __test__ = False  # not a pytest class

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        return [] if isinstance(params.get("class"), str) else [("class", "missing", "e.g. class: GRUMemory")]

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        words = ("thequickbrownfoxjumps", "abc", "zyxwvutsrqponmlkjihgfedcba")
        extra = list(params.get("extra_args", []))
        return {f"w{i}": Request("module", {"class": params["class"], "args": list(params.get("args", [])),
                                            "seed": 0, "method": "test_run", "inputs": [w] + extra,
                                            "residual": False, "no_grad": True}, timeout=check.timeout)
                for i, w in enumerate(words)}

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        words = ("thequickbrownfoxjumps", "abc", "zyxwvutsrqponmlkjihgfedcba")
        for i, w in enumerate(words):
            reply = replies.get(f"w{i}")
            if reply is None or not reply.ok:
                return _reply_error(reply, f"test_run({w!r})")
            out = reply.value.get("output") if isinstance(reply.value, Mapping) else None
            if not isinstance(out, str):
                return Verdict(0.0, f"test_run({w!r}) returned {_describe(out)}, not a string")
            if len(out) != len(w):
                return Verdict(0.0, f"test_run({w!r}) returned {len(out)} characters, expected {len(w)}")
            bad = sorted(set(out) - set(ALPHABET))
            if bad:
                return Verdict(0.0, f"test_run returned characters outside ' ' and a..z: {''.join(bad)[:10]!r}")
        return Verdict(1.0, "test_run maps a string to a string of the same length over ' ' and a..z")


# --------------------------------------------------------------------------- mixture of experts


class MoeGate:
    """`GatingNetwork(num_experts, input_dim)` rows are probabilities over the experts."""

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        return []

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        X = blobs_eval(rng_for(ctx, check.id, public=True), n=32)["X"]
        k = int(params.get("num_experts", 4))
        return {"run": Request("module", {"class": params.get("class", "GatingNetwork"), "args": [k, 2], "seed": 0,
                                          "inputs": [tensor(X)], "residual": False}, timeout=check.timeout)}

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        reply = replies.get("run")
        if reply is None or not reply.ok:
            return _reply_error(reply, "GatingNetwork")
        out = reply.value.get("output")
        k = int(params.get("num_experts", 4))
        if not isinstance(out, np.ndarray) or tuple(out.shape) != (32, k):
            return Verdict(0.0, f"expected gate weights of shape (32, {k}), got {_describe(out)}"
                                + (f" {tuple(out.shape)}" if isinstance(out, np.ndarray) else ""))
        if np.any(out < -1e-6) or not np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
            return Verdict(0.0, "gate rows are not probabilities (non-negative, summing to 1): apply a softmax")
        return Verdict(1.0, f"gate gives a probability over {k} experts per input")


class MoeMixture:
    """The mixture's output equals the gate-weighted sum of its own experts' outputs
    (or the sigmoid of that sum, or the gate-weighted sum of sigmoid expert outputs)."""

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        return []

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        X = blobs_eval(rng_for(ctx, check.id, public=True), n=32)["X"]
        k = int(params.get("num_experts", 4))
        return {"run": Request("hw2_moe_parts", {"class": params.get("class", "MixtureOfExperts"), "args": [k, 2, 1],
                                                 "seed": 0, "x": tensor(X)}, timeout=check.timeout)}

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        reply = replies.get("run")
        if reply is None or not reply.ok:
            return _reply_error(reply, "MixtureOfExperts")
        f = reply.value
        out, gate, experts = f.get("output"), f.get("gate"), f.get("experts")
        if not isinstance(out, np.ndarray):
            return Verdict(0.0, f"the mixture returned {_describe(out)}")
        if not isinstance(gate, np.ndarray) or not isinstance(experts, list) or not experts:
            return Verdict(0.0, f["problem"] if f.get("problem") else "could not find the gate and the experts")
        E = np.stack([np.asarray(e, dtype=np.float64).reshape(len(out), -1) for e in experts], axis=1)  # (B, k, d)
        g = np.asarray(gate, dtype=np.float64).reshape(len(out), -1)
        if g.shape[1] != E.shape[1]:
            return Verdict(0.0, f"gate has {g.shape[1]} weights per input for {E.shape[1]} experts")
        o = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
        weightings = {"": g}
        if np.any(g < -1e-6) or not np.allclose(g.sum(axis=1), 1.0, atol=1e-4):
            # a gate that returns scores, softmaxed in the mixture: the gate is wrong (moe.gate),
            # the mixture is not
            e = np.exp(g - g.max(axis=1, keepdims=True))
            weightings[" (weighted by the softmax of the gate's scores)"] = e / e.sum(axis=1, keepdims=True)
        for how, w in weightings.items():
            mix = np.einsum("bk,bkd->bd", w, E)
            candidates = {"gate-weighted sum": mix, "sigmoid of the gate-weighted sum": 1 / (1 + np.exp(-mix)),
                          "gate-weighted sum of sigmoid outputs": np.einsum("bk,bkd->bd", w, 1 / (1 + np.exp(-E)))}
            for name, want in candidates.items():
                if want.shape == o.shape and np.allclose(o, want, rtol=1e-4, atol=1e-5):
                    return Verdict(1.0, f"output is the {name} of the {E.shape[1]} experts{how}")
        return Verdict(0.0, "output is not the gate-weighted combination of the experts' outputs")


class TrainedInstance:
    """After a full run, the notebook's trained model (the last instance of `class`) on hidden data."""

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        problems = []
        if not isinstance(params.get("class"), str):
            problems.append(("class", "missing", "e.g. class: MixtureOfExperts"))
        if "thresholds" not in params:
            problems.append(("thresholds", "missing", "e.g. {zero: 0.5, full: 0.9}"))
        return problems

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        d = blobs_eval(rng_for(ctx, check.id, public=check.public), n=int(params.get("n", 400)))
        return {"run": Request("hw2_trained", {"class": params["class"], "prefer": params.get("prefer", ["model"]),
                                               "inputs": [tensor(d["X"])]}, timeout=check.timeout)}

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        reply = replies.get("run")
        if reply is None or not reply.ok:
            return _reply_error(reply, f"evaluating the trained {params['class']}")
        d = blobs_eval(rng_for(ctx, check.id, public=check.public), n=int(params.get("n", 400)))
        try:
            acc = binary_accuracy(reply.value.get("output"), d)
        except (ValueError, TypeError) as exc:
            return Verdict(0.0, f"the trained model's outputs could not be scored: {exc}")
        zero, full = float(params["thresholds"]["zero"]), float(params["thresholds"]["full"])
        frac = min(1.0, max(0.0, (acc - zero) / (full - zero)))
        found = reply.value.get("name", "?")
        return Verdict(frac, f"the trained `{found}` scores accuracy {acc:.3f} on hidden data "
                             f"(full marks at {full:g}, none at {zero:g})")


# seq_classification's Section 8 checks are in seq_judge.py (SeqTraining).
