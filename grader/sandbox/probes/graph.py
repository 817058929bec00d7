"""Skip-connection (residual) detection on a small dataflow graph.

Both the torch.fx path and the dynamic (TorchFunctionMode) path of the ``module`` probe
build a list of :class:`Node` in topological order, then :func:`find_skips` looks at every
``add`` and ``cat`` node (outside built-in torch.nn layers) and its tensor inputs ``a``,
``b``:

- *identity* skip: one input is an ancestor of the other and the path between them goes
  through at least one module call (``out = block(x); out + x``);
- *projection* skip (add) / *dense* skip (cat): the inputs share a nearest common ancestor
  ``c`` and the paths ``c -> a`` and ``c -> b`` go through a different number of module
  calls, at least one (``conv2(conv1(x)) + shortcut(x)``; ``cat([x, conv(x)])``).

For ``add`` the two inputs must have the same shape when shapes are known (a broadcast
bias add is not a skip). Each site reports ``modules`` (module calls skipped over on the
longer path, or their difference) and ``layers`` (the same counting only layers with
parameters or conv/linear functions), so the grader can choose how strict to be.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ADD_NAMES = {"add", "add_", "__add__", "__radd__", "__iadd__", "iadd", "sum_pair"}
CAT_NAMES = {"cat", "concat", "concatenate"}


@dataclass
class Node:
    parents: list[int] = field(default_factory=list)
    kind: str = "op"  # "leaf" | "op" | "add" | "cat"
    name: str = ""
    module: bool = False  # a module call (or a conv/linear/matmul function)
    layer: bool = False  # ... with parameters
    shape: tuple | None = None
    tensor: bool = True
    inside_builtin: bool = False


def op_kind(name: str) -> str:
    if name in ADD_NAMES:
        return "add"
    if name in CAT_NAMES:
        return "cat"
    return "op"


def find_skips(nodes: list[Node], limit: int = 50) -> list[dict[str, Any]]:
    n = len(nodes)
    anc: list[int] = []
    for i, node in enumerate(nodes):
        bits = 1 << i
        for p in node.parents:
            if 0 <= p < i:
                bits |= anc[p]
        anc.append(bits)

    def longest(a: int, b: int, attr: str) -> int | None:
        best: dict[int, int] = {a: 0}
        mask = anc[b]
        for i in range(a + 1, b + 1):
            if not (mask >> i) & 1:
                continue
            cands = [best[p] for p in nodes[i].parents if p in best]
            if cands:
                best[i] = max(cands) + (1 if getattr(nodes[i], attr) else 0)
        return best.get(b)

    sites: list[dict[str, Any]] = []
    for i in range(n):
        node = nodes[i]
        if node.kind not in ("add", "cat") or node.inside_builtin:
            continue
        ins: list[int] = []
        for p in node.parents:
            if p not in ins and 0 <= p < i and nodes[p].tensor:
                ins.append(p)
        if node.kind == "add" and len(ins) != 2:
            continue
        found = None
        for x in range(len(ins)):
            for y in range(x + 1, len(ins)):
                a, b = ins[x], ins[y]
                if node.kind == "add":
                    sa, sb = nodes[a].shape, nodes[b].shape
                    if sa is not None and sb is not None and tuple(sa) != tuple(sb):
                        continue
                lo, hi = min(a, b), max(a, b)
                if (anc[hi] >> lo) & 1:
                    m = longest(lo, hi, "module") or 0
                    if m >= 1:
                        found = {"node": i, "op": node.name, "kind": "identity", "modules": m,
                                 "layers": longest(lo, hi, "layer") or 0}
                        break
                    continue
                common = anc[a] & anc[b]
                if not common:
                    continue
                c = common.bit_length() - 1
                ma, mb = longest(c, a, "module") or 0, longest(c, b, "module") or 0
                if max(ma, mb) >= 1 and ma != mb:
                    la, lb = longest(c, a, "layer") or 0, longest(c, b, "layer") or 0
                    found = {"node": i, "op": node.name, "kind": "projection" if node.kind == "add" else "dense",
                             "modules": abs(ma - mb), "layers": abs(la - lb), "paths": sorted([ma, mb]),
                             "layer_paths": sorted([la, lb])}
                    break
            if found:
                break
        if found:
            sites.append(found)
            if len(sites) >= limit:
                break
    return sites
