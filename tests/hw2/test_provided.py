"""rnn.provided / seq.provided: the course's handout is the source of truth.

With a handout (`Options(starters=...)`, `grader --starters DIR`): the student's provided
definitions are compared with the handout's as normalised ASTs, and the report names the
change. The handout here is a folder written by `grader starter` (our starters) and then
edited, standing in for the course's.

Without a handout: behaviour. The provided functions and classes run in the sandbox and
their results are judged against courses/nyu_dl_hw2/reference/hw2/provided.py's re-implementation, so
notebooks whose provided code is textually different but behaves the same pass (the
course's `index_select` one-hot, `F.one_hot`, another EchoDataset, version 1's `D`), and
planted behaviour changes fail. Only the provided-code check runs, in `definitions` mode
(seq_classification's SimpleLSTM needs no full run): a few seconds in all.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nbformat
import pytest

from grader.errors import UsageError
from grader.grading import Options, grade_notebook
from grader.starters import load_starters, require_complete

from tests.conftest import prefetched

from .conftest import Edit, patched

RNN, SEQ = "hw2_rnn.ipynb", "seq_classification.ipynb"


def _grade(assignment, name, nb, tmp_path: Path, check_id: str, starters=None):
    """The check alone on the handout's text (no sandbox: `run_code=False`)."""
    work = tmp_path / f"w{len(list(tmp_path.iterdir()))}"
    work.mkdir()
    path = work / name
    path.write_text(nbformat.writes(nb), encoding="utf-8")
    rule = dataclasses.replace(assignment.file_rule(name), mode="definitions", execution_penalty=False)
    check = next(c for c in assignment.checks if c.id == check_id)
    options = Options(run_code=False, starters=starters)
    results, _, _ = grade_notebook(rule, path, work, [check], assignment, options, None)
    return results[0]


# --------------------------------------------------------------------------- behaviour mode

ONEHOT_COURSE_STYLE = '''
N = 26
def idx_to_onehot(x, k=N+1):
    ones = torch.sparse.torch.eye(k).to(x.device)
    shape = x.shape
    res = ones.index_select(0, x.view(-1).long())
    return res.view(*shape, res.shape[-1])
'''
ONEHOT_F = "N = 26\ndef idx_to_onehot(x, k=N + 1):\n    return F.one_hot(x, k)\n"
ECHO_OTHER = '''
class EchoDataset(torch.utils.data.IterableDataset):
    def __init__(self, delay=4, seq_length=15, size=1000):
        self.delay, self.seq_length, self.size = delay, seq_length, size
    def __len__(self):
        return self.size
    def __iter__(self):
        for _ in range(self.size):
            seq = torch.randint(1, N + 1, (self.seq_length,))
            result = torch.zeros_like(seq)
            result[self.delay:] = seq[:self.seq_length - self.delay]
            yield seq, result
'''
TEST_MODEL_V1 = '''
def test_model(model, sequence_length=15):
    """version 1 of the handout: D is never defined"""
    total, correct = 0, 0
    for _ in range(500):
        s = "".join(random.choice(string.ascii_lowercase) for _ in range(random.randint(15, 25)))
        result = model.test_run(s)
        for c1, c2 in zip(s[:-D], result[D:]):
            correct += int(c1 == c2)
        total += len(s) - D
    return correct / total
'''
TVD_FIXED = '''
def test_variable_delay_model(model, max_delay=12):
    total, correct = 0, 0
    for _ in range(500):
        delay = random.randint(0, max_delay)
        s = "".join(random.choice(string.ascii_lowercase) for _ in range(20))
        result = model.test_run(s, delay)
        correct += sum(c1 == c2 for c1, c2 in zip(s[:len(s) - delay], result[delay:]))
        total += len(s) - delay
    return correct / total
'''

SAME_BEHAVIOUR = {
    "course-style-onehot": ((), (ONEHOT_COURSE_STYLE,)),
    "onehot-via-F.one_hot": ((), (ONEHOT_F,)),
    "echo-dataset-rewritten": ((), (ECHO_OTHER,)),
    "test-model-version-1-D": ((), (TEST_MODEL_V1,)),
    "test-variable-delay-fixed": ((), (TVD_FIXED,)),
}

