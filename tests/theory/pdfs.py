"""Test PDFs made here: the seed write-ups rendered with their math as text, planted wrong
answers, a LaTeX-like 2025 answer sheet, a scan (image only), a broken and an encrypted PDF.

Rendered with matplotlib's PDF backend and DejaVu Sans embedded as TrueType (fonttype 42),
which has every glyph the answers use (×, ∈, ℝ, ⌊ ⌋, ∂, −, ⊙) and lets pypdf read them back.
"""

from __future__ import annotations

import glob
import os
import re
import textwrap
from pathlib import Path

SEEDS = Path(os.environ.get("HW2_GRADER_SEEDS", "/work/shared/seeds"))  # real write-ups: not in the repo
WIDTH, LINES = 92, 52


def has_seeds() -> bool:
    return all(glob.glob(str(SEEDS / f"{p}_*.txt")) for p in ("000", "002"))


def seed_text(prefix: str) -> str:
    return Path(glob.glob(str(SEEDS / f"{prefix}_*.txt"))[0]).read_text()


def latex_look(text: str) -> str:
    """Markdown+LaTeX source as a LaTeX-made PDF shows it: ℝ with raised sizes, ×, ⌊ ⌋, a/b."""
    for _ in range(5):
        text = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", text)
    reps = {r"\mathbb{R}": "ℝ", r"\times": "×", r"\lfloor": "⌊", r"\rfloor": "⌋", r"\partial": "∂",
            r"\in": "∈", r"\ell": "ℓ", r"\odot": "⊙", r"\sigma": "σ", r"\sum": "∑", r"\prod": "∏",
            r"\approx": "≈", r"\ge": "≥", r"\cdot": "·", r"\log": "log", r"\hat": "", r"\left": "", r"\right": ""}
    for k, v in reps.items():
        text = text.replace(k, v)
    text = re.sub(r"\^\{([^{}]*)\}", r"\1", text)  # raised sizes lose their braces: ℝ2×1
    text = re.sub(r"\\begin\{[^}]*\}|\\end\{[^}]*\}|\\\\|\$|\*\*|&", " ", text)
    return text


def render(text: str, path: Path, per_page: int = LINES) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    lines: list[str] = []
    for para in text.split("\n"):
        lines += textwrap.wrap(para, WIDTH, break_long_words=False) or [""]
    with matplotlib.rc_context({"pdf.fonttype": 42, "font.family": "DejaVu Sans"}), PdfPages(path) as pdf:
        for start in range(0, max(len(lines), 1), per_page):
            fig = plt.figure(figsize=(8.5, 11))
            for i, line in enumerate(lines[start:start + per_page]):
                fig.text(0.06, 0.96 - i * 0.0178, line, fontsize=8.5, parse_math=False)
            pdf.savefig(fig)
            plt.close(fig)
    return path


def scanned(path: Path) -> Path:
    """A page that is only a picture of text (no text layer)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    src = plt.figure(figsize=(6, 2), dpi=100)
    src.text(0.05, 0.5, "1.1 (a) The output size is 9 × 13.", fontsize=14, parse_math=False)
    canvas = FigureCanvasAgg(src)
    canvas.draw()
    pixels = np.asarray(canvas.buffer_rgba())
    plt.close(src)
    fig = plt.figure(figsize=(8.5, 11))
    fig.figimage(pixels, 50, 600)
    fig.savefig(path, format="pdf")
    plt.close(fig)
    return path


def broken(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer garbage \x00\xff")
    return path


def encrypted(src: Path, path: Path) -> Path:
    from pypdf import PdfReader, PdfWriter

    w = PdfWriter()
    for page in PdfReader(str(src)).pages:
        w.add_page(page)
    w.encrypt("secret", algorithm="RC4-128")  # RC4: no extra crypto package needed
    with open(path, "wb") as f:
        w.write(f)
    return path


# --------------------------------------------------------------------------- answer sheets

SEED_000_WRONG = [  # (right text, planted wrong text): 1.1(a), 1.1(b), 1.1(c)(ii), 1.2(b), 1.3(4)
    ("Thus, the output dimension should be 3×4", "Thus, the output dimension should be 3×5"),
    (r"\lfloor \frac{H - [D \times (K-1) + 1] + 2P}{S} + 1 \rfloor", r"\lfloor \frac{H - D \times (K-1) + 2P}{S} + 1 \rfloor"),
    (r"\lfloor \frac{W - [D \times (K-1) + 1] + 2P}{S} + 1 \rfloor", r"\lfloor \frac{W - D \times (K-1) + 2P}{S} + 1 \rfloor"),
    (r"should be $\mathbb{R}^{2 \times 5 \times 2}$", r"should be $\mathbb{R}^{2 \times 5}$"),
    (r"$c \in \mathbb{R}^m$", r"$c \in \mathbb{R}^n$"),
    ("random guess is 0.25", "random guess is 0.5"),
    (r"\log(4) \approx 1.39", r"\log(2) \approx 0.69"),
]


def planted(text: str, swaps=SEED_000_WRONG) -> str:
    for right, wrong in swaps:
        assert right in text, right
        text = text.replace(right, wrong)
    return text


SHEET_2025 = """CSCI-GA 2572 Homework 2 (Spring 2025), answers of abc1234

