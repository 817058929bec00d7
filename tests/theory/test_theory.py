"""`grader theory` on PDFs made here: the two seed write-ups, planted wrong answers, a
LaTeX-like 2025 sheet, a scan, a broken and an encrypted PDF; the readers one by one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import registry
from grader.cli import main
from nyu_dl_hw2.theory_key import KeyConfigError, answer_key, theory_items
from grader.theory import check_pdf, read_pdf
from grader.theory import parse
from grader.theory.judge import check_text
from grader.theory.pdftext import PdfText
from grader.theory.spec import ItemSpec
from grader.theory.text import Document, locate, normalise

from .conftest import needs_seeds

JSON_KEYS = {"assignment", "file", "has_text", "items", "suggested_total", "max_points"}
ITEM_KEYS = {"id", "question", "status", "expected", "found", "page", "points", "suggested_points", "note"}


def run(pdf: Path, term: str):
    a = registry.load(f"nyu-dl-hw2-{term}", [])
    return check_pdf(pdf, theory_items(a.theory), a.id)


def statuses(report) -> dict[str, str]:
    return {i.id: i.status for i in report.items}


# --------------------------------------------------------------------------- seeds


@needs_seeds
def test_seed_000_spring_2022_matches_a_careful_reading(pdf_dir):
    r = run(pdf_dir / "000.pdf", "2022")
    assert r.has_text
    assert statuses(r) == {
        "1.1(a)": "right", "1.1(b)": "right", "1.1(c)(i)": "right", "1.1(c)(ii)": "right",
        "1.1(c)(iii)": "right", "1.1(c)(iv)": "right", "1.2(a)": "by-hand", "1.2(b)": "right",
        "1.2(c)": "right", "1.2(d)": "by-hand", "1.3(1)": "by-hand", "1.3(2)": "by-hand", "1.3(3)": "by-hand",
        "1.3(4)": "right"}
    items = {i.id: i for i in r.items}
    assert "3 x 4" in items["1.1(a)"].note and items["1.1(a)"].page == 1
    # ∂ℓ/∂W written R^{5 x 2} for W's 1 x 2 x 5: the right sizes transposed, half the points suggested
    assert "another axis order" in items["1.1(c)(iv)"].note and items["1.1(c)(iv)"].suggested_points == 2.5
    assert "1.3 Debugging" in items["1.3(1)"].found  # unlabelled answer: the passage is still shown
    assert r.max_points == 50 and r.suggested_total == 32.5


@needs_seeds
def test_seed_000_with_planted_wrong_answers(pdf_dir):
    r = statuses(run(pdf_dir / "000_wrong.pdf", "2022"))
    assert [k for k, v in r.items() if v == "wrong"] == ["1.1(a)", "1.1(b)", "1.1(c)(ii)", "1.2(b)", "1.3(4)"]


@needs_seeds
def test_seed_002_spring_2021_latex_source_as_text(pdf_dir):
    r = run(pdf_dir / "002.pdf", "2021")
    assert statuses(r) == {
        "1.1(a)": "right", "1.1(b)": "right", "1.1(c)(i)": "right", "1.1(c)(ii)": "right",
        "1.1(c)(iii)": "right", "1.1(c)(iv)": "right", "1.2(a)": "by-hand", "1.2(b)": "right",
        "1.2(c)": "right", "1.2(d)": "by-hand"}
    items = {i.id: i for i in r.items}
    # Every term asks for numerator layout, and the key now uses it: the student's matches.
    assert "layout" not in items["1.1(c)(ii)"].note
    assert "n x m" in items["1.2(c)"].note  # the transpose, accepted


def test_own_2022_sheet_right_and_planted_wrong(pdf_dir):
    assert set(statuses(run(pdf_dir / "sheet2022.pdf", "2022")).values()) == {"right", "by-hand"}
    wrong = statuses(run(pdf_dir / "sheet2022_wrong.pdf", "2022"))
    assert [k for k, v in wrong.items() if v == "wrong"] == ["1.1(a)", "1.2(b)"]


def test_latex_like_2025_sheet(pdf_dir):
    r = run(pdf_dir / "sheet2025.pdf", "2025")
    s = statuses(r)
    assert s["1.1(a)"] == "right"  # 9x13
    assert s["1.1(b)"] == "right"  # \lfloor ... D·H_K + D ... \rfloor and ⌊ ⌋
    assert s["1.1(c)(ii)"] == "right" and s["1.1(c)(iii)"] == "right"  # R^{5×(1×7×3)}, R^{(1×5)×(7×11)}
    assert s["1.2.1(b)"] == "wrong"  # c[t] ∈ R^n
    assert s["1.2.1(d)"] == "not-found"  # no label for it
    assert s["1.2.2(a)"] == "right" and s["1.3(d)"] == "right"  # R^3; ln 4 and 25 %
    assert s["1.2.1(a)"] == "by-hand"


# --------------------------------------------------------------------------- bad PDFs


@pytest.mark.parametrize("name, words", [("scan.pdf", "scanned"), ("broken.pdf", "cannot be read"),
                                         ("encrypted.pdf", "password")])
def test_unreadable_pdfs_are_by_hand_with_one_reason(pdf_dir, name, words):
    r = run(pdf_dir / name, "2025")
    assert not r.has_text and words in r.reason
    assert {i.status for i in r.items} == {"by-hand"} and r.suggested_total == 0
    res = CliRunner().invoke(main, ["theory", str(pdf_dir / name)])
    assert res.exit_code == 1 and res.output.count(words) == 1, res.output


def test_not_a_pdf_and_zip_input(pdf_dir, tmp_path):
    import zipfile

    fake = tmp_path / "x.pdf"
    fake.write_bytes(b"PK\x03\x04 not a pdf")
    assert read_pdf(fake).status == "broken"
    z = tmp_path / "abc1234.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.write(pdf_dir / "sheet2025.pdf", "abc1234/hw2_theory.pdf")
    res = CliRunner().invoke(main, ["theory", str(z), "--json"])
    data = json.loads(res.output)
    assert data["file"] == "abc1234.zip" and data["has_text"]
    assert {i["id"]: i["status"] for i in data["items"]}["1.1(a)"] == "right"


def test_json_shape_exactly(pdf_dir):
    res = CliRunner().invoke(main, ["theory", str(pdf_dir / "sheet2022.pdf"), "-a", "nyu-dl-hw2-2022", "--json"])
    assert res.exit_code == 0, res.output  # nothing wrong or missing among the checkable answers
    data = json.loads(res.output)
    assert set(data) == JSON_KEYS and data["assignment"] == "nyu-dl-hw2-2022" and data["file"] == "sheet2022.pdf"
    assert all(set(i) == ITEM_KEYS for i in data["items"])
    assert {i["status"] for i in data["items"]} == {"right", "by-hand"}
    assert data["suggested_total"] == 35 and data["max_points"] == 50
    assert all(i["suggested_points"] is None for i in data["items"] if i["status"] == "by-hand")


def test_console_table_and_exit_1_on_wrong(pdf_dir):
    res = CliRunner().invoke(main, ["theory", str(pdf_dir / "sheet2022_wrong.pdf"), "-a", "nyu-dl-hw2-2022"])
    assert res.exit_code == 1 and "wrong" in res.output and "1.1(a)" in res.output


# --------------------------------------------------------------------------- readers


def test_glyphs_survive_the_pdf(pdf_dir, tmp_path):
    from tests.theory import pdfs

    line = "f_W(x) ∈ ℝ^{5×(1×7×3)}, ⌊(H + 2P − D(K − 1) − 1)/S⌋ + 1, ∂ℓ/∂W, σ ⊙ h"
    text = read_pdf(pdfs.render(line, tmp_path / "g.pdf")).pages[0]
    assert line in text


@pytest.mark.parametrize("text, sizes", [("9 × 13", (9, 13)), ("9x13", (9, 13)), ("9 by 13", (9, 13)),
                                         ("9 * 13", (9, 13)), ("1 × 9 × 13", (1, 9, 13))])
def test_dims(text, sizes):
    assert [c.value for c in parse.find_dims(text)] == [sizes]


@pytest.mark.parametrize("text, sizes, blocks", [
    ("∈ R^{5×(1×7×3)}", (5, 1, 7, 3), ((5,), (1, 7, 3))),
    ("∈ R1×5×1×7×3", (1, 5, 1, 7, 3), None),
    ("c ∈ R^m", ("m",), None),
    ("∈ R^{(2 × 1) × (5 × 2)}", (2, 1, 5, 2), ((2, 1), (5, 2))),
    (r"\in \mathbb{R}^{m \times n}", ("m", "n"), None),
])
def test_shapes(text, sizes, blocks):
    (c,) = parse.find_shapes(normalise(text))
    assert c.value == sizes and c.blocks == blocks


def test_no_shape_in_words():
    assert parse.find_shapes("the RNN and GRU Recurrent layers") == []


FORMULA = ItemSpec(id="1.1(b)", question="q", kind="formula", points=3,
                   expected="floor((H + 2P - D(K - 1) - 1)/S) + 1",
                   variables={"H": (), "P": (), "D": (), "K": ("k",), "S": ()},
                   ranges={"H": (20, 80), "P": (0, 3), "D": (1, 3), "K": (1, 7), "S": (1, 5)})


@pytest.mark.parametrize("text, status, note", [
    ("H_out = ⌊(H + 2P − D(K−1) − 1)/S⌋ + 1", "right", ""),
    (r"H_out = \lfloor \frac{H + 2P - D \cdot K + D - 1}{S} \rfloor + 1", "right", ""),
    ("size floor((H + 2P - (D(K-1)+1))/S + 1)", "right", ""),
    (r"\lfloor \frac{H - [D \times (K-1) + 1] + 2P}{S} + 1 \rfloor", "right", ""),
    ("H_out = (H + 2P − D(K−1) − 1)/S + 1", "wrong", "but for the floor"),
    ("H_out = ⌊(H + 2P − K)/S⌋ + 1", "wrong", "agrees at"),
    ("H_out = ⌊(H + 2P − DK − 1)/S⌋ + 1", "wrong", ""),
])
def test_formula_compared_by_value(text, status, note):
    pdf = PdfText((f"1.1 (b) {text}. The end.",), "ok")
    (item,) = check_text(pdf, [FORMULA], "demo", "x.pdf").items
    assert item.status == status, item
    assert note in item.note
    assert item.suggested_points == (3 if status == "right" else 0)


def test_formula_text_is_never_evaluated_as_python():
    with pytest.raises(parse.FormulaError):
        parse.parse_formula("__import__('os').system('true')", {"H": "H"}, {"H"})


def test_numbers_percent_fraction_log():
    got = sorted(round(c.value, 4) for c in parse.find_numbers("accuracy 25%, 1/4; loss ln 4 or log(4)"))
    assert got.count(0.25) == 2 and got.count(1.3863) == 2


def test_locate_labels_in_order_not_in_formulas():
    doc = Document.from_pages(["1.1 (a) x = f(a) 3x4\n(b) g(b) more\n1.2 (a) the other (a)\n(b) end"])
    ps = locate(doc, ["1.1(a)", "1.1(b)", "1.2(a)", "1.2(b)"])
    assert [doc.text[p.start:p.body] for p in ps] == ["1.1 (a)", "(b)", "1.2 (a)", "(b)"]
    assert "3x4" in doc.text[ps[0].body:ps[0].end] and "1.2" not in doc.text[ps[0].body:ps[0].end]


# --------------------------------------------------------------------------- key


def test_key_points_validated():
    block = {"conv2d": {"input": [10, 11], "kernel": 5, "stride": 2}, "points": {"1.1(z)": 2}}
    with pytest.raises(KeyConfigError, match="points.1.1"):
        answer_key(block)
    with pytest.raises(KeyConfigError, match=">= 0"):
        answer_key({"conv2d": {"input": [10, 11], "kernel": 5}, "points": {"1.1(a)": -1}})


@pytest.mark.parametrize("term", ["2021", "2022", "2025"])
def test_every_term_points_add_to_50(term):
    a = registry.load(f"nyu-dl-hw2-{term}", [])
    assert sum(s.points for s in theory_items(a.theory)) == 50


def test_sizes_said_in_words_and_percent_words():
    assert [c.value for c in parse.find_plain_dims("c[t] has dimension m; a[t] is of size 3")] == [("m",), (3,)]
    assert [c.value for c in parse.find_numbers("accuracy at 25 percent")] == [0.25]


def test_the_example_submissions_pdf(tmp_path):
    res = CliRunner().invoke(main, ["theory", "examples/abc1234.zip", "--json"])
    s = {i["id"]: i["status"] for i in json.loads(res.output)["items"]}
    assert [k for k, v in s.items() if v == "right"] == ["1.1(a)", "1.1(b)", "1.1(c)(i)", "1.2.1(b)", "1.2.2(a)"]
    assert s["1.1(c)(ii)"] == "not-found"  # the example PDF answers only some questions