CHANGED_BEHAVIOUR = {
    "onehot-size-N": ((), ("def idx_to_onehot(x, k=N):\n    return F.one_hot(x.long(), k).float()\n",),
                      "`idx_to_onehot` could not be run: RuntimeError: Class values must be smaller than num_classes"),
    "onehot-size-N-index-select": ((), (ONEHOT_COURSE_STYLE.replace("k=N+1", "k=N").replace("(k)", "(k + 1)[:, 1:]"),),
                                   "`idx_to_onehot`: idx_to_onehot(x) of shape (2, 3, 5) has shape (2, 3, 5, 26)"),
    "echo-delay-off-by-one": ((Edit("result = torch.cat((torch.zeros(self.delay, dtype=torch.int64),\n"
                                    "                                seq[:self.seq_length - self.delay]))",
                                    "result = torch.cat((torch.zeros(self.delay + 1, dtype=torch.int64),\n"
                                    "                                seq[:self.seq_length - self.delay - 1]))",
                                    cell="class EchoDataset"),), (),
                              "`EchoDataset`: EchoDataset(delay=3, seq_length=12, size=1000), item 0: result is not 3 "
                              "zeros followed by seq"),
    "echo-letters-1-to-25": ((Edit("random.randint(1, N)", "random.randint(1, N - 1)", cell="class EchoDataset"),), (),
                             "`EchoDataset`: EchoDataset(delay=3, seq_length=12, size=1000): letter 26 never drawn"),
    "variable-delay-never-max": ((Edit("random.randint(0, self.max_delay)", "random.randint(0, self.max_delay - 1)"),),
                                 (), "delay 5 never drawn"),
    "test-model-returns-1": ((), ("def test_model(model, sequence_length=15):\n    return 1.0\n",),
                             "`test_model`: test_model(model) never called model.test_run"),
    "test-variable-delay-lenient": ((), (TVD_FIXED.replace("int(c1 == c2)", "1").replace("c1 == c2 for", "1 for"),),
                                    "scores a model that is always wrong 1.000, expected 0"),
}


def _run(grade_one, assignment, name, nb, check_id: str):
    """The check alone, its notebook run in definitions mode by the session's runner
    (grade_one: cached, so the module's prefetch below is what the tests read)."""
    return grade_one(assignment, name, nb, [check_id], "definitions").results[check_id]


SEED_6 = (Edit("torch.manual_seed(1)", "torch.manual_seed(6)"),)


@pytest.fixture(scope="module")
def sandbox_gradings(grade_one, quick):
    """Every sandbox grading of this module submitted at once, in test order (two side by side)."""
    jobs = [(quick, RNN, patched(RNN, *SAME_BEHAVIOUR[c]), ["rnn.provided"], "definitions") for c in SAME_BEHAVIOUR]
    jobs += [(quick, RNN, patched(RNN, *CHANGED_BEHAVIOUR[c][:2]), ["rnn.provided"], "definitions")
             for c in CHANGED_BEHAVIOUR]
    jobs += [(quick, SEQ, patched(SEQ, (), (LSTM_CASES[c][0],)), ["seq.provided"], "definitions") for c in LSTM_CASES]
    jobs.append((quick, SEQ, patched(SEQ, SEED_6), ["seq.provided"], "definitions"))
    yield from prefetched(grade_one.prefetch(jobs))


@pytest.mark.parametrize("case", list(SAME_BEHAVIOUR))
def test_rnn_provided_code_that_behaves_the_same_passes(case, quick, grade_one, sandbox_gradings):
    edits, append = SAME_BEHAVIOUR[case]
    r = _run(grade_one, quick, RNN, patched(RNN, edits, append), "rnn.provided")
    assert r.status == "pass", r.message
    assert r.message.startswith("provided code judged by behaviour (no handout given: --starters DIR)")


