"""``definitions`` mode: keep only the statements of a cell that define things.

A cell is first put through IPython's input transformer (``shell.transform_cell``: magics
and ``!`` escapes become ``get_ipython()...`` calls), then parsed; each top-level
statement is kept or skipped:

kept
  - ``import`` / ``from ... import``;
  - ``def`` / ``async def`` / ``class`` (decorators and default values included);
  - assignments (``=``, annotated, augmented) to names, tuples of names, attributes or
    subscripts of names (``plt.rcParams['x'] = ...``) whose value is *simple*;
  - expression statements that are docstrings, allowlisted calls
    (``torch.manual_seed(0)``, ``warnings.filterwarnings(...)``) or IPython calls:
    line magics other than ``%time``/``%timeit`` (the shell policy then ignores or blocks
    them), shell escapes (so they are recorded as blocked), and cell magics (``%%time``,
    ``%%timeit``, ``%%capture``: their body is filtered the same way; others as they are);
  - ``if``/``try`` whose tests are simple and whose bodies contain only kept statements
    (``try: import google.colab ... except ImportError: ...``); ``pass``.

simple value
  literals; names; attribute chains; tuples/lists/sets/dicts, operators, comparisons,
  ``x if c else y``, subscripts, f-strings and comprehensions of simple values; lambdas;
  calls of allowlisted functions with simple arguments: builtins such as ``int``, ``len``,
  ``range``, ``list``, ``dict``; ``torch.device``, ``torch.cuda.is_available``,
  ``torch.tensor``/``zeros``/``ones``/``arange``/``linspace``/``eye``/``full``,
  ``np.array``/``zeros``/``ones``/``arange``/``linspace``, any ``nn.X(...)`` /
  ``torch.nn.X(...)`` (layers, ``nn.CrossEntropyLoss()``, ``nn.Sequential(...)``),
  ``os.path.join``, ``os.environ.get``, ``math.*``, ``string.*``.

skipped
  everything else: loops, ``with``, calls of the student's own functions and classes
  (``model = CNN()``, ``train(model)``), optimizers built from a model, data loaders,
  downloads, ``print``/plots, ``%time stmt``.

Names are matched as written (``torch.``, ``nn.``, ``np.``/``numpy.``); an alias the
student invented (``import torch as T``) is simply not allowlisted.

Known names: an expression (assignment value, ``if`` test, call argument) may only use
names that exist when it runs, i.e. the namespace left by earlier cells (``known``),
builtins, and names bound by statements kept earlier in the same cell. So
``elapsed = end_time - start_time`` is skipped when ``end_time`` came from a skipped
training statement, instead of failing with a NameError.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from typing import Callable

ALLOWED_CALLS = {
    # builtins
    "int", "float", "str", "bool", "len", "range", "list", "tuple", "dict", "set", "frozenset",
    "min", "max", "sum", "abs", "round", "sorted", "enumerate", "zip", "chr", "ord", "complex",
    "bytes", "reversed", "map", "filter", "isinstance", "getattr", "hasattr", "pow", "divmod",
    # torch
    "torch.device", "torch.cuda.is_available", "torch.backends.mps.is_available", "torch.manual_seed",
    "torch.cuda.manual_seed", "torch.cuda.manual_seed_all", "torch.set_default_dtype",
    "torch.set_printoptions", "torch.use_deterministic_algorithms", "torch.tensor", "torch.zeros",
    "torch.ones", "torch.arange", "torch.linspace", "torch.eye", "torch.full", "torch.as_tensor",
    "torch.Generator", "torch.get_default_dtype", "torch.cuda.device_count", "torch.finfo", "torch.iinfo",
    # numpy
    "np.array", "np.zeros", "np.ones", "np.arange", "np.linspace", "np.eye", "np.full", "np.asarray",
    "np.random.seed", "np.random.default_rng", "np.set_printoptions", "np.dtype", "np.finfo", "np.iinfo",
    "numpy.array", "numpy.zeros", "numpy.ones", "numpy.arange", "numpy.linspace", "numpy.random.seed",
    # stdlib
    "random.seed", "warnings.filterwarnings", "warnings.simplefilter", "os.path.join", "os.environ.get",
    "os.getenv", "os.path.exists", "os.path.isdir", "os.path.isfile", "os.path.basename",
    "os.path.dirname", "collections.namedtuple", "collections.OrderedDict", "collections.defaultdict",
    "typing.NamedTuple", "typing.TypeVar", "functools.partial", "itertools.product", "itertools.chain",
    "string.ascii_lowercase.index", "dataclasses.field", "plt.style.use", "matplotlib.rcParams.update",
    "plt.rcParams.update", "plt.rc", "matplotlib.rc", "logging.getLogger", "logging.basicConfig",
}
ALLOWED_PREFIXES = ("nn.", "torch.nn.", "math.", "string.", "torch.float", "torch.int", "np.float", "np.int")
TIMING_LINE_MAGICS = {"time", "timeit", "prun", "capture"}
FILTERED_CELL_MAGICS = {"time", "timeit", "capture", "prun"}


_BUILTINS = set(dir(builtins)) | {"get_ipython", "__name__", "__file__", "In", "Out", "display", "exit", "quit"}


@dataclass
class FilterResult:
    source: str  # what to run ("" when nothing is kept)
    kept: int = 0
    skipped: int = 0
    skipped_what: list[str] = field(default_factory=list)


def dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _is_ipython_call(node: ast.AST) -> str | None:
    """'run_line_magic' / 'run_cell_magic' / 'system' / 'getoutput' for get_ipython().X(...)"""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        inner = node.func.value
        if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id == "get_ipython"
                and not inner.args):
            return node.func.attr
    return None


def _call_allowed(node: ast.Call) -> bool:
    name = dotted(node.func)
    if name is None:
        return False
    if name in ALLOWED_CALLS or name.startswith(ALLOWED_PREFIXES):
        return simple(node.func) and all(simple(a) for a in node.args) and all(simple(k.value) for k in node.keywords)
    return False


class _Names:
    known: "set[str] | None" = None  # None: do not check names


def simple(node: ast.AST | None) -> bool:
    if node is None:
        return True
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name):
        return _Names.known is None or node.id in _Names.known
    if isinstance(node, ast.Attribute):
        return simple(node.value)
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return all(simple(e) for e in node.elts)
    if isinstance(node, ast.Starred):
        return simple(node.value)
    if isinstance(node, ast.Dict):
        return all(simple(k) for k in node.keys if k is not None) and all(simple(v) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return simple(node.operand)
    if isinstance(node, ast.BinOp):
        return simple(node.left) and simple(node.right)
    if isinstance(node, ast.BoolOp):
        return all(simple(v) for v in node.values)
    if isinstance(node, ast.Compare):
        return simple(node.left) and all(simple(c) for c in node.comparators)
    if isinstance(node, ast.IfExp):
        return simple(node.test) and simple(node.body) and simple(node.orelse)
    if isinstance(node, ast.Subscript):
        return simple(node.value) and simple(node.slice)
    if isinstance(node, ast.Slice):
        return simple(node.lower) and simple(node.upper) and simple(node.step)
    if isinstance(node, ast.JoinedStr):
        return all(simple(v) for v in node.values)
    if isinstance(node, ast.FormattedValue):
        return simple(node.value) and simple(node.format_spec)
    if isinstance(node, ast.Lambda):
        return all(simple(d) for d in node.args.defaults + [d for d in node.args.kw_defaults if d is not None])
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        if not all(simple(g.iter) for g in node.generators[:1]):
            return False
        with _also_known(_comp_targets(node)):
            if isinstance(node, ast.DictComp):
                return simple(node.key) and simple(node.value) and all(_comp_ok(g) for g in node.generators)
            return simple(node.elt) and all(_comp_ok(g) for g in node.generators)
    if isinstance(node, ast.Call):
        return _call_allowed(node)
    return False


def _comp_ok(g: ast.comprehension) -> bool:
    return simple(g.iter) and all(simple(i) for i in g.ifs) and not g.is_async


def _comp_targets(node: ast.AST) -> set[str]:
    out: set[str] = set()
    for g in getattr(node, "generators", []):
        out |= bound_names(g.target)
    return out


class _also_known:
    def __init__(self, names: set[str]):
        self.names = names

    def __enter__(self) -> None:
        self.saved = _Names.known
        if _Names.known is not None:
            _Names.known = _Names.known | self.names

    def __exit__(self, *exc: object) -> None:
        _Names.known = self.saved


def bound_names(node: ast.AST) -> set[str]:
    """Names a target (or a kept statement) binds."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.Tuple, ast.List)):
        out: set[str] = set()
        for e in node.elts:
            out |= bound_names(e)
        return out
    if isinstance(node, ast.Starred):
        return bound_names(node.value)
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        out = set()
        for t in node.targets:
            out |= bound_names(t)
        return out
    if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
        return bound_names(node.target)
    if isinstance(node, (ast.If, ast.Try)):
        out = set()
        for field_name in ("body", "orelse", "finalbody"):
            for st in getattr(node, field_name, []) or []:
                out |= bound_names(st)
        for h in getattr(node, "handlers", []) or []:
            if h.name:
                out.add(h.name)
            for st in h.body:
                out |= bound_names(st)
        return out
    return set()


