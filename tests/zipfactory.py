"""Build submission zips for tests: valid ones in one call, hostile ones byte by byte.

Everyday use::

    from zipfactory import make_submission, minimal_notebook, minimal_pdf

    zip_path = make_submission(tmp_path)                      # abc1234.zip, the five 2025 files
    zip_path = make_submission(tmp_path, omit=["hw2_rnn.ipynb"],
                               extra={"test.py": b"print(1)"},
                               rename={"hw2_cnn.ipynb": "HW2_CNN.ipynb"})
    zip_path = make_submission(tmp_path, files={"hw2_cnn.ipynb": minimal_notebook(["x = 1"])})

Hostile archives are written by `raw_zip`, which lays out local headers, the central
directory and the end record itself, so each field can lie: name bytes and the UTF-8 flag,
the encryption bit, Unix mode bits (symlinks), declared sizes and CRC, duplicate names.
`bomb_entry` gives a deflated run of zeros with a huge ratio. Everything is deterministic
(fixed times), and nothing here writes outside the folder it is given.
"""

from __future__ import annotations

import io
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import nbformat
from nbformat import v4

# The Spring 2025 file list (courses/nyu_dl_hw2/nyu-dl-hw2-2025.yaml).
REQUIRED_2025 = (
    "hw2_theory.pdf",
    "hw2_moe.ipynb",
    "hw2_cnn.ipynb",
    "hw2_rnn.ipynb",
    "seq_classification.ipynb",
)
DATE_TIME = (2025, 2, 25, 12, 0, 0)  # a naive zip time, before the 2025 deadline

# --------------------------------------------------------------------------- documents


def minimal_notebook(cells: Iterable[str] = ("x = 1",), *, markdown: str | None = None) -> nbformat.NotebookNode:
    """A valid nbformat-4 notebook with one code cell per string (and an optional markdown cell first)."""
    nb = v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    if markdown is not None:
        nb.cells.append(v4.new_markdown_cell(markdown, id="md-0"))
    for i, src in enumerate(cells):
        nb.cells.append(v4.new_code_cell(src, id=f"cell-{i}"))
    return nb


def notebook_bytes(cells: Iterable[str] = ("x = 1",), **kw: Any) -> bytes:
    return nbformat.writes(minimal_notebook(cells, **kw)).encode("utf-8")


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _pdf(page_streams: list[bytes], *, with_font: bool = True) -> bytes:
    """Assemble a PDF with one content stream per page and a correct xref table."""
    n_pages = len(page_streams)
    font_id = 3 + 2 * n_pages
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for i, stream in enumerate(page_streams):
        res = f"/Resources << /Font << /F1 {font_id} 0 R >> >> " if with_font else "/Resources << >> "
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] {res}/Contents {4 + 2 * i} 0 R >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    if with_font:
        objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n" % (len(objects) + 1))
    out.write(b"0000000000 65535 f \n")
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def minimal_pdf(text: str = "Homework 2 theory answers", pages: int = 1) -> bytes:
    """A small valid PDF whose pages show `text` in Helvetica (pypdf extracts it back)."""
    streams = []
    for page in range(pages):
        lines = text.splitlines() or [""]
        if pages > 1:
            lines = lines + [f"page {page + 1}"]
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*")
        ops.append("ET")
        streams.append("\n".join(ops).encode("latin-1"))
    return _pdf(streams)


def image_only_pdf(pages: int = 1) -> bytes:
    """A valid PDF with drawing but no text (what a scan looks like to a text extractor)."""
    return _pdf([b"0 0 1 rg 100 100 300 400 re f" for _ in range(pages)], with_font=False)


def zero_page_pdf() -> bytes:
    return _pdf([], with_font=False)


DOCX_BYTES = b"PK\x03\x04" + b"\x14\x00" + b"\x00" * 24 + b"word/document.xml"  # a renamed .docx starts like this
DOC_BYTES = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64  # an old .doc (OLE2) file


# --------------------------------------------------------------------------- valid zips


