"""`integrity`: code the course provided must stay as provided.

Students have rewritten provided test functions to print "tests passed"; a changed model
class or seed line makes the task easier. Three ways to know what "as provided" means,
in this order:

1. **The handout** (`grader --starters DIR`, see grader/starters.py): each named
   definition (or bare call such as `torch.manual_seed`) is compared with the handout's
   definition of the same name as a normalised AST: formatting, comments, quotes and
   docstrings do not count, anything else does, and the report names what changed (the
   method whose body differs and a short diff of the normalised source).
2. **Behaviour** (`behaviour: package.module:Object`, no handout given): the object
   builds probe requests that call the student's provided functions and classes in the
   sandbox and judges the replies against its own re-implementation of the semantics,
   so an unchanged notebook passes whatever the text of the course's code. Statements
   that are facts of the cell text (a seed) stay text checks: `sources: {name: source}`.
3. **Our own sources** (`provided:` / `sources:` only): the text comparison of 1 against
   the registry's canonical sources.
"""

from __future__ import annotations

import ast
import difflib
from typing import Any, Mapping

from ..starters import BEHAVIOUR_MODE_LINE
from ..pysource import clean, dump, top_level_nodes, unparse
from .base import PROBLEM, Context, Reply, Request, Verdict, allowed_keys, check_ref, resolve

KEYS = ("provided", "names", "sources", "behaviour")
BEHAVIOUR_MODE = BEHAVIOUR_MODE_LINE


def behaviour_judge(ref: str) -> Any:
    """The named behaviour object: a class is instantiated (no arguments), an object used as is."""
    impl = resolve(ref)
    return impl() if isinstance(impl, type) else impl


