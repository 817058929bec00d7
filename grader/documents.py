"""Is an extracted file what its name says? Notebooks through nbformat, PDFs through pypdf.

Nothing here raises for a bad file: a student's broken notebook is a per-file verdict
(`DocumentCheck.valid` False with a one-line `detail`), never a crash and never fatal for
the submission. Notes that do not make a file unusable (a PDF without extractable text)
come back in `notes`, each a short sentence with a fix.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

PDF_TEXT_PAGES = 10  # pages looked at for extractable text (a scan has none on any page)
PDF_TEXT_MIN_CHARS = 20  # fewer non-blank characters than this over those pages: image-only
DETAIL_MAX = 160


@dataclass(frozen=True)
class DocumentNote:
    message: str
    fix: str


@dataclass(frozen=True)
class DocumentCheck:
    valid: bool
    detail: str = ""  # one line: what is wrong (invalid) or a short summary ("3 pages", "12 cells")
    notes: tuple[DocumentNote, ...] = ()
    pages: int | None = None  # PDFs
    has_text: bool | None = None  # PDFs
    cells: int | None = None  # notebooks


def one_line(text: object, limit: int = DETAIL_MAX) -> str:
    """First line of `text`, printable, at most `limit` characters."""
    s = str(text).strip().splitlines()[0] if str(text).strip() else ""
    s = "".join(ch if ch.isprintable() else "?" for ch in s)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def sniff(head: bytes) -> str | None:
    """What a file's first bytes say it is, when that is a known non-notebook, non-PDF type."""
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if b"word/" in head or b"[Content_Types].xml" in head:
            return "a Word document (.docx)"
        return "a zip archive (or a .docx/.pptx document)"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "an old Word/Office document (.doc)"
    if head.startswith(b"\x89PNG"):
        return "a PNG image"
    if head.startswith(b"\xff\xd8\xff"):
        return "a JPEG image"
    if head.startswith(b"{\\rtf"):
        return "an RTF document"
    if head.startswith(b"%PDF"):
        return "a PDF"
    if b"\\documentclass" in head:
        return "LaTeX source (.tex)"
    if head.lstrip()[:1] == b"{":
        return "a JSON file (perhaps a notebook)"
    return None


def _head(path: Path, n: int = 2048) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence library warnings and log records while reading untrusted files."""
    saved = []
    for name in loggers:
        lg = logging.getLogger(name)
        saved.append((lg, lg.disabled))
        lg.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, disabled in saved:
            lg.disabled = disabled


# --------------------------------------------------------------------------- notebooks


def check_notebook(path: Path) -> DocumentCheck:
    """Read with nbformat (as version 4) and validate against the schema."""
    import nbformat

    path = Path(path)
    head = _head(path)
    if not head.strip():
        return DocumentCheck(False, "the notebook file is empty")
    kind = sniff(head)
    if kind and not kind.startswith("a JSON"):
        return DocumentCheck(False, f"not a notebook: the file is {kind}")
    with _quiet("traitlets", "nbformat", "NotebookApp"):
        try:
            nb = nbformat.read(str(path), as_version=4)
        except UnicodeDecodeError:
            return DocumentCheck(False, "not a notebook: the file is not UTF-8 text")
        except nbformat.reader.NotJSONError:
            return DocumentCheck(False, "not a notebook: the file is not valid JSON")
        except Exception as exc:  # nbformat raises many types for odd JSON (AttributeError, KeyError, ...)
            return DocumentCheck(False, one_line(f"not a valid notebook: {_describe(exc)}"))
        try:
            nbformat.validate(nb)
        except Exception as exc:  # jsonschema.ValidationError and friends
            return DocumentCheck(False, one_line(f"not a valid notebook: {_describe(exc)}"))
    cells = len(nb.get("cells", []))
    return DocumentCheck(True, f"{cells} cell{'s' if cells != 1 else ''}", cells=cells)


def _describe(exc: BaseException) -> str:
    text = one_line(exc) or type(exc).__name__
    return text


# --------------------------------------------------------------------------- PDFs


def check_pdf(path: Path) -> DocumentCheck:
    """Open with pypdf: pages, and whether any of the first pages has extractable text."""
    path = Path(path)
    head = _head(path, 1024)
    if not head:
        return DocumentCheck(False, "the PDF file is empty (0 bytes)")
    if b"%PDF-" not in head:
        kind = sniff(head)
        what = f"the file is {kind} renamed to .pdf" if kind else "the file does not start with %PDF"
        return DocumentCheck(False, f"not a PDF: {what}")
    from pypdf import PdfReader

    with _quiet("pypdf", "PyPDF2"):
        try:
            reader = PdfReader(str(path), strict=False)
            if reader.is_encrypted:
                try:
                    if not reader.decrypt(""):
                        return DocumentCheck(False, "the PDF is password-protected")
                except Exception:
                    return DocumentCheck(False, "the PDF is password-protected")
            pages = len(reader.pages)
        except Exception as exc:
            return DocumentCheck(False, one_line(f"the PDF cannot be read: {_describe(exc)}"))
        if pages == 0:
            return DocumentCheck(False, "the PDF has no pages", pages=0, has_text=False)
        chars = 0
        for i in range(min(pages, PDF_TEXT_PAGES)):
            try:
                text = reader.pages[i].extract_text() or ""
            except Exception:
                continue
            chars += sum(1 for ch in text if not ch.isspace())
            if chars >= PDF_TEXT_MIN_CHARS:
                break
    summary = f"{pages} page{'s' if pages != 1 else ''}"
    if chars >= PDF_TEXT_MIN_CHARS:
        return DocumentCheck(True, summary, pages=pages, has_text=True)
    note = DocumentNote(
        "scanned or image-only PDF: the TA may not be able to search it",
        "export the PDF from LaTeX or a word processor so its text can be selected",
    )
    return DocumentCheck(True, f"{summary}, no extractable text", notes=(note,), pages=pages, has_text=False)


# --------------------------------------------------------------------------- any kind


def check_document(path: Path, kind: str) -> DocumentCheck:
    """Dispatch on the registry's file kind: notebook | pdf | other (only "not empty")."""
    if kind == "notebook":
        return check_notebook(path)
    if kind == "pdf":
        return check_pdf(path)
    size = Path(path).stat().st_size
    if size == 0:
        return DocumentCheck(False, "the file is empty (0 bytes)")
    return DocumentCheck(True, f"{size} bytes")