def default_files() -> dict[str, Any]:
    """The five 2025 files, all valid."""
    return {
        "hw2_theory.pdf": minimal_pdf("Theory answers: 1.1 (a) 9 x 13"),
        "hw2_moe.ipynb": minimal_notebook(["import math", "y = math.sqrt(4)"]),
        "hw2_cnn.ipynb": minimal_notebook(["class CNN:\n    pass"]),
        "hw2_rnn.ipynb": minimal_notebook(["class RNN:\n    pass"]),
        "seq_classification.ipynb": minimal_notebook(["print('train')"]),
    }


def to_bytes(content: Any) -> bytes:
    """bytes as is; str as UTF-8; a notebook (NotebookNode or dict) serialised with nbformat."""
    if isinstance(content, bytes):
        return content
    if isinstance(content, str):
        return content.encode("utf-8")
    if isinstance(content, Mapping):
        return nbformat.writes(nbformat.from_dict(dict(content))).encode("utf-8")
    raise TypeError(f"cannot put {type(content).__name__} in a zip")


def make_submission(
    tmp_path: Path,
    name: str = "abc1234.zip",
    files: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    *,
    omit: Iterable[str] = (),
    rename: Mapping[str, str] | None = None,
    folder: str | None = None,
    litter: bool = False,
    date_time: tuple[int, int, int, int, int, int] = DATE_TIME,
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """Write `tmp_path/name` holding a submission and return its path.

    files: the required files (default: `default_files()`); extra: more entries (e.g. a test
    script); omit: names dropped from `files`; rename: {required name: name in the zip};
    folder: wrap every entry in this folder; litter: add __MACOSX/ and .DS_Store entries.
    """
    contents: dict[str, Any] = dict(default_files() if files is None else files)
    for n in omit:
        contents.pop(n, None)
    rename = dict(rename or {})
    entries: list[tuple[str, bytes]] = [(rename.get(n, n), to_bytes(c)) for n, c in contents.items()]
    entries += [(n, to_bytes(c)) for n, c in (extra or {}).items()]
    if folder:
        entries = [(f"{folder.rstrip('/')}/{n}", data) for n, data in entries]
    if litter:
        entries.append((".DS_Store", b"\x00\x00\x00\x01Bud1" + b"\x00" * 200))
        entries.append(("__MACOSX/._hw2_cnn.ipynb", b"\x00\x05\x16\x07" + b"\x00" * 60))
    path = Path(tmp_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as zf:
        if folder:
            zf.writestr(zipfile.ZipInfo(folder.rstrip("/") + "/", date_time), b"")
        for entry_name, data in entries:
            info = zipfile.ZipInfo(entry_name, date_time)
            info.compress_type = compression
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            zf.writestr(info, data)
    return path


# --------------------------------------------------------------------------- hostile zips


@dataclass
class RawEntry:
    """One entry for `raw_zip`, with every field that a hostile zip may fake.

    name: str (encoded as UTF-8 when `utf8_flag`, else as ASCII/cp437 if possible) or raw bytes.
    mode: Unix mode bits for external_attr (e.g. stat.S_IFLNK | 0o777 for a symlink).
    declared_size / declared_crc: override the real uncompressed size / CRC in both headers.
    data_is_compressed: `data` is already raw deflate (see `bomb_entry`), don't compress again.
    """

    name: str | bytes
    data: bytes = b""
    deflate: bool = True
    utf8_flag: bool | None = None  # None: set when the name is not ASCII
    encrypted: bool = False
    mode: int | None = stat.S_IFREG | 0o644
    declared_size: int | None = None
    declared_crc: int | None = None
    real_size: int | None = None  # with data_is_compressed: the inflated size (for the true CRC-less default)
    data_is_compressed: bool = False
    date_time: tuple[int, int, int, int, int, int] = DATE_TIME
    extra: bytes = b""  # extra field (e.g. `ut_extra(...)`)
    method: int | None = None  # override the compression method number (e.g. 9, deflate64)


def _dos_time(dt: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    y, mo, d, h, mi, s = dt
    return (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d


def raw_zip(path: Path, entries: Iterable[RawEntry], *, comment: bytes = b"") -> Path:
    """Write a zip exactly as described, lies included. Returns `path`."""
    out = io.BytesIO()
    central = []
    for e in entries:
        if isinstance(e.name, bytes):
            name_bytes = e.name
            utf8 = bool(e.utf8_flag)
        else:
            try:
                name_bytes = e.name.encode("ascii")
                utf8 = bool(e.utf8_flag)
            except UnicodeEncodeError:
                name_bytes = e.name.encode("utf-8")
                utf8 = True if e.utf8_flag is None else e.utf8_flag
        flags = (0x800 if utf8 else 0) | (0x1 if e.encrypted else 0)
        if e.data_is_compressed:
            payload, method = e.data, 8
            size = e.real_size if e.real_size is not None else 0
            crc = 0
        elif e.deflate:
            c = zlib.compressobj(9, zlib.DEFLATED, -15)
            payload, method = c.compress(e.data) + c.flush(), 8
            size, crc = len(e.data), zlib.crc32(e.data)
        else:
            payload, method = e.data, 0
            size, crc = len(e.data), zlib.crc32(e.data)
        method = e.method if e.method is not None else method
        size = e.declared_size if e.declared_size is not None else size
        crc = e.declared_crc if e.declared_crc is not None else crc
        t, d = _dos_time(e.date_time)
        offset = out.tell()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, flags, method, t, d, crc & 0xFFFFFFFF,
                              len(payload), size, len(name_bytes), len(e.extra)))
        out.write(name_bytes + e.extra + payload)
        external = (e.mode << 16) if e.mode is not None else 0
        if name_bytes.endswith(b"/"):
            external |= 0x10  # MS-DOS directory attribute
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", (3 << 8) | 20, 20, flags, method, t, d,
                                   crc & 0xFFFFFFFF, len(payload), size, len(name_bytes), len(e.extra), 0, 0, 0,
                                   external, offset) + name_bytes + e.extra)
    cd_start = out.tell()
    for c in central:
        out.write(c)
    cd_size = out.tell() - cd_start
    count = min(len(central), 0xFFFF)  # more needs zip64; readers walk the central directory anyway
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_start,
                          len(comment)) + comment)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    return path


