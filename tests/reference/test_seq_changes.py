"""What a student changed in seq_classification's Section 8 procedure, read from the code
(courses/nyu_dl_hw2/reference/hw2/seq_changes.py): every real kind of fix is named, the course's procedure
is "no change", and a changed model class or seed is reported."""

from __future__ import annotations

import pytest

from nyu_dl_hw2.reference.hw2.notebooks import solution_notebooks
from nyu_dl_hw2.reference.hw2.seq_changes import describe_changes
from nyu_dl_hw2.reference.hw2.seq_fixes import PROCEDURES

NAME = "seq_classification.ipynb"


def _changes(nb) -> list[str]:
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    seed = max(i for i, s in enumerate(sources) if "manual_seed" in s)
    return describe_changes(sources[seed:seed + 2], sources)  # the seed cell and Section 8's training cell


EXPECTED = {
    "course": [],
    "clip-norm-1": ["gradient clipping: clip_grad_norm_(max_norm=1)"],
    "lr-5e-4": ["optimizer RMSprop(lr=0.0005) (course: RMSprop(lr=0.001))"],
    "lr-5e-3-clip-1": ["optimizer RMSprop(lr=0.005)", "gradient clipping: clip_grad_norm_(max_norm=1)"],
    "wd-clamp-hooks": ["optimizer RMSprop(lr=0.001, weight_decay=1e-05)",
                       "gradient hooks: register_hook(lambda grad: torch.clamp(grad, -0.085, 0.085))"],
    "adam-1e-3": ["optimizer Adam(lr=0.001)"],
    "adamw-clip-value-1": ["optimizer AdamW()", "gradient clipping: clip_grad_value_(1)"],
    "cosine-clip-norm-1": ["gradient clipping: clip_grad_norm_(max_norm=1)",  # in train
                           "learning-rate schedule: CosineAnnealingLR(T_max=100)"],  # an extra train_and_test parameter
    "adam-5e-4-clip-0.005": ["optimizer Adam(lr=0.0005)", "gradient clipping: clip_grad_norm_(max_norm=0.005)"],
    "clip-0.25": ["gradient clipping: clip_grad_norm_(max_norm=0.25)"],
    "clip-0.25-decay-0.95": ["gradient clipping: clip_grad_norm_(max_norm=0.25)",
                             "learning-rate schedule: ExponentialLR(gamma=0.95)"],
    "clip-0.25-decay-0.97": ["gradient clipping: clip_grad_norm_(max_norm=0.25)",
                             "learning-rate schedule: ExponentialLR(gamma=0.97)"],
    "adam-decay-0.96-clip-1": ["optimizer Adam(lr=0.001)", "gradient clipping: clip_grad_norm_(max_norm=1)",
                               "learning-rate schedule: ExponentialLR(gamma=0.96)"],
    "adam-decay-0.97-clip-1": ["optimizer Adam(lr=0.001)", "gradient clipping: clip_grad_norm_(max_norm=1)",
                               "learning-rate schedule: ExponentialLR(gamma=0.97)"],
    "rmsprop-alpha-0.999-clip-0.25": ["optimizer RMSprop(lr=0.001, alpha=0.999)",
                                      "gradient clipping: clip_grad_norm_(max_norm=0.25)"],
    "amsgrad": ["optimizer Adam(lr=0.001, amsgrad=True)"],
    "amsgrad-clip-1": ["optimizer Adam(lr=0.001, amsgrad=True)", "gradient clipping: clip_grad_norm_(max_norm=1)"],
    "eps-1e-4-clip-0.25-decay-0.98": ["optimizer RMSprop(lr=0.001, eps=0.0001)",
                                      "gradient clipping: clip_grad_norm_(max_norm=0.25)",
                                      "learning-rate schedule: ExponentialLR(gamma=0.98)"],
    "eps-1e-3-clip-0.25-decay-0.98": ["optimizer RMSprop(lr=0.001, eps=0.001)",
                                      "gradient clipping: clip_grad_norm_(max_norm=0.25)",
                                      "learning-rate schedule: ExponentialLR(gamma=0.98)"],
    "lr-2e-3-cosine-clip-0.25": ["optimizer RMSprop(lr=0.002)", "gradient clipping: clip_grad_norm_(max_norm=0.25)",
                                 "learning-rate schedule: CosineAnnealingLR(T_max=100)"],
    "adam-cosine-clip-1": ["optimizer Adam(lr=0.001)", "gradient clipping: clip_grad_norm_(max_norm=1)",
                           "learning-rate schedule: CosineAnnealingLR(T_max=100)"],
    "clip-0.005-cosine": ["gradient clipping: clip_grad_norm_(max_norm=0.005)",
                          "learning-rate schedule: CosineAnnealingLR(T_max=100)"],
    "clip-0.25-lr-by-epoch-loss": ["gradient clipping: clip_grad_norm_(max_norm=0.25)",
                                   "learning rate set by hand: group['lr'] = min(group['lr'], "],  # in train_and_test
    # the screening of the second 2026-12-01 session (calibration-seq.md)
    **{name: (["optimizer RMSprop(lr=0.001, alpha=0.999)"] if "alpha" in name else [])
       + [f"gradient clipping: clip_grad_norm_(max_norm={clip})",
          "learning rate set by hand: group['lr'] = min(group['lr'], "]
       for name, clip in (("clip-0.25-lr-by-loss-1.0", "0.25"), ("clip-0.25-lr-by-loss-0.5-alpha-0.999", "0.25"),
                          ("clip-0.1-lr-by-loss-0.5", "0.1"), ("clip-0.25-lr-by-loss-0.5-sq", "0.25"))},
}


