"""HW2 probes: raw facts about the CNN, the mixture of experts and a trained model.

Like every probe they run student code on inputs the grader sent and report what came
back; the judging (conventions, tolerances, thresholds) is in reference/hw2/judges.py, in
the grader's process.
"""

from __future__ import annotations

from typing import Any

import torch

from . import ProbeContext, ProbeError, R, probe, seed_all

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


@probe("hw2_moe_parts")
def hw2_moe_parts(ctx: ProbeContext, args: dict) -> Any:
    """The mixture's output and, from its own submodules, the gate weights and each
    expert's output on the same inputs (experts in registration order)."""
    model = ctx.construct({"class": args.get("class", "MixtureOfExperts"), "args": args.get("args", []),
                           "seed": args.get("seed", 0)})
    if not R.isinstance_(model, R.Module):
        raise ProbeError("the mixture is not a torch.nn.Module")
    R.module_eval(model)
    x = ctx.resolve(args["x"])
    with R.no_grad():
        out = model(x)
        gates = [m for m in R.module_modules(model) if R.type_(m).__name__ == args.get("gate_class", "GatingNetwork")]
        experts = [m for m in R.module_modules(model) if R.type_(m).__name__ == args.get("expert_class", "Expert")]
        facts: dict[str, Any] = {"output": out, "gate": None, "experts": []}
        if len(gates) != 1:
            facts["problem"] = f"expected one {args.get('gate_class', 'GatingNetwork')} inside the mixture, found {len(gates)}"
            return facts
        if not experts:
            facts["problem"] = f"no {args.get('expert_class', 'Expert')} modules inside the mixture"
            return facts
        facts["gate"] = gates[0](x)
        facts["experts"] = [e(x) for e in experts]
    return facts


@probe("hw2_trained")
def hw2_trained(ctx: ProbeContext, args: dict) -> Any:
    """After a full run: the notebook's trained instance of `class` (a preferred global
    name first, else the last such global) in eval mode on the given inputs."""
    cls_name = args["class"]

    def is_instance(obj: Any) -> bool:
        return R.isinstance_(obj, R.Module) and R.type_(obj).__name__ == cls_name

    found = None
    for name in args.get("prefer", []):
        if is_instance(ctx.ns.get(name)):
            found = name
            break
    if found is None:
        names = [n for n, v in list(ctx.ns.items()) if not n.startswith("_") and is_instance(v)]
        if not names:
            raise ProbeError(f"the notebook left no trained {cls_name} in a global variable")
        found = names[-1]
    model = ctx.ns[found]
    R.module_eval(model)
    inputs = ctx.resolve(list(args.get("inputs", [])))
    with R.no_grad():
        out = model(*inputs)
    if isinstance(out, (tuple, list)) and out:
        out = out[0]
    return {"name": found, "output": out}
