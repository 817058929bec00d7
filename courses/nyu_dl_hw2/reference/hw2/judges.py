"""HW2 (Spring 2025) grading logic that the generic check kinds cannot express.

Everything here runs in the grader's process. The registry names these objects:
data generators in the `train` kind's signature (`fn(rng, **args) -> {name: array}`),
metrics (`fn(outputs, eval_data) -> float`) and plugins (objects with `validate`,
`requests` and `judge`) for the checks that need the student's own conventions:

* the CNN may answer with (B, 2) logits for CrossEntropyLoss, one sigmoid score per image
  for BCELoss, or one raw score for BCEWithLogitsLoss; all are right, so its output and
  its `get_loss_and_correct` are judged in the convention of the student's `criterion`;
* `test_run` must map a string to a string of the same length over ' ' and a..z;
* the mixture of experts is judged in courses/nyu_dl_hw2/reference/hw2/moe.py;
* (seq_classification's spike and accuracy checks have their own module, seq_judge.py.)
"""

from __future__ import annotations

import string
from typing import Any, Mapping

import numpy as np

from grader.api import Reply, Request, Verdict, rng_for, tensor

from . import data
from .metrics import echo_score

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


def _strings(seq: np.ndarray) -> np.ndarray:
    return np.array(["".join(ALPHABET[t] for t in row) for row in seq])


def echo_eval(rng: np.random.Generator, n: int = 500, seq_length: int = 20, delay: int = 4) -> dict[str, np.ndarray]:
    """Hidden echo data in every convention a student model may take: one-hot (`onehot`),
    integer indices (`seq`) and lowercase strings for `test_run` (`strings`)."""
    seq, target = data.echo_batches(n, seq_length, delay, _seed(rng))
    return {"onehot": one_hot(seq), "seq": seq, "strings": _strings(seq), "target": target,
            "delays": np.full(n, delay, dtype=np.int64)}


def variable_train(rng: np.random.Generator, n: int = 6400, seq_length: int = 20,
                   max_delay: int = 12) -> dict[str, np.ndarray]:
    seq, delays, target = data.variable_delay(n, seq_length, max_delay, _seed(rng))
    return {"seq": seq, "delay": delays, "target": target}


def variable_eval(rng: np.random.Generator, n: int = 500, seq_length: int = 20,
                  max_delay: int = 12) -> dict[str, np.ndarray]:
    seq, delays, target = data.variable_delay(n, seq_length, max_delay, _seed(rng))
    return {"onehot": one_hot(seq), "seq": seq, "strings": _strings(seq), "delays": delays, "target": target}


# --------------------------------------------------------------------------- metrics


def echo_accuracy(outputs: Any, d: Mapping[str, np.ndarray]) -> float:
    """Fraction of echoed letters right, at positions >= the row's delay (a delay of 0 scores all)."""
    logits = np.asarray(outputs)
    target, delays = d["target"], d["delays"]
    k = data.N_LETTERS + 1
    if logits.ndim == 2 and logits.shape == (target.size, k):  # flattened for CrossEntropyLoss in forward
        logits = logits.reshape(target.shape + (k,))
    if logits.ndim != 3 or logits.shape[:2] != target.shape:
        raise ValueError(f"expected logits of shape {target.shape + (data.N_LETTERS + 1,)}, got {logits.shape}")
    pred = logits.argmax(axis=-1)
    positions = np.arange(target.shape[1])[None, :]
    mask = positions >= delays[:, None]
    return float((pred == target)[mask].mean())


def echo_string_accuracy(outputs: Any, d: Mapping[str, np.ndarray]) -> float:
    """`echo_accuracy` for `test_run` answers (one string per hidden string), case ignored:
    letter case is `rnn.test_run`'s business, not the training check's."""
    if not isinstance(outputs, list):
        raise ValueError(f"expected one test_run answer per string, got {type(outputs).__name__}")
    answers = [o.lower() if isinstance(o, str) else None for o in outputs]
    return echo_score([str(s) for s in d["strings"]], answers, [int(k) for k in d["delays"]])


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


