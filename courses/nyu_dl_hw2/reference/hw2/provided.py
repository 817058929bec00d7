"""HW2's provided code judged by behaviour (the `integrity` kind's `behaviour:` objects).

Without the course's handout (`grader --starters DIR`) the grader cannot know the text of
the provided code, and our own re-write of it is not that text. So the provided functions
and classes are called in the sandbox on grader inputs and their results are compared,
here, with the semantics the handout documents (../shared/hw2-terms.md, "hw2_rnn.ipynb"
and "Section 8"); an unchanged real notebook passes whatever its text, a changed
behaviour fails:

* `idx_to_onehot(x, k=N+1)`: one-hot values of an integer tensor of any shape, shape
  (*x.shape, k) (any numeric dtype: `F.one_hot` returns longs);
* `EchoDataset(delay, seq_length, size)`: items (seq, result), integer vectors of
  `seq_length`, seq in 1..26, result = `delay` zeros then seq; the relation is checked on
  every drawn item and the value range over all of them (not exact random values: the
  student's code may draw its numbers in another order);
* `VariableDelayEchoDataset(max_delay, seq_length, size)`: items (seq, delay, result),
  delay in 0..max_delay (both ends seen over 150 draws), the same relation;
* `test_model` / `test_variable_delay_model`: called on stub models whose `test_run`
  echoes perfectly (the score must be 1) or always wrongly (0). The course's version-1
  `test_model` uses a name `D` the handout never defines: it is set to `DELAY` for the
  call when the notebook lacks it. Version 2's `s[:-delay]` scores a drawn delay of 0 as
  all wrong: the perfect stub's score may also be that bug's value, computed from the
  delays the function asked the stub for;
* `SimpleLSTM(input_size, hidden_size, output_size)`: grader-chosen weights are loaded
  into the student's instance (by shape) and its output on grader inputs is compared with
  `nn.LSTM(batch_first=True)` + `nn.Linear` on the same weights, (B, T, out).
"""

from __future__ import annotations

import string
from typing import Any, Callable, Mapping

import numpy as np

from grader.api import Reply, Request, Verdict, tensor

N = 26
LETTERS = string.ascii_lowercase
WRONG = (LETTERS, LETTERS[1:] + LETTERS[0])  # every letter to the next one: never the right answer
TOLERANCE = 0.01  # of a score in 0..1 (500 strings: one letter is 1/10000)
ECHO_CASES = ({"delay": 3, "seq_length": 12, "count": 60}, {"delay": 5, "seq_length": 20, "count": 40})
VD_CASE = {"max_delay": 5, "seq_length": 12, "count": 150}
TVD_SEEDS = (11, 12, 13, 14)
LSTM_SIZES = (8, 12, 4)  # input, hidden, output: distinct, so every weight has its own shape


def _error(reply: Reply | None) -> str:
    if reply is None:
        return "not run"
    return reply.error.splitlines()[0][:200] if reply.error else (reply.status or "failed")


def _number(value: Any) -> float | None:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(arr) if arr.size == 1 else None


def _ints(value: Any) -> np.ndarray | None:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        return None
    return arr if arr.dtype.kind in "iu" else None


class _Behaviour:
    """Shared plumbing: each provided name has requests and a judge of its replies."""

    names: tuple[str, ...] = ()

    def requests(self, check: Any, ctx: Any) -> dict[str, Request]:
        out: dict[str, Request] = {}
        for name in self._wanted(check):
            for local, (probe, args) in getattr(self, f"_ask_{name}")().items():
                out[f"{name}.{local}"] = Request(probe, args, timeout=check.timeout)
        return out

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Any) -> Verdict:
        problems: list[str] = []
        errored = False
        for name in self._wanted(check):
            mine = {k.split(".", 1)[1]: v for k, v in replies.items() if k.startswith(name + ".")}
            failed = [(k, r) for k, r in sorted(mine.items()) if not r.ok]
            if failed:
                errored = True
                problems.append(f"`{name}` could not be run: {_error(failed[0][1])}")
                continue
            judge: Callable[[dict[str, Any]], str | None] = getattr(self, f"_judge_{name}")
            problem = judge({k: r.value for k, r in mine.items()})
            if problem:
                problems.append(f"`{name}`: {problem}")
        wanted = self._wanted(check)
        if not problems:
            names = ", ".join(f"`{n}`" for n in wanted)
            return Verdict(1.0, f"{names} {'behaves' if len(wanted) == 1 else 'behave'} as provided")
        return Verdict(0.0, "provided code changed: " + "; ".join(problems), "error" if errored and
                       len(problems) == sum(1 for p in problems if "could not be run" in p) else None)

    def _wanted(self, check: Any) -> list[str]:
        names = list(check.params.get("names") or self.names)
        return [n for n in names if n in self.names]


