"""The HW2 reference notebooks, theory PDF and full-score zip are well formed."""

from __future__ import annotations

import ast
import io
import zipfile

import nbformat
import pytest
from pypdf import PdfReader

from nyu_dl_hw2.reference.hw2 import notebooks as nbmod
from nyu_dl_hw2.reference.hw2 import (
    NOTEBOOK_NAMES,
    SUBMISSION_FILES,
    provided_sources,
    solution_notebooks,
    starter_notebooks,
    theory_pdf_bytes,
    write_solution_zip,
    write_solutions,
    write_starters,
)

EXPECTED_NAMES = {"hw2_moe.ipynb", "hw2_cnn.ipynb", "hw2_rnn.ipynb", "seq_classification.ipynb"}


@pytest.fixture(scope="module")
def solutions():
    return solution_notebooks()


@pytest.fixture(scope="module")
def starters():
    return starter_notebooks()


def test_names(solutions, starters):
    assert set(NOTEBOOK_NAMES) == EXPECTED_NAMES
    assert set(solutions) == EXPECTED_NAMES
    assert set(starters) == EXPECTED_NAMES
    assert set(SUBMISSION_FILES) == EXPECTED_NAMES | {"hw2_theory.pdf"}


@pytest.mark.parametrize("which", ["solutions", "starters"])
def test_valid_nbformat_v4_and_round_trip(which, request):
    nbs = request.getfixturevalue(which)
    for name, nb in nbs.items():
        assert nb.nbformat == 4
        nbformat.validate(nb)
        again = nbformat.reads(nbformat.writes(nb), as_version=4)
        nbformat.validate(again)
        assert [c.source for c in again.cells] == [c.source for c in nb.cells], name
        ids = [c.id for c in nb.cells]
        assert len(ids) == len(set(ids)), name
        for cell in nb.cells:
            # every code cell is valid Python, but the hw2_moe handout's training cell (`criterion = # TODO`)
            if cell.cell_type == "code" and "= # TODO" not in cell.source:
                ast.parse(_strip_magics(cell.source))


def _strip_magics(src: str) -> str:
    return "\n".join(
        (line[: len(line) - len(line.lstrip())] + "pass") if line.lstrip().startswith(("!", "%")) else line
        for line in src.splitlines()
    )


def test_builds_are_deterministic():
    a = {k: nbformat.writes(v) for k, v in solution_notebooks().items()}
    b = {k: nbformat.writes(v) for k, v in solution_notebooks().items()}
    assert a == b
    assert theory_pdf_bytes() == theory_pdf_bytes()


def test_provided_cells_are_the_same_in_starter_and_solution(solutions, starters):
    for name in NOTEBOOK_NAMES:
        for sol, st in zip(solutions[name].cells, starters[name].cells):
            tags = sol.metadata.get("tags", [])
            assert st.metadata.get("tags", []) == tags
            if "provided" in tags:
                assert sol.source == st.source


def test_provided_sources():
    ps = provided_sources()
    assert set(ps) == EXPECTED_NAMES
    rnn = ps["hw2_rnn.ipynb"]
    for key in ("N", "idx_to_onehot", "EchoDataset", "DELAY", "DATASET_SIZE", "test_model",
                "VariableDelayEchoDataset", "test_variable_delay_model", "MAX_DELAY", "SEQ_LENGTH"):
        assert key in rnn, key
    seq = ps["seq_classification.ipynb"]
    for key in ("TemporalOrderExp6aSequence", "SimpleLSTM", "torch.manual_seed", "pad_sequences"):
        assert key in seq, key
    assert seq["torch.manual_seed"] == "torch.manual_seed(1)"
    assert "np.unicode_" in seq["pad_sequences"]  # the 2025 quirk, kept on purpose
    assert rnn["DELAY"] == "DELAY = 4"
    for defs in ps.values():
        for src in defs.values():
            ast.parse(src)
    # the student-written parts are not "provided"
    assert "GRUMemory" not in rnn and "train_model" not in rnn
    assert "train" not in seq and "train_and_test" not in seq


