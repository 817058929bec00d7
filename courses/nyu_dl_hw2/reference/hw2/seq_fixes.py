"""seq_classification notebooks with other Section 8 procedures: the fixes real students
made (and the course's own procedure), for calibrating the spike checks
(benchmarks/calibrate_seq.py) and for tests.

Each ``Procedure`` edits the *starter* notebook (the course's procedure) the way students
did: inside ``train`` (clipping, clamps, a changed return value), inside
``train_and_test`` (a scheduler passed as an extra parameter), with gradient hooks, or in
Section 8's cell (optimizer, learning rate, weight decay). Model class and seed stay the
course's unless a procedure says otherwise.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import nbformat

from .notebooks import starter_notebooks

NAME = "seq_classification.ipynb"
OPTIMIZER = "optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001)"
STEP = "        loss.backward()\n        optimizer.step()\n"
EPOCH_END = "        if verbose or epoch + 1 == max_epochs:\n"


@dataclass(frozen=True)
class Procedure:
    name: str
    what: str
    optimizer: str = ""  # replaces Section 8's optimizer line
    before_step: str = ""  # lines (8-space indent) between backward() and step() in train
    section8_extra: str = ""  # lines after the optimizer line (hooks, a scheduler)
    scheduler_param: bool = False  # train_and_test(..., scheduler=None) steps it every epoch
    four_tuple: bool = False  # train returns (correct, loss, grad norm, lr); train_and_test unpacks it
    replace: tuple[tuple[str, str], ...] = ()  # further (old, new) edits in any code cell

    def notebook(self, starter: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
        """The starter (default: the inlined notebook's; the class notebook's shares the cells
        edited here) with this procedure's edits."""
        nb = copy.deepcopy(starter_notebooks()[NAME] if starter is None else starter)
        edits: list[tuple[str, str]] = []
        if self.optimizer:
            edits.append((OPTIMIZER, self.optimizer))
        if self.section8_extra:
            edits.append((OPTIMIZER if not self.optimizer else self.optimizer,
                          (self.optimizer or OPTIMIZER) + "\n" + self.section8_extra))
        if self.before_step:
            edits.append((STEP, "        loss.backward()\n" + self.before_step + "        optimizer.step()\n"))
        if self.scheduler_param:
            edits += [("max_epochs,\n                   verbose=True):", "max_epochs,\n                   verbose=True, scheduler=None):"),
                      (EPOCH_END, "        if scheduler is not None:\n            scheduler.step()\n" + EPOCH_END),
                      ("criterion, optimizer, max_epochs)", "criterion, optimizer, max_epochs, scheduler=scheduler)")]
        if self.four_tuple:
            edits += [("    return num_correct, total_loss / len(train_data_gen)\n",
                       "    return num_correct, total_loss / len(train_data_gen), float(grad_norm), "
                       "optimizer.param_groups[0]['lr']\n"),
                      ("num_correct, loss = train(model, train_data_gen, criterion, optimizer, device)",
                       "num_correct, loss, _grad_norm, _lr = train(model, train_data_gen, criterion, optimizer, device)")]
        edits += list(self.replace)
        for old, new in edits:
            hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
            if len(hits) != 1:
                raise ValueError(f"{self.name}: {old!r} is in {len(hits)} code cells, expected 1")
            hits[0].source = hits[0].source.replace(old, new)
        return nb


def _clip_norm(x: float) -> str:
    return f"        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm={x})\n"


CLAMP_HOOKS = ("for p in model.parameters():\n"
               "    p.register_hook(lambda grad: torch.clamp(grad, -0.085, 0.085))")