class RnnProvided(_Behaviour):
    """hw2_rnn.ipynb: the data sets, the one-hot helper and the two test functions."""

    names = ("idx_to_onehot", "EchoDataset", "VariableDelayEchoDataset", "test_model", "test_variable_delay_model")

    # ----------------------------------------------------------------- idx_to_onehot

    @staticmethod
    def _onehot_inputs() -> dict[str, tuple[np.ndarray, int | None]]:
        rng = np.random.default_rng(2572)
        grid = rng.integers(0, N + 1, size=(2, 3, 5))
        grid[0, 0, 0], grid[1, 2, 4] = 0, N  # both ends
        return {"grid": (grid.astype(np.int64), None), "flat": (np.array([4, 0, 2, 3, 1, 4], dtype=np.int64), 5)}

    def _ask_idx_to_onehot(self) -> dict[str, tuple[str, dict]]:
        return {local: ("call", {"target": "idx_to_onehot", "args": [tensor(x)] + ([] if k is None else [k]),
                                 "no_grad": True})
                for local, (x, k) in self._onehot_inputs().items()}

    def _judge_idx_to_onehot(self, values: dict[str, Any]) -> str | None:
        for local, (x, k) in self._onehot_inputs().items():
            k = N + 1 if k is None else k
            want = np.eye(k)[x]
            try:
                got = np.asarray(values[local], dtype=np.float64)
            except (TypeError, ValueError):
                return f"returned a {type(values[local]).__name__}, not a tensor"
            if got.shape != want.shape:
                call = f"idx_to_onehot(x{'' if local == 'grid' else f', {k}'})"
                return f"{call} of shape {x.shape} has shape {got.shape}, expected {want.shape}"
            if not np.array_equal(got, want):
                return f"wrong one-hot values for x of shape {x.shape} (k = {k})"
        return None

    # ----------------------------------------------------------------- EchoDataset

    def _ask_EchoDataset(self) -> dict[str, tuple[str, dict]]:
        return {f"c{i}": ("draw", {"target": {"$new": {"class": "EchoDataset", "kwargs": {
            "delay": c["delay"], "seq_length": c["seq_length"], "size": 1000}}}, "count": c["count"], "seed": 7 + i})
            for i, c in enumerate(ECHO_CASES)}

    def _judge_EchoDataset(self, values: dict[str, Any]) -> str | None:
        for i, c in enumerate(ECHO_CASES):
            call = f"EchoDataset(delay={c['delay']}, seq_length={c['seq_length']}, size=1000)"
            problem = _items_problem(values[f"c{i}"], c["count"], 2)
            if problem:
                return f"{call} {problem}"
            seqs = []
            for j, item in enumerate(values[f"c{i}"]["items"]):
                problem = _echo_problem(item[0], c["delay"], item[1], c["seq_length"])
                if problem:
                    return f"{call}, item {j}: {problem}"
                seqs.append(np.asarray(item[0]))
            problem = _range_problem(seqs)
            if problem:
                return f"{call}: {problem}"
        return None

    # ----------------------------------------------------------------- VariableDelayEchoDataset

    def _ask_VariableDelayEchoDataset(self) -> dict[str, tuple[str, dict]]:
        c = VD_CASE
        return {"c0": ("draw", {"target": {"$new": {"class": "VariableDelayEchoDataset", "kwargs": {
            "max_delay": c["max_delay"], "seq_length": c["seq_length"], "size": 1000}}}, "count": c["count"],
            "seed": 9})}

    def _judge_VariableDelayEchoDataset(self, values: dict[str, Any]) -> str | None:
        c = VD_CASE
        call = f"VariableDelayEchoDataset(max_delay={c['max_delay']}, seq_length={c['seq_length']}, size=1000)"
        problem = _items_problem(values["c0"], c["count"], 3)
        if problem:
            return f"{call} {problem}"
        seqs, delays = [], []
        for j, item in enumerate(values["c0"]["items"]):
            delay = _ints(item[1])
            if delay is None or delay.size != 1:
                return f"{call}, item {j}: the delay is not one integer"
            d = int(delay.reshape(()))
            if not 0 <= d <= c["max_delay"]:
                return f"{call}, item {j}: delay {d} outside 0..{c['max_delay']}"
            problem = _echo_problem(item[0], d, item[2], c["seq_length"])
            if problem:
                return f"{call}, item {j}: {problem}"
            seqs.append(np.asarray(item[0]))
            delays.append(d)
        unseen = sorted({0, c["max_delay"]} - set(delays))
        if unseen:
            return f"{call}: delay {unseen[0]} never drawn in {c['count']} items (delays are uniform in 0..max_delay)"
        return _range_problem(seqs)

    # ----------------------------------------------------------------- the test functions

    def _ask_test_model(self) -> dict[str, tuple[str, dict]]:
        def ask(translate: Any) -> tuple[str, dict]:
            method = {"shift": {"$ref": "DELAY"}, "fill": " ", **({"translate": list(translate)} if translate else {})}
            return ("call_stubbed", {"target": "test_model", "args": ["$model"], "seed": 5,
                                     "stubs": {"model": {"methods": {"test_run": method}}},
                                     "defaults": {"D": {"$ref": "DELAY"}}})

        return {"right": ask(None), "wrong": ask(WRONG)}

    def _judge_test_model(self, values: dict[str, Any]) -> str | None:
        return _test_function_problem("test_model(model)", [values["right"]], values["wrong"])

    def _ask_test_variable_delay_model(self) -> dict[str, tuple[str, dict]]:
        def ask(translate: Any, seed: int) -> tuple[str, dict]:
            method = {"shift": {"arg": 1}, "fill": " ", **({"translate": list(translate)} if translate else {})}
            return ("call_stubbed", {"target": "test_variable_delay_model", "args": ["$model"], "seed": seed,
                                     "stubs": {"model": {"methods": {"test_run": method}, "attrs": {"max_delay": 12}}}})

        out = {f"right{i}": ask(None, s) for i, s in enumerate(TVD_SEEDS)}
        out["wrong"] = ask(WRONG, TVD_SEEDS[0])
        return out

    def _judge_test_variable_delay_model(self, values: dict[str, Any]) -> str | None:
        rights = [values[f"right{i}"] for i in range(len(TVD_SEEDS))]
        problem = _test_function_problem("test_variable_delay_model(model)", rights, values["wrong"])
        if problem:
            return problem
        if not any(d > 0 for r in rights for d, _ in _calls(r)):
            return "never asked the model for a delay above 0 (delays are drawn from 0..max_delay)"
        return None