def test_interfaces_in_solution_sources(solutions):
    def defined(nb):
        names = set()
        for c in nb.cells:
            if c.cell_type == "code":
                for node in ast.parse(_strip_magics(c.source)).body:
                    if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                        names.add(node.name)
        return names

    assert {"CNN", "get_loss_and_correct", "step"} <= defined(solutions["hw2_cnn.ipynb"])
    assert {"GRUMemory", "train_model", "VariableDelayGRUMemory", "train_variable_delay_model",
            "EchoDataset", "VariableDelayEchoDataset", "test_model", "test_variable_delay_model",
            "idx_to_onehot"} <= defined(solutions["hw2_rnn.ipynb"])
    assert {"Expert", "GatingNetwork", "MixtureOfExperts", "generate_data"} <= defined(solutions["hw2_moe.ipynb"])
    assert {"TemporalOrderExp6aSequence", "SimpleLSTM", "train", "test", "train_and_test"} <= defined(
        solutions["seq_classification.ipynb"])
    cnn_src = "\n".join(c.source for c in solutions["hw2_cnn.ipynb"].cells)
    for needed in ("criterion = torch.nn.CrossEntropyLoss()", "optimizer = torch.optim.Adam(",
                   "model = CNN().to(device)", "!wget"):
        assert needed in cnn_src
    moe_src = "\n".join(c.source for c in solutions["hw2_moe.ipynb"].cells)
    assert "nn.BCELoss()" in moe_src and "lr_scheduler" in moe_src
    seq_src = "\n".join(c.source for c in solutions["seq_classification.ipynb"].cells)
    assert "clip_grad_norm_" in seq_src and "RMSprop(model.parameters(), lr=0.001)" in seq_src


def test_starters_have_todos_and_keep_the_course_procedure(starters, solutions):
    for name in NOTEBOOK_NAMES:
        st_src = "\n".join(c.source for c in starters[name].cells)
        assert "TODO" in st_src, name
    seq_st = "\n".join(c.source for c in starters["seq_classification.ipynb"].cells)
    assert "clip_grad_norm_" not in seq_st and "lr_scheduler" not in seq_st
    assert "np.unicode_" in seq_st
    for name in NOTEBOOK_NAMES:
        for c in solutions[name].cells:
            if "student" in c.metadata.get("tags", []):
                assert "TODO" not in c.source and "NotImplementedError" not in c.source, name


def test_theory_pdf_has_text():
    reader = PdfReader(io.BytesIO(theory_pdf_bytes()))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Homework 2" in text and "9 x 13" in text and "(reference submission)" in text


def test_solution_zip(tmp_path):
    path = write_solution_zip(tmp_path / "abc1234.zip")
    assert path == tmp_path / "abc1234.zip"
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == sorted(EXPECTED_NAMES | {"hw2_theory.pdf"})
        assert zf.testzip() is None
        for name in EXPECTED_NAMES:
            nbformat.validate(nbformat.reads(zf.read(name).decode(), as_version=4))
        assert "Homework 2" in PdfReader(io.BytesIO(zf.read("hw2_theory.pdf"))).pages[0].extract_text()
        assert all(i.date_time == nbmod.DEFAULT_ZIP_TIME for i in zf.infolist())
    # a folder: the zip is named after the net id
    other = write_solution_zip(tmp_path, net_id="xy987")
    assert other.name == "xy987.zip" and other.read_bytes() == path.read_bytes()


def test_write_starters_and_solutions(tmp_path):
    paths = write_starters(tmp_path / "starters")
    assert sorted(p.name for p in paths) == sorted(EXPECTED_NAMES)
    for p in paths:
        nbformat.validate(nbformat.read(p, as_version=4))
    sol = write_solutions(tmp_path / "solutions")
    assert sorted(p.name for p in sol) == sorted(EXPECTED_NAMES | {"hw2_theory.pdf"})


def test_package_import_does_not_pull_torch():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = "import sys, nyu_dl_hw2.reference.hw2, nyu_dl_hw2.reference.hw2.data; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True)
