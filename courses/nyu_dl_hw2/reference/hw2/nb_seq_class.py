"""08-seq_classification.ipynb: the class notebook (Spring 2022, Fall 2022, Spring 2024, Fall 2025).

The same homework as ``seq_classification.ipynb`` (nb_seq.py), but the course's helpers are
imported from the class repository's ``res/`` folder instead of being inlined::

    from res.sequential_tasks import TemporalOrderExp6aSequence as QRSU
    from res.plot_lib import set_default, plot_state, print_colourbar

Submissions often lack ``res/``: the registry declares ``support: [.../support/res]`` for
this notebook, and the grader copies its stand-in modules (``support/res/``, written for
the grader with the course's API and random draws) next to the notebook when the zip does
not carry its own.

Section 8 ("Visualize LSTM") and its fix are nb_seq's, reused here and not copied: the
model class, the training-procedure cell (solution: clipping + a loss-scaled learning rate; starter: the
course's procedure), the seed cell and the Section 8 setup (with the class notebook's
``QRSU`` alias). A change to the inlined notebook's reference fix is a change here too.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from . import nb_seq
from ._cells import PROVIDED, RUN, STUDENT, Cell, code, md
from .notebooks import _build, _write_notebooks

NAME = "08-seq_classification.ipynb"
SUPPORT = Path(__file__).resolve().parent / "support" / "res"  # the stand-in `res/` folder


def _one(what: str, test) -> Cell:
    """The one cell of nb_seq that `test` picks (a clear error if nb_seq changed shape)."""
    found = [c for c in nb_seq.CELLS if c.kind == "code" and test(c)]
    if len(found) != 1:
        raise LookupError(f"nb_seq.CELLS has {len(found)} cells for {what}, expected 1")
    return found[0]


_TRAINING = _one("the training procedure", lambda c: STUDENT in c.tags)
_SEED = _one("the seed", lambda c: c.source.strip() == "torch.manual_seed(1)")
_SECTION8 = _one("Section 8's setup", lambda c: RUN in c.tags and "train_and_test(model," in c.source)

IMPORTS = """
    import numpy as np
    import torch
    import torch.nn as nn
    import matplotlib.pyplot as plt

    from res.sequential_tasks import TemporalOrderExp6aSequence as QRSU
    from res.plot_lib import set_default, plot_state, print_colourbar

    set_default()
"""

CELLS = [
    md("""
        # An example of many-to-one (sequence classification)

        The *temporal order* problem of Hochreiter & Schmidhuber (1997): each sequence is
        mostly noise, and its class (Q, R, S or U) depends only on which of two relevant
        symbols (X or Y) appear at two far-apart positions, and in which order. The
        generator and the plotting helpers come from the class repository's `res/` folder.

        For the homework, look at Section 8: the training curve of the LSTM has spikes.
        **Change only the training procedure** (not the model class, not the random seed)
        so that the curve has no spikes.
    """),
    code(IMPORTS, PROVIDED),
    md("""
        ## 1. Dataset exploration

        `QRSU.get_predefined_generator(difficulty, batch_size)` behaves like a sequence of
        batches: `len(gen)` batches, `gen[i]` gives `(x, y)`, both one-hot, `x` of shape
        (batch, T, 8) padded at the front and `y` of shape (batch, 4).
    """),
    code("""
        example_generator = QRSU.get_predefined_generator(
            difficulty_level=QRSU.DifficultyLevel.EASY,
            batch_size=32,
        )
        example_batch = example_generator[0]
        print(f'The first item in the tuple is the batch of sequences with shape {example_batch[0].shape}.')
        print(f'The sequence is: {example_generator.decode_x(example_batch[0][0, :, :])}')
        print(f'The class label is: {example_generator.decode_y(example_batch[1][0])}')
    """, RUN),
    md("""
        ## 2. Defining the model

        An LSTM reads the one-hot sequence; a linear layer maps each hidden state to class
        scores. Training uses the scores of the last time step only.
    """),
    code(nb_seq.SIMPLE_LSTM, PROVIDED),
    md("""
        ## 3. Training and testing loops

        *Homework:* this is where the training procedure lives. Change it (here, or the
        optimiser settings in Section 8) so that Section 8's loss curve has no spikes.
    """),
    _TRAINING,
    md("""
        ## 8. Visualize LSTM

        (Sections 4 to 7, a plain RNN on the easier levels, are not needed for the
        homework.) The setup is fixed by the assignment: difficulty MODERATE, batch size
        32, hidden size 12, RMSprop with learning rate 0.001, 100 epochs, seed 1.
    """),
    _SEED,
    Cell("code", _SECTION8.source.replace("TemporalOrderExp6aSequence", "QRSU"), _SECTION8.starter, _SECTION8.tags),
    code("""
        # Hidden (H) and cell (C) states of the trained LSTM across time, for a batch of test sequences
        model = model.cpu().eval()
        with torch.no_grad():
            data = test_data_gen[0][0]
            X = torch.from_numpy(data).float()
            H_t, C_t = model.get_states_across_time(X)

        print('Color range is as follows:')
        print_colourbar()
        print('The cell state (long-term memory) of sequence 9, one line per unit:')
        plot_state(X, C_t, b=9, decoder=test_data_gen.decode_x)
    """, RUN),
]


def solution_notebook() -> nbformat.NotebookNode:
    """The full-score notebook (Section 8 trains without spikes)."""
    return _build(NAME, False, CELLS)


def starter_notebook() -> nbformat.NotebookNode:
    """The notebook as handed out: the course's training procedure."""
    return _build(NAME, True, CELLS)


def write_support(out_dir: Path) -> Path:
    """Copy the stand-in `res/` folder into `out_dir` (a handout folder); returns its path."""
    target = Path(out_dir) / SUPPORT.name
    shutil.copytree(SUPPORT, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def write_starter(out_dir: Path) -> list[Path]:
    """The handout: the starter notebook and, beside it, the `res/` folder it imports."""
    paths = _write_notebooks({NAME: starter_notebook()}, out_dir)
    write_support(out_dir)
    return paths


def write_solution_zip(out_zip: Path, net_id: str = "abc1234") -> Path:
    """A zip of the full-score notebook alone (no `res/`: the grader supplies it), for a
    registry listing only this notebook (tests/classnb); terms write theirs in terms.py."""
    import zipfile

    out_zip = Path(out_zip)
    if out_zip.is_dir():
        out_zip = out_zip / f"{net_id}.zip"
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo(NAME, date_time=(2022, 3, 1, 12, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, nbformat.writes(solution_notebook()), compress_type=zipfile.ZIP_DEFLATED)
    return out_zip