class SeqProvided(_Behaviour):
    """seq_classification.ipynb: the model class (the seed line is a text check: `sources:`)."""

    names = ("SimpleLSTM",)

    @staticmethod
    def _lstm_case() -> tuple[list[np.ndarray], np.ndarray]:
        i, h, o = LSTM_SIZES
        rng = np.random.default_rng(1234)
        shapes = [(4 * h, i), (4 * h, h), (4 * h,), (4 * h,), (o, h), (o,)]
        state = [(rng.normal(size=s) * 0.4).astype(np.float32) for s in shapes]
        x = rng.normal(size=(3, 9, i)).astype(np.float32)
        return state, x

    def _ask_SimpleLSTM(self) -> dict[str, tuple[str, dict]]:
        state, x = self._lstm_case()
        return {"run": ("forward_with_state", {"class": "SimpleLSTM", "args": list(LSTM_SIZES), "seed": 0,
                                               "state": [tensor(s) for s in state], "inputs": [tensor(x)]})}

    def _judge_SimpleLSTM(self, values: dict[str, Any]) -> str | None:
        i, h, o = LSTM_SIZES
        reply = values["run"]
        call = f"SimpleLSTM({i}, {h}, {o})"
        if not isinstance(reply, Mapping) or not reply.get("loaded"):
            entries = reply.get("entries") if isinstance(reply, Mapping) else None
            shown = ", ".join(f"{n} {tuple(s)}" for n, s in (entries or [])[:8]) or "none"
            return (f"{call} has other weights than one LSTM ({i} -> {h}) and one Linear ({h} -> {o}): {shown}")
        state, x = self._lstm_case()
        want = lstm_linear(state, x)
        try:
            got = np.asarray(reply["output"], dtype=np.float64)
        except (TypeError, ValueError):
            return f"{call} returned a {type(reply['output']).__name__}, not a tensor"
        if got.shape != want.shape:
            return f"{call} maps (3, 9, {i}) to shape {got.shape}, expected {want.shape}"
        worst = float(np.max(np.abs(got - want)))
        if not np.allclose(got, want, rtol=1e-4, atol=1e-4):
            return f"{call} computes something else than LSTM + Linear with the same weights (max difference {worst:.3g})"
        return None


