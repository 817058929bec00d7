from __future__ import annotations

import sys

from grader.report.plots import histogram_png

from .conftest import make_grade

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_histogram_is_a_png_and_deterministic(all_grades, tmp_path):
    a = histogram_png(all_grades, tmp_path / "a.png")
    b = histogram_png(list(all_grades), tmp_path / "sub" / "b.png")
    data = a.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000
    assert data == b.read_bytes()
    assert b"Software" not in data and b"matplotlib" not in data
    # no pyplot state left behind
    assert "matplotlib.pyplot" not in sys.modules or not sys.modules["matplotlib.pyplot"].get_fignums()


def test_empty_and_mixed_max_scores(tmp_path):
    assert histogram_png([], tmp_path / "e.png").read_bytes().startswith(PNG_MAGIC)
    mixed = [make_grade(), make_grade(max_score=50.0, score=25.0)]
    assert histogram_png(mixed, tmp_path / "m.png", title="ünïcode").read_bytes().startswith(PNG_MAGIC)


def test_importing_the_renderers_does_not_import_matplotlib():
    import subprocess

    code = "import sys, grader.report; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
