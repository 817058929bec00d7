"""Intake: matching rules, hostile zips, and what lands on disk (only the matched files, only in scratch)."""

from __future__ import annotations

import dataclasses
import hashlib
import stat
import zipfile
from pathlib import Path

import pytest

from grader import intake
from grader.documents import check_document, check_notebook, check_pdf
from grader.errors import UsageError
from grader.intake import open_submission
from grader.models import Submission
from grader.registry import ZipLimits, load

try:
    from zipfactory import (DOC_BYTES, DOCX_BYTES, REQUIRED_2025, RawEntry, bomb_entry, default_files,
                            image_only_pdf, make_submission, minimal_notebook, minimal_pdf, nested_zip_bytes,
                            raw_zip, symlink_entry, to_bytes, tree, valid_entries, zero_page_pdf)
except ImportError:  # pragma: no cover - when tests/ is a package
    from tests.zipfactory import (DOC_BYTES, DOCX_BYTES, REQUIRED_2025, RawEntry, bomb_entry, default_files,
                                  image_only_pdf, make_submission, minimal_notebook, minimal_pdf,
                                  nested_zip_bytes, raw_zip, symlink_entry, to_bytes, tree, valid_entries,
                                  zero_page_pdf)

CNN = "hw2_cnn.ipynb"


@pytest.fixture(scope="module")
def spec():
    return load("nyu-dl-hw2-2025").submission


