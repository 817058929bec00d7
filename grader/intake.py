"""Intake: one submission zip -> `Submission`, before any student code runs.

Safety first. Entry names from the zip are never used as paths on disk: a matched required
file is written to `scratch/<required name>` (the registry's name), so `../evil`, `/abs`,
`C:\\x` cannot escape even if a check were missed. Only the matched required files are
extracted; extras and litter are listed, not extracted. Links are never created or followed
(a symlink entry is fatal; files are opened with O_NOFOLLOW). Every limit of
`SubmissionSpec.limits` is checked on the declared sizes first and then again on the bytes
actually inflated, so a lying header stops at the limit.

Decisions:

* Fatal (the zip is not graded, nothing is extracted; `Submission.fatal` is one line):
  not a zip / truncated / corrupt data; the zip over `max_zip_mb`; more than `max_entries`
  entries (counted from the central directory before it is parsed); an entry with `..`, an
  absolute path or a drive letter; a symlink or device entry; an encrypted entry; two
  entries with the same name; a name over 1024 characters, or with control characters or
  bidi overrides; a name marked UTF-8 that is not, or a non-ASCII name without the UTF-8
  flag whose bytes are not UTF-8 either (a legacy code page: we cannot tell what it says,
  so we do not guess); an entry over
  `max_file_mb`, all entries over `max_total_mb`, or a compression ratio over `max_ratio`
  (for entries over 1 MiB: tiny blank files compress extremely well and cannot hurt);
  a zip whose only file is another archive ("zip inside a zip").
* Backslashes are read as folder separators (Windows PowerShell 5 writes them), so
  `..\\evil` is traversal and `abc1234\\lab_cnn.ipynb` is a wrapping folder.
* A non-ASCII name without the UTF-8 flag whose bytes are valid UTF-8 is read as UTF-8
  (macOS and Info-ZIP write such zips); plain ASCII names are fine either way.
* A nested archive among other files is an extra file (naming penalty) with its own message.
* Support folders (a notebook rule's `support:`, e.g. the course's `res/` helpers): entries
  under that folder name (at the top level, or under the wrapping folder) are neither
  required files nor extras; those named like a file of the course's folder are extracted
  to `scratch/<that name>` (`Submission.support`) and replace the course's copy when the
  notebook runs; anything else in the folder is ignored.
* Required files match exactly at the top level; otherwise by a forgiving rule that costs
  the naming penalty: different case, different separators (`lab-cnn.ipynb`), a copy
  suffix (`lab_cnn (1).ipynb`, `lab_cnn-1.ipynb`, `lab_cnn copy.ipynb`, `Copy of
  lab_cnn.ipynb`), or a subfolder. Candidates are ranked (top level before subfolder;
  exact before case before other forms); the best one wins and the others are extras. A
  tie at the best rank is ambiguous: the file is not graded (treated as missing) and the
  problem lists the candidates.
* One wrapping folder (every non-litter file under one top-level folder) is looked through.
  The course text penalises wrong names and extra files, not folders, so by default it is
  reported without penalty (`wrapping_folder="allow"`); `wrapping_folder="naming"` makes
  the files inside count as misnamed. (A registry key `submission.wrapping_folder:
  allow | naming` would feed this; `precheck` reads it when the spec has it.)
* Zip entry times are naive local times of the student's machine: they are read in `zone`
  (precheck passes the deadline's zone; UTC when not given). An extended-timestamp (UT) or
  NTFS extra field, when present, gives the true UTC time and is used instead.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import hashlib
import os
import re
import stat
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path, PurePosixPath
from typing import Iterable

from .documents import check_document
from .errors import UsageError
from .models import ZIP_NAME, FoundFile, Problem, Submission
from .registry import FileRule, SubmissionSpec, ZipLimits

MiB = 1024 * 1024
RATIO_MIN_BYTES = 1 * MiB  # the ratio limit applies to entries inflating to more than this
CHUNK = 64 * 1024
MAX_NAME = 1024  # characters in an entry name (file systems allow 255 per part, ~4096 per path)
ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".tar", ".tgz", ".tar.gz", ".gz", ".bz2", ".xz", ".zipx")
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_COPY = re.compile(
    r"(?P<pre>copy\s+of\s+)?(?P<stem>.+?)"
    r"(?P<suf>\s*\(\d+\)|\s*-\s*\d+|_\d+|\s*-?\s*copy(?:\s*\(?\d+\)?)?)?",
    re.IGNORECASE,
)
_DOS_EPOCH = (1980, 1, 1, 0, 0, 0)


class _Fatal(Exception):
    def __init__(self, reason: str, fix: str):
        super().__init__(reason)
        self.reason = reason
        self.fix = fix


@dataclass
class _Entry:
    info: zipfile.ZipInfo
    name: str  # normalised: "/"-separated, no "." or empty parts (dirs end in "/")
    parts: tuple[str, ...]
    is_dir: bool
    rel: tuple[str, ...] = ()  # parts below the wrapping folder (== parts when none)


@dataclass
class _Match:
    entry: _Entry
    rank: tuple[int, int]  # (in a subfolder, form: 0 exact / 1 case / 2 separators or copy suffix)
    how: str


@dataclass
class _Plan:
    files: list[FoundFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    extract: list[tuple[FileRule, _Entry, bool]] = field(default_factory=list)  # rule, entry, exact


# --------------------------------------------------------------------------- helpers


def show(name: str | bytes, limit: int = 80) -> str:
    """A name made safe for a one-line message: escapes for unprintables, shortened."""
    name = name[: limit + 1]
    if isinstance(name, bytes):
        text = name.decode("ascii", "backslashreplace")
    else:
        text = "".join(ch if ch.isprintable() and ch not in _BIDI else f"\\x{ord(ch):02x}"
                       if ord(ch) < 256 else f"\\u{ord(ch):04x}" for ch in name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1024 * 1024), b""):
            h.update(block)
    return h.hexdigest()


def guess_student(zip_name: str, spec: SubmissionSpec) -> str | None:
    """A best guess at the student id from a zip name that does not match the pattern.

    Tries the lower-cased stem, then each alphanumeric run in it (`ABC1234 (1).zip`,
    `lab_abc1234.zip`, `abc1234@nyu.edu.zip`), keeping those that would match the pattern
    as `<run>.zip`; the longest wins. Words of the required file names (`lab`) never count.
    """
    stem = re.sub(r"\.zip$", "", zip_name, flags=re.IGNORECASE).lower()
    if "@" in stem:
        stem = stem.split("@", 1)[0] + " " + stem
    # words of the required file names (`lab`, `cnn`...) are not anybody's id
    words = {w for f in spec.files for w in re.findall(r"[a-z0-9]+", f.name.lower())}
    tokens = [t for t in [stem] + re.findall(r"[a-z0-9]+", stem) if t not in words]
    good = []
    for t in tokens:
        m = spec.match_zip_name(t + ".zip")
        if m and m.groupdict().get("student"):
            good.append(m.group("student"))
    if not good:
        return None
    return max(good, key=len)


def _zip_name_problem(zip_name: str, spec: SubmissionSpec) -> tuple[str | None, Problem | None]:
    m = spec.match_zip_name(zip_name)
    if m:
        return m.group("student"), None
    guess = guess_student(zip_name, spec)
    example = spec.zip_example or "abc1234.zip"
    fix = (f"rename the zip to `{guess}.zip` (`<net_id>.zip`, e.g. {example})" if guess
           else f"rename the zip to `<net_id>.zip`, e.g. {example}")
    return guess, Problem(zip_name, f"the zip is named `{show(zip_name)}`; expected `<net_id>.zip`, e.g. `{example}`",
                          fix, code=ZIP_NAME)


def _declared_entry_count(path: Path, stop_after: int) -> int | None:
    """Walk the central directory's record headers (no ZipInfo objects) and count them.

    Stops after `stop_after` records, so a central directory with millions of entries costs
    nothing. None when the end record cannot be found (the ZipFile constructor then says why).
    """
    try:
        with open(path, "rb") as f:
            endrec = zipfile._EndRecData(f)  # type: ignore[attr-defined]
            if not endrec:
                return None
            size_cd = endrec[zipfile._ECD_SIZE]  # type: ignore[attr-defined]
            offset_cd = endrec[zipfile._ECD_OFFSET]  # type: ignore[attr-defined]
            concat = endrec[zipfile._ECD_LOCATION] - size_cd - offset_cd  # type: ignore[attr-defined]
            if endrec[zipfile._ECD_SIGNATURE] == zipfile.stringEndArchive64:  # type: ignore[attr-defined]
                concat -= zipfile.sizeEndCentDir64 + zipfile.sizeEndCentDir64Locator  # type: ignore[attr-defined]
            pos, end = offset_cd + concat, offset_cd + concat + size_cd
            count = 0
            while pos + 46 <= end and count <= stop_after:
                f.seek(pos)
                head = f.read(46)
                if len(head) < 46 or head[:4] != b"PK\x01\x02":
                    break
                n, m, k = struct.unpack("<3H", head[28:34])
                pos += 46 + n + m + k
                count += 1
            return count
    except (AttributeError, IndexError, OSError, struct.error, TypeError):
        return None


def _decode_name(info: zipfile.ZipInfo) -> str:
    name = info.orig_filename  # before zipfile cuts it at a NUL
    if len(name) > MAX_NAME:
        raise _Fatal(f"entry name `{show(name)}` is too long ({len(name)} characters)",
                     "re-create the zip with ordinary file names")
    if not (info.flag_bits & 0x800) and not name.isascii():
        raw = name.encode("cp437")  # zipfile decoded the bytes as cp437: get them back exactly
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Fatal(f"entry name `{show(raw)}` is not UTF-8 (the zip was made with a legacy code page)",
                         "re-create the zip with plain ASCII file names") from None
    if any(unicodedata.category(ch) == "Cc" or ch in _BIDI for ch in name):
        raise _Fatal(f"entry name `{show(name)}` contains control characters",
                     "re-create the zip with ordinary file names")
    return name


def _normalise(name: str) -> tuple[str, tuple[str, ...], bool]:
    n = name.replace("\\", "/")
    if n == "":
        raise _Fatal("an entry has an empty name", "re-create the zip with an ordinary zip tool")
    if n.startswith("/"):
        raise _Fatal(f"entry `{show(name)}` has an absolute path", "zip the files with relative names")
    if re.match(r"[A-Za-z]:", n):
        raise _Fatal(f"entry `{show(name)}` has a drive letter", "zip the files with relative names")
    parts = tuple(p for p in n.split("/") if p not in ("", "."))
    if ".." in parts:
        raise _Fatal(f"path traversal: entry `{show(name)}` points outside the zip", "zip the files with relative names")
    is_dir = n.endswith("/")
    return "/".join(parts) + ("/" if is_dir and parts else ""), parts, is_dir


def _screen(zf: zipfile.ZipFile, limits: ZipLimits) -> list[_Entry]:
    """Every per-entry check that needs no decompression. Raises _Fatal."""
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise _Fatal(f"too many entries: {len(infos)} (the limit is {limits.max_entries})",
                     "zip only the required files")
    max_file, max_total = limits.max_file_mb * MiB, limits.max_total_mb * MiB
    entries: list[_Entry] = []
    seen: dict[tuple[str, ...], str] = {}
    total = 0
    for info in infos:
        name = _decode_name(info)
        norm, parts, is_dir = _normalise(name)
        ftype = stat.S_IFMT(info.external_attr >> 16)
        if ftype == stat.S_IFLNK:
            raise _Fatal(f"entry `{show(name)}` is a symbolic link", "zip the files themselves, not links to them")
        if ftype not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _Fatal(f"entry `{show(name)}` is a special file (device, pipe or socket)", "zip only ordinary files")
        if info.flag_bits & 0x41:
            raise _Fatal(f"entry `{show(name)}` is encrypted (password-protected zip)", "re-create the zip without a password")
        is_dir = is_dir or ftype == stat.S_IFDIR or not parts
        if not is_dir:
            if parts in seen:
                raise _Fatal(f"duplicate entries: `{show(seen[parts])}` and `{show(name)}` have the same name",
                             "re-create the zip so each file appears once")
            seen[parts] = name
            if info.file_size > max_file:
                raise _Fatal(f"entry `{show(name)}` is too large: {info.file_size / MiB:.1f} MiB "
                             f"(the limit is {limits.max_file_mb:g} MiB)", "remove large files (data sets, checkpoints)")
            if info.file_size > RATIO_MIN_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise _Fatal(f"zip bomb: entry `{show(name)}` inflates {info.file_size / max(info.compress_size, 1):.0f}"
                             f" times (the limit is {limits.max_ratio:g})", "zip only the required files")
            total += info.file_size
        entries.append(_Entry(info, norm, parts, is_dir))
    if total > max_total:
        raise _Fatal(f"the files add up to {total / MiB:.1f} MiB (the limit is {limits.max_total_mb:g} MiB)",
                     "remove large files (data sets, checkpoints)")
    return entries


def _litter_name(parts: tuple[str, ...], patterns: Iterable[str]) -> str | None:
    """The name to report when `parts` is operating-system litter, else None.

    A pattern ending in `/` is a folder name matching any folder on the path (reported as the
    folder, so `__MACOSX/` is listed once); any other pattern is a glob on the file name.
    Case-insensitive: `thumbs.db` and `Thumbs.db` are the same litter.
    """
    lowered = [p.lower() for p in parts]
    for pat in patterns:
        pl = pat.lower()
        if pl.endswith("/"):
            folder = pl.rstrip("/")
            for i, part in enumerate(lowered[:-1]):
                if fnmatch.fnmatchcase(part, folder):
                    return "/".join(parts[: i + 1]) + "/"
        elif fnmatch.fnmatchcase(lowered[-1], pl):
            return "/".join(parts)
    return None


def is_archive(name: str) -> bool:
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _split_ext(name: str) -> tuple[str, str]:
    p = PurePosixPath(name)
    return (p.stem, p.suffix) if p.suffix else (name, "")


def _key(stem: str) -> str:
    return re.sub(r"[\s_\-.]+", "_", stem.lower()).strip("_")


def _form(base: str, required: str) -> tuple[int, str] | None:
    """How `base` (a file name) can stand for `required`: (0 exact | 1 case | 2 other, how)."""
    if base == required:
        return 0, "exact"
    stem, ext = _split_ext(base)
    rstem, rext = _split_ext(required)
    if ext.lower() != rext.lower():
        return None
    if stem.lower() == rstem.lower():
        return 1, "different case"
    if _key(stem) == _key(rstem):
        return 2, "different separators"
    m = _COPY.fullmatch(stem)
    if m and (m.group("pre") or m.group("suf")) and _key(m.group("stem")) == _key(rstem):
        return 2, "a copy suffix"
    return None


def _rank(entry: _Entry, required: str) -> _Match | None:
    rel = entry.rel
    form = _form(rel[-1], required)
    if form is None:
        return None
    deep = 1 if len(rel) > 1 else 0
    how = form[1]
    if deep:
        folder = "/".join(rel[:-1]) + "/"
        how = f"in the folder `{folder}`" + ("" if form[0] == 0 else f", {how}")
    return _Match(entry, (deep, form[0]), how)


def _dos_datetime(dt: tuple[int, ...], zone: tzinfo) -> datetime | None:
    if tuple(dt) <= _DOS_EPOCH:
        return None  # "no time" as written by many tools
    try:
        return datetime(*dt, tzinfo=zone)  # type: ignore[misc]
    except (ValueError, TypeError):
        return None


def _extra_mtime(extra: bytes) -> datetime | None:
    """UTC modification time from an extended-timestamp (0x5455) or NTFS (0x000a) extra field."""
    i = 0
    try:
        while i + 4 <= len(extra):
            hid, size = struct.unpack("<HH", extra[i:i + 4])
            data = extra[i + 4:i + 4 + size]
            if hid == 0x5455 and len(data) >= 5 and data[0] & 1:
                (secs,) = struct.unpack("<i", data[1:5])
                return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=secs)
            if hid == 0x000A and len(data) >= 32:
                j = 4
                while j + 4 <= len(data):
                    tag, tsize = struct.unpack("<HH", data[j:j + 4])
                    if tag == 1 and tsize >= 8:
                        (ft,) = struct.unpack("<Q", data[j + 4:j + 12])
                        return datetime(1601, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=ft // 10)
                    j += 4 + tsize
            i += 4 + size
    except (struct.error, OverflowError, ValueError):
        return None
    return None


def newest_entry_time(entries: Iterable[zipfile.ZipInfo], zone: tzinfo | None = None) -> datetime | None:
    """The newest modification time among file entries (aware, in `zone`)."""
    zone = zone or timezone.utc
    newest: datetime | None = None
    for info in entries:
        if info.is_dir():
            continue
        when = _extra_mtime(info.extra) or _dos_datetime(info.date_time, zone)
        if when is None or when.year < 1980:
            continue
        if newest is None or when > newest:
            newest = when
    return newest.astimezone(zone) if newest else None


# --------------------------------------------------------------------------- matching


def _plan(files: list[_Entry], spec: SubmissionSpec, wrapper: str | None, wrapper_costs: bool,
          extras_out: list[str]) -> _Plan:
    plan = _Plan()
    rules = list(spec.files)
    # every file entry's candidacies; an entry stands only for the rule(s) it matches best
    cands: dict[str, list[_Match]] = {r.name: [] for r in rules}
    for e in files:
        ms = []
        for r in rules:
            m = _rank(e, r.name)
            if m is not None:
                ms.append((r.name, m))
        if ms:
            best = min(m.rank for _, m in ms)
            for rname, m in ms:
                if m.rank == best:
                    cands[rname].append(m)
    used: set[int] = set()
    explained: set[int] = set()  # extras already described by a problem
    for r in rules:
        found = sorted(cands[r.name], key=lambda m: (m.rank, m.entry.name))
        found = [m for m in found if id(m.entry) not in used]
        if not found:
            plan.files.append(FoundFile(name=r.name, kind=r.kind))
            continue
        top = [m for m in found if m.rank == found[0].rank]
        if len(top) > 1:
            names = ", ".join(f"`{show(m.entry.name)}`" for m in top)
            plan.files.append(FoundFile(name=r.name, kind=r.kind, detail=f"ambiguous: {names}"))
            plan.problems.append(Problem(r.name, f"{len(top)} files could be `{r.name}`: {names}; none was graded",
                                         f"keep exactly one of them, named `{r.name}`"))
            for m in found:
                explained.add(id(m.entry))
            continue
        chosen = top[0]
        used.add(id(chosen.entry))
        exact = chosen.rank == (0, 0) and not (wrapper and wrapper_costs)
        plan.extract.append((r, chosen.entry, exact))
        if chosen.rank != (0, 0):
            arch = show(chosen.entry.name)
            if chosen.rank[0]:
                fix = f"move `{arch}` to the top level of the zip" + (
                    f" and rename it to `{r.name}`" if chosen.rank[1] else "")
            else:
                fix = f"rename `{arch}` to `{r.name}`"
            plan.problems.append(Problem(r.name, f"`{arch}` was graded as `{r.name}` ({chosen.how})", fix))
        for m in found[1:]:
            if id(m.entry) in used:
                continue
            explained.add(id(m.entry))
            arch = show(m.entry.name)
            plan.problems.append(Problem(m.entry.name, f"extra copy of `{r.name}`: `{arch}` (the grader used "
                                                       f"`{show(chosen.entry.name)}`)", f"remove `{arch}` from the zip"))
    # extras: every file not matched
    taken = {id(x) for _, x, _ in plan.extract}
    extras = [e for e in files if id(e) not in taken]
    extras_out.extend(e.name for e in extras)
    # missing files: suggest the closest unexplained extra with the same extension (whose
    # own "remove it" problem is then left out: the fix is to rename it, not to remove it)
    for f in plan.files:
        if f.archive_name is None and not f.detail:
            near = _closest(f.name, [e for e in extras if id(e) not in explained])
            if near is None:
                plan.problems.append(Problem(f.name, f"missing `{f.name}`", f"add `{f.name}`"))
            else:
                explained.add(id(near))
                plan.problems.append(Problem(f.name, f"missing `{f.name}`",
                                             f"rename `{show(near.name)}` to `{f.name}` (or add `{f.name}`)"))
    loose: dict[str, list[_Entry]] = {}
    for e in extras:
        if id(e) in explained:
            continue
        if len(e.rel) == 1:
            arch = show(e.name)
            if is_archive(e.name):
                plan.problems.append(Problem(e.name, f"extra file `{arch}`: an archive inside the zip (its contents "
                                                     "are not graded)", f"remove `{arch}` from the zip"))
            else:
                plan.problems.append(Problem(e.name, f"extra file `{arch}`", f"remove `{arch}` from the zip"))
        else:
            folder = "/".join(e.parts[: len(e.parts) - len(e.rel) + 1]) + "/"
            loose.setdefault(folder, []).append(e)
    for folder, group in sorted(loose.items()):
        listed = ", ".join(f"`{show(e.rel[-1])}`" for e in group[:5]) + (", …" if len(group) > 5 else "")
        count = f"{len(group)} file{'s' if len(group) != 1 else ''}"
        plan.problems.append(Problem(folder, f"extra files in `{show(folder)}` ({count}: {listed})",
                                     f"remove `{show(folder)}` from the zip"))
    return plan


def _split_support(files: list[_Entry], spec: SubmissionSpec) -> tuple[list[_Entry], list[tuple[str, _Entry]]]:
    """Set apart the entries inside a support folder the registry declares (`res/...` at
    the top level, or under the wrapping folder): they are neither required files nor
    extras. Returns (the other entries, [(registry name, entry)] for the entries that are
    files of the course's folder: only those are extracted, under the course's name)."""
    known: dict[str, str] = {}
    for rule in spec.files:
        known.update(rule.support_files())
    folders = {Path(f).name for rule in spec.files for f in rule.support}
    if not folders:
        return files, []
    rest: list[_Entry] = []
    carried: list[tuple[str, _Entry]] = []
    for e in files:
        if len(e.rel) > 1 and e.rel[0] in folders:
            name = "/".join(e.rel)
            if name in known:
                carried.append((name, e))
        else:
            rest.append(e)
    return rest, carried


def _closest(required: str, extras: list[_Entry]) -> _Entry | None:
    _, rext = _split_ext(required)
    pool = {e.rel[-1].lower(): e for e in extras if _split_ext(e.rel[-1])[1].lower() == rext.lower()}
    near = difflib.get_close_matches(required.lower(), list(pool), n=1, cutoff=0.6)
    return pool[near[0]] if near else None


# --------------------------------------------------------------------------- extraction


def _extract(zf: zipfile.ZipFile, entry: _Entry, target: Path, limit: int, limits: ZipLimits) -> int:
    """Copy one entry to `target`, counting the real bytes. Returns bytes written; raises _Fatal."""
    info = entry.info
    name = show(entry.name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    written = 0
    try:
        src = zf.open(info)
    except NotImplementedError:
        raise
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, ValueError, struct.error, UnicodeDecodeError) as exc:
        raise _Fatal(f"corrupt zip: entry `{name}` cannot be read ({_short(exc)})",
                     "re-create the zip and check that it opens") from None
    with src:
        fd = os.open(target, flags, 0o644)
        with os.fdopen(fd, "wb") as dst:
            while True:
                try:
                    chunk = src.read(CHUNK)
                except NotImplementedError:
                    raise
                except (zipfile.BadZipFile, EOFError, OSError, zlib.error, ValueError, struct.error) as exc:
                    raise _Fatal(f"corrupt zip: entry `{name}` cannot be read ({_short(exc)})",
                                 "re-create the zip and check that it opens") from None
                if not chunk:
                    break
                written += len(chunk)
                if written > info.file_size:
                    raise _Fatal(f"zip bomb: entry `{name}` holds more data than its header says",
                                 "re-create the zip with an ordinary zip tool")
                if written > limit:
                    raise _Fatal(f"entry `{name}` inflates beyond the size limit", "remove large files")
                if written > RATIO_MIN_BYTES and written > limits.max_ratio * max(info.compress_size, 1):
                    raise _Fatal(f"zip bomb: entry `{name}` inflates more than {limits.max_ratio:g} times",
                                 "zip only the required files")
                dst.write(chunk)
    return written


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return show(text, 100)


# --------------------------------------------------------------------------- entry point


def open_submission(zip_path: Path, spec: SubmissionSpec, scratch: Path, *, zone: tzinfo | None = None,
                    wrapping_folder: str = "allow", inspect: bool = True) -> Submission:
    """Read one submission zip; extract the matched required files to `scratch/<required name>`.

    The caller owns `scratch` and removes it (it is created when missing). `zone` is the
    time zone naive zip times are read in (default UTC; precheck passes the deadline's).
    `wrapping_folder`: "allow" (reported, no penalty) or "naming" (files inside count as
    misnamed). With `inspect`, each extracted file is checked by `documents.check_document`.
    Never raises for a bad zip (that is `Submission.fatal`, with `files=()` and the reason
    also as a Problem on the zip); raises UsageError when `zip_path` does not exist or
    `scratch` cannot be created. `sha256` is "" only when the zip is over `max_zip_mb`
    (then it is not read at all).
    """
    zip_path, scratch = Path(zip_path), Path(scratch)
    if not zip_path.is_file():
        raise UsageError(f"{zip_path}: no such file")
    try:
        scratch.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{scratch}: cannot create the scratch folder: {exc}") from None
    if wrapping_folder not in ("allow", "naming"):
        raise UsageError(f"wrapping_folder must be `allow` or `naming`, not `{wrapping_folder}`")
    zone = zone or timezone.utc
    limits = spec.limits
    zip_name = zip_path.name
    student, name_problem = _zip_name_problem(zip_name, spec)
    head_problems = [name_problem] if name_problem else []

    def fatal(reason: str, fix: str, sha: str = "") -> Submission:
        return Submission(zip_name=zip_name, sha256=sha, student=student,
                          problems=tuple(head_problems + [Problem(zip_name, reason, fix)]),
                          naming_ok=name_problem is None, fatal=reason, scratch=str(scratch))

    size = zip_path.stat().st_size
    if size > limits.max_zip_mb * MiB:
        return fatal(f"the zip is too large: {size / MiB:.1f} MiB (the limit is {limits.max_zip_mb:g} MiB)",
                     "remove large files (data sets, checkpoints) from the zip")
    sha = sha256_file(zip_path)
    count = _declared_entry_count(zip_path, limits.max_entries)
    if count is not None and count > limits.max_entries:
        return fatal(f"too many entries: more than {limits.max_entries}", "zip only the required files", sha)

    written: list[Path] = []
    try:
        try:
            zf = zipfile.ZipFile(zip_path)
        except UnicodeDecodeError:  # before ValueError, its base class
            return fatal("entry names are marked UTF-8 but are not valid UTF-8",
                         "re-create the zip with plain ASCII file names", sha)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError, struct.error,
                NotImplementedError, IndexError, KeyError, OverflowError) as exc:
            return fatal(f"not a readable zip file ({_short(exc)})",
                         "re-create the zip with an ordinary zip tool and check that it opens", sha)
        with zf:
            entries = _screen(zf, limits)
            files = [e for e in entries if not e.is_dir]
            litter: list[str] = []
            rest: list[_Entry] = []
            for e in files:
                lit = _litter_name(e.parts, spec.litter_patterns)
                if lit is None:
                    rest.append(e)
                elif lit not in litter:
                    litter.append(lit)
            if len(rest) == 1 and is_archive(rest[0].parts[-1]):
                raise _Fatal(f"zip inside a zip: the zip holds only `{show(rest[0].name)}`",
                             f"put the required files themselves in `{zip_name}`, not another archive")
            wrapper = None
            tops = {e.parts[0] for e in rest}
            if len(tops) == 1 and all(len(e.parts) > 1 for e in rest):
                wrapper = tops.pop()
            for e in rest:
                e.rel = e.parts[1:] if wrapper else e.parts
            rest, carried = _split_support(rest, spec)

            extras: list[str] = []
            plan = _plan(rest, spec, wrapper, wrapping_folder == "naming", extras)
            litter_list: tuple[str, ...] = ()
            if spec.litter == "extra":
                for lit in sorted(litter):
                    extras.append(lit)
                    plan.problems.append(Problem(lit, f"extra file `{show(lit)}` (operating-system litter)",
                                                 f"remove `{show(lit)}` from the zip"))
            else:
                litter_list = tuple(sorted(litter))
            if wrapper:
                costs = wrapping_folder == "naming"
                plan.problems.append(Problem(wrapper + "/", f"the files are inside the folder `{show(wrapper)}/`"
                                             + ("" if costs else " (accepted, not penalised)"),
                                             "zip the files themselves, not the folder that holds them"))

            # extract the matched files, within the limits, counting real bytes
            found: dict[str, FoundFile] = {}
            budget = limits.max_total_mb * MiB
            root = scratch.resolve()
            for rule, entry, exact in plan.extract:
                target = (scratch / rule.name)
                if root not in target.resolve().parents:
                    raise UsageError(f"registry file name `{rule.name}` would leave the scratch folder")
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    written.append(target)
                    n = _extract(zf, entry, target, min(limits.max_file_mb * MiB, budget), limits)
                except NotImplementedError as exc:
                    target.unlink(missing_ok=True)
                    written.remove(target)
                    detail = f"cannot be extracted: {_short(exc)} (compression method {entry.info.compress_type})"
                    found[rule.name] = FoundFile(rule.name, rule.kind, entry.name, None, exact, False, detail)
                    plan.problems.append(Problem(rule.name, f"`{rule.name}` {detail}",
                                                 "re-create the zip with standard (deflate) compression"))
                    continue
                budget -= n
                found[rule.name] = FoundFile(rule.name, rule.kind, entry.name, str(target), exact)
            support: list[FoundFile] = []
            for name, entry in carried:  # written under the registry's name, never the entry's
                target = scratch / name
                target.parent.mkdir(parents=True, exist_ok=True)
                written.append(target)
                try:
                    budget -= _extract(zf, entry, target, min(limits.max_file_mb * MiB, budget), limits)
                except NotImplementedError:
                    target.unlink(missing_ok=True)
                    written.remove(target)
                    continue  # the course's copy is used instead
                support.append(FoundFile(name, "other", entry.name, str(target)))
            newest = newest_entry_time([e.info for e in files], zone)
    except _Fatal as f:
        _remove(written)
        return fatal(f.reason, f.fix, sha)
    except BaseException:  # the grader's own failure (disk full, interrupted): leave no half files
        _remove(written)
        raise

    # documents: is each extracted file what its name says? (registry order)
    unmatched = {f.name: f for f in plan.files}
    result: list[FoundFile] = []
    doc_problems: list[Problem] = []
    for rule in spec.files:
        ff = found.get(rule.name) or unmatched[rule.name]
        if inspect and ff.path:
            check = check_document(Path(ff.path), rule.kind)
            ff = dataclasses.replace(ff, valid=check.valid, detail=check.detail)
            if not check.valid:
                doc_problems.append(Problem(rule.name, f"`{rule.name}` is unusable: {check.detail}", _doc_fix(rule)))
            for note in check.notes:
                doc_problems.append(Problem(rule.name, note.message, note.fix))
        result.append(ff)

    problems = head_problems + _ordered(plan.problems + doc_problems, spec)
    naming_ok = (name_problem is None and not extras
                 and all(f.exact for f in result if f.present))
    return Submission(
        zip_name=zip_name, sha256=sha, student=student, files=tuple(result), extra=tuple(sorted(extras)),
        litter=litter_list, problems=tuple(problems), naming_ok=naming_ok, fatal=None,
        newest_entry_time=newest.isoformat() if newest else None, scratch=str(scratch),
        support=tuple(support),
    )


def _remove(paths: list[Path]) -> None:
    for p in paths:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


def _doc_fix(rule: FileRule) -> str:
    if rule.kind == "notebook":
        return f"download `{rule.name}` again from Jupyter/Colab (File > Download > .ipynb) and add it"
    if rule.kind == "pdf":
        return f"export your answers as a PDF named `{rule.name}` (from LaTeX or File > Save as PDF)"
    return f"add a readable `{rule.name}`"


def _ordered(problems: list[Problem], spec: SubmissionSpec) -> list[Problem]:
    """Required files' problems in registry order first, then the rest by file name (stable)."""
    order = {r.name: i for i, r in enumerate(spec.files)}
    return sorted(problems, key=lambda p: (0, order[p.file], "") if p.file in order else (1, 0, p.file))
