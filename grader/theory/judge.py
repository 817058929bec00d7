"""Each question's verdict: right / wrong / not-found / by-hand, with the evidence.

`check_pdf` is the whole pipeline for one PDF: read the text, find each question's passage
by its label, read the answer of the kind the key expects, compare, suggest points. It
never raises for the PDF's content.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from . import parse
from .pdftext import PdfText, read_pdf
from .spec import CHECKABLE, ItemResult, ItemSpec, TheoryReport
from .text import Document, Passage, locate, section_pattern, split_label

SNIPPET = 160
SUBJECT = 40  # characters before a shape where its subject is looked for
PASSAGE = 300
POINTS_SEED = 20250213  # the random evaluation points of formulas: fixed, so verdicts never vary


def _show(sizes: Sequence[Any]) -> str:
    return " x ".join(str(s) for s in sizes)


def _snippet(text: str, pos: int, width: int = SNIPPET) -> str:
    """The text around `pos`, from the start of a word a little before it."""
    start = max(0, pos - 12)
    while start > 0 and not text[start - 1].isspace() and pos - start < 30:
        start -= 1
    return " ".join(text[start:start + width].split())


def _result(spec: ItemSpec, status: str, found: str = "", page: int | None = None, credit: float | None = 0.0,
            note: str = "") -> ItemResult:
    suggested = None if credit is None else round(spec.points * credit, 4)
    notes = [n for n in (note, (f"{spec.hand_part} is graded by hand" if spec.hand_part and status in ("right", "wrong")
                                else "")) if n]
    return ItemResult(id=spec.id, question=spec.question, status=status, expected=_expected_text(spec),
                      found=found, page=page, points=spec.points, suggested_points=suggested, note="; ".join(notes))


def _expected_text(spec: ItemSpec) -> str:
    if spec.shown:
        return spec.shown
    if spec.kind in ("dims", "shape") and isinstance(spec.expected, (list, tuple)):
        return _show(spec.expected)
    if spec.kind == "numbers" and isinstance(spec.expected, (list, tuple)):
        return ", ".join(f"{v:.4g}" for v in spec.expected)
    return "" if spec.expected is None else str(spec.expected)


def _is_given(sizes: Sequence[Any], spec: ItemSpec) -> bool:
    """A candidate that only repeats a size the question states (any axis order)."""
    sq = Counter(parse.squeeze(sizes))
    return any(sq == Counter(parse.squeeze(g)) for g in spec.given)


# --------------------------------------------------------------------------- kinds


def _judge_sizes(spec: ItemSpec, cands: list[parse.Candidate], doc: Document, prefer_last: bool) -> ItemResult:
    expected = tuple(spec.expected)
    pool = [c for c in cands if not _is_given(c.value, spec)]
    if spec.subject:  # a shape said to be of the question's subject is the answer, even if it repeats a given
        about = [c for c in cands if re.search(spec.subject, doc.text[max(0, c.pos - SUBJECT):c.pos])]
        pool = about or pool
    if not pool:
        note = "no answer of this kind in the passage" + (f" (only the question's own values)" if cands else "")
        return _result(spec, "not-found", note=note)

    def match(c: parse.Candidate) -> tuple[float, str] | None:
        got = parse.squeeze(c.value)
        if got == parse.squeeze(expected):
            return 1.0, ""
        for alt in spec.alternatives:
            if got == parse.squeeze(alt.expected):
                return alt.credit, f"written as {alt.name} ({_show(alt.expected)})"
        if spec.kind == "dims":
            core = tuple(s for s in got if isinstance(s, int))  # F x 3 x 4: the filters in front
            if core == parse.squeeze(expected):
                return 1.0, ""
        if Counter(got) == Counter(parse.squeeze(expected)) and len(got) > 1:
            return spec.permuted_credit, "the right sizes in another axis order (transposed layout)"
        return None

    for c in pool:
        hit = match(c)
        if hit:
            credit, note = hit
            return _result(spec, "right", _snippet(doc.text, c.pos), doc.page_of(c.pos), credit,
                           f"read {_show(c.value)}" + (f"; {note}" if note else ""))
    c = pool[-1] if prefer_last else pool[0]
    return _result(spec, "wrong", _snippet(doc.text, c.pos), doc.page_of(c.pos), 0.0,
                   f"read {_show(c.value)}, expected {_expected_text(spec)}")


def _judge_numbers(spec: ItemSpec, cands: list[parse.Candidate], doc: Document) -> ItemResult:
    wanted = [float(v) for v in spec.expected]
    hits: list[parse.Candidate | None] = []
    for v in wanted:
        tol = spec.tolerance * max(abs(v), 1e-9)
        hits.append(next((c for c in cands if abs(c.value - v) <= tol), None))
    got = [h for h in hits if h is not None]
    if len(got) == len(wanted):
        first = min(got, key=lambda c: c.pos)
        return _result(spec, "right", _snippet(doc.text, first.pos), doc.page_of(first.pos), 1.0,
                       "read " + ", ".join(h.text for h in got))
    if not cands:
        return _result(spec, "not-found", note="no number in the passage")
    missing = [f"{v:.4g}" for v, h in zip(wanted, hits) if h is None]
    where = got[0] if got else cands[0]
    return _result(spec, "wrong", _snippet(doc.text, where.pos), doc.page_of(where.pos), len(got) / len(wanted),
                   f"not found: {', '.join(missing)}; numbers read: {', '.join(c.text for c in cands[:6])}")


def _aliases(spec: ItemSpec) -> tuple[dict[str, str], set[str]]:
    aliases: dict[str, str] = {}
    for name, alts in spec.variables.items():
        aliases[name] = name
        for a in alts:
            aliases[a] = name
    return aliases, {n for n in spec.variables if len(n) == 1}


def _points(spec: ItemSpec, n: int = 200) -> list[dict[str, int]]:
    rng = random.Random(POINTS_SEED)
    return [{v: rng.randint(*spec.ranges.get(v, (1, 9))) for v in spec.variables} for _ in range(n)]


def _agree(a: parse.Tree, b: parse.Tree, envs: list[dict[str, int]], floors: bool = True) -> float:
    """Share of the points where `a` (its floors dropped when `floors=False`) equals `b`, exactly."""
    same = total = 0
    for env in envs:
        try:
            same += parse.evaluate(a, env, floors) == parse.evaluate(b, env)
            total += 1
        except (ZeroDivisionError, parse.FormulaError, KeyError, OverflowError):
            continue
    return same / total if total else 0.0


def _judge_formula(spec: ItemSpec, text: str, offset: int, doc: Document) -> ItemResult:
    aliases, names = _aliases(spec)
    ref = parse.parse_formula(str(spec.expected), aliases, names)
    other = parse.parse_formula(spec.also, aliases, names) if spec.also else None
    need = parse.variables(ref)
    envs = _points(spec)

    def keep(tree: parse.Tree) -> bool:
        vs = parse.variables(tree)
        return len(vs) >= 2 and (vs & need or (other is not None and vs & parse.variables(other)))

    cands = parse.find_formulas(text, aliases, names, keep)
    if not cands:
        return _result(spec, "not-found", note="no formula in these variables could be read in the passage")
    for c in cands:
        if _agree(c.value, ref, envs) == 1.0 or (other is not None and _agree(c.value, other, envs) == 1.0):
            also = ""
            if other is not None:
                pair = [d for d in cands if d is not c and (_agree(d.value, other, envs) == 1.0
                                                            or _agree(d.value, ref, envs) == 1.0)]
                also = "; the other axis's formula too" if pair else "; the other axis's formula not read: check it"
            pos = offset + c.pos
            return _result(spec, "right", c.text, doc.page_of(pos), 1.0,
                           f"equal to {spec.expected} at {len(envs)} random points{also}")
    best = max(cands, key=lambda c: _agree(c.value, ref, envs))
    rate = _agree(best.value, ref, envs)
    hint = ""
    if _agree(best.value, ref, envs, floors=False) == 1.0 or _agree(ref, best.value, envs, floors=False) == 1.0:
        hint = "; equal but for the floor"
    elif rate:
        hint = f"; agrees at {rate:.0%} of the points"
    pos = offset + best.pos
    return _result(spec, "wrong", best.text, doc.page_of(pos), 0.0, f"differs from {spec.expected}{hint}")


def _by_hand(spec: ItemSpec, doc: Document, p: Passage, gap: tuple[int, int] | None) -> ItemResult:
    if p.start >= 0:
        return _result(spec, "by-hand", _snippet(doc.text, p.body, PASSAGE), doc.page_of(p.start), None,
                       "figure: look at the page" if spec.kind == "figure" else "")
    if gap and gap[1] > gap[0]:
        return _result(spec, "by-hand", _snippet(doc.text, gap[0], PASSAGE), doc.page_of(gap[0]), None,
                       "label not found: the passage between the neighbouring answers")
    return _result(spec, "by-hand", "", None, None, "label not found in the text: read the PDF")


# --------------------------------------------------------------------------- the pipeline


def judge_text(spec: ItemSpec, doc: Document, p: Passage) -> ItemResult:
    body = doc.text[p.body:p.end]
    if spec.kind == "dims":
        return _judge_sizes(spec, parse.find_dims(body) + _shape_dims(body), _Doc(doc, p.body), True)
    if spec.kind == "shape":
        spaces = parse.find_shapes(body)
        at = {c.pos for c in spaces}
        plain = [c for c in parse.find_plain_dims(body) if not any(c.pos - 12 <= q <= c.pos for q in at)]
        return _judge_sizes(spec, spaces + plain, _Doc(doc, p.body), False)
    if spec.kind == "numbers":
        return _judge_numbers(spec, parse.find_numbers(body), _Doc(doc, p.body))
    if spec.kind == "formula":
        return _judge_formula(spec, body, p.body, doc)
    raise ValueError(spec.kind)


def _shape_dims(body: str) -> list[parse.Candidate]:
    return [c for c in parse.find_shapes(body) if all(isinstance(s, int) for s in c.value)]


class _Doc:
    """A Document seen from a passage: positions are relative to the passage body."""

    def __init__(self, doc: Document, offset: int):
        self.doc, self.offset = doc, offset
        self.text = doc.text[offset:]

    def page_of(self, pos: int) -> int:
        return self.doc.page_of(self.offset + pos)


def _gap(doc: Document, specs: Sequence[ItemSpec], passages: list[Passage], i: int) -> tuple[int, int]:
    """Where an unlabelled answer must be: after the previous found answer (from its
    section's heading when that lies in between) and before the next found one."""
    before = max((q.body for q in passages[:i] if q.start >= 0), default=0)
    after = min((q.label for q in passages[i + 1:] if q.start >= 0), default=len(doc.text))
    section = split_label(specs[i].id)[0]
    if section:
        m = section_pattern(section).search(doc.text, before, after)
        if m:
            before = m.start()
    return before, after


def check_text(pdf: PdfText, specs: Sequence[ItemSpec], assignment: str, file: str) -> TheoryReport:
    if not pdf.has_text:
        items = tuple(_result(s, "by-hand", credit=None, note=pdf.reason) for s in specs)
        return TheoryReport(assignment, file, False, items, pdf.reason)
    doc = Document.from_pages(pdf.pages)
    passages = locate(doc, [s.id for s in specs])
    items = []
    for i, (spec, p) in enumerate(zip(specs, passages)):
        if spec.kind not in CHECKABLE:
            items.append(_by_hand(spec, doc, p, _gap(doc, specs, passages, i)))
        elif p.start < 0:
            items.append(_result(spec, "not-found", note=f"label {spec.id} not found in the text"))
        else:
            try:
                items.append(judge_text(spec, doc, p))
            except Exception as exc:  # noqa: BLE001 - one odd passage never loses the report
                items.append(_result(spec, "by-hand", _snippet(doc.text, p.body), doc.page_of(p.start), None,
                                     f"could not read the answer ({type(exc).__name__}): grade by hand"))
    return TheoryReport(assignment, file, True, tuple(items))


def check_pdf(path: Path, specs: Sequence[ItemSpec], assignment: str, file: str | None = None) -> TheoryReport:
    """The report for one PDF file (scanned, broken or encrypted files: by hand, said once)."""
    return check_text(read_pdf(Path(path)), specs, assignment, file or Path(path).name)
