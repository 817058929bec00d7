"""HW2 (Spring 2025) reference: full-score notebooks, starters and grader-side data.

* ``notebooks``: build the solution/starter notebooks, the theory PDF, a full-score zip;
  ``provided_sources()`` (our re-write of the course's provided code, by name).
* ``provided``: the provided code judged by behaviour (the integrity checks without a handout).
* ``data``: seeded numpy generators of the hidden data the training checks use.
* ``metrics``: judging helpers (``echo_score``, ``spikes``), pure Python.
* ``solutions``: ``load_solution_namespace(name)`` runs a solution notebook's definition
  cells in-process (imports torch; import it only where torch is wanted).

The cell sources themselves live in ``nb_moe.py``, ``nb_cnn.py``, ``nb_rnn.py`` and
``nb_seq.py`` (one copy of the code, shared by notebooks and in-process loading).

Other terms: ``terms`` picks each NYU term's notebook versions (CNN or CNN_Solution, the
RNN notebook's version 1 in ``nb_rnn_v1.py`` or version 2, the seq notebook, MoE) and
writes its solution zip and starters; ``judges_v1`` judges what only version 1 asks.
"""

from .metrics import echo_score, spikes

_FROM_NOTEBOOKS = ("NOTEBOOK_NAMES", "SUBMISSION_FILES", "THEORY_PDF", "provided_sources", "solution_notebooks",
                   "starter_notebooks", "theory_pdf_bytes", "write_solution_zip", "write_solutions", "write_starters")


def __getattr__(name: str):
    # imported on first use: a judge importing `.data` or `.metrics` does not pull in the
    # solutions (so a public judge can run in a students' self-check bundle)
    if name in _FROM_NOTEBOOKS:
        from . import notebooks

        return getattr(notebooks, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_solution_namespace(name: str) -> dict:
    """See ``nyu_dl_hw2.reference.hw2.solutions.load_solution_namespace`` (imported lazily: torch)."""
    from .solutions import load_solution_namespace as _load

    return _load(name)


def load_starter_namespace(name: str) -> dict:
    """See ``nyu_dl_hw2.reference.hw2.solutions.load_starter_namespace`` (imported lazily: torch)."""
    from .solutions import load_starter_namespace as _load

    return _load(name)


__all__ = [
    "NOTEBOOK_NAMES",
    "SUBMISSION_FILES",
    "THEORY_PDF",
    "echo_score",
    "load_solution_namespace",
    "load_starter_namespace",
    "provided_sources",
    "solution_notebooks",
    "spikes",
    "starter_notebooks",
    "theory_pdf_bytes",
    "write_solution_zip",
    "write_solutions",
    "write_starters",
]
