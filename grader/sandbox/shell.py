"""The IPython shell the child runs cells in (no Jupyter kernel), and its policy.

Shell escapes (``!cmd``, ``x = !cmd``, ``get_ipython().system(...)``) never run: they are
recorded as ``blocked: !cmd``. Magics follow an allowlist:

- run for real: ``%time``, ``%%time``, ``%timeit``/``%%timeit`` (forced to ``-n1 -r1``),
  ``%%capture``, ``%%writefile`` (writes land in the scratch folder), ``%who``/``%whos``,
  ``%precision``, ``%pprint``, ``%xmode``, ``%pinfo``-style help, ``%reset``;
- accepted and ignored (no effect here): ``%matplotlib``, ``%load_ext``/``%reload_ext``,
  ``%autoreload``, ``%aimport``, ``%config``, display cell magics (``%%html``,
  ``%%markdown``, ``%%latex``, ``%%svg``, ``%%javascript``, ``%%js``);
- everything else is blocked and recorded: ``%cd``, ``%pip``, ``%conda``, ``%%bash``,
  ``%%sh``, ``%%script``, ``%run``, ``%load``, ``%env``, ``%store``, ``%system``, ``%sx``...

This is policy, not security: the OS-level confinement (grader.sandbox.confine) is what
stops a determined student (e.g. through ``get_ipython().magics_manager``).
"""

from __future__ import annotations

import io
import re
import sys
from typing import Any

from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.text import SList

RUN_LINE_MAGICS = {"time", "timeit", "who", "whos", "who_ls", "precision", "pprint", "xmode", "pinfo",
                   "pinfo2", "pdef", "pdoc", "psource", "psearch", "reset", "reset_selective", "lsmagic",
                   "magic", "quickref", "page"}
IGNORED_LINE_MAGICS = {"matplotlib", "load_ext", "reload_ext", "unload_ext", "autoreload", "aimport",
                       "config", "autosave", "colors", "notebook", "gui", "qtconsole", "tensorflow_version",
                       "autocall", "automagic", "doctest_mode"}
RUN_CELL_MAGICS = {"time", "timeit", "capture", "writefile"}
IGNORED_CELL_MAGICS = {"html", "HTML", "markdown", "latex", "svg", "javascript", "js"}


class CappedWriter(io.TextIOBase):
    """A text stream keeping the first `cap` characters (and counting the rest)."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap = cap
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, s: Any) -> int:
        if not isinstance(s, str):
            s = str(s)
        room = self.cap - self.size
        if room > 0:
            self.parts.append(s[:room])
            self.size += min(len(s), room)
        if len(s) > room:
            self.dropped += len(s) - max(room, 0)
        return len(s)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def text(self) -> str:
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n...[{self.dropped} more characters not kept]"
        return out


class Capture:
    """Route sys.stdout/sys.stderr into one capped buffer for a cell or a probe."""

    def __init__(self, cap: int):
        self.buf = CappedWriter(cap)

    def __enter__(self) -> CappedWriter:
        self.saved = (sys.stdout, sys.stderr)
        sys.stdout = self.buf
        sys.stderr = self.buf
        return self.buf

    def __exit__(self, *exc: Any) -> None:
        sys.stdout, sys.stderr = self.saved


class SandboxShell(InteractiveShell):
    """InteractiveShell with the grader's escape and magic policy."""

    def init_sandbox(self) -> None:
        self.blocked: list[str] = []
        self.cell_notes: list[str] = []
        self.current_cell_label = ""

    # GUI event loops: nothing to integrate with (makes %matplotlib inline harmless)
    def enable_gui(self, gui: Any = None) -> None:
        return None

    def _block(self, what: str) -> None:
        text = f"blocked: {what}"
        if len(text) > 200:
            text = text[:197] + "..."
        self.cell_notes.append(text)
        label = self.current_cell_label
        self.blocked.append(f"{label}: {text}" if label else text)

    def system(self, cmd: Any) -> None:
        self._block(f"!{cmd}")
        return None

    system_piped = system_raw = system

    def system_raise_on_error(self, cmd: Any) -> None:
        self._block(f"!{cmd}")

    def getoutput(self, cmd: Any, split: bool = True, depth: int = 0) -> Any:
        self._block(f"!{cmd}")
        return SList() if split else ""

    def run_line_magic(self, magic_name: str, line: str, _stack_depth: int = 1) -> Any:
        if magic_name in IGNORED_LINE_MAGICS:
            self.cell_notes.append(f"ignored: %{magic_name} {line}".rstrip())
            return None
        if magic_name not in RUN_LINE_MAGICS:
            self._block(f"%{magic_name} {line}".rstrip())
            return None
        if magic_name == "timeit":
            line = "-n1 -r1 " + re.sub(r"(^|\s)-[nr]\s*\d+", " ", line).strip()
        return super().run_line_magic(magic_name, line, _stack_depth=_stack_depth + 1)

    def run_cell_magic(self, magic_name: str, line: str, cell: str) -> Any:
        if magic_name in IGNORED_CELL_MAGICS:
            self.cell_notes.append(f"ignored: %%{magic_name}")
            return None
        if magic_name not in RUN_CELL_MAGICS:
            first = cell.strip().splitlines()[0] if cell.strip() else ""
            self._block(f"%%{magic_name} {line} {first}".strip())
            return None
        if magic_name == "timeit":
            line = "-n1 -r1 " + re.sub(r"(^|\s)-[nr]\s*\d+", " ", line).strip()
        return super().run_cell_magic(magic_name, line, cell)

    # errors are recorded by the harness, not printed
    def showtraceback(self, *args: Any, **kwargs: Any) -> None:
        return None

    def showsyntaxerror(self, *args: Any, **kwargs: Any) -> None:
        return None

    def showindentationerror(self) -> None:
        return None


def make_shell() -> SandboxShell:
    """Create the shell once in the server (history off, no colours); children inherit it."""
    from traitlets.config import Config

    cfg = Config()
    cfg.HistoryManager.enabled = False
    cfg.HistoryManager.hist_file = ":memory:"
    cfg.InteractiveShell.colors = "nocolor"
    cfg.InteractiveShell.autocall = 0
    cfg.InteractiveShell.automagic = True
    cfg.InteractiveShell.xmode = "Plain"
    shell = SandboxShell.instance(config=cfg)
    shell.init_sandbox()
    return shell
