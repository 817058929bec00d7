"""Extracted PDF text made comparable, and each question's passage found by its label.

`normalise` turns LaTeX source (`\\frac{a}{b}`, `\\times`, `\\mathbb{R}^{...}`, `\\lfloor`) and
Unicode math (`−`, `ℝ`, `⋅`) into one plain form, so the parsers see the same text
whether a student's PDF came from LaTeX, Word or a Markdown export. `locate` walks the
labels of the key in question order ("1.1" then "(a)", "(b)", "(c)" then "(i)"...), each
searched after the previous one, so a label that also appears in a formula earlier in the
text is not taken for the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LATEX_SIMPLE = {
    r"\times": " × ", r"\cdot": " × ", r"\in": " ∈ ", r"\partial": "∂", r"\lfloor": "⌊", r"\rfloor": "⌋",
    r"\lceil": "⌈", r"\rceil": "⌉", r"\ell": "ℓ", r"\geq": "≥", r"\leq": "≤", r"\ge": "≥", r"\le": "≤",
    r"\approx": "≈", r"\odot": "⊙", r"\sigma": "σ", r"\sum": "∑", r"\prod": "∏", r"\top": "T",
    r"\infty": "∞", r"\ln": "ln", r"\log": "log", r"\quad": " ", r"\qquad": " ",
}
_LATEX_DROP = re.compile(r"\\(?:left|right|big|Big|bigg|Bigg)(?![A-Za-z])|\\[,;:! ]|\\(?:begin|end)\{[^}]*\}")
_UNICODE = str.maketrans({
    "−": "-", "–": "-", "—": "-", "‐": "-", "‑": "-", "ℝ": "R", "⋅": "×", "·": "×", "✕": "×", "⨯": "×",
    "∗": "*", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u200b": "", "ﬁ": "fi", "ﬂ": "fl",
})


def _brace(text: str, start: int) -> int:
    """Index just after the group that opens at text[start] == '{' (or len(text))."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def _fracs(text: str) -> str:
    """\\frac{A}{B} -> ((A)/(B)), innermost last so nested fractions work."""
    pattern = re.compile(r"\\[dt]?frac\s*\{")
    for _ in range(200):
        m = pattern.search(text)
        if not m:
            break
        a_start = m.end() - 1
        a_end = _brace(text, a_start)
        b_start = a_end
        while b_start < len(text) and text[b_start] == " ":
            b_start += 1
        if b_start >= len(text) or text[b_start] != "{":
            text = text[:m.start()] + "(" + text[a_start + 1:a_end - 1] + ")" + text[a_end:]
            continue
        b_end = _brace(text, b_start)
        text = (text[:m.start()] + "((" + text[a_start + 1:a_end - 1] + ")/(" + text[b_start + 1:b_end - 1] + "))"
                + text[b_end:])
    return text


def normalise(text: str) -> str:
    """One plain form for LaTeX source, Unicode math and Markdown emphasis."""
    text = text.translate(_UNICODE)
    if "\\" in text:
        text = _fracs(text)
        text = re.sub(r"\\mathbb\s*\{?\s*R\s*\}?", "R", text)
        text = re.sub(r"\\(?:text|mathrm|mathbf|mathit|operatorname|textbf|emph)\s*\{([^{}]*)\}", r"\1", text)
        text = _LATEX_DROP.sub(" ", text)
        for k in sorted(_LATEX_SIMPLE, key=len, reverse=True):
            text = re.sub(re.escape(k) + r"(?![A-Za-z])", lambda _m, v=_LATEX_SIMPLE[k]: v, text)
        text = text.replace("\\\\", "\n")
    text = text.replace("$", " ").replace("**", " ").replace("&", " ")
    text = re.sub(r"[ \t]+", " ", text)
    return text


@dataclass(frozen=True)
class Document:
    """The normalised text of all pages joined, and where each page starts."""

    text: str
    starts: tuple[int, ...]

    @classmethod
    def from_pages(cls, pages: tuple[str, ...] | list[str]) -> "Document":
        parts, starts, pos = [], [], 0
        for p in pages:
            t = normalise(p) + "\n"
            starts.append(pos)
            parts.append(t)
            pos += len(t)
        return cls("".join(parts), tuple(starts))

    def page_of(self, pos: int) -> int:
        """1-based page number of a character position."""
        page = 1
        for i, s in enumerate(self.starts):
            if s <= pos:
                page = i + 1
        return page


# --------------------------------------------------------------------------- labels

_ID = re.compile(r"^\s*(?P<section>\d+(?:\.\d+)*)?\s*(?P<parts>(?:\(\s*[A-Za-z0-9]+\s*\)\s*)*)$")


def split_label(label: str) -> tuple[str, tuple[str, ...]]:
    """'1.1(c)(ii)' -> ('1.1', ('c', 'ii')); '1.3(4)' -> ('1.3', ('4',)); 'Problem 2' -> ('2', ())."""
    m = _ID.match(label)
    if not m:
        digits = re.findall(r"\d+(?:\.\d+)*", label)
        return (digits[0] if digits else label.strip()), ()
    parts = tuple(re.findall(r"\(\s*([A-Za-z0-9]+)\s*\)", m.group("parts") or ""))
    return (m.group("section") or ""), parts


