"""HW2 probes: raw facts about the CNN and the mixture of experts.

Like every probe they run student code on inputs the grader sent and report what came
back; the judging (conventions, tolerances, thresholds) is in courses/nyu_dl_hw2/reference/hw2/judges.py, in
the grader's process.
"""

from __future__ import annotations

from typing import Any

import torch

from grader.api import ProbeContext, ProbeError, R, driver, probe, seed_all

_Loss = torch.nn.modules.loss._Loss
_as_float = float


def _criterion_facts(ctx: ProbeContext) -> tuple[Any, dict[str, Any]]:
    """The student's module-level `criterion`, its class name and the settings that change its value."""
    crit = ctx.ns.get("criterion")
    if crit is None or not R.isinstance_(crit, R.Module):
        return None, {"criterion": None, "criterion_params": {}}
    params: dict[str, Any] = {}
    for name in ("reduction", "label_smoothing", "ignore_index"):
        value = getattr(crit, name, None)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            params[name] = value
    for name in ("weight", "pos_weight"):
        value = getattr(crit, name, None)
        if R.is_tensor(value):
            params[name] = R.tensor_detach(value)
    return crit, {"criterion": R.type_(crit).__name__, "criterion_params": params}


@probe("hw2_cnn")
def hw2_cnn(ctx: ProbeContext, args: dict) -> Any:
    """`CNN()` in eval mode on the images; with labels, also the student's
    `get_loss_and_correct(model, (images, labels), criterion, "cpu")`."""
    model = ctx.construct({"class": args.get("class", "CNN"), "seed": args.get("seed", 0)})
    if not R.isinstance_(model, R.Module):
        raise ProbeError(f"{args.get('class', 'CNN')}() is not a torch.nn.Module")
    R.module_eval(model)  # batch norm and dropout deterministic: the same outputs twice
    images = ctx.resolve(args["images"])
    with R.no_grad():
        output = model(images)
    crit, facts = _criterion_facts(ctx)
    facts["output"] = output
    if "labels" in args:
        labels = ctx.resolve(args["labels"])
        fn = ctx.lookup(args.get("function", "get_loss_and_correct"))
        if crit is None:
            crit = torch.nn.CrossEntropyLoss() if getattr(output, "ndim", 0) == 2 and output.shape[-1] == 2 \
                else torch.nn.BCEWithLogitsLoss()
            facts.update(criterion=R.type_(crit).__name__, criterion_params={}, criterion_defaulted=True)
        seed_all(args.get("seed", 0))
        try:
            result = fn(model, (images, labels), crit, "cpu")
        except Exception as exc:  # noqa: BLE001 - the student's function failed: say how
            facts["function_error"] = f"{R.type_(exc).__name__}: {str(exc)[:300]}"
            return facts
        facts["result"] = list(result) if isinstance(result, (tuple, list)) else result
    return facts


def _first(out: Any) -> Any:
    """A forward that returns (output, extras) is judged on its output."""
    return out[0] if isinstance(out, (tuple, list)) and out else out


def _held(obj: Any, cls_name: str, depth: int = 0) -> list[Any]:
    """Instances of the class named `cls_name` that `obj` holds: registered submodules, and
    plain attributes, lists, tuples and dicts of them (a Python list of experts is not
    registered), in the order they appear."""
    found: list[Any] = []
    if depth > 3:
        return found
    if R.isinstance_(obj, R.Module):
        if depth and R.type_(obj).__name__ == cls_name:
            return [obj]
        values = list(R.getattr_(obj, "_modules", {}).values())
        values += [v for k, v in vars(obj).items() if not k.startswith("_")]
    elif R.isinstance_(obj, (list, tuple, dict)) and len(obj) <= 1000:  # experts live in small containers
        values = list(obj.values()) if R.isinstance_(obj, dict) else list(obj)
    else:
        return found
    for v in values:
        if R.isinstance_(v, (R.Module, list, tuple, dict)):
            for m in _held(v, cls_name, depth + 1):
                if not any(m is f for f in found):
                    found.append(m)
    return found


def _find_model(ctx: ProbeContext, cls_name: str, prefer: list[str]) -> tuple[Any, str]:
    """The notebook's trained instance of `cls_name`: a preferred global name first, else the last such global."""
    def is_instance(obj: Any) -> bool:
        return R.isinstance_(obj, R.Module) and R.type_(obj).__name__ == cls_name

    for name in prefer:
        if is_instance(ctx.ns.get(name)):
            return ctx.ns[name], name
    names = [n for n, v in list(ctx.ns.items()) if not n.startswith("_") and is_instance(v)]
    return (ctx.ns[names[-1]], names[-1]) if names else (None, "")