@pytest.mark.parametrize("case", list(CHANGED_BEHAVIOUR))
def test_rnn_provided_behaviour_changes_fail(case, quick, grade_one, sandbox_gradings):
    edits, append, message = CHANGED_BEHAVIOUR[case]
    r = _run(grade_one, quick, RNN, patched(RNN, edits, append), "rnn.provided")
    assert r.status in ("fail", "error") and r.points == 0, r.message
    assert message in r.message, r.message


LSTM_OTHER = '''
class SimpleLSTM(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc = nn.Linear(hidden_size, output_size)   # registered first, other names
        self.rnn = nn.LSTM(input_size=input_size, hidden_size=hidden_size, batch_first=True)

    def forward(self, x):
        out, (h, c) = self.rnn(x)
        return self.fc(out)
'''
LSTM_CASES = {
    "rewritten": (LSTM_OTHER, None),
    "two-layers": (LSTM_OTHER.replace("batch_first=True", "batch_first=True, num_layers=2"),
                   "has other weights than one LSTM (8 -> 12) and one Linear (12 -> 4)"),
    "relu-before-linear": (LSTM_OTHER.replace("self.fc(out)", "self.fc(torch.relu(out))"),
                           "computes something else than LSTM + Linear"),
    "tanh-output": (LSTM_OTHER.replace("self.fc(out)", "torch.tanh(self.fc(out))"),
                    "computes something else than LSTM + Linear"),
}


@pytest.mark.parametrize("case", list(LSTM_CASES))
def test_seq_provided_judges_simple_lstm_by_its_outputs(case, quick, grade_one, sandbox_gradings):
    source, message = LSTM_CASES[case]
    r = _run(grade_one, quick, SEQ, patched(SEQ, (), (source,)), "seq.provided")
    if message is None:
        assert r.status == "pass", r.message
        assert "`SimpleLSTM` behaves as provided" in r.message and "torch.manual_seed" in r.message
    else:
        assert r.status == "fail" and message in r.message, r.message


def test_seq_provided_seed_is_a_text_fact(quick, grade_one, sandbox_gradings):
    r = _run(grade_one, quick, SEQ, patched(SEQ, SEED_6), "seq.provided")
    assert r.status == "fail" and "changed: `torch.manual_seed`" in r.message, r.message


# --------------------------------------------------------------------------- handout mode (no sandbox)


@pytest.fixture
def handout(tmp_path):
    """A handout folder as `grader starter` writes it, standing in for the course's."""
    from nyu_dl_hw2.reference.hw2.notebooks import write_starters

    folder = tmp_path / "handout"
    write_starters(folder)
    (folder / "res").mkdir()
    (folder / "res" / "plot_lib.py").write_text("def set_default():\n    pass\n")
    return load_starters(folder)


REFORMATTED = (Edit('''            seq = torch.tensor([random.randint(1, N) for _ in range(self.seq_length)],
                               dtype=torch.int64)''', '''            # a comment, other quotes and line breaks
            seq = torch.tensor(
                [random.randint(1, N) for _ in range(self.seq_length)], dtype=torch.int64
            )''', cell="class EchoDataset"),
               Edit('"""One-hot code an integer tensor: (...,) -> (..., k) float."""', "'''another docstring'''"))


def test_handout_reformatted_code_passes(quick, handout, tmp_path):
    for check_id, name, edits in (("rnn.provided", RNN, REFORMATTED), ("seq.provided", SEQ, ())):
        r = _grade(quick, name, patched(name, edits), tmp_path, check_id, starters=handout)
        assert r.status == "pass", r.message
        assert r.message.startswith(f"provided code compared with the handout in {handout.folder}")