Answer for 1.1 (a)
H_out = ⌊(19 + 2·1 − 4)/2⌋ + 1 = 9 and W_out = ⌊(26 + 2 − 4)/2⌋ + 1 = 13, so the output is 9x13.

Answer for 1.1 (b)
The output is F × H_out × W_out with
H_out = \\lfloor (H + 2P − D·H_K + D − 1)/S \\rfloor + 1,   W_out = ⌊(W + 2P − D(W_K − 1) − 1)/S⌋ + 1.

Answer for 1.1 (c)
(i) f_W(x) ∈ R^{1×5}, f_W(x)[1, i] = Σ_c Σ_k W[1, c, k] x[c, 2(i − 1) + k].
(ii) ∂f_W(x)/∂W ∈ R^{5×(1×7×3)} (numerator layout), entries x[c, 2(i−1)+k].
(iii) ∂f_W(x)/∂x ∈ R^{(1×5)×(7×11)}, W[1, c, j − 2(i − 1)] inside the window, else 0.
(iv) ∂ℓ/∂W ∈ R^{3×7}, a correlation of x with ∂ℓ/∂f_W(x).

Answer for 1.2.1 (a) see the diagram below.
Answer for 1.2.1 (b) c[t] ∈ R^n since it multiplies W_x x[t].
Answer for 1.2.1 (c) ∂h[t]/∂h[t−1] = diag(c[t]) + diag(h[t−1] − W_x x[t]) diag(c ⊙ (1 − c)) W_h.
Answer for 1.2.1 (e) Yes: products of Jacobians can vanish or explode.
Answer for 1.2.2 (a) a[t] ∈ R^3, one weight per attended vector.
Answer for 1.3 (d) The loss starts at ln 4 ≈ 1.386 and the accuracy at 25%.
"""
# 2025 sheet, by construction: 1.1(a) right (9x13), (b) right (D·H_K − D + 1 form), (c)(i) right,
# (ii) right (blocks), (iii) right, (iv) right but transposed (3x7: partial), 1.2.1(b) wrong (n),
# 1.2.1(d) not found (no label), 1.2.2(a) right, 1.3(d) right; the rest prose / not labelled.


# A Spring 2022 answer sheet of our own (the batch tests use it: no real write-up needed).
SHEET_2022 = r"""Homework 2, Spring 2022: theory answers
1.1 (a) The output is ⌊(10 − 5)/2⌋ + 1 = 3 by ⌊(11 − 5)/2⌋ + 1 = 4, so 3 × 4.
(b) F × H_out × W_out with H_out = ⌊(H + 2P − D(K − 1) − 1)/S⌋ + 1 and the same for W.
(c) (i) f_W(x) ∈ ℝ^{1×2}, f_W(x)[1, i] = Σ_c Σ_k W[1, c, k] x[c, 2(i − 1) + k].
(ii) ∂f_W(x)/∂W ∈ ℝ^{(1×2×5)×(1×2)}.
(iii) ∂f_W(x)/∂x ∈ ℝ^{(2×7)×(1×2)}.
(iv) ∂ℓ/∂W ∈ ℝ^{1×2×5}: a correlation of x with ∂ℓ/∂f_W(x), dilated by the stride.
1.2 (a) The diagram is on the next page.
(b) c[t] ∈ ℝ^m.
(c) ∂ℓ/∂W_x ∈ ℝ^{m×n}, a sum over t of (δ[t] ⊙ (1 − c[t])) x[t]^T.
(d) Yes, both: the Jacobian products can vanish or explode.
1.3 (1) Exploding gradients. (2) A huge step lands far away. (3) Clip the gradient norm.
(4) Before training the loss is ln 4 ≈ 1.386 and the accuracy 25 %.
"""
SHEET_2022_WRONG = [("so 3 × 4.", "so 4 × 5."), ("c[t] ∈ ℝ^m", "c[t] ∈ ℝ^n")]