def _fresh_model(ctx: ProbeContext, cls_name: str, calls: list) -> tuple[Any, str]:
    """A new instance made the way the notebook made one (its calls, last first), else with the defaults."""
    problems = []
    for call in list(calls)[::-1] + [{"args": [], "kwargs": {}, "text": f"{cls_name}()"}]:
        try:
            return ctx.construct({"class": cls_name, "args": call.get("args", []),
                                  "kwargs": call.get("kwargs", {}), "seed": 0}), str(call.get("text", ""))
        except ProbeError as exc:
            problems.append(f"{call.get('text')}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the student's constructor failed: try the next call
            problems.append(f"{call.get('text')}: {R.type_(exc).__name__}: {str(exc)[:200]}")
    raise ProbeError(f"the notebook left no {cls_name} instance, and none could be made: " + "; ".join(problems))


def _expert_facts(expert: Any) -> dict[str, Any]:
    params = [[n, [int(d) for d in p.shape]] for n, p in R.module_named_parameters(expert)]
    linear = sum(1 for m in R.module_modules(expert) if R.isinstance_(m, torch.nn.Linear))
    return {"params": params, "linear_modules": linear,
            "modules": sorted({R.type_(m).__name__ for m in R.module_modules(expert)} - {R.type_(expert).__name__})}


@probe("hw2_moe")
def hw2_moe(ctx: ProbeContext, args: dict) -> Any:
    """The notebook's mixture of experts, from its own objects: the trained instance the full
    run left (`prefer` names first), or, with `fresh_ok`, one made as the notebook's own
    `calls` made it (else with the defaults). Reports, on the inputs `x` in eval mode: the
    mixture's output, its gate's output and each of its experts' outputs, each expert's
    parameter shapes, and the notebook's `criterion` class."""
    cls_name = args.get("class", "MixtureOfExperts")
    model, name = _find_model(ctx, cls_name, list(args.get("prefer", [])))
    how = "trained"
    if model is None:
        if not args.get("fresh_ok"):
            return {"how": "none"}  # no trained mixture: the grader says so in its own words
        model, name = _fresh_model(ctx, cls_name, list(args.get("calls", [])))
        how = "fresh"
    if not R.isinstance_(model, R.Module):
        raise ProbeError(f"{cls_name} is not a torch.nn.Module")
    R.module_eval(model)
    x = ctx.resolve(args["x"])
    _, facts = _criterion_facts(ctx)
    facts.update(name=name, how=how, output=None, gate=None, gates_found=0, experts=[], expert_facts=[], errors={})
    with R.no_grad():
        facts["output"] = _call(model, x, "mixture", facts["errors"])
        if not args.get("parts", True):
            return facts
        gates = _held(model, args.get("gate_class", "GatingNetwork"))
        experts = _held(model, args.get("expert_class", "Expert"))
        facts["gates_found"] = len(gates)
        if len(gates) == 1:
            facts["gate"] = _call(gates[0], x, "gate", facts["errors"])
        for i, e in enumerate(experts):
            facts["experts"].append(_call(e, x, f"expert {i + 1}", facts["errors"]))
            facts["expert_facts"].append(_expert_facts(e))
    return facts


def _call(module: Any, x: Any, what: str, errors: dict[str, str]) -> Any:
    """`module(x)` in eval mode; a failure is recorded under `what` (the other parts are still judged)."""
    try:
        R.module_eval(module)
        return _first(module(x))
    except Exception as exc:  # noqa: BLE001 - the student's forward failed: say how
        errors[what] = f"{R.type_(exc).__name__}: {str(exc)[:300]}"
        return None


# --------------------------------------------------------------------------- RNN version 1
# The version-1 handout (Spring 2021 .. Spring 2024, Fall 2025) has no training function:
# students train in notebook cells, which the grader does not run. The `echo_loop` driver
# trains the student's model the course's way (cross entropy over every position, Adam) in
# the student's input convention, so the training checks grade whether the model learns.


_CrossEntropy = torch.nn.CrossEntropyLoss
_Adam = torch.optim.Adam
_one_hot = torch.nn.functional.one_hot


def _echo_logits(model: Any, seq: Any, extra: list, convention: str) -> Any:
    x = _one_hot(seq.long(), 27).float() if convention == "onehot" else seq
    return model(x, *extra)


@driver("echo_loop")
def echo_loop(ctx: ProbeContext, model: Any, loader: Any, args: dict) -> dict:
    """Batches of (seq, target) or (seq, delay, target) int tensors; per batch one Adam step
    on the cross entropy of ``model(x[, delays])`` against ``target`` at every position.
    ``x`` is one-hot (the handout) or, if the model does not take that, the indices
    (``nn.Embedding`` models): the first convention giving (batch, seq, 27) logits is kept.
    args: ``lr`` (default 3e-3), ``max_epochs``.
    """
    criterion = _CrossEntropy()
    optimizer = _Adam(R.module_parameters(model), lr=float(args.get("lr", 3e-3)))
    R.module_train(model)
    convention = None
    steps = epochs = 0
    last = None
    for _ in range(int(args.get("max_epochs", 10_000))):
        epochs += 1
        for batch in loader:
            seq, *extra, target = batch
            if convention is None:
                errors = []
                for name in ("onehot", "indices"):
                    try:
                        out = _echo_logits(model, seq, extra, name)
                    except Exception as exc:  # noqa: BLE001 - not this convention
                        errors.append(f"{name}: {R.type_(exc).__name__}: {exc}")
                        continue
                    if R.is_tensor(out) and tuple(out.shape) == (*tuple(seq.shape), 27):
                        convention = name
                        break
                    errors.append(f"{name}: output {tuple(getattr(out, 'shape', ()))}")
                if convention is None:
                    raise ProbeError("the model maps neither one-hot letters nor indices to (batch, seq, 27) "
                                     "logits: " + "; ".join(errors))
            logits = _echo_logits(model, seq, extra, convention)
            loss = criterion(logits.reshape(-1, 27), target.reshape(-1).long())
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            last = loss
        if loader.exhausted:
            break
    out: dict[str, Any] = {"steps": steps, "epochs": epochs, "convention": convention or ""}
    if R.is_tensor(last):
        out["last_loss"] = float(R.tensor_detach(last))
    return out