def run(tmp_path: Path, zip_path: Path, spec, **kw) -> Submission:
    """open_submission with a fresh scratch; asserts that nothing appeared outside it and that
    the scratch holds exactly the matched files (nothing at all when fatal)."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    before = tree(tmp_path)
    sub = open_submission(zip_path, spec, scratch, **kw)
    after = tree(tmp_path)
    new = after - before
    outside = {p for p in new if not p.startswith("scratch/")}
    assert not outside, f"written outside scratch: {outside}"
    assert not (tmp_path / "evil").exists() and not (tmp_path.parent / "evil").exists()
    matched = {f.name for f in sub.files if f.path}
    assert {p[len("scratch/"):] for p in new} == matched
    if sub.fatal:
        assert not any(scratch.iterdir()), "a fatal zip must leave nothing extracted"
    for f in sub.files:
        if f.path:
            assert Path(f.path).parent == scratch and Path(f.path).name == f.name
            assert not Path(f.path).is_symlink()
    return sub


def problem_for(sub: Submission, file: str):
    found = [p for p in sub.problems if p.file == file]
    assert found, f"no problem for {file}: {sub.problems}"
    return found[0]


# --------------------------------------------------------------------------- the good case


def test_valid_submission(tmp_path, spec):
    z = make_submission(tmp_path / "in")
    sub = run(tmp_path, z, spec)
    assert sub.fatal is None
    assert sub.student == "abc1234"
    assert sub.naming_ok
    assert sub.problems == () and sub.extra == () and sub.litter == ()
    assert [f.name for f in sub.files] == list(REQUIRED_2025)
    assert all(f.present and f.exact and f.valid for f in sub.files)
    assert sub.sha256 == hashlib.sha256(z.read_bytes()).hexdigest()
    assert sub.newest_entry_time == "2025-02-25T12:00:00+00:00"  # naive zip time, read in UTC by default
    assert (tmp_path / "scratch" / CNN).read_bytes() == to_bytes(default_files()[CNN])
    assert sub.scratch == str(tmp_path / "scratch")


def test_missing_zip_is_a_usage_error(tmp_path, spec):
    with pytest.raises(UsageError):
        open_submission(tmp_path / "nope.zip", spec, tmp_path)


def test_missing_scratch_is_created(tmp_path, spec):
    sub = open_submission(make_submission(tmp_path / "in"), spec, tmp_path / "s" / "files")
    assert sub.fatal is None and (tmp_path / "s" / "files" / CNN).is_file()


# --------------------------------------------------------------------------- zip name


@pytest.mark.parametrize("name, student, fix", [
    ("ABC1234.zip", "abc1234", "rename the zip to `abc1234.zip` (`<net_id>.zip`, e.g. abc1234.zip)"),
    ("hw2_abc1234.zip", "abc1234", "rename the zip to `abc1234.zip` (`<net_id>.zip`, e.g. abc1234.zip)"),
    ("abc1234 (1).zip", "abc1234", "rename the zip to `abc1234.zip` (`<net_id>.zip`, e.g. abc1234.zip)"),
    ("abc1234@nyu.edu.zip", "abc1234", "rename the zip to `abc1234.zip` (`<net_id>.zip`, e.g. abc1234.zip)"),
    ("HW2.zip", None, "rename the zip to `<net_id>.zip`, e.g. abc1234.zip"),
    ("submission.zip", None, "rename the zip to `<net_id>.zip`, e.g. abc1234.zip"),
])
def test_zip_name(tmp_path, spec, name, student, fix):
    sub = run(tmp_path, make_submission(tmp_path / "in", name=name), spec)
    assert sub.student == student
    assert not sub.naming_ok
    p = problem_for(sub, name)
    assert p.fix == fix
    assert "expected `<net_id>.zip`" in p.message
    assert all(f.exact for f in sub.files)


# --------------------------------------------------------------------------- forgiving matches


@pytest.mark.parametrize("archive, how", [
    ("HW2_CNN.ipynb", "different case"),
    ("hw2_cnn.IPYNB", "different case"),
    ("hw2-cnn.ipynb", "different separators"),
    ("hw2_cnn (1).ipynb", "a copy suffix"),
    ("hw2_cnn(2).ipynb", "a copy suffix"),
    ("hw2_cnn-1.ipynb", "a copy suffix"),
    ("hw2_cnn copy.ipynb", "a copy suffix"),
    ("hw2_cnn copy 2.ipynb", "a copy suffix"),
    ("hw2_cnn - Copy.ipynb", "a copy suffix"),
    ("Copy of hw2_cnn.ipynb", "a copy suffix"),
])
def test_forgiving_match_costs_naming(tmp_path, spec, archive, how):
    sub = run(tmp_path, make_submission(tmp_path / "in", rename={CNN: archive}), spec)
    f = sub.file(CNN)
    assert f.present and not f.exact and f.valid
    assert f.archive_name == archive
    assert not sub.naming_ok and sub.extra == ()
    p = problem_for(sub, CNN)
    assert p.message == f"`{archive}` was graded as `{CNN}` ({how})"
    assert p.fix == f"rename `{archive}` to `{CNN}`"
    assert (tmp_path / "scratch" / CNN).exists()


@pytest.mark.parametrize("archive", ["cnn.ipynb", "hw2_cnn.py", "hw2_cnn_v2_final.ipynb", "hw2_cnn.ipynb.txt"])
def test_unrecognisable_name_is_missing_plus_extra(tmp_path, spec, archive):
    sub = run(tmp_path, make_submission(tmp_path / "in", rename={CNN: archive}), spec)
    f = sub.file(CNN)
    assert not f.present
    assert sub.extra == (archive,)
    assert not sub.naming_ok
    missing = [p for p in sub.problems if p.file == CNN][0]
    assert missing.message == f"missing `{CNN}`"
    assert missing.fix.startswith("rename `") or missing.fix == f"add `{CNN}`"


def test_missing_suggests_the_close_extra(tmp_path, spec):
    sub = run(tmp_path, make_submission(tmp_path / "in", rename={CNN: "hw2_cnn_v2.ipynb"}), spec)
    assert problem_for(sub, CNN).fix == f"rename `hw2_cnn_v2.ipynb` to `{CNN}` (or add `{CNN}`)"


def test_exact_wins_over_copy(tmp_path, spec):
    z = make_submission(tmp_path / "in", extra={"hw2_cnn (1).ipynb": minimal_notebook(["old = 1"])})
    sub = run(tmp_path, z, spec)
    f = sub.file(CNN)
    assert f.archive_name == CNN and f.exact
    assert sub.extra == ("hw2_cnn (1).ipynb",)
    assert not sub.naming_ok
    p = problem_for(sub, "hw2_cnn (1).ipynb")
    assert p.message.startswith(f"extra copy of `{CNN}`")
    assert p.fix == "remove `hw2_cnn (1).ipynb` from the zip"
    assert (tmp_path / "scratch" / CNN).read_bytes() == to_bytes(default_files()[CNN])


def test_case_beats_copy_suffix(tmp_path, spec):
    z = make_submission(tmp_path / "in", rename={CNN: "HW2_CNN.ipynb"},
                        extra={"hw2_cnn (1).ipynb": minimal_notebook(["old = 1"])})
    sub = run(tmp_path, z, spec)
    assert sub.file(CNN).archive_name == "HW2_CNN.ipynb"
    assert sub.extra == ("hw2_cnn (1).ipynb",)


def test_ambiguous_candidates_are_not_graded(tmp_path, spec):
    z = make_submission(tmp_path / "in", rename={CNN: "HW2_CNN.ipynb"},
                        extra={"Hw2_Cnn.ipynb": minimal_notebook(["other = 1"])})
    sub = run(tmp_path, z, spec)
    f = sub.file(CNN)
    assert not f.present and f.path is None
    assert f.detail == "ambiguous: `HW2_CNN.ipynb`, `Hw2_Cnn.ipynb`"
    assert set(sub.extra) == {"HW2_CNN.ipynb", "Hw2_Cnn.ipynb"}
    p = problem_for(sub, CNN)
    assert p.message == f"2 files could be `{CNN}`: `HW2_CNN.ipynb`, `Hw2_Cnn.ipynb`; none was graded"
    assert p.fix == f"keep exactly one of them, named `{CNN}`"
    assert not sub.naming_ok
    assert not (tmp_path / "scratch" / CNN).exists()


def test_subfolder_match(tmp_path, spec):
    z = make_submission(tmp_path / "in", rename={CNN: "notebooks/hw2_cnn.ipynb"})
    sub = run(tmp_path, z, spec)
    f = sub.file(CNN)
    assert f.present and not f.exact and f.archive_name == "notebooks/hw2_cnn.ipynb"
    p = problem_for(sub, CNN)
    assert p.message == f"`notebooks/hw2_cnn.ipynb` was graded as `{CNN}` (in the folder `notebooks/`)"
    assert p.fix == "move `notebooks/hw2_cnn.ipynb` to the top level of the zip"


def test_wrapping_folder_is_reported_not_penalised(tmp_path, spec):
    sub = run(tmp_path, make_submission(tmp_path / "in", folder="abc1234"), spec)
    assert sub.naming_ok
    assert all(f.present and f.exact for f in sub.files)
    assert sub.file(CNN).archive_name == "abc1234/hw2_cnn.ipynb"
    p = problem_for(sub, "abc1234/")
    assert p.message == "the files are inside the folder `abc1234/` (accepted, not penalised)"
    assert p.fix == "zip the files themselves, not the folder that holds them"


def test_wrapping_folder_can_cost_naming(tmp_path, spec):
    from grader.registry import Penalties
    from grader.rules import naming_penalty
    sub = run(tmp_path, make_submission(tmp_path / "in", folder="abc1234"), spec, wrapping_folder="naming")
    assert not sub.naming_ok
    assert all(f.present and not f.exact for f in sub.files)
    assert problem_for(sub, "abc1234/").message == "the files are inside the folder `abc1234/`"
    assert naming_penalty(sub, Penalties()).reason == (
        "wrong naming: inside the folder `abc1234/`: `hw2_theory.pdf`, `hw2_moe.ipynb`, `hw2_cnn.ipynb`, "
        "`hw2_rnn.ipynb`, `seq_classification.ipynb`")


def test_backslash_folder_is_a_wrapping_folder(tmp_path, spec):
    entries = [RawEntry("abc1234\\" + e.name, e.data) for e in valid_entries()]
    sub = run(tmp_path, raw_zip(tmp_path / "in" / "abc1234.zip", entries), spec)
    assert sub.fatal is None and sub.naming_ok
    assert sub.file(CNN).archive_name == "abc1234/hw2_cnn.ipynb"


def test_missing_file_is_not_a_naming_problem(tmp_path, spec):
    sub = run(tmp_path, make_submission(tmp_path / "in", omit=["hw2_rnn.ipynb"]), spec)
    f = sub.file("hw2_rnn.ipynb")
    assert f.archive_name is None and not f.present
    p = problem_for(sub, "hw2_rnn.ipynb")
    assert (p.message, p.fix) == ("missing `hw2_rnn.ipynb`", "add `hw2_rnn.ipynb`")
    assert sub.naming_ok
    assert sum(1 for f in sub.files if f.present) == 4


def test_extra_file(tmp_path, spec):
    sub = run(tmp_path, make_submission(tmp_path / "in", extra={"test.py": "print('hi')"}), spec)
    assert sub.extra == ("test.py",)
    assert not sub.naming_ok
    p = problem_for(sub, "test.py")
    assert (p.message, p.fix) == ("extra file `test.py`", "remove `test.py` from the zip")
    assert not (tmp_path / "scratch" / "test.py").exists()


def test_extra_folder_is_one_problem(tmp_path, spec):
    extra = {f"data/part{i}.csv": "1,2\n" for i in range(7)}
    sub = run(tmp_path, make_submission(tmp_path / "in", extra=extra), spec)
    assert len(sub.extra) == 7
    p = problem_for(sub, "data/")
    assert p.message.startswith("extra files in `data/` (7 files: `part0.csv`")
    assert p.fix == "remove `data/` from the zip"
    assert len([q for q in sub.problems if q.file.startswith("data/")]) == 1


def test_litter_is_ignored(tmp_path, spec):
    z = make_submission(tmp_path / "in", litter=True,
                        extra={".ipynb_checkpoints/hw2_cnn-checkpoint.ipynb": minimal_notebook(),
                               "Thumbs.db": b"\x00"})
    sub = run(tmp_path, z, spec)
    assert sub.litter == (".DS_Store", ".ipynb_checkpoints/", "Thumbs.db", "__MACOSX/")
    assert sub.extra == () and sub.naming_ok and sub.problems == ()


def test_litter_inside_a_wrapping_folder(tmp_path, spec):
    z = make_submission(tmp_path / "in", folder="abc1234",
                        extra={".ipynb_checkpoints/hw2_cnn-checkpoint.ipynb": minimal_notebook()})
    sub = run(tmp_path, z, spec)
    assert sub.litter == ("abc1234/.ipynb_checkpoints/",)
    assert sub.naming_ok


def test_litter_as_extra(tmp_path, spec):
    sub = run(tmp_path, make_submission(tmp_path / "in", litter=True), dataclasses.replace(spec, litter="extra"))
    assert sub.litter == ()
    assert sub.extra == (".DS_Store", "__MACOSX/")
    assert not sub.naming_ok
    assert problem_for(sub, "__MACOSX/").fix == "remove `__MACOSX/` from the zip"


def test_nested_zip_among_files_is_an_extra(tmp_path, spec):
    z = make_submission(tmp_path / "in", extra={"old.zip": nested_zip_bytes()})
    sub = run(tmp_path, z, spec)
    assert sub.fatal is None and sub.extra == ("old.zip",)
    p = problem_for(sub, "old.zip")
    assert "an archive inside the zip" in p.message and p.fix == "remove `old.zip` from the zip"


@pytest.mark.parametrize("inner", ["abc1234.zip", "abc1234/abc1234.zip", "hw2.7z"])
def test_only_a_zip_inside_is_fatal(tmp_path, spec, inner):
    z = make_submission(tmp_path / "in", files={inner: nested_zip_bytes()}, litter=True)
    sub = run(tmp_path, z, spec)
    assert sub.fatal == f"zip inside a zip: the zip holds only `{inner}`"
    assert sub.files == ()
    assert problem_for(sub, "abc1234.zip").fix == "put the required files themselves in `abc1234.zip`, not another archive"


def test_non_ascii_utf8_names_without_the_flag_are_read_as_utf8(tmp_path, spec):
    entries = valid_entries() + [RawEntry("résumé.txt".encode("utf-8"), b"x", utf8_flag=False),
                                 RawEntry("notes-ü.txt", b"y")]  # the second with the flag
    sub = run(tmp_path, raw_zip(tmp_path / "in" / "abc1234.zip", entries), spec)
    assert sub.fatal is None
    assert sub.extra == ("notes-ü.txt", "résumé.txt")


def test_unsupported_compression_is_a_file_problem(tmp_path, spec):
    entries = [e if e.name != CNN else RawEntry(CNN, e.data, deflate=False, method=9) for e in valid_entries()]
    sub = run(tmp_path, raw_zip(tmp_path / "in" / "abc1234.zip", entries), spec)
    assert sub.fatal is None
    f = sub.file(CNN)
    assert f.present and not f.valid and f.path is None
    assert "compression method 9" in f.detail
    assert problem_for(sub, CNN).fix == "re-create the zip with standard (deflate) compression"
    assert sub.file("hw2_rnn.ipynb").valid


def test_newest_entry_time_uses_the_zone(tmp_path, spec):
    from zoneinfo import ZoneInfo
    z = make_submission(tmp_path / "in", date_time=(2025, 2, 26, 1, 30, 0))
    sub = run(tmp_path, z, spec, zone=ZoneInfo("America/New_York"))
    assert sub.newest_entry_time == "2025-02-26T01:30:00-05:00"


# --------------------------------------------------------------------------- hostile zips: fatal


def fatal_zip(tmp_path, spec, entries, **kw) -> Submission:
    sub = run(tmp_path, raw_zip(tmp_path / "in" / "abc1234.zip", entries), spec, **kw)
    assert sub.fatal, sub
    assert "\n" not in sub.fatal
    assert sub.files == ()
    assert sub.student == "abc1234"
    p = problem_for(sub, "abc1234.zip")
    assert p.message == sub.fatal and p.fix
    return sub


@pytest.mark.parametrize("name, reason", [
    ("../evil", "path traversal: entry `../evil` points outside the zip"),
    ("a/../../evil", "path traversal: entry `a/../../evil` points outside the zip"),
    ("..\\evil", "path traversal: entry `..\\x5cevil` points outside the zip"),
    ("/abs/evil", "entry `/abs/evil` has an absolute path"),
    ("\\evil", "entry `\\x5cevil` has an absolute path"),
    ("C:/evil", "entry `C:/evil` has a drive letter"),
    ("c:evil", "entry `c:evil` has a drive letter"),
])
def test_traversal_is_fatal(tmp_path, spec, name, reason):
    sub = fatal_zip(tmp_path, spec, valid_entries() + [RawEntry(name, b"pwned")])
    assert sub.fatal == reason.replace("\\x5c", "\\")
    assert not Path("/abs/evil").exists()


def test_symlink_is_fatal(tmp_path, spec):
    entries = [e for e in valid_entries() if e.name != CNN] + [symlink_entry(CNN, "/etc/passwd")]
    sub = fatal_zip(tmp_path, spec, entries)
    assert sub.fatal == f"entry `{CNN}` is a symbolic link"


def test_special_file_is_fatal(tmp_path, spec):
    sub = fatal_zip(tmp_path, spec, valid_entries() + [RawEntry("fifo", b"", mode=stat.S_IFIFO | 0o644)])
    assert sub.fatal == "entry `fifo` is a special file (device, pipe or socket)"


def test_encrypted_entry_is_fatal(tmp_path, spec):
    entries = [RawEntry(e.name, e.data, encrypted=(e.name == CNN)) for e in valid_entries()]
    assert fatal_zip(tmp_path, spec, entries).fatal == f"entry `{CNN}` is encrypted (password-protected zip)"


def test_duplicate_names_are_fatal(tmp_path, spec):
    entries = valid_entries() + [RawEntry(CNN, to_bytes(minimal_notebook(["evil = 1"])))]
    sub = fatal_zip(tmp_path, spec, entries)
    assert sub.fatal == f"duplicate entries: `{CNN}` and `{CNN}` have the same name"


def test_duplicates_after_normalising_are_fatal(tmp_path, spec):
    entries = valid_entries() + [RawEntry("./" + CNN, b"{}")]
    assert fatal_zip(tmp_path, spec, entries).fatal.startswith("duplicate entries")


def test_non_utf8_name_is_fatal(tmp_path, spec):
    sub = fatal_zip(tmp_path, spec, valid_entries() + [RawEntry(b"\xff\xfe.txt", b"x", utf8_flag=False)])
    assert sub.fatal == "entry name `\\xff\\xfe.txt` is not UTF-8 (the zip was made with a legacy code page)"


def test_name_flagged_utf8_but_invalid_is_fatal(tmp_path, spec):
    sub = fatal_zip(tmp_path, spec, valid_entries() + [RawEntry(b"\xff\xfe.txt", b"x", utf8_flag=True)])
    assert sub.fatal == "entry names are marked UTF-8 but are not valid UTF-8"


@pytest.mark.parametrize("name", [b"hw2_cnn.ipynb\x00.exe", b"a\nb.txt", "evil\u202egpj.exe".encode("utf-8")])
def test_control_characters_are_fatal(tmp_path, spec, name):
    sub = fatal_zip(tmp_path, spec, valid_entries() + [RawEntry(name, b"x", utf8_flag=not name.isascii())])
    assert "contains control characters" in sub.fatal


def test_very_long_name_is_fatal(tmp_path, spec):
    sub = fatal_zip(tmp_path, spec, valid_entries() + [RawEntry("x (1)" * 2000 + ".ipynb", b"x")])
    assert sub.fatal.endswith("is too long (10006 characters)")
    assert len(sub.fatal) < 200


def test_bomb_ratio_is_fatal(tmp_path, spec):
    entries = [e for e in valid_entries() if e.name != CNN] + [bomb_entry(CNN, 4)]
    sub = fatal_zip(tmp_path, spec, entries)
    assert sub.fatal.startswith(f"zip bomb: entry `{CNN}` inflates ")
    assert sub.fatal.endswith("times (the limit is 200)")


def test_bomb_among_extras_is_fatal_too(tmp_path, spec):
    assert fatal_zip(tmp_path, spec, valid_entries() + [bomb_entry("data.bin", 4)]).fatal.startswith("zip bomb")


def test_small_blank_files_are_not_bombs(tmp_path, spec):
    z = raw_zip(tmp_path / "in" / "abc1234.zip", valid_entries() + [RawEntry("blank.txt", b"\x00" * 500_000)])
    sub = run(tmp_path, z, spec)
    assert sub.fatal is None and sub.extra == ("blank.txt",)


def test_header_lying_low_writes_no_more_than_declared(tmp_path, spec):
    # declares 1000 bytes; inflates to 4 MiB: zipfile stops at 1000 and the CRC does not match
    entries = [e for e in valid_entries() if e.name != CNN] + [bomb_entry(CNN, 4, declared_size=1000)]
    sub = fatal_zip(tmp_path, spec, entries)
    assert sub.fatal.startswith(f"corrupt zip: entry `{CNN}` cannot be read")


def test_header_lying_low_with_matching_crc_is_cut(tmp_path, spec):
    import zlib
    lie = bomb_entry(CNN, 4, declared_size=1000)
    lie.declared_crc = zlib.crc32(b"\x00" * 1000)
    entries = [e for e in valid_entries() if e.name != CNN] + [lie]
    sub = run(tmp_path, raw_zip(tmp_path / "in" / "abc1234.zip", entries), spec)
    assert sub.fatal is None
    assert (tmp_path / "scratch" / CNN).stat().st_size == 1000  # only the declared bytes, never 4 MiB
    assert not sub.file(CNN).valid


def test_real_bytes_are_counted_even_when_zipfile_would_not_stop(tmp_path, spec, monkeypatch):
    """Defence in depth: if the decompressor ever returned more than declared, the copy stops."""
    class Endless:
        def read(self, n):
            return b"\x00" * n
        def __enter__(self):
            return self
        def __exit__(self, *a):
            return False
    z = make_submission(tmp_path / "in")
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open",
                        lambda self, info, *a, **k: Endless() if getattr(info, "filename", info) == CNN
                        else real_open(self, info, *a, **k))
    sub = run(tmp_path, z, spec)
    assert sub.fatal == f"zip bomb: entry `{CNN}` holds more data than its header says"


def test_corrupt_data_is_fatal_and_removes_partial_files(tmp_path, spec):
    entries = valid_entries()
    z = raw_zip(tmp_path / "in" / "abc1234.zip", entries)
    data = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("seq_classification.ipynb")  # the last one extracted
    start = info.header_offset + 30 + len(info.filename)
    for i in range(start + 5, start + 40):
        data[i] ^= 0x5A
    z.write_bytes(bytes(data))
    sub = run(tmp_path, z, spec)
    assert sub.fatal.startswith("corrupt zip: entry `seq_classification.ipynb` cannot be read")
    assert sub.files == ()


@pytest.mark.parametrize("content, start", [
    (b"", "not a readable zip file"),
    (b"this is not a zip at all" * 10, "not a readable zip file"),
    (minimal_pdf("x"), "not a readable zip file"),
])
def test_not_a_zip(tmp_path, spec, content, start):
    z = tmp_path / "in" / "abc1234.zip"
    z.parent.mkdir()
    z.write_bytes(content)
    sub = run(tmp_path, z, spec)
    assert sub.fatal.startswith(start)
    assert sub.sha256 == hashlib.sha256(content).hexdigest()


def test_truncated_zip(tmp_path, spec):
    z = make_submission(tmp_path / "in")
    z.write_bytes(z.read_bytes()[:-300])
    sub = run(tmp_path, z, spec)
    assert sub.fatal.startswith("not a readable zip file")


def test_too_many_entries(tmp_path, spec):
    entries = valid_entries() + [RawEntry(f"junk/{i}.txt", b"", deflate=False) for i in range(3000)]
    sub = fatal_zip(tmp_path, spec, entries)
    assert sub.fatal == "too many entries: more than 200"


def test_too_many_entries_without_the_fast_count(tmp_path, spec, monkeypatch):
    monkeypatch.setattr(intake, "_declared_entry_count", lambda *a: None)
    entries = valid_entries() + [RawEntry(f"junk/{i}.txt", b"", deflate=False) for i in range(300)]
    assert fatal_zip(tmp_path, spec, entries).fatal == "too many entries: 305 (the limit is 200)"


def test_zip_over_max_zip_mb(tmp_path, spec):
    small = dataclasses.replace(spec, limits=ZipLimits(max_zip_mb=0.001))
    sub = run(tmp_path, make_submission(tmp_path / "in"), small)
    assert sub.fatal.startswith("the zip is too large:")
    assert sub.sha256 == ""


def test_file_over_max_file_mb(tmp_path, spec):
    small = dataclasses.replace(spec, limits=ZipLimits(max_file_mb=0.01))
    z = make_submission(tmp_path / "in", extra={"weights.pt": bytes(range(256)) * 100})
    sub = run(tmp_path, z, small)
    assert sub.fatal == "entry `weights.pt` is too large: 0.0 MiB (the limit is 0.01 MiB)"


def test_total_over_max_total_mb(tmp_path, spec):
    small = dataclasses.replace(spec, limits=ZipLimits(max_total_mb=0.002))
    sub = run(tmp_path, make_submission(tmp_path / "in"), small)
    assert sub.fatal.startswith("the files add up to")


# --------------------------------------------------------------------------- documents


def test_invalid_notebook_json_is_a_file_problem(tmp_path, spec):
    files = default_files()
    files[CNN] = b'{"cells": [ not json'
    sub = run(tmp_path, make_submission(tmp_path / "in", files=files), spec)
    assert sub.fatal is None and sub.naming_ok
    f = sub.file(CNN)
    assert f.present and not f.valid and f.detail == "not a notebook: the file is not valid JSON"
    p = problem_for(sub, CNN)
    assert p.message == f"`{CNN}` is unusable: not a notebook: the file is not valid JSON"
    assert p.fix.startswith(f"download `{CNN}` again")
    assert sub.file("hw2_rnn.ipynb").valid


def test_notebook_failing_the_schema(tmp_path, spec):
    files = default_files()
    files[CNN] = b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"cell_type": "code"}]}'
    sub = run(tmp_path, make_submission(tmp_path / "in", files=files), spec)
    f = sub.file(CNN)
    assert not f.valid and f.detail.startswith("not a valid notebook:")
    assert "\n" not in f.detail


def test_check_document_kinds(tmp_path):
    def write(name, data):
        p = tmp_path / name
        p.write_bytes(data)
        return p

    nb = check_notebook(write("a.ipynb", to_bytes(minimal_notebook(["a", "b"]))))
    assert (nb.valid, nb.detail, nb.cells) == (True, "2 cells", 2)
    assert check_notebook(write("e.ipynb", b"")).detail == "the notebook file is empty"
    assert check_notebook(write("p.ipynb", minimal_pdf())).detail == "not a notebook: the file is a PDF"
    assert check_notebook(write("u.ipynb", b"{\xff\xfe}")).valid is False

    ok = check_pdf(write("ok.pdf", minimal_pdf("A long enough answer to question one.", pages=2)))
    assert (ok.valid, ok.pages, ok.has_text, ok.detail, ok.notes) == (True, 2, True, "2 pages", ())
    scan = check_pdf(write("scan.pdf", image_only_pdf()))
    assert scan.valid and scan.has_text is False and scan.detail == "1 page, no extractable text"
    assert scan.notes[0].message == "scanned or image-only PDF: the TA may not be able to search it"
    assert check_pdf(write("zero.pdf", zero_page_pdf())).detail == "the PDF has no pages"
    assert check_pdf(write("empty.pdf", b"")).detail == "the PDF file is empty (0 bytes)"
    assert check_pdf(write("docx.pdf", DOCX_BYTES)).detail == "not a PDF: the file is a Word document (.docx) renamed to .pdf"
    assert check_pdf(write("doc.pdf", DOC_BYTES)).detail == "not a PDF: the file is an old Word/Office document (.doc) renamed to .pdf"
    assert check_pdf(write("t.pdf", b"hello")).detail == "not a PDF: the file does not start with %PDF"
    assert check_pdf(write("bad.pdf", b"%PDF-1.4\ngarbage\n")).valid is False
    assert check_document(write("x.bin", b""), "other").valid is False
    assert check_document(write("y.bin", b"1"), "other").detail == "1 bytes"


def test_zipfactory_documents_are_what_they_claim():
    import io

    import nbformat
    from pypdf import PdfReader
    reader = PdfReader(io.BytesIO(minimal_pdf("Answer (a): 9 x 13\nAnswer (b)", pages=2)), strict=True)
    assert len(reader.pages) == 2
    assert reader.pages[0].extract_text().splitlines()[:2] == ["Answer (a): 9 x 13", "Answer (b)"]
    assert PdfReader(io.BytesIO(image_only_pdf()), strict=True).pages[0].extract_text() == ""
    nb = nbformat.reads(to_bytes(minimal_notebook(["a = 1", "b = 2"], markdown="# title")).decode(), as_version=4)
    nbformat.validate(nb)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code"]


def test_image_only_pdf_is_valid_with_a_problem(tmp_path, spec):
    files = default_files()
    files["hw2_theory.pdf"] = image_only_pdf(3)
    sub = run(tmp_path, make_submission(tmp_path / "in", files=files), spec)
    f = sub.file("hw2_theory.pdf")
    assert f.valid and f.detail == "3 pages, no extractable text"
    p = problem_for(sub, "hw2_theory.pdf")
    assert p.message == "scanned or image-only PDF: the TA may not be able to search it"
    assert sub.naming_ok


def test_word_file_renamed_to_pdf(tmp_path, spec):
    files = default_files()
    files["hw2_theory.pdf"] = DOCX_BYTES
    sub = run(tmp_path, make_submission(tmp_path / "in", files=files), spec)
    f = sub.file("hw2_theory.pdf")
    assert not f.valid and "Word document" in f.detail
    assert problem_for(sub, "hw2_theory.pdf").fix.startswith("export your answers as a PDF named `hw2_theory.pdf`")
