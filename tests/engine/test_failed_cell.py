"""A failed cell in a full-mode run is reported once, and its error text (the student's words) is bounded."""

from grader.grading import FAILED_CELL_CHARS, _failed_cell_problem


def test_a_failed_cells_error_is_cut_to_a_line():
    long = "cell 3: error: ValueError: " + "x" * 100_000
    p = _failed_cell_problem("a.ipynb", (long, "cell 4: error: NameError"))
    assert len(p.message) < FAILED_CELL_CHARS + 100 and p.message.endswith("[...] (and 1 more cell)")
    short = _failed_cell_problem("a.ipynb", ("cell 1: error: KeyError: 'k'",))
    assert short.message == "`a.ipynb` did not run through: cell 1: error: KeyError: 'k'"