PROCEDURES = {p.name: p for p in (
    Procedure("course", "the course's procedure: RMSprop lr 1e-3, nothing else (the starter)"),
    Procedure("clip-norm-1", "clip_grad_norm_ 1.0 inside train", before_step=_clip_norm(1.0)),
    Procedure("lr-5e-4", "RMSprop lr 5e-4", optimizer="optimizer = torch.optim.RMSprop(model.parameters(), lr=5e-4)"),
    Procedure("lr-5e-3-clip-1", "RMSprop lr 5e-3 + clip_grad_norm_ 1.0",
              optimizer="optimizer = torch.optim.RMSprop(model.parameters(), lr=5e-3)", before_step=_clip_norm(1.0)),
    Procedure("wd-clamp-hooks", "weight decay 1e-5 + gradient hooks clamping to +-0.085",
              optimizer="optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001, weight_decay=1e-5)",
              section8_extra=CLAMP_HOOKS),
    Procedure("adam-1e-3", "optimizer swapped for Adam lr 1e-3",
              optimizer="optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)"),
    Procedure("adamw-clip-value-1", "AdamW + clip_grad_value_ 1 inside train",
              optimizer="optimizer = torch.optim.AdamW(model.parameters())",
              before_step="        torch.nn.utils.clip_grad_value_(model.parameters(), 1.0)\n"),
    Procedure("cosine-clip-norm-1", "cosine schedule (extra train_and_test parameter) + clip_grad_norm_ 1.0",
              before_step=_clip_norm(1.0), scheduler_param=True,
              section8_extra="scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)"),
    # the reference's clipping without its decay, and with a decay too fast (planted bugs)
    Procedure("clip-0.25", "clip_grad_norm_ 0.25 inside train, no decay", before_step=_clip_norm(0.25)),
    Procedure("clip-0.25-decay-0.95", "clip_grad_norm_ 0.25 + ExponentialLR 0.95 (an extra train_and_test parameter)",
              before_step=_clip_norm(0.25), scheduler_param=True,
              section8_extra="scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.95)"),
    # candidates for a fix that holds under every kernel set and thread count (issue 9)
    Procedure("clip-0.25-decay-0.97", "clip_grad_norm_ 0.25 + ExponentialLR 0.97 (an extra train_and_test parameter)",
              before_step=_clip_norm(0.25), scheduler_param=True,
              section8_extra="scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.97)"),
    Procedure("adam-decay-0.96-clip-1", "Adam lr 1e-3 + ExponentialLR 0.96 + clip_grad_norm_ 1.0",
              optimizer="optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)", before_step=_clip_norm(1.0),
              scheduler_param=True,
              section8_extra="scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.96)"),
    Procedure("adam-decay-0.97-clip-1", "Adam lr 1e-3 + ExponentialLR 0.97 + clip_grad_norm_ 1.0",
              optimizer="optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)", before_step=_clip_norm(1.0),
              scheduler_param=True,
              section8_extra="scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.97)"),
    Procedure("rmsprop-alpha-0.999-clip-0.25", "RMSprop alpha 0.999 (a long memory of gradient scale) + clip 0.25",
              optimizer="optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.999)",
              before_step=_clip_norm(0.25)),
    Procedure("adam-5e-4-clip-0.005", "Adam lr 5e-4 + clip_grad_norm_ 0.005, train returns a 4-tuple",
              optimizer="optimizer = torch.optim.Adam(model.parameters(), lr=5e-4)", before_step=_clip_norm(0.005),
              four_tuple=True),
    # AMSGrad keeps the largest second-moment estimate, so the step cannot grow when the
    # gradients shrink near zero loss (the cause of the course's spikes under RMSprop)
    Procedure("amsgrad-clip-1", "Adam lr 1e-3 with amsgrad + clip_grad_norm_ 1.0",
              optimizer="optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)",
              before_step=_clip_norm(1.0)),
    Procedure("amsgrad", "Adam lr 1e-3 with amsgrad",
              optimizer="optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)"),
    # candidates for the reference measured on the course's data (seed 8382) in the issue 9
    # follow-up (benchmarks/results/calibration-seq.md); the reference chosen is the loss-scaled
    # learning rate + clip 0.25 (nb_seq.py). A larger `eps` bounds RMSprop's step when the
    # gradients are tiny, but the plateau's gradients are tiny too: it never learns
    *(Procedure(f"eps-{eps}-clip-0.25-decay-0.98", f"RMSprop eps {eps} + clip_grad_norm_ 0.25 + ExponentialLR 0.98",
                optimizer=f"optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001, eps={eps})",
                before_step=_clip_norm(0.25), scheduler_param=True,
                section8_extra="scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.98)")
      for eps in ("1e-4", "1e-3")),
    Procedure("lr-2e-3-cosine-clip-0.25", "RMSprop lr 2e-3 + cosine schedule to 0 + clip_grad_norm_ 0.25",
              optimizer="optimizer = torch.optim.RMSprop(model.parameters(), lr=2e-3)",
              before_step=_clip_norm(0.25), scheduler_param=True,
              section8_extra="scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)"),
    Procedure("adam-cosine-clip-1", "Adam lr 1e-3 + cosine schedule to 0 + clip_grad_norm_ 1.0",
              optimizer="optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)",
              before_step=_clip_norm(1.0), scheduler_param=True,
              section8_extra="scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)"),
    # the learning rate set from the epoch's mean test loss and never raised again: the
    # reference's procedure since 2026-12-01 (nb_seq.py; the same arithmetic, so these runs are
    # the reference's). The rule from each batch's loss, tried first, gave a hard batch late in
    # training the full rate and spiked (native-t1 seed 2, portable-t1 seed 1)
    Procedure("clip-0.25-lr-by-epoch-loss", "clip_grad_norm_ 0.25 + learning rate lowered after each epoch to "
              "1e-3 x min(1, epoch test loss / 0.5), never raised",
              before_step=_clip_norm(0.25),
              replace=((EPOCH_END, "        for group in optimizer.param_groups:\n"
                        "            group['lr'] = min(group['lr'], optimizer.defaults['lr'] * min(1.0, loss / 0.5))\n"
                        + EPOCH_END),)),
    # screened for issue 9 in the second 2026-12-01 session and rejected (calibration-seq.md:
    # alpha 0.999 spiked under avx2-t2, the others held a lower accuracy or spiked on the
    # reference's hardest run); the reference's rule itself stayed, the judge's climb went to 0.5
    *(Procedure(f"clip-{c}-lr-by-loss-{scale}{'-sq' if power == 2 else ''}{'-alpha-0.999' if alpha else ''}",
                f"clip_grad_norm_ {c} + lr lowered after each epoch to 1e-3 x min(1, test loss / {scale})^{power}"
                + (" + RMSprop alpha 0.999" if alpha else ""),
                optimizer=("optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.999)" if alpha else ""),
                before_step=_clip_norm(c),
                replace=((EPOCH_END, "        for group in optimizer.param_groups:\n"
                          f"            group['lr'] = min(group['lr'], optimizer.defaults['lr'] * min(1.0, loss / {scale}) ** {power})\n"
                          + EPOCH_END),))
      for c, scale, power, alpha in ((0.25, 1.0, 1, False), (0.25, 0.5, 1, True), (0.1, 0.5, 1, False),
                                     (0.25, 0.5, 2, False))),
    # clipping to a norm the gradients exceed once the task is being learned: every update
    # then has the same gradient norm, so RMSprop's running second moment cannot shrink under
    # a sudden large gradient (the plateau's tiny gradients stay below the norm: unclipped)
    Procedure("clip-0.005-cosine", "clip_grad_norm_ 0.005 + cosine schedule to 0 over the 100 epochs",
              before_step=_clip_norm(0.005), scheduler_param=True,
              section8_extra="scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)"),
)}
