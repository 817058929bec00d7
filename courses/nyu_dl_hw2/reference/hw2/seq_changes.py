"""What a student changed in seq_classification's Section 8 training procedure, read from
the notebook's code (for the feedback beside the spike verdict; it awards nothing).

The course's procedure: ``torch.manual_seed(1)``, ``SimpleLSTM(input_size, 12,
output_size)``, ``CrossEntropyLoss``, ``RMSprop(lr=0.001)``, 100 epochs of 31 batches of
32, no clipping, no scheduler, no hooks. The procedure is read from the cells that train
Section 8's model (the sandbox's re-run names them) and from the notebook's own functions
they call (``train_and_test``, ``train``... wherever the fix was made, with any extra
parameters). Reported: optimizer and its settings, gradient clipping, gradient hooks,
clamps, learning-rate schedulers, weight initialisation, epochs, batch size, the seed,
and a ``SimpleLSTM`` redefined after its first definition. Text only: nothing here runs.
"""

from __future__ import annotations

import ast
from typing import Iterable

COURSE = {"optimizer": "RMSprop(lr=0.001)", "seed": "1", "epochs": "100", "batch_size": "32"}
OPTIMIZERS = frozenset({"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
                        "ASGD", "LBFGS", "Rprop", "SparseAdam", "Adafactor"})
CLIPPING = frozenset({"clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_"})


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):  # magics, null bytes: that cell's text tells nothing here
        return None


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _dotted(func: ast.expr) -> str:
    try:
        return ast.unparse(func)
    except Exception:  # noqa: BLE001
        return _name(func)


def _value(node: ast.expr, consts: dict[str, str] | None = None) -> str:
    """Source of an argument; numbers in one spelling (1e-3 and 0.001 are both 0.001); a
    notebook constant with its value (``CLIP_NORM (0.25)``)."""
    if consts and isinstance(node, ast.Name) and node.id in consts:
        return f"{node.id} ({consts[node.id]})"
    try:
        v = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return ast.unparse(node)
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else ast.unparse(node)


def _call_text(call: ast.Call, skip_first: bool = False, consts: dict[str, str] | None = None) -> str:
    args = [_value(a, consts) for a in call.args[1 if skip_first else 0:]]
    args += [f"{k.arg}={_value(k.value, consts)}" if k.arg else f"**{ast.unparse(k.value)}" for k in call.keywords]
    return f"{_name(call.func)}({', '.join(args)})"


def _functions(cell_sources: Iterable[str]) -> dict[str, ast.FunctionDef]:
    """Top-level functions of the notebook, the last definition of each name."""
    out: dict[str, ast.FunctionDef] = {}
    for src in cell_sources:
        tree = _parse(src)
        for node in tree.body if tree else ():
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out[node.name] = node  # type: ignore[assignment]
    return out


def _constants(cell_sources: Iterable[str]) -> dict[str, str]:
    """Top-level ``NAME = number`` assignments of the notebook (the last of each name)."""
    out: dict[str, str] = {}
    for src in cell_sources:
        tree = _parse(src)
        for node in tree.body if tree else ():
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and isinstance(node.value, ast.Constant) and isinstance(node.value.value, (int, float)):
                out[node.targets[0].id] = _value(node.value)
    return out


def procedure_nodes(training_cells: Iterable[str], cell_sources: Iterable[str]) -> list[ast.AST]:
    """The training cells' code plus the notebook functions it calls, transitively."""
    funcs = _functions(cell_sources)
    todo: list[ast.AST] = [t for t in (_parse(s) for s in training_cells) if t is not None]
    seen: set[str] = set()
    nodes: list[ast.AST] = []
    while todo:
        node = todo.pop()
        nodes.append(node)
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name):
                called = sub.func.id
                if called in funcs and called not in seen:
                    seen.add(called)
                    todo.append(funcs[called])
    return nodes


def _is_lr_item(target: ast.AST) -> bool:
    """`group["lr"]` / `optimizer.param_groups[0]['lr']` as an assignment target."""
    return isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant) and target.slice.value == "lr"


