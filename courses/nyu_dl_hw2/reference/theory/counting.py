"""Size and cost of a fully connected network (ELEG 5491 HW2 problem 4).

The network has d inputs, L >= 0 hidden layers of n units and c outputs, every layer fully
connected to the next, so there are

    E = d n + (L - 1) n^2 + n c   weights  (d c when L = 0)  and  L n + c  biases.

Counting model for one SGD step on one sample (only multiplications count):

* free: additions, evaluating an activation f or its derivative f', the loss J and its
  derivative dJ/du_k at each output u_k, and every sum over paths;
* forward pass: one multiplication w_ji u_i per weight (E);
* every unit j above the input has the local factor f'(net_j).

Back-propagation (`bp_multiplications`):
    output deltas  delta_k = dJ/du_k f'(net_k):                 c
    hidden deltas  delta_l = f'(net_l) * (W_{l+1}^T delta_{l+1}): one per weight above the
                   first layer (E - E_1) plus n per hidden layer (L n); inputs need no delta
    weight grads   dJ/dw_ji = delta_j u_i:                      E  (bias grads are delta_j: free)
    update         w <- w - eta g:                               one per parameter
so the total is 3E - E_1 + L n + c + (E + L n + c with biases): O(E), linear in the size.

Path enumeration (`path_enumeration_multiplications`), the formula of the problem:
dJ/dw_ji = (du_N/du_i)(du_i/dnet_i)(dnet_i/dw_ji) with du_N/du_i a sum over all paths from
unit i to the cost node N of the product of the local derivatives along the path:
    local derivatives  du_b/du_a = f'(net_b) w_ba, for every edge not leaving the input
                       layer, computed once:                         E - E_1
    paths              from a unit of hidden layer l (1..L) there are n^(L-l) c paths of
                       L - l + 2 factors (the last, dJ/du_k, is free to know), so each costs
                       L - l + 1 multiplications; from an output unit one path, no cost
    per weight         the two further factors: 2; per bias: 1
    update             one per parameter.
With `per_weight=True` (the problem's reading: the chain rule is applied to each weight's
paths separately) the path sums are redone for every weight and bias; with False once per
unit. Either way the cost grows like L c d n^L: exponential in the depth.

Layers are numbered as in the problem: 0 is the input, 1..L hidden, L + 1 the output.
"""

from __future__ import annotations

from typing import NamedTuple

from ..errors import ReferenceInputError


def _sizes(d: int, L: int, n: int, c: int) -> list[int]:
    for name, value, low in (("d", d, 1), ("L", L, 0), ("n", n, 1), ("c", c, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ReferenceInputError(f"{name} must be an integer >= {low}, got {value!r}")
    return [d] + [n] * L + [c]


def _weights(sizes: list[int]) -> list[int]:
    return [a * b for a, b in zip(sizes[:-1], sizes[1:])]


def fc_parameter_count(d: int, L: int, n: int, c: int, *, bias: bool = True) -> int:
    """Numbers to store: d n + (L - 1) n^2 + n c weights, plus L n + c biases if `bias`."""
    sizes = _sizes(d, L, n, c)
    return sum(_weights(sizes)) + (sum(sizes[1:]) if bias else 0)


class BPCount(NamedTuple):
    forward: int
    output_deltas: int
    hidden_deltas: int
    weight_gradients: int
    update: int

    @property
    def total(self) -> int:
        return sum(self)


def bp_multiplications(d: int, L: int, n: int, c: int, *, bias: bool = True, include_update: bool = True) -> BPCount:
    """Multiplications of one back-propagation SGD step, by part (module docstring)."""
    sizes = _sizes(d, L, n, c)
    weights = _weights(sizes)
    E = sum(weights)
    return BPCount(
        forward=E,
        output_deltas=c,
        hidden_deltas=sum(weights[1:]) + L * n,
        weight_gradients=E,
        update=fc_parameter_count(d, L, n, c, bias=bias) if include_update else 0,
    )


def paths_to_cost(layer: int, L: int, n: int, c: int) -> int:
    """Paths from one unit of `layer` (1..L+1) to the cost node: n^(L - layer) c, or 1 at the output."""
    if not 1 <= layer <= L + 1:
        raise ReferenceInputError(f"layer must be 1..{L + 1} (0 is the input), got {layer}")
    return 1 if layer == L + 1 else n ** (L - layer) * c


class PathCount(NamedTuple):
    forward: int
    local_derivatives: int
    path_products: int
    chain_factors: int
    update: int

    @property
    def total(self) -> int:
        return sum(self)


def path_enumeration_multiplications(
    d: int, L: int, n: int, c: int, *, bias: bool = True, include_update: bool = True, per_weight: bool = True
) -> PathCount:
    """Multiplications of one SGD step computing every gradient by path enumeration."""
    sizes = _sizes(d, L, n, c)
    weights = _weights(sizes)
    products = 0
    chain = 0
    for layer in range(1, L + 2):
        paths = paths_to_cost(layer, L, n, c)
        per_unit = paths * (L + 1 - layer)  # each path: L - layer + 2 factors, one fewer products
        fan_in = sizes[layer - 1]
        users = (fan_in + (1 if bias else 0)) if per_weight else 1  # how often a unit's sum is rebuilt
        products += sizes[layer] * users * per_unit
        chain += sizes[layer] * (2 * fan_in + (1 if bias else 0))
    return PathCount(
        forward=sum(weights),
        local_derivatives=sum(weights[1:]),
        path_products=products,
        chain_factors=chain,
        update=fc_parameter_count(d, L, n, c, bias=bias) if include_update else 0,
    )