@pytest.mark.parametrize("name", sorted(PROCEDURES))
def test_every_kind_of_fix_is_named(name):
    found = _changes(PROCEDURES[name].notebook())
    assert len(found) == len(EXPECTED[name]), found
    for want, got in zip(EXPECTED[name], found):
        assert got.startswith(want), found


def test_the_reference_fix_shows_its_constants():
    assert _changes(solution_notebooks()[NAME]) == [
        "gradient clipping: clip_grad_norm_(max_norm=CLIP_NORM (0.25))",
        "learning rate set by hand: group['lr'] = min(group['lr'], optimizer.defaults['lr'] * min(1.0, loss / LOSS_SCALE))"]


def test_a_changed_model_or_seed_is_reported():
    nb = PROCEDURES["course"].notebook()
    seed_cell = next(c for c in nb.cells if c.cell_type == "code" and "torch.manual_seed(1)" in c.source)
    seed_cell.source = "torch.manual_seed(7)"
    student = next(c for c in nb.cells if c.cell_type == "code" and "def train(" in c.source)
    student.source += ("\n\nclass SimpleLSTM(nn.Module):\n    def __init__(self, input_size, hidden_size, output_size):\n"
                       "        super().__init__()\n        self.lstm = nn.LSTM(input_size, hidden_size, batch_first=True)\n"
                       "        self.linear = nn.Linear(hidden_size, output_size)\n"
                       "        nn.init.xavier_uniform_(self.linear.weight)\n\n"
                       "    def forward(self, x):\n        return self.linear(self.lstm(x)[0])\n")
    found = _changes(nb)
    assert any(line.startswith("seed 7 (course: 1") for line in found), found
    assert any(line.startswith("SimpleLSTM is defined again") for line in found), found


def test_unparsable_cells_and_lr_spellings():
    course = ["torch.manual_seed(1)", "%time\noptimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)"]
    assert describe_changes(course, course) == []  # a magic makes a cell unreadable: nothing claimed
    ok = ["torch.manual_seed(1)", "optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3)"]
    assert describe_changes(ok, ok) == []  # 1e-3 is the course's 0.001
