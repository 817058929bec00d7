"""Which PDF text extractor reads the theory answers best? (the choice behind grader/theory/pdftext.py)

Renders the test answer sheets (tests/theory/pdfs.py), extracts their text with pypdf and,
when installed, pdfplumber and PyMuPDF, and reports per extractor: the share of the source
lines found verbatim in the extracted text (after the same normalisation), the math glyphs
lost, the `grader theory` verdicts on the seed write-ups, and seconds per PDF.

    python benchmarks/bench_pdf_text.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from grader import registry  # noqa: E402
from nyu_dl_hw2.theory_key import theory_items  # noqa: E402
from grader.theory import PdfText, check_text  # noqa: E402
from grader.theory.text import normalise  # noqa: E402
from tests.theory import pdfs  # noqa: E402

GLYPHS = "×∈ℝ⌊⌋∂−⊙σℓ∑≈"


def with_pypdf(path: Path) -> list[str]:
    from pypdf import PdfReader

    return [p.extract_text() or "" for p in PdfReader(str(path)).pages]


def with_pdfplumber(path: Path) -> list[str]:
    import pdfplumber

    with pdfplumber.open(str(path)) as pdf:
        return [p.extract_text() or "" for p in pdf.pages]


def with_pymupdf(path: Path) -> list[str]:
    import pymupdf

    with pymupdf.open(str(path)) as doc:
        return [p.get_text() for p in doc]


def main() -> None:
    d = Path(tempfile.mkdtemp())
    sources = {
        "000": (pdfs.latex_look(pdfs.seed_text("000")), "2022"),
        "002": (pdfs.seed_text("002"), "2021"),
        "sheet2025": (pdfs.SHEET_2025, "2025"),
    }
    files = {name: pdfs.render(text, d / f"{name}.pdf") for name, (text, _) in sources.items()}
    print(f"{'extractor':12} {'lines found':>12} {'glyphs lost':>12} {'s/PDF':>7}  verdicts (r/w/n/b per sheet)")
    for name, fn in (("pypdf", with_pypdf), ("pdfplumber", with_pdfplumber), ("pymupdf", with_pymupdf)):
        try:
            t0 = time.perf_counter()
            texts = {k: fn(p) for k, p in files.items()}
            secs = (time.perf_counter() - t0) / len(files)
        except ImportError:
            print(f"{name:12} not installed")
            continue
        found = total = lost = 0
        verdicts = []
        for k, (src, term) in sources.items():
            got = " ".join(normalise("\n".join(texts[k])).split())
            for line in src.splitlines():
                line = " ".join(normalise(line).split())
                if len(line) > 20:
                    total += 1
                    found += line[:60] in got
            lost += sum(max(0, src.count(g) - "".join(texts[k]).count(g)) for g in GLYPHS)
            a = registry.load(f"nyu-dl-hw2-{term}", [])
            r = check_text(PdfText(tuple(texts[k]), "ok"), theory_items(a.theory), a.id, k)
            verdicts.append("".join(i.status[0] for i in r.items))
        print(f"{name:12} {found:>5}/{total:<6} {lost:>12} {secs:>7.3f}  {' | '.join(verdicts)}")


if __name__ == "__main__":
    main()