def section_pattern(section: str) -> re.Pattern[str]:
    body = r"\s*\.\s*".join(re.escape(p) for p in section.split("."))
    top = section.split(".")[0]
    alt = rf"|(?:Problem|Question|Exercise)\s+{re.escape(top)}(?![\d.])" if "." not in section else ""
    return re.compile(rf"(?<![\d.,])(?:{body})(?![\d])(?!\.\d){alt}", re.I)


def _part_pattern(part: str) -> re.Pattern[str]:
    p = re.escape(part)
    return re.compile(
        rf"\(\s*{p}\s*\)(?!\s*[)/])"         # (a)  (ii)  (4)
        rf"|(?:^|\n)[ \t]*(?:[-•*][ \t]*)?{p}[\).:](?=\s)"  # a)  ii.  4.   at the start of a line
        rf"|(?:Part|Question)\s+{p}(?![A-Za-z0-9])",
        re.I if not part.isalpha() or len(part) > 1 else 0)


def _full_pattern(section: str, parts: tuple[str, ...]) -> re.Pattern[str] | None:
    if not section or not parts:
        return None
    body = r"\s*\.\s*".join(re.escape(p) for p in section.split("."))
    tail = "".join(rf"\s*\(?\s*{re.escape(p)}\s*\)" for p in parts)
    return re.compile(rf"(?<![\d.])(?:{body}){tail}")


def _bound(text: str, pos: int, section: str, sections: set[str]) -> int:
    """The first heading of another section after `pos`: a part label is never looked for past it."""
    ends = [len(text)]
    for other in sections - {section}:
        m = section_pattern(other).search(text, pos)
        if m:
            ends.append(m.start())
    return min(ends)


def _by_parts(text: str, cursor: int, section: str, parts: tuple[str, ...],
              prev: tuple[str, tuple[str, ...]], sections: set[str]) -> tuple[int, int, int] | None:
    """The label as a section marker then part markers, each after the one before.

    A section marker that leads nowhere (its parts are not after it) is ignored: many
    write-ups never print "1.1" and number only (a), (b)... A missing part fails the label.
    """
    same = 0
    if section == prev[0]:
        while same < min(len(parts), len(prev[1])) and parts[same] == prev[1][same]:
            same += 1
    starts: list[tuple[int, int | None]] = [(cursor, None)]
    if section and section != prev[0]:
        sm = section_pattern(section).search(text, cursor)
        if sm:
            starts.insert(0, (sm.end(), sm.start()))
    for pos, first in starts:
        ok = True
        label = None
        end = _bound(text, pos, section, sections) if section else len(text)
        for part in parts[same:]:
            pm = _search(_part_pattern(part), text, pos, end)
            if not pm:
                ok = False
                break
            first = pm.start() if first is None else first
            label = pm.start() if label is None else label
            pos = pm.end()
        if ok and first is not None:
            return first, pos, label if label is not None else first
    return None


_FUNCTIONS = {"log", "ln", "exp", "sin", "cos", "tan", "tanh", "sigma", "softmax", "softargmax", "diag", "max",
              "min", "floor", "ceil", "sum", "relu", "sqrt"}


def _label_at(text: str, pos: int) -> bool:
    """Is a part marker found at `pos` a label, not an argument (`f(a)`, `h(t)`, `log(4)`, `x[(1)]`)?"""
    if pos == 0 or text[pos] != "(":
        return True
    before = text[pos - 1]
    if before in "_])[(/^'":
        return False
    if before.isdigit():
        return False
    if before.isalpha():
        word = re.search(r"[A-Za-z]+$", text[:pos]).group(0)
        return len(word) >= 3 and word.lower() not in _FUNCTIONS and not text[pos - len(word) - 1:pos - len(word)] in ("_", "\\")
    return True


def _search(pattern: re.Pattern[str], text: str, pos: int, end: int) -> re.Match[str] | None:
    for m in pattern.finditer(text, pos, end):
        if _label_at(text, m.start()):
            return m
    return None


@dataclass(frozen=True)
class Passage:
    start: int  # where the label was found, its section heading included (-1: not found)
    body: int  # just after the label
    end: int
    label: int = -1  # where the question's own marker ("(b)", "2.") was found


def locate(doc: Document, labels: list[str], max_len: int = 4000) -> list[Passage]:
    """One Passage per label, in order. Labels must be in the text's question order."""
    text = doc.text
    found: list[tuple[int, int, int] | None] = []
    cursor = 0
    prev: tuple[str, tuple[str, ...]] = ("", ())
    sections = {split_label(label)[0] for label in labels} - {""}
    for label in labels:
        section, parts = split_label(label)
        hit: tuple[int, int, int] | None = None
        full = _full_pattern(section, parts)
        m = full.search(text, cursor) if full else None
        if m:
            hit = (m.start(), m.end(), m.start())
        else:
            hit = _by_parts(text, cursor, section, parts, prev, sections)
        found.append(hit)
        if hit:
            cursor = hit[1]
            prev = (section, parts)
    out: list[Passage] = []
    for i, hit in enumerate(found):
        if hit is None:
            out.append(Passage(-1, -1, -1))
            continue
        nxt = next((h[0] for h in found[i + 1:] if h is not None and h[0] >= hit[1]), len(text))
        out.append(Passage(hit[0], hit[1], min(nxt, hit[1] + max_len), hit[2]))
    return out