def test_handout_changed_body_fails_and_names_the_change(quick, handout, tmp_path):
    nb = patched(RNN, (Edit("torch.zeros(self.delay, dtype", "torch.ones(self.delay, dtype", cell="class EchoDataset"),))
    r = _grade(quick, RNN, nb, tmp_path, "rnn.provided", starters=handout)
    assert r.status == "fail" and r.points == 0, r.message
    assert "body of `EchoDataset.__iter__` differs" in r.message, r.message
    assert "- result = torch.cat((torch.zeros(self.delay" in r.message
    assert "+ result = torch.cat((torch.ones(self.delay" in r.message
    nb = patched(SEQ, (Edit("torch.manual_seed(1)", "torch.manual_seed(6)"),))
    r = _grade(quick, SEQ, nb, tmp_path, "seq.provided", starters=handout)
    assert r.status == "fail" and "`torch.manual_seed`" in r.message and "+ torch.manual_seed(6)" in r.message


def test_handout_is_the_truth_not_our_sources(quick, handout, tmp_path):
    """A handout whose EchoDataset differs from ours: the student's unchanged copy of the
    handout passes, our own solution's definition does not."""
    folder = Path(handout.folder)
    nb = nbformat.read(str(folder / RNN), as_version=4)
    cell = next(c for c in nb.cells if "class EchoDataset" in c.source)
    cell.source = ECHO_OTHER + "\nDELAY = 4\nDATASET_SIZE = 200000\n"
    nbformat.write(nb, str(folder / RNN))
    course = load_starters(folder)
    assert course.digest != handout.digest
    assert _grade(quick, RNN, nb, tmp_path, "rnn.provided", starters=course).status == "pass"
    r = _grade(quick, RNN, patched(RNN), tmp_path, "rnn.provided", starters=course)
    assert r.status == "fail" and "`EchoDataset`" in r.message, r.message


def test_handout_without_a_notebook_or_name_is_a_usage_error(quick, handout):
    folder = Path(handout.folder)
    (folder / SEQ).unlink()
    with pytest.raises(UsageError, match=r"seq.provided: the handout .* has no readable `seq_classification.ipynb`"):
        require_complete(load_starters(folder), quick)
    nb = nbformat.read(str(folder / RNN), as_version=4)
    nb.cells = [c for c in nb.cells if "def test_model" not in c.source]
    nbformat.write(nb, str(folder / RNN))
    with pytest.raises(UsageError, match=r"rnn.provided: `hw2_rnn.ipynb` of the handout defines no `test_model`"):
        require_complete(load_starters(folder), quick)
    with pytest.raises(UsageError, match="no such folder"):
        load_starters(folder / "nope")


# --------------------------------------------------------------------------- the report of a change


@pytest.mark.parametrize("student,where", [
    ("class A(B):\n    def f(self, x):\n        return x + 2\n    def g(self):\n        pass\n", "body of `A.f` differs"),
    ("class A(B):\n    def f(self, x, y=1):\n        return x + 1\n    def g(self):\n        pass\n",
     "signature of `A.f` differs"),
    ("class A(B):\n    def f(self, x):\n        return x + 1\n", "method `A.g` removed"),
    ("class A(C):\n    def f(self, x):\n        return x + 1\n    def g(self):\n        pass\n", "base classes of `A` differ"),
    ("def A(x):\n    return x\n", "`A` is now a function"),
])
def test_the_report_names_where_the_definition_changed(student, where):
    import ast

    from grader.checks.integrity import describe_change

    handout = "class A(B):\n    '''doc'''\n    def f(self, x):\n        return x + 1\n    def g(self):\n        pass\n"
    said = describe_change("A", ast.parse(handout).body[0], ast.parse(student).body[0])
    assert said.startswith(f"`A` ({where}"), said


def test_names_without_a_handout_or_sources_are_skipped_not_failed():
    from types import MappingProxyType

    from grader.checks import Context, NotebookFacts
    from grader.checks.integrity import IntegrityKind
    from grader.registry import Check

    check = Check(id="x.provided", notebook="x.ipynb", kind="integrity", points=1.0,
                  params=MappingProxyType({"names": ("f",)}))
    ctx = Context(seed=0, notebook=NotebookFacts(cell_sources=("def f():\n    pass\n",)))
    kind = IntegrityKind()
    assert not kind.uses_sandbox(check, ctx)
    verdict = kind.judge(check, {}, ctx)
    assert verdict.status == "skipped" and "--starters DIR" in verdict.message