def _target_ok(t: ast.AST) -> bool:
    if isinstance(t, ast.Name):
        return True
    if isinstance(t, (ast.Tuple, ast.List)):
        return all(_target_ok(e) for e in t.elts)
    if isinstance(t, ast.Starred):
        return _target_ok(t.value)
    if isinstance(t, ast.Attribute):
        return dotted(t) is not None and simple(t.value)
    if isinstance(t, ast.Subscript):
        return dotted(t.value) is not None and simple(t.value) and simple(t.slice)
    return False


class _Filter:
    def __init__(self, transform: Callable[[str], str]):
        self.transform = transform
        self.skipped_what: list[str] = []

    def keep(self, stmt: ast.stmt) -> ast.stmt | None:
        """The statement to run (possibly rewritten), or None to skip it."""
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef,
                             ast.Pass)):
            return stmt
        if isinstance(stmt, ast.Assign):
            if _is_ipython_call(stmt.value) == "getoutput":
                return stmt
            if all(_target_ok(t) for t in stmt.targets) and simple(stmt.value):
                return stmt
            return None
        if isinstance(stmt, ast.AnnAssign):
            return stmt if _target_ok(stmt.target) and simple(stmt.value) else None
        if isinstance(stmt, ast.AugAssign):
            return stmt if _target_ok(stmt.target) and simple(stmt.value) else None
        if isinstance(stmt, ast.Expr):
            return self.keep_expr(stmt)
        if isinstance(stmt, ast.If):
            if simple(stmt.test) and self.all_kept(stmt.body) and self.all_kept(stmt.orelse):
                return stmt
            return None
        if isinstance(stmt, ast.Try):
            handlers_ok = True
            for h in stmt.handlers:
                with _also_known({h.name} if h.name else set()):
                    handlers_ok = handlers_ok and simple(h.type) and self.all_kept(h.body)
            if self.all_kept(stmt.body) and handlers_ok and self.all_kept(stmt.orelse) and self.all_kept(stmt.finalbody):
                return stmt
            return None
        return None

    def all_kept(self, body: list[ast.stmt]) -> bool:
        saved = list(self.skipped_what)
        saved_known = _Names.known
        for s in body:
            if self.keep(s) is not s:
                self.skipped_what = saved
                _Names.known = saved_known
                return False
            if _Names.known is not None:
                _Names.known = _Names.known | bound_names(s)
        _Names.known = saved_known
        return True

    def keep_expr(self, stmt: ast.Expr) -> ast.stmt | None:
        v = stmt.value
        if isinstance(v, ast.Constant):
            return stmt
        kind = _is_ipython_call(v)
        if kind in ("system", "getoutput", "system_raw", "system_piped"):
            return stmt  # the shell records it as blocked; it never runs
        if kind == "run_line_magic":
            assert isinstance(v, ast.Call)
            name = v.args[0].value if v.args and isinstance(v.args[0], ast.Constant) else None
            return None if name in TIMING_LINE_MAGICS else stmt
        if kind == "run_cell_magic":
            assert isinstance(v, ast.Call)
            args = v.args
            if len(args) == 3 and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
                name = args[0].value
                if name in FILTERED_CELL_MAGICS:
                    inner = filter_cell(args[2].value, self.transform, _Names.known)
                    self.skipped_what.extend(inner.skipped_what)
                    if not inner.source.strip():
                        return None
                    new = ast.Expr(ast.Call(func=v.func, args=[args[0], args[1], ast.Constant(inner.source)],
                                            keywords=[]))
                    return ast.copy_location(new, stmt)
                return stmt
            return None
        if isinstance(v, ast.Call) and _call_allowed(v):
            return stmt
        return None


