"""Answers read out of a passage: dimensions, tensor shapes, numbers and formulas.

Everything here works on `text.normalise`d text and returns candidates with their position,
so the judge can say where it read them. Formulas are parsed by a small recursive-descent
parser into a tree that is evaluated with exact fractions: student text is never given to
`eval` (nor to sympy's `sympify`, which evaluates Python).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping, Sequence

# --------------------------------------------------------------------------- dims and shapes

_SEP = r"\s*(?:×|\*|(?<=[\d\s)])[xX](?=[\s\d(])|\bby\b)\s*"
_DIMS = re.compile(rf"(?<![\w.^])(\d+)((?:{_SEP}\d+)+)(?![\w]|\.\d|\s*/)")


@dataclass(frozen=True)
class Candidate:
    value: Any  # dims/shape: tuple of sizes (int or symbol name); numbers: float; formula: tree
    text: str
    pos: int
    blocks: tuple[tuple[Any, ...], ...] | None = None


def find_dims(text: str) -> list[Candidate]:
    """`9 × 13`, `9x13`, `9 by 13`, `1 × 9 × 13`: sizes separated by ×, x, * or 'by'."""
    out = []
    for m in _DIMS.finditer(text):
        sizes = tuple(int(s) for s in re.findall(r"\d+", m.group(0)))
        out.append(Candidate(sizes, m.group(0).strip(), m.start()))
    return out


class _ShapeParser:
    """`R^{5×(1×7×3)}`, `R5×(1×7×3)`, `R^{m}`, `R^{(2×1)×(1×2×3)}` after an `R`."""

    def __init__(self, text: str, pos: int):
        self.t, self.i = text, pos

    def ws(self) -> None:
        while self.i < len(self.t) and self.t[self.i] in " \t\n{}^":
            self.i += 1

    def atom(self) -> list[Any] | None:
        self.ws()
        t, i = self.t, self.i
        if i >= len(t):
            return None
        if t[i] == "(":
            self.i += 1
            inner = self.product()
            self.ws()
            if inner is None or self.i >= len(t) or t[self.i] != ")":
                return None
            self.i += 1
            return [tuple(inner)]
        m = re.compile(r"\d+(?![\d.]\d)").match(t, i)
        if m:
            self.i = m.end()
            return [int(m.group(0))]
        m = re.compile(r"([A-Za-z])(?:_\{?([A-Za-z0-9]+)\}?)?(?![A-Za-z(\[])").match(t, i)
        if m:
            self.i = m.end()
            return [m.group(1) + (f"_{m.group(2)}" if m.group(2) else "")]
        return None

    def product(self) -> list[Any] | None:
        first = self.atom()
        if first is None:
            return None
        items = list(first)
        while True:
            save = self.i
            self.ws()
            m = re.compile(r"\s*(?:×|\*|x(?=\s*[\d(]))").match(self.t, self.i)
            if not m:
                self.i = save
                return items
            self.i = m.end()
            nxt = self.atom()
            if nxt is None:
                self.i = save
                return items
            items += nxt


def _flatten(items: Sequence[Any]) -> tuple[Any, ...]:
    out: list[Any] = []
    for it in items:
        out.extend(it if isinstance(it, tuple) else (it,))
    return tuple(out)


def find_shapes(text: str) -> list[Candidate]:
    """Every `R^{...}` space in the text, with its sizes and, when written, its blocks."""
    out = []
    for m in re.finditer(r"(?<![A-Za-z0-9_])R(?=\s*[\^{(\d]|\s*[A-Za-z](?![A-Za-z]))", text):
        p = _ShapeParser(text, m.end())
        items = p.product()
        if not items:
            continue
        blocks = tuple(it if isinstance(it, tuple) else (it,) for it in items) \
            if any(isinstance(it, tuple) for it in items) else None
        out.append(Candidate(_flatten(items), text[m.start():p.i].strip(), m.start(), blocks))
    return out


_SYMDIMS = re.compile(r"(?<![\w\[(^])([a-z]|\d+)(?:\s*×\s*([a-z]|\d+))+(?![\w(\[])")


_SAID = re.compile(r"\b(?:dimension|dimensionality|size|shape)\s*(?:is|of|=|:)?\s*(?:R\s*\^?\s*)?"
                   r"([a-z]|\d+)((?:\s*[×x]\s*(?:[a-z]|\d+))*)(?![\w(\[])")


def find_plain_dims(text: str) -> list[Candidate]:
    """Sizes written without a space: `m × n`, `2 × 1`, and `has dimension m`, `of size 3`
    (lower priority than `R^{...}`)."""
    out = []
    for m in _SYMDIMS.finditer(text):
        sizes = tuple(int(s) if s.isdigit() else s for s in re.split(r"\s*×\s*", m.group(0).strip()))
        out.append(Candidate(sizes, m.group(0).strip(), m.start()))
    taken = {c.pos for c in out}
    for m in _SAID.finditer(text):
        if m.start(1) in taken:
            continue
        raw = m.group(1) + m.group(2)
        sizes = tuple(int(s) if s.isdigit() else s for s in re.split(r"\s*[×x]\s*", raw.strip()))
        out.append(Candidate(sizes, m.group(0).strip(), m.start(1)))
    return sorted(out, key=lambda c: c.pos)


def squeeze(sizes: Sequence[Any]) -> tuple[Any, ...]:
    """The sizes without singleton axes (1 x 5 and 5 are the same vector)."""
    return tuple(s for s in sizes if s != 1)


# --------------------------------------------------------------------------- numbers

_NUM = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?)(\s*(?:%|percent\b|per cent\b))?(?![\w.]*\d)")
_LOG = re.compile(r"(?:-\s*)?\b(ln|log)\s*\(?\s*(\d+(?:\.\d+)?)\s*\)?")
_FRAC = re.compile(r"(?<![\w.])(\d+)\s*/\s*(\d+)(?![\w.])")


def find_numbers(text: str) -> list[Candidate]:
    """Decimals, percents (25 % -> 0.25), simple fractions (1/4) and ln/log of a number."""
    out = []
    for m in _NUM.finditer(text):
        v = float(m.group(1))
        out.append(Candidate(v / 100 if m.group(2) else v, m.group(0).strip(), m.start()))
    for m in _FRAC.finditer(text):
        if int(m.group(2)):
            out.append(Candidate(int(m.group(1)) / int(m.group(2)), m.group(0), m.start()))
    for m in _LOG.finditer(text):
        x = float(m.group(2))
        if x > 0:
            out.append(Candidate(math.log(x), m.group(0).strip(), m.start()))
    return sorted(out, key=lambda c: c.pos)


# --------------------------------------------------------------------------- formulas


class FormulaError(ValueError):
    pass


Tree = tuple  # ("num", Fraction) | ("var", name) | (op, a, b) | ("neg", a) | ("floor"|"ceil", a)

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z]+(?:_\{?[A-Za-z0-9]+\}?)?)|(⌊|⌋|⌈|⌉|[-+*/^()\[\]{}×]))")


def tokens(text: str, aliases: Mapping[str, str], names: set[str]) -> list[tuple[str, Any]]:
    """Tokens of a formula: numbers, variables (aliases resolved), operators, brackets."""
    out: list[tuple[str, Any]] = []
    i = 0
    text = text.strip()
    while i < len(text):
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            raise FormulaError(f"unexpected {text[i:i + 10]!r}")
        i = m.end()
        num, word, op = m.groups()
        if num is not None:
            out.append(("num", Fraction(num)))
        elif word is not None:
            key = word.replace("{", "").replace("}", "")
            low = key.lower()
            if key in aliases:
                out.append(("var", aliases[key]))
            elif low in ("floor", "lfloor"):
                out.append(("fn", "floor"))
            elif low in ("ceil", "ceiling", "lceil"):
                out.append(("fn", "ceil"))
            elif all(ch in names for ch in key):  # DK -> D K (implicit product of one-letter names)
                out.extend(("var", ch) for ch in key)
            else:
                raise FormulaError(f"unknown name {word!r}")
        else:
            out.append(("op", {"×": "*", "[": "(", "]": ")", "{": "(", "}": ")"}.get(op, op)))
    return out


class _Parser:
    def __init__(self, toks: list[tuple[str, Any]]):
        self.toks, self.i = toks, 0

    def peek(self) -> tuple[str, Any] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise FormulaError(f"expected {value or 'more'}")
        self.i += 1
        return tok

    def expr(self) -> Tree:
        node = self.term()
        while (tok := self.peek()) and tok[0] == "op" and tok[1] in "+-":
            self.i += 1
            node = (tok[1], node, self.term())
        return node

    def term(self) -> Tree:
        node = self.unary()
        while True:
            tok = self.peek()
            if tok and tok[0] == "op" and tok[1] in "*/":
                self.i += 1
                node = (tok[1], node, self.unary())
            elif tok and (tok[0] in ("num", "var", "fn") or tok[1] in ("(", "⌊", "⌈")):
                node = ("*", node, self.power())  # implicit product: 2P, D(K-1)
            else:
                return node

    def unary(self) -> Tree:
        tok = self.peek()
        if tok and tok[0] == "op" and tok[1] in "+-":
            self.i += 1
            inner = self.unary()
            return ("neg", inner) if tok[1] == "-" else inner
        return self.power()

    def power(self) -> Tree:
        base = self.atom()
        tok = self.peek()
        if tok and tok[1] == "^":
            self.i += 1
            return ("^", base, self.unary())
        return base

    def atom(self) -> Tree:
        kind, value = self.take()
        if kind == "num":
            return ("num", value)
        if kind == "var":
            return ("var", value)
        if kind == "fn":
            self.take("(")
            inner = self.expr()
            self.take(")")
            return (value, inner)
        if value == "(":
            inner = self.expr()
            self.take(")")
            return inner
        if value in ("⌊", "⌈"):
            inner = self.expr()
            self.take("⌋" if value == "⌊" else "⌉")
            return ("floor" if value == "⌊" else "ceil", inner)
        raise FormulaError(f"unexpected {value!r}")


def parse_formula(text: str, aliases: Mapping[str, str], names: set[str]) -> Tree:
    p = _Parser(tokens(text, aliases, names))
    tree = p.expr()
    if p.peek() is not None:
        raise FormulaError("trailing text")
    return tree


def evaluate(tree: Tree, env: Mapping[str, int], floors: bool = True) -> Fraction:
    """Exact value; `floors=False` reads ⌊x⌋ as x (to say "right but for the floor")."""
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "var":
        return Fraction(env[tree[1]])
    if kind == "neg":
        return -evaluate(tree[1], env, floors)
    if kind in ("floor", "ceil"):
        v = evaluate(tree[1], env, floors)
        if not floors:
            return v
        return Fraction(math.floor(v) if kind == "floor" else math.ceil(v))
    a, b = evaluate(tree[1], env, floors), evaluate(tree[2], env, floors)
    if kind == "+":
        return a + b
    if kind == "-":
        return a - b
    if kind == "*":
        return a * b
    if kind == "/":
        if b == 0:
            raise ZeroDivisionError
        return a / b
    if kind == "^":
        if b.denominator != 1 or abs(b) > 8:
            raise FormulaError("power")
        return a ** int(b)
    raise FormulaError(kind)


def variables(tree: Tree) -> set[str]:
    if tree[0] == "var":
        return {tree[1]}
    if tree[0] == "num":
        return set()
    return set().union(*(variables(t) for t in tree[1:]))


_FORMULA_CHARS = re.compile(r"[A-Za-z0-9_ +\-*/^()\[\]{}×⌊⌋⌈⌉.]+")


def find_formulas(text: str, aliases: Mapping[str, str], names: set[str],
                  keep: Callable[[Tree], bool]) -> list[Candidate]:
    """Every stretch of the text that parses as a formula `keep` accepts.

    A stretch is a run of formula characters; words before it ("the output will have size")
    are dropped one by one, and text after it is cut back until it parses. The right-hand
    side of each `=` is tried too, so `H_out = ⌊...⌋ + 1` gives the formula.
    """
    out: list[Candidate] = []
    seen: set[int] = set()
    for run in _FORMULA_CHARS.finditer(text):
        for w in re.finditer(r"\S+", run.group(0)):
            tree = _longest(run.group(0)[w.start():].rstrip(" ."), aliases, names)
            if tree is not None and keep(tree[0]):
                pos = run.start() + w.start()
                if pos not in seen:
                    seen.add(pos)
                    out.append(Candidate(tree[0], tree[1], pos))
                break
    for eq in re.finditer(r"=", text):
        m = _FORMULA_CHARS.match(text, eq.end())
        if not m:
            continue
        tree = _longest(m.group(0).rstrip(" ."), aliases, names)
        if tree is not None and keep(tree[0]) and eq.end() not in seen:
            seen.add(eq.end())
            out.append(Candidate(tree[0], tree[1], eq.end()))
    return sorted(out, key=lambda c: c.pos)


def _longest(sub: str, aliases: Mapping[str, str], names: set[str]) -> tuple[Tree, str] | None:
    """The longest prefix of `sub` (cut at spaces or operators) that parses."""
    cuts = sorted({len(sub)} | {m.start() for m in re.finditer(r"\s|(?<=[)\]⌋⌉])", sub)}, reverse=True)
    for cut in cuts[:40]:
        piece = sub[:cut].strip().rstrip(".,;:").strip()
        if len(piece) < 3:
            break
        try:
            return parse_formula(piece, aliases, names), piece
        except (FormulaError, KeyError):
            continue
    return None
