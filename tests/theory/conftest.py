"""PDFs made once per test session (rendering takes about a second each)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.theory import pdfs


needs_seeds = pytest.mark.skipif(not pdfs.has_seeds(), reason=f"the seed write-ups are not in {pdfs.SEEDS}")


@pytest.fixture(scope="session")
def pdf_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("theory-pdfs")
    if pdfs.has_seeds():
        pdfs.render(pdfs.latex_look(pdfs.seed_text("000")), d / "000.pdf")
        pdfs.render(pdfs.latex_look(pdfs.planted(pdfs.seed_text("000"))), d / "000_wrong.pdf")
        pdfs.render(pdfs.seed_text("002"), d / "002.pdf")  # LaTeX source kept as text (a Markdown export)
    pdfs.render(pdfs.SHEET_2022, d / "sheet2022.pdf")
    pdfs.render(pdfs.planted(pdfs.SHEET_2022, pdfs.SHEET_2022_WRONG), d / "sheet2022_wrong.pdf")
    pdfs.render(pdfs.SHEET_2025, d / "sheet2025.pdf")
    pdfs.scanned(d / "scan.pdf")
    pdfs.broken(d / "broken.pdf")
    pdfs.encrypted(d / "sheet2025.pdf", d / "encrypted.pdf")
    return d


# A theory-only assignment: the 2022 key, one PDF, two hand-graded items; no notebooks, so
# grading needs no sandbox.
REGISTRY = """\
id: theory-demo
title: Theory demo
max_score: 52
deadline: {at: "2022-03-03 23:59", timezone: America/New_York}
submission:
  zip_pattern: '(?P<student>[a-z]+[0-9]+)\\.zip'
  zip_example: abc1234.zip
  files:
    - {name: hw2_theory.pdf, kind: pdf}
manual:
  - {id: theory, points: 50, file: hw2_theory.pdf, description: "Theory answers"}
  - {id: moe.bonus, points: 2, description: "bonus"}
theory:
  layout: denominator
  conv2d: {input: [10, 11], kernel: 5, stride: 2, padding: 0, general_kernel: square}
  conv1d: {channels: 2, length: 7, kernel: 5, stride: 2}
  gated_rnn: true
  loss_curves: {classes: 4}
  ids: {gated_rnn_diagram: "1.2(a)", gated_rnn_gate_dimension: "1.2(b)", gated_rnn_step_jacobians: null,
        gated_rnn_grad_wx: "1.2(c)", gated_rnn_gradient_stability: "1.2(d)", loss_spikes_cause: "1.3(1)",
        loss_spikes_above_initial: "1.3(2)", loss_spikes_fixes: "1.3(3)", initial_loss_accuracy: "1.3(4)"}
  points: {"1.1(a)": 2, "1.1(b)": 3, "1.1(c)(i)": 2, "1.1(c)(ii)": 4, "1.1(c)(iii)": 4, "1.1(c)(iv)": 5,
           "1.2(a)": 5, "1.2(b)": 2, "1.2(c)": 10, "1.2(d)": 3, "1.3(1)": 2, "1.3(2)": 2, "1.3(3)": 3, "1.3(4)": 3}
"""


@pytest.fixture(scope="session")
def registry_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("registry")
    (d / "theory-demo.yaml").write_text(REGISTRY)
    # a course package of its own that borrows the shipped course's theory key
    (d / "course.yaml").write_text(f"name: {d.name}\ntheory_key: {{answers: 'nyu_dl_hw2.theory_key:answer_key', "
                                   "items: 'nyu_dl_hw2.theory_key:theory_items'}\n")
    return d


@pytest.fixture(scope="session")
def batch_dir(tmp_path_factory, pdf_dir) -> Path:
    """Three submissions: our 2022 sheet, its planted-wrong copy, a scan."""
    import zipfile

    d = tmp_path_factory.mktemp("subs")
    for student, pdf in (("abc123", "sheet2022.pdf"), ("def456", "sheet2022_wrong.pdf"), ("ghi789", "scan.pdf")):
        with zipfile.ZipFile(d / f"{student}.zip", "w") as zf:
            zf.write(pdf_dir / pdf, "hw2_theory.pdf")
    return d


def manual_csv(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "manual.csv"
    p.write_text(textwrap.dedent(body))
    return p