def _describe(stmt: ast.stmt) -> str:
    try:
        text = ast.unparse(stmt).splitlines()[0]
    except Exception:  # noqa: BLE001 - description only
        text = type(stmt).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def filter_cell(source: str, transform: Callable[[str], str], known: "set[str] | None" = None) -> FilterResult:
    """Filter one cell's source (raises SyntaxError when the cell does not parse).

    `known`: names defined before this cell (the live namespace; builtins are added);
    None turns the name check off."""
    code = transform(source)
    tree = ast.parse(code)
    filt = _Filter(transform)
    kept: list[ast.stmt] = []
    skipped = 0
    saved = _Names.known
    _Names.known = None if known is None else set(known) | _BUILTINS
    try:
        for stmt in tree.body:
            new = filt.keep(stmt)
            if new is None:
                skipped += 1
                filt.skipped_what.append(_describe(stmt))
            else:
                kept.append(new)
                if _Names.known is not None:
                    _Names.known |= bound_names(stmt)
    finally:
        _Names.known = saved
    if not kept:
        return FilterResult("", 0, skipped, filt.skipped_what)
    if skipped == 0 and all(a is b for a, b in zip(kept, tree.body)):
        return FilterResult(source, len(kept), 0, [])  # run as written: tracebacks match
    module = ast.Module(body=kept, type_ignores=[])
    ast.fix_missing_locations(module)
    return FilterResult(ast.unparse(module) + "\n", len(kept), skipped, filt.skipped_what)
