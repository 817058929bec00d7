"""The text of a PDF, page by page, or a one-line reason why there is none.

pypdf only (already a dependency): on the test PDFs made with embedded TrueType fonts
(matplotlib's PDF backend, like LaTeX's Type 1/TrueType output) it gives back every
glyph the answers use (×, ∈, ℝ, ⌊ ⌋, ∂, −) in reading order. Nothing here raises for a bad
file: a broken, encrypted or image-only PDF is a `PdfText` with `status` and `reason`.
"""

from __future__ import annotations

import logging
import zipfile
from dataclasses import dataclass
from pathlib import Path

MIN_CHARS = 40  # fewer visible characters in the whole file: treated as a scan
MAX_PAGES = 60
MAX_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True)
class PdfText:
    pages: tuple[str, ...]
    status: str  # "ok" | "no-text" | "broken" | "encrypted"
    reason: str = ""

    @property
    def has_text(self) -> bool:
        return self.status == "ok"


def _quiet() -> None:
    for name in ("pypdf", "PyPDF2"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def read_pdf(path: Path) -> PdfText:
    """Every page's text. Never raises for the file's content."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as exc:
        return PdfText((), "broken", f"cannot read {path.name}: {exc.strerror or exc}")
    if size > MAX_BYTES:
        return PdfText((), "broken", f"{path.name} is {size // 2**20} MB (over {MAX_BYTES // 2**20} MB): grade by hand")
    if b"%PDF-" not in head:
        return PdfText((), "broken", f"{path.name} is not a PDF (no %PDF header): grade by hand")
    _quiet()
    from pypdf import PdfReader

    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception:  # noqa: BLE001 - unsupported encryption is still "encrypted"
                ok = 0
            if not ok:
                return PdfText((), "encrypted", "the PDF is password-protected: its text cannot be read; grade by hand")
        n = len(reader.pages)
    except Exception as exc:  # noqa: BLE001 - any parser failure is a verdict
        return PdfText((), "broken", f"the PDF cannot be read ({type(exc).__name__}): grade by hand")
    pages: list[str] = []
    for i in range(min(n, MAX_PAGES)):
        try:
            pages.append(reader.pages[i].extract_text() or "")
        except Exception:  # noqa: BLE001 - one bad page is an empty page
            pages.append("")
    visible = sum(1 for p in pages for ch in p if not ch.isspace())
    if n == 0:
        return PdfText((), "broken", "the PDF has no pages: grade by hand")
    if visible < MIN_CHARS:
        return PdfText(tuple(pages), "no-text",
                       f"scanned or image-only PDF ({n} page{'s' if n != 1 else ''}, no extractable text): "
                       "every question is graded by hand")
    return PdfText(tuple(pages), "ok")


def pdf_from_zip(zip_path: Path, names: tuple[str, ...], scratch: Path) -> Path | None:
    """The theory PDF of a submission zip: the entry named like one of `names` (any folder,
    any case), else the only .pdf in the zip. Extracted by our own name, size-checked."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
            wanted = {n.lower() for n in names}
            hits = [i for i in infos if Path(i.filename).name.lower() in wanted]
            if not hits:
                hits = [i for i in infos if i.filename.lower().endswith(".pdf")]
            if len(hits) != 1 or hits[0].file_size > MAX_BYTES:
                return None
            out = scratch / "theory.pdf"
            with zf.open(hits[0]) as src, open(out, "wb") as dst:
                data = src.read(MAX_BYTES + 1)
                if len(data) > MAX_BYTES:
                    return None
                dst.write(data)
            return out
    except (zipfile.BadZipFile, OSError, RuntimeError, ValueError, NotImplementedError):
        return None
