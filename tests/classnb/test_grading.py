"""08-seq_classification.ipynb graded through the sandbox, with a 4-epoch Section 8
(quick.yaml): the stand-in `res/` when the zip has none, the zip's own `res/` when it has
one, and what a student sees when the notebook uses `res/` wrongly. Nothing learns in 4
epochs, so the training checks give 0 here; the real-budget verdicts of the reference and
the starter are measured by benchmarks/classnb_full.py."""

from __future__ import annotations

import itertools

import pytest

from grader.grading import Options, grade
from nyu_dl_hw2.reference.hw2 import nb_seq_class

from .conftest import NAME, edited, make_zip, short

pytestmark = pytest.mark.slow
_dirs = itertools.count()

COURSE_LIKE = (nb_seq_class.SUPPORT / "sequential_tasks.py").read_text().replace(
    "import six\n",
    "import six\n\n# the course's NumPy-1 idiom, and six, as in the class repository\n"
    "assert np.issubdtype(np.dtype('U1'), np.unicode_) and six.string_types\n")


@pytest.fixture(scope="module")
def graded(runner, quick, tmp_path_factory):
    def _grade(nb, extra=()):
        zip_path = make_zip(tmp_path_factory.mktemp(f"classnb{next(_dirs)}"), short(nb), dict(extra))
        g = grade(zip_path, quick, Options(submitted_at=quick.deadline), runner)
        return g, {c.id: c for c in g.checks}
    return _grade


def test_reference_without_res_runs_on_the_stand_in(graded):
    g, checks = graded(nb_seq_class.solution_notebook())
    assert g.verdict == "graded" and not g.penalties and not g.problems, (g.penalties, g.problems)
    assert checks["seq.provided"].points == 1
    spikes = checks["seq.no_spikes"]
    assert spikes.status != "error" and "no run of your Section 8 procedure learned" in spikes.message
    assert "gradient clipping: clip_grad_norm_" in spikes.message  # the re-run found the procedure
    assert checks["seq.accuracy"].measure is not None


def test_starter_earns_the_provided_point_only(graded):
    g, checks = graded(nb_seq_class.starter_notebook())
    assert not g.penalties
    assert [(c.id, c.points) for c in g.checks] == [("seq.provided", 1), ("seq.no_spikes", 0), ("seq.accuracy", 0)]
    changes = checks["seq.no_spikes"].message.split("Changes to the course's training procedure: ")[1]
    assert changes.startswith("max_epochs 4 (course: 100") and "clip" not in changes  # only this test's edit


def test_a_zips_own_course_like_res_is_used(graded):
    """The course's idioms (np.unicode_ on NumPy 2, six) run in the zip's own copy."""
    g, checks = graded(nb_seq_class.solution_notebook(), {"res/sequential_tasks.py": COURSE_LIKE.encode()})
    assert not g.penalties and not g.problems, (g.penalties, g.problems)
    assert checks["seq.provided"].points == 1 and checks["seq.no_spikes"].status != "error"


def test_a_zips_own_broken_res_is_used_and_said(graded):
    own = b"raise ImportError('this is the zip-own res/sequential_tasks.py')\n"
    g, checks = graded(nb_seq_class.solution_notebook(), {"res/sequential_tasks.py": own})
    assert [p.rule for p in g.penalties] == ["execution"]
    said = " ".join(p.message for p in g.problems) + " ".join(c.message for c in g.checks)
    assert "zip-own res/sequential_tasks.py" in said, said
    assert g.raw_score < 5


def test_a_name_the_res_modules_lack_fails_clearly(graded):
    nb = edited(nb_seq_class.solution_notebook(), "plot_state, print_colourbar", "plot_state, print_colorbar")
    g, checks = graded(nb)
    assert [p.rule for p in g.penalties] == ["execution"]
    said = " ".join(p.message for p in g.problems) + " ".join(c.message for c in g.checks)
    assert "print_colorbar" in said and "res.plot_lib" in said, said
    assert "Traceback" not in said


def test_a_changed_seed_loses_the_provided_point(graded):
    g, checks = graded(edited(nb_seq_class.solution_notebook(), "torch.manual_seed(1)", "torch.manual_seed(2)"))
    assert checks["seq.provided"].points == 0 and "torch.manual_seed" in checks["seq.provided"].message
    assert "seed 2 (course: 1; the assignment says not to change the seed)" in checks["seq.no_spikes"].message