# --------------------------------------------------------------------------- RNN forward


class EchoForward:
    """`GRUMemory` / `VariableDelayGRUMemory` in the student's own input convention.

    The handout feeds one-hot letters (batch, seq, 27), but many real models take integer
    indices (batch, seq) through `nn.Embedding`: both are run, and the check passes when
    either gives logits (batch, seq, 27). With `delays: true` a (batch,) int64 tensor of
    delays (what a DataLoader makes of `VariableDelayEchoDataset`'s ints) goes second.
    `expect: gru` only looks at the built model's layers (nothing is run).
    """

    CONVENTIONS = ("one-hot input", "integer indices")

    def validate(self, params: Mapping[str, Any]) -> list[tuple[str, str, str]]:
        problems = [] if isinstance(params.get("class"), str) else [("class", "missing", "e.g. class: GRUMemory")]
        if params.get("expect") not in ("gru", "logits"):
            problems.append(("expect", "expected `gru` or `logits`", "e.g. expect: logits"))
        return problems

    def _base(self, check: Any, params: Mapping[str, Any]) -> dict[str, Any]:
        return {"class": params["class"], "args": list(params.get("args", [])), "seed": 0, "residual": False}

    def requests(self, check: Any, params: Mapping[str, Any], ctx: Any) -> dict[str, Request]:
        if params["expect"] == "gru":
            return {"structure": Request("module", {**self._base(check, params), "run": False}, timeout=check.timeout)}
        rng = rng_for(ctx, f"{check.id}:inputs", public=True)
        batch, length = int(params.get("batch", 2)), int(params.get("seq_length", 15))
        seq = rng.integers(1, data.N_LETTERS + 1, size=(batch, length)).astype(np.int64)
        extra = [tensor(rng.integers(0, int(params.get("max_delay", 12)) + 1, size=batch).astype(np.int64))] \
            if params.get("delays") else []
        return {name: Request("module", {**self._base(check, params), "inputs": [tensor(x)] + extra},
                              timeout=check.timeout)
                for name, x in zip(self.CONVENTIONS, (one_hot(seq), seq))}

    def judge(self, check: Any, params: Mapping[str, Any], replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        if params["expect"] == "gru":
            reply = replies.get("structure")
            if reply is None or not reply.ok:
                return _reply_error(reply, f"building {params['class']}")
            counts = reply.value.get("torch_module_counts") or {}
            found = [k for k in ("GRU", "GRUCell") if counts.get(k)]
            if found:
                return Verdict(1.0, f"uses gru ({', '.join(found)})")
            recurrent = [k for k in ("LSTM", "LSTMCell", "RNN", "RNNCell") if counts.get(k)]
            return Verdict(0.0, "uses none of gru" + (f" (it uses {', '.join(recurrent)})" if recurrent else ""))
        batch, length = int(params.get("batch", 2)), int(params.get("seq_length", 15))
        want = (batch, length, data.N_LETTERS + 1)
        wrong, errors = [], []
        for name in self.CONVENTIONS:
            reply = replies.get(name)
            if reply is None or not reply.ok:
                errors.append(f"on {name}: {reply.error if reply else 'not run'}")
                continue
            out = reply.value.get("output")
            if not isinstance(out, np.ndarray):
                wrong.append(f"on {name} it returned {_describe(out)}, not a tensor")
            elif tuple(out.shape) != want:
                wrong.append(f"output shape {tuple(int(k) for k in out.shape)}, expected {want} (on {name})")
            elif not np.all(np.isfinite(out)):
                wrong.append(f"output has NaN or inf values (on {name})")
            else:
                return Verdict(1.0, f"logits of shape {want} from {name}")
        return Verdict(0.0, "; ".join(wrong) if wrong else "forward failed " + "; ".join(errors))


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
# hw2_moe.ipynb's judges are in courses/nyu_dl_hw2/reference/hw2/moe.py.


# seq_classification's Section 8 checks are in seq_judge.py (SeqTraining).