# --------------------------------------------------------------------------- helpers


def lstm_linear(state: list[np.ndarray], x: np.ndarray) -> np.ndarray:
    """Our re-implementation: nn.LSTM(batch_first=True), then nn.Linear at every step (float64)."""
    w_ih, w_hh, b_ih, b_hh, w, b = (np.asarray(s, dtype=np.float64) for s in state)
    hidden = w_hh.shape[1]
    batch, steps, _ = x.shape
    h = np.zeros((batch, hidden))
    c = np.zeros((batch, hidden))
    sig = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    out = np.zeros((batch, steps, w.shape[0]))
    for t in range(steps):
        gates = x[:, t].astype(np.float64) @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        i_, f_, g_, o_ = np.split(gates, 4, axis=1)  # torch's gate order: input, forget, cell, output
        c = sig(f_) * c + sig(i_) * np.tanh(g_)
        h = sig(o_) * np.tanh(c)
        out[:, t] = h @ w.T + b
    return out


def _items_problem(value: Any, count: int, width: int) -> str | None:
    if not isinstance(value, Mapping) or not isinstance(value.get("items"), list):
        return "could not be iterated"
    items = value["items"]
    if len(items) < count:
        return f"yielded {len(items)} items, expected at least {count} (size=1000)"
    for j, item in enumerate(items):
        if not isinstance(item, tuple) or len(item) != width:
            return f"item {j} is not a tuple of {width}"
    return None


def _echo_problem(seq: Any, delay: int, result: Any, length: int) -> str | None:
    s, r = _ints(seq), _ints(result)
    if s is None or r is None:
        return "seq and result must be integer tensors"
    if s.shape != (length,) or r.shape != (length,):
        return f"seq has shape {s.shape} and result {r.shape}, expected ({length},)"
    if s.min() < 1 or s.max() > N:
        return f"seq values must be in 1..{N}, found {int(s.min())}..{int(s.max())}"
    want = np.concatenate([np.zeros(delay, dtype=np.int64), s[:length - delay]])
    if not np.array_equal(r, want):
        return f"result is not {delay} zeros followed by seq (result[:{delay + 2}] = {r[:delay + 2].tolist()}, " \
               f"seq[:2] = {s[:2].tolist()})"
    return None


def _range_problem(seqs: list[np.ndarray]) -> str | None:
    values = np.concatenate([s.reshape(-1) for s in seqs])
    missing = [v for v in (1, N) if v not in values]
    if missing:
        return f"letter {missing[0]} never drawn in {values.size} letters (letters are uniform in 1..{N})"
    if len({s.tobytes() for s in seqs}) < max(2, len(seqs) // 2):
        return "the sequences repeat (they must be random)"
    return None


def _calls(value: Any) -> list[tuple[int, int]]:
    try:
        return [(int(d), int(n)) for d, n in value["stubs"]["model"]["calls"]]
    except (KeyError, TypeError, ValueError):
        return []


def _test_function_problem(call: str, rights: list[Any], wrong: Any) -> str | None:
    for value in rights:
        score = _number(value.get("value") if isinstance(value, Mapping) else None)
        calls = _calls(value)
        if score is None:
            return f"{call} returned {type(value.get('value')).__name__ if isinstance(value, Mapping) else '?'}, " \
                   "not an accuracy"
        if not calls:
            return f"{call} never called model.test_run"
        full = sum(n - d for d, n in calls)
        bug = sum(n - d for d, n in calls if d > 0) / full if full else 0.0  # the course's s[:-0] with delay 0
        if abs(score - 1.0) > TOLERANCE and abs(score - bug) > TOLERANCE:
            return f"{call} scores a perfect echo model {score:.3f}, expected 1"
    score = _number(wrong.get("value") if isinstance(wrong, Mapping) else None)
    if score is None or not _calls(wrong):
        return f"{call} did not score a wrong model (returned no accuracy or never called model.test_run)"
    if score > TOLERANCE:
        return f"{call} scores a model that is always wrong {score:.3f}, expected 0"
    return None