def procedure_facts(training_cells: Iterable[str], cell_sources: Iterable[str]) -> dict[str, list[str]]:
    """Settings of the procedure, each a list of source snippets (in source order)."""
    training_cells, cell_sources = list(training_cells), list(cell_sources)
    facts: dict[str, list[str]] = {k: [] for k in ("optimizer", "clipping", "hooks", "clamp", "scheduler", "lr_set",
                                                   "init", "seed", "epochs", "batch_size")}

    consts = _constants(cell_sources)

    def add(key: str, text: str) -> None:
        if text not in facts[key]:
            facts[key].append(text)

    for node in procedure_nodes(training_cells, cell_sources):
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                name, dotted = _name(sub.func), _dotted(sub.func)
                if name in OPTIMIZERS:
                    add("optimizer", _call_text(sub, True, consts))
                elif name in CLIPPING:
                    add("clipping", _call_text(sub, True, consts))
                elif name == "register_hook":
                    add("hooks", _call_text(sub, False, consts))
                elif name in ("clamp", "clamp_", "clip") and "grad" in ast.unparse(sub):
                    add("clamp", ast.unparse(sub))
                elif "lr_scheduler" in dotted or name.endswith("LR") or name == "ReduceLROnPlateau":
                    add("scheduler", _call_text(sub, True, consts))
                elif "nn.init" in dotted or dotted.startswith("init."):
                    add("init", dotted)
                elif name == "manual_seed" and sub.args:
                    add("seed", _value(sub.args[0]))
            elif isinstance(sub, ast.Assign) and len(sub.targets) == 1 and _is_lr_item(sub.targets[0]):
                add("lr_set", ast.unparse(sub))  # a learning rate set by hand (param_groups)
            elif isinstance(sub, ast.Assign) and len(sub.targets) == 1 and isinstance(sub.targets[0], ast.Name):
                target = sub.targets[0].id
                if target in ("max_epochs", "batch_size") and isinstance(sub.value, ast.Constant):
                    add("epochs" if target == "max_epochs" else "batch_size", _value(sub.value))
    return facts


def _redefined_model(cell_sources: Iterable[str], class_name: str) -> bool:
    dumps = []
    for src in cell_sources:
        tree = _parse(src)
        for node in tree.body if tree else ():
            if isinstance(node, ast.ClassDef) and node.name == class_name:
                body = [n for n in node.body if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))]
                dumps.append(ast.dump(ast.Module(body=body, type_ignores=[])))
    return len(set(dumps)) > 1


def describe_changes(training_cells: Iterable[str], cell_sources: Iterable[str],
                     class_name: str = "SimpleLSTM") -> list[str]:
    """One line per difference from the course's procedure (empty: nothing changed)."""
    cell_sources = list(cell_sources)
    f = procedure_facts(training_cells, cell_sources)
    f["clamp"] = [c for c in f["clamp"] if not any(c in h for h in f["hooks"])]  # shown with its hook
    lines = []
    optimizers = [o for o in f["optimizer"] if o.replace(" ", "") != COURSE["optimizer"]]
    if optimizers:
        lines.append(f"optimizer {' / '.join(f['optimizer'])} (course: {COURSE['optimizer']})")
    for key, what in (("clipping", "gradient clipping"), ("hooks", "gradient hooks"), ("clamp", "gradient clamp"),
                      ("scheduler", "learning-rate schedule"), ("lr_set", "learning rate set by hand"),
                      ("init", "weight initialisation (changes the model)")):
        if f[key]:
            lines.append(f"{what}: {'; '.join(f[key])}")
    for key, what in (("seed", "seed"), ("epochs", "max_epochs"), ("batch_size", "batch_size")):
        other = [v for v in f[key] if v != COURSE[key]]
        if other:
            lines.append(f"{what} {', '.join(f[key])} (course: {COURSE[key]}; the assignment says not to change "
                         f"{'the seed' if key == 'seed' else 'the setup'})")
    if _redefined_model(cell_sources, class_name):
        lines.append(f"{class_name} is defined again with a different body (the assignment says not to change the model)")
    return [line if len(line) <= 300 else line[:297] + "..." for line in lines]