def bomb_entry(name: str = "hw2_cnn.ipynb", megabytes: float = 4, *, declared_size: int | None = None) -> RawEntry:
    """A deflated run of zeros: `megabytes` MiB inflate from a few KiB (ratio ~1000).

    The true size and CRC go in the headers unless `declared_size` lies about the size.
    """
    size = int(megabytes * 1024 * 1024)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\x00" * (1024 * 1024)
    parts, crc, left = [], 0, size
    while left > 0:
        piece = chunk[: min(left, len(chunk))]
        parts.append(c.compress(piece))
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    parts.append(c.flush())
    return RawEntry(name, b"".join(parts), data_is_compressed=True, real_size=size,
                    declared_size=declared_size if declared_size is not None else size, declared_crc=crc)


def ut_extra(unix_time: int) -> bytes:
    """An extended-timestamp extra field (0x5455) carrying a UTC modification time."""
    return struct.pack("<HHBi", 0x5455, 5, 1, unix_time)


def ntfs_extra(unix_time: int) -> bytes:
    """An NTFS extra field (0x000a) carrying mtime/atime/ctime as Windows FILETIMEs."""
    ft = (unix_time + 11644473600) * 10_000_000
    body = struct.pack("<I", 0) + struct.pack("<HH3Q", 1, 24, ft, ft, ft)
    return struct.pack("<HH", 0x000A, len(body)) + body


def symlink_entry(name: str = "hw2_cnn.ipynb", target: str = "/etc/passwd") -> RawEntry:
    return RawEntry(name, target.encode(), deflate=False, mode=stat.S_IFLNK | 0o777)


def valid_entries(files: Mapping[str, Any] | None = None) -> list[RawEntry]:
    """The five valid 2025 files as RawEntry objects, to mix with hostile ones in `raw_zip`."""
    return [RawEntry(n, to_bytes(c)) for n, c in (default_files() if files is None else files).items()]


def nested_zip_bytes(files: Mapping[str, Any] | None = None) -> bytes:
    """A whole valid submission as bytes (to put a zip inside a zip)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, c in (default_files() if files is None else files).items():
            zf.writestr(zipfile.ZipInfo(n, DATE_TIME), to_bytes(c))
    return buf.getvalue()


def tree(root: Path) -> set[str]:
    """Every path under `root`, relative and POSIX-style (for before/after comparisons)."""
    root = Path(root)
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}