class IntegrityKind:
    name = "integrity"
    needs_sandbox = False  # by default; `uses_sandbox` says per check (behaviour mode runs student code)

    def validate(self, params: Mapping[str, Any]) -> list[PROBLEM]:
        problems: list[PROBLEM] = []
        allowed_keys(params, KEYS, problems)
        if not any(k in params for k in ("provided", "sources", "behaviour", "names")):
            problems.append(("provided", "say what the provided code is",
                             "`names: [...]` (compared with the handout given with --starters) with `behaviour: "
                             "package.module:Object`, or `provided: package.module:function` / `sources:`"))
        for key in ("provided", "behaviour"):
            if key in params:
                check_ref(params, key, problems)
        names = params.get("names")
        if names is not None and (not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names)):
            problems.append(("names", "expected a list of names", "e.g. `names: [test_model, SimpleLSTM]`"))
        sources = params.get("sources")
        if sources is not None and not (isinstance(sources, Mapping) and all(isinstance(v, str) for v in sources.values())):
            problems.append(("sources", "expected a mapping of name to source text", "e.g. `sources: {torch.manual_seed: "
                                                                                      "\"torch.manual_seed(1)\"}`"))
        return problems

    # ----------------------------------------------------------------- which mode

    @staticmethod
    def mode(check: Any, ctx: Context) -> str:
        if ctx.starters is not None:
            return "handout"
        return "behaviour" if "behaviour" in check.params else "sources"

    def uses_sandbox(self, check: Any, ctx: Context) -> bool:
        return self.mode(check, ctx) == "behaviour"

    def canonical(self, check: Any) -> dict[str, str]:
        """Our own canonical sources (`provided:` and `sources:`), restricted to `names` when given."""
        p = check.params
        sources: dict[str, str] = {}
        if "provided" in p:
            sources.update(resolve(p["provided"])().get(check.notebook, {}))
        sources.update(dict(p.get("sources") or {}))
        names = p.get("names")
        if names and "behaviour" not in p:
            return {n: sources[n] for n in names if n in sources}
        return sources

    def names(self, check: Any) -> list[str]:
        """The provided names this check is about (what the handout must define)."""
        names = list(check.params.get("names") or ())
        if not names and ("provided" in check.params or "sources" in check.params):
            names = list(self.canonical(check))
        return names

    # ----------------------------------------------------------------- requests and judging

    def requests(self, check: Any, ctx: Context) -> dict[str, Request]:
        if self.mode(check, ctx) != "behaviour":
            return {}
        return behaviour_judge(check.params["behaviour"]).requests(check, ctx)

    def judge(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict:
        mode = self.mode(check, ctx)
        if mode == "handout":
            return self._judge_handout(check, ctx)
        if mode == "behaviour":
            return self._judge_behaviour(check, replies, ctx)
        return self._judge_sources(check, ctx)

    def _judge_handout(self, check: Any, ctx: Context) -> Verdict:
        starters = ctx.starters
        cells = starters.cells(check.notebook)
        names = self.names(check)
        if cells is None:
            return Verdict(0.0, f"usage error: the handout {starters.folder} has no `{check.notebook}`", "error")
        handout = top_level_nodes(cells)
        absent = [n for n in names if n not in handout]
        if absent:
            return Verdict(0.0, f"usage error: the handout's `{check.notebook}` defines no "
                                f"{', '.join(f'`{n}`' for n in absent)}", "error")
        student = top_level_nodes(ctx.notebook.cell_sources)
        return _text_verdict({n: handout[n] for n in names}, student,
                             f"provided code compared with the handout in {starters.folder}")

    def _judge_sources(self, check: Any, ctx: Context) -> Verdict:
        if "provided" not in check.params and "sources" not in check.params:
            return Verdict(0.0, "not judged: this check compares with the course's handout (--starters DIR)", "skipped")
        canonical = self.canonical(check)
        missing_ref = [n for n in (check.params.get("names") or ()) if n not in canonical]
        if missing_ref:
            return Verdict(0.0, f"registry error: no provided source for {', '.join(missing_ref)}", "error")
        wanted = {n: _only_statement(n, s) for n, s in canonical.items()}
        return _text_verdict(wanted, top_level_nodes(ctx.notebook.cell_sources), "provided code")

    def _judge_behaviour(self, check: Any, replies: Mapping[str, Reply], ctx: Context) -> Verdict:
        verdict = behaviour_judge(check.params["behaviour"]).judge(check, replies, ctx)
        sources = dict(check.params.get("sources") or {})
        text = _text_verdict({n: _only_statement(n, s) for n, s in sources.items()},
                             top_level_nodes(ctx.notebook.cell_sources), "") if sources else None
        if text is None:
            return Verdict(verdict.fraction, f"{BEHAVIOUR_MODE}: {verdict.message}", verdict.status, verdict.measure)
        if text.fraction >= 1.0 and verdict.fraction >= 1.0:
            return Verdict(1.0, f"{BEHAVIOUR_MODE}: {verdict.message}; {text.message}")
        problems = [v.message for v in (text, verdict) if v.fraction < 1.0]
        return Verdict(0.0, f"{BEHAVIOUR_MODE}: " + "; ".join(problems),
                       verdict.status if text.fraction >= 1.0 else None)


# --------------------------------------------------------------------------- text comparison


def _only_statement(name: str, source: str) -> ast.stmt:
    nodes = top_level_nodes([source])
    if name in nodes:
        return nodes[name]
    tree = ast.parse(clean(source))
    if len(tree.body) != 1:
        raise ValueError(f"provided source of `{name}` is not one statement defining it")
    return tree.body[0]


def _text_verdict(wanted: Mapping[str, ast.stmt], student: Mapping[str, ast.stmt], mode: str) -> Verdict:
    changed, removed = [], []
    for name, node in wanted.items():
        got = student.get(name)
        want = dump(node)
        if got is None:
            if not any(want == dump(s) for s in student.values()):
                removed.append(name)
        elif dump(got) != want:
            changed.append(describe_change(name, node, got))
    prefix = f"{mode}: " if mode else ""
    if not changed and not removed:
        return Verdict(1.0, f"{prefix}provided code unchanged ({', '.join(wanted)})")
    parts = []
    if changed:
        parts.append("changed: " + "; ".join(changed))
    if removed:
        parts.append("missing: " + ", ".join(f"`{n}`" for n in removed))
    return Verdict(0.0, f"{prefix}provided code must stay as given; " + "; ".join(parts))


def describe_change(name: str, want: ast.stmt, got: ast.stmt) -> str:
    """"`MyDataset` (body of `MyDataset.__iter__` differs: -old +new)": where and what changed."""
    where = _where(name, want, got)
    diff = _short_diff(want, got)
    return f"`{name}` ({where}{': ' + diff if diff else ''})"


def _where(name: str, want: ast.stmt, got: ast.stmt) -> str:
    if type(want) is not type(got):
        return f"`{name}` is now a {type(got).__name__.removesuffix('Def').lower()}"
    if isinstance(want, ast.ClassDef):
        if [dump(b) for b in want.bases] != [dump(b) for b in got.bases]:
            return f"base classes of `{name}` differ"
        mine = {n.name: n for n in want.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        theirs = {n.name: n for n in got.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        gone = [m for m in mine if m not in theirs]
        added = [m for m in theirs if m not in mine]
        if gone:
            return f"method `{name}.{gone[0]}` removed"
        for m, node in mine.items():
            if dump(node) != dump(theirs[m]):
                return _where(f"{name}.{m}", node, theirs[m])
        if added:
            return f"method `{name}.{added[0]}` added"
        return f"class body of `{name}` differs"
    if isinstance(want, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if dump(want.args) != dump(got.args):
            return f"signature of `{name}` differs"
        if [dump(d) for d in want.decorator_list] != [dump(d) for d in got.decorator_list]:
            return f"decorators of `{name}` differ"
        return f"body of `{name}` differs"
    return f"`{name}` differs"


def _short_diff(want: ast.stmt, got: ast.stmt, max_lines: int = 3, width: int = 90) -> str:
    """Up to `max_lines` -/+ lines of the normalised sources (docstrings dropped, unparsed)."""
    a = unparse(want).splitlines()
    b = unparse(got).splitlines()
    lines = [ln for ln in difflib.unified_diff(a, b, lineterm="", n=0)
             if ln[:1] in "-+" and not ln.startswith(("---", "+++"))]
    shown = [(ln[0] + " " + ln[1:].strip())[:width] for ln in lines[:max_lines]]
    more = len(lines) - len(shown)
    return " | ".join(shown) + (f" | (+{more} more)" if more > 0 else "")
