"""Support folders (registry `support:`), intake of a zip's own copy, and the stand-in `res/`
modules and notebook of 08-seq_classification.ipynb. No sandbox: a few seconds."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader import registry
from grader.errors import RegistryError
from grader.grading import place_support
from grader.intake import open_submission
from nyu_dl_hw2.reference.hw2 import nb_seq, nb_seq_class
from nyu_dl_hw2.reference.hw2._cells import STUDENT

from .conftest import HERE, NAME, ZIP_TIME, make_zip

SUPPORT = nb_seq_class.SUPPORT
COURSE_FILES = ["res/plot_lib.py", "res/sequential_tasks.py"]


def _yaml(folder: Path, text: str) -> Path:
    path = folder / "t.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- registry


def test_support_folder_is_relative_to_the_yaml_that_names_it(classnb, tmp_path):
    rule = classnb.file_rule(NAME)
    assert rule.support == (str(SUPPORT),)
    assert sorted(rule.support_files()) == COURSE_FILES
    # a file extending it from elsewhere keeps the base's folder
    rel = Path(*([".."] * (len(tmp_path.parts) - 1))) / HERE.relative_to(HERE.anchor) / "classnb.yaml"
    _yaml(tmp_path, f"extends: {rel.as_posix()}\nid: other\n")
    other = registry.load_file(tmp_path / "t.yaml")
    assert other.file_rule(NAME).support == (str(SUPPORT),)


def test_assignments_without_support_keep_their_hash():
    a = registry.load("nyu-dl-hw2-2025")
    assert all(r.support == () for r in a.submission.files)
    from grader.extends import load_merged

    assert a.registry_hash == registry.registry_hash(load_merged(Path(a.source))[0])


@pytest.mark.parametrize("entry, says", [
    ("{name: x.pdf, kind: pdf, support: [res]}", "only notebooks have support folders"),
    ("{name: a.ipynb, support: [nowhere]}", "no folder `nowhere`"),
    ("{name: a.ipynb, support: res}", "expected a list"),
    ("{name: a.ipynb, support: [res, sub/res]}", "two support folders named `res`"),
])
def test_bad_support_entries_are_named(tmp_path, entry, says):
    (tmp_path / "res").mkdir()
    (tmp_path / "sub" / "res").mkdir(parents=True)
    path = _yaml(tmp_path, "id: t\nmax_score: 5\ndeadline: {at: '2022-03-04 17:00', timezone: UTC}\n"
                           f"submission:\n  zip_pattern: '(?P<student>[a-z]+[0-9]+)\\.zip'\n  files:\n    - {entry}\n")
    with pytest.raises(RegistryError) as err:
        registry.load_file(path)
    assert says in str(err.value)


def test_the_support_folders_contents_are_in_the_registry_hash(tmp_path):
    shutil.copytree(SUPPORT, tmp_path / "res")
    text = ("id: t\nmax_score: 5\ndeadline: {at: '2022-03-04 17:00', timezone: UTC}\n"
            "submission:\n  zip_pattern: '(?P<student>[a-z]+[0-9]+)\\.zip'\n"
            "  files:\n    - {name: a.ipynb, support: [res]}\n")
    before = registry.load_file(_yaml(tmp_path, text)).registry_hash
    with open(tmp_path / "res" / "plot_lib.py", "a") as f:
        f.write("\n# changed\n")
    assert registry.load_file(tmp_path / "t.yaml").registry_hash != before


# ----------------------------------------------------------------------------- intake


def _open(classnb, zip_path: Path, tmp_path: Path):
    return open_submission(zip_path, classnb.submission, tmp_path / "scratch")


def test_a_zip_without_res_gets_the_course_copies(classnb, tmp_path):
    sub = _open(classnb, make_zip(tmp_path, nb_seq_class.solution_notebook()), tmp_path)
    assert sub.naming_ok and sub.support == () and not sub.problems
    work = tmp_path / "work"
    place_support(classnb.file_rule(NAME), sub.support, work)
    for name in COURSE_FILES:
        assert (work / name).read_bytes() == (SUPPORT.parent / name).read_bytes()


@pytest.mark.parametrize("wrapper", ["", "abc1234/"])
def test_a_zips_own_res_wins_file_by_file_and_costs_nothing(classnb, tmp_path, wrapper):
    own = b"# the student's own copy\n"
    path = tmp_path / "abc1234.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in {NAME: (HERE / "classnb.yaml").read_bytes(),  # any bytes: not inspected here
                           "res/sequential_tasks.py": own, "res/logo.png": b"\x89PNG",
                           "res/__pycache__/sequential_tasks.cpython-38.pyc": b"\0"}.items():
            zf.writestr(zipfile.ZipInfo(wrapper + name, date_time=ZIP_TIME), data)
    sub = open_submission(path, classnb.submission, tmp_path / "scratch", inspect=False)
    assert sub.extra == () and sub.fatal is None
    assert [(f.name, f.archive_name) for f in sub.support] == [("res/sequential_tasks.py",
                                                              wrapper + "res/sequential_tasks.py")]
    assert Path(sub.support[0].path) == tmp_path / "scratch" / "res" / "sequential_tasks.py"
    assert not (tmp_path / "scratch" / "res" / "logo.png").exists()  # only the course's file names
    work = tmp_path / "work"
    place_support(classnb.file_rule(NAME), sub.support, work)
    assert (work / "res/sequential_tasks.py").read_bytes() == own
    assert (work / "res/plot_lib.py").read_bytes() == (SUPPORT / "plot_lib.py").read_bytes()


def test_res_is_an_extra_where_no_notebook_declares_it(tmp_path):
    spec = registry.load("nyu-dl-hw2-2025").submission
    path = tmp_path / "abc1234.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("hw2_cnn.ipynb", "{}")
        zf.writestr("res/sequential_tasks.py", "x = 1\n")
    sub = open_submission(path, spec, tmp_path / "scratch", inspect=False)
    assert "res/sequential_tasks.py" in sub.extra and sub.support == ()


# ----------------------------------------------------------------------------- the stand-in res/


@pytest.fixture(scope="module")
def tasks():
    spec = importlib.util.spec_from_file_location("standin_sequential_tasks", SUPPORT / "sequential_tasks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CLASSES = {("X", "X"): "Q", ("X", "Y"): "R", ("Y", "X"): "S", ("Y", "Y"): "U"}


@pytest.mark.parametrize("level, length, t1, t2", [
    ("EASY", (7, 9), (1, 3), (4, 6)), ("NORMAL", (30, 41), (2, 6), (20, 28)),
    ("MODERATE", (60, 81), (10, 21), (45, 55)), ("HARD", (100, 111), (10, 21), (50, 61)),
    ("NIGHTMARE", (300, 501), (10, 81), (250, 291)),
])
def test_generator_levels_follow_the_course(tasks, level, length, t1, t2):
    QRSU = tasks.TemporalOrderExp6aSequence
    state = np.random.get_state()
    try:
        gen = QRSU.get_predefined_generator(getattr(QRSU.DifficultyLevel, level), batch_size=16)
        x, y = gen[0]
    finally:
        np.random.set_state(state)
    assert x.shape == (16, length[1], 8) and y.shape == (16, 4) and x.dtype == np.int32
    assert len(gen) == int(1000 / 16) and gen.n_symbols == 8 and gen.n_classes == 4
    for seq, label, row in zip(gen.decode_x_batch(x), gen.decode_y_batch(y), x):
        assert length[0] <= len(seq) < length[1] and seq[0] == "B" and seq[-1] == "E"
        assert row[: length[1] - len(seq)].sum() == 0  # padded at the front
        where = [i for i, s in enumerate(seq) if s in "XY"]
        assert len(where) == 2 and t1[0] <= where[0] < t1[1] and t2[0] <= where[1] < t2[1]
        assert set(seq) - set("XYBE") <= set("abcd")
        assert CLASSES[seq[where[0]], seq[where[1]]] == label


def test_generator_seeds_numpy_like_the_course(tasks):
    QRSU = tasks.TemporalOrderExp6aSequence
    state = np.random.get_state()
    try:
        a = QRSU.get_predefined_generator(QRSU.DifficultyLevel.MODERATE, 32)[0]
        b = QRSU.get_predefined_generator(QRSU.DifficultyLevel.MODERATE, 32, seed=8382)[0]
        c = QRSU.get_predefined_generator(QRSU.DifficultyLevel.MODERATE, 32, seed=1)[0]
    finally:
        np.random.set_state(state)
    assert np.array_equal(a[0], b[0]) and not np.array_equal(a[0], c[0])
    gen = QRSU(batch_size=4)
    with pytest.raises(IndexError):
        gen[len(gen)]
    assert gen.encode_y("R").tolist() == [0, 1, 0, 0] and gen.decode_y(gen.encode_y("S")) == "S"
    assert gen.decode_x(gen.encode_x("BaXbYE")) == "BaXbYE"
    assert tasks.pad_sequences([[1, 2, 3], [4]], maxlen=2).tolist() == [[2, 3], [0, 4]]
    assert tasks.pad_sequences([[1], [2, 3]], padding="post").tolist() == [[1, 0], [2, 3]]
    with pytest.raises(ValueError, match="dtype=object"):
        tasks.pad_sequences([[1]], value="x")


def test_inlined_generator_draws_the_class_notebooks_data(tasks, monkeypatch):
    """Both notebooks' generators seed NumPy with the course's 8382 (facts, "Seq notebook") and
    draw the same Section 8 batches: the inlined notebook (nb_seq) and the class notebook with
    the stand-in `res/` train on the same data (a wrong default seed, e.g. 8516, fails here)."""
    monkeypatch.setattr(np, "unicode_", np.str_, raising=False)  # the sandbox's NumPy-1 shim
    ns = {"np": np}
    exec(nb_seq.GENERATOR, ns)
    inlined, stand_in = ns["TemporalOrderExp6aSequence"], tasks.TemporalOrderExp6aSequence

    def section8(gen_class, seed=None):
        extra = {} if seed is None else {"seed": seed}
        gen_class.get_predefined_generator(gen_class.DifficultyLevel.EASY, 4, **extra)[0]
        train = gen_class.get_predefined_generator(gen_class.DifficultyLevel.MODERATE, 32, **extra)
        test = gen_class.get_predefined_generator(gen_class.DifficultyLevel.MODERATE, 32, **extra)
        return [train[0], train[1], test[0], train[len(train) - 1]]

    state = np.random.get_state()
    try:
        a, b, fixed = section8(inlined), section8(stand_in), section8(inlined, seed=8382)
    finally:
        np.random.set_state(state)
    for (xa, ya), (xb, yb), (xf, _) in zip(a, b, fixed):
        assert np.array_equal(xa, xb.astype(np.float32)) and np.array_equal(ya, yb)
        assert np.array_equal(xa, xf)


def test_plot_lib_draws_states(tasks):
    import matplotlib
    import torch

    matplotlib.use("Agg")
    spec = importlib.util.spec_from_file_location("standin_plot_lib", SUPPORT / "plot_lib.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    shown = []
    mod.display = shown.append  # what IPython would render
    gen = tasks.TemporalOrderExp6aSequence.get_predefined_generator(0, batch_size=2, seed=3)
    x = torch.from_numpy(gen[0][0]).float()
    mod.plot_state(x, torch.zeros(x.shape[1], 2, 3), 1, gen.decode_x)
    assert len(shown) == 3  # one line per unit
    assert shown[0].data.count("<text") == len(gen.decode_x(x[1].numpy()))
    mod.print_colourbar()
    assert shown[-1].data.count("<text") == 20
    mod.set_default()


# ----------------------------------------------------------------------------- the notebook


def test_the_class_notebook_imports_res_and_reuses_the_inlined_section_8():
    sol, st = nb_seq_class.solution_notebook(), nb_seq_class.starter_notebook()
    code = "\n".join(c.source for c in sol.cells if c.cell_type == "code")
    assert "from res.sequential_tasks import TemporalOrderExp6aSequence as QRSU" in code
    assert "from res.plot_lib import set_default, plot_state, print_colourbar" in code
    assert "class TemporalOrderExp6aSequence" not in code and "QRSU.get_predefined_generator(difficulty" in code
    # the model seq_judge recomputes the curves with is seq_classification's: the same class
    assert nb_seq.SIMPLE_LSTM.strip() in code
    student = next(c for c in nb_seq.CELLS if STUDENT in c.tags)
    differ = [(a.source, b.source) for a, b in zip(sol.cells, st.cells) if a.source != b.source]
    assert differ == [(student.source, student.starter)]
    assert "clip_grad_norm_" in student.source and "clip_grad_norm_" not in student.starter


def test_write_starter_ships_res_beside_the_notebook(tmp_path):
    paths = nb_seq_class.write_starter(tmp_path)
    assert [p.name for p in paths] == [NAME]
    assert sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "res").iterdir()) == COURSE_FILES
