"""Stand-ins installed in the sandbox child so notebooks written for Colab/Jupyter+GPU run
here. Every stand-in that student code actually touches is recorded (``Recorder``) and
listed in ``NotebookRun.shims_used``.

- ``google.colab`` (``drive.mount`` no-op, ``files.upload`` -> {}, ``files.download`` no-op,
  ``output.*`` no-ops), importable even though no ``google`` package is installed.
- ``tqdm.notebook`` / ``tqdm.auto`` / ``tqdm.autonotebook`` -> the plain console tqdm.
- matplotlib stays on Agg; ``plt.show()`` is a no-op, ``matplotlib.use()`` is ignored;
  figures are closed after every cell (as Jupyter's inline backend does).
- NumPy 2 removed names (``np.unicode_`` -> ``np.str_``, ``np.float_`` -> ``np.float64``...)
  come back through numpy's module ``__getattr__``, recorded when used.
- Import stand-ins: a module from ``Shims.stand_ins`` whose real import fails (and one from
  ``forced_stand_ins`` always) imports as a stand-in: any attribute chain works
  (``from torchvision import transforms``; ``transforms.Compose``), and calling anything
  raises :class:`StandInError` naming the module.
- ``cuda_to_cpu``: see :func:`install_cuda_to_cpu`.
- Guards: ``os._exit``/``os.abort`` raise :class:`StudentExit` instead of ending the child.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
from typing import Any, Callable, Iterable


class StandInError(RuntimeError):
    """Raised when student code uses a module that only exists here as an import stand-in."""


class StudentExit(SystemExit):
    """Student code called os._exit / os.abort; the grader keeps going."""


class Recorder:
    def __init__(self) -> None:
        self.used: list[str] = []

    def add(self, text: str) -> None:
        if text not in self.used and len(self.used) < 200:
            self.used.append(text)


RECORDER = Recorder()


# ---------------------------------------------------------------------------------------
# import stand-ins


class _StandInBase:
    _stand_in_name = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise StandInError(_standin_message(self._stand_in_name))


def _standin_message(name: str) -> str:
    top = name.split(".")[0]
    return (f"{name} is not available in the grader: {top!r} cannot be imported here, so it was replaced "
            f"by an import stand-in (imports work, using it does not)")


class StandIn:
    """Any attribute of a stand-in module: attribute chains work, use raises."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return StandIn(f"{object.__getattribute__(self, '_name')}.{attr}")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        name = object.__getattribute__(self, "_name")
        RECORDER.add(f"stand-in used: {name}")
        raise StandInError(_standin_message(name))

    def __mro_entries__(self, bases: tuple) -> tuple:
        name = object.__getattribute__(self, "_name")
        return (type(f"StandIn_{name.replace('.', '_')}", (_StandInBase,), {"_stand_in_name": name}),)

    def __repr__(self) -> str:
        return f"<stand-in {object.__getattribute__(self, '_name')}>"

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        self.__call__()

    __iter__ = __len__ = __getitem__ = __enter__ = _fail


class StandInModule(types.ModuleType):
    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return StandIn(f"{self.__name__}.{attr}")


class _Loader(importlib.abc.Loader):
    def __init__(self, build: Callable[[str], types.ModuleType]):
        self.build = build

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self.build(spec.name)

    def exec_module(self, module: types.ModuleType) -> None:
        return None


def _spec(name: str, build: Callable[[str], types.ModuleType], package: bool = True) -> importlib.machinery.ModuleSpec:
    return importlib.machinery.ModuleSpec(name, _Loader(build), is_package=package)


def _build_standin(name: str) -> types.ModuleType:
    RECORDER.add(f"import stand-in: {name.split('.')[0]}")
    mod = StandInModule(name)
    mod.__path__ = []  # a package: submodule imports come back here
    mod.__file__ = None
    mod.__all__ = []
    return mod


class FrontFinder(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: colab/tqdm shims and forced stand-ins."""

    def __init__(self, shims: dict[str, Any]):
        self.colab = shims.get("colab", True)
        self.tqdm = shims.get("tqdm_plain", True)
        self.forced = tuple(shims.get("forced_stand_ins", ()))

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        top = fullname.split(".")[0]
        if self.colab and fullname == "google":
            if importlib.machinery.PathFinder.find_spec("google") is not None:
                return None
            return _spec("google", _build_google)
        if self.colab and (fullname == "google.colab" or fullname.startswith("google.colab.")):
            return _spec(fullname, _build_colab)
        if self.tqdm and fullname in ("tqdm.notebook", "tqdm.auto", "tqdm.autonotebook"):
            return _spec(fullname, _build_tqdm, package=False)
        if top in self.forced:
            return _spec(fullname, _build_standin)
        return None


class BackFinder(importlib.abc.MetaPathFinder):
    """Last on sys.meta_path: stand-ins for listed modules whose real import failed."""

    def __init__(self, names: Iterable[str]):
        self.names = set(names)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname in self.names or fullname.split(".")[0] in self.names:
            return _spec(fullname, _build_standin)
        return None


def _build_google(name: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__path__ = []
    return mod


def _noop_factory(label: str, result: Any = None) -> Callable[..., Any]:
    def noop(*args: Any, **kwargs: Any) -> Any:
        shown = ", ".join([repr(a) for a in args][:2])
        RECORDER.add(f"google.colab: {label}({shown}) ignored")
        return result() if callable(result) else result

    noop.__name__ = label.split(".")[-1]
    return noop


COLAB_SUBMODULES = ("drive", "files", "output", "patches", "userdata")


def _build_colab(name: str) -> types.ModuleType:
    RECORDER.add("google.colab shim imported")
    mod = StandInModule(name)
    mod.__path__ = []
    mod.__file__ = None
    if name == "google.colab":
        import google  # the real namespace package or ours

        google.colab = mod  # type: ignore[attr-defined]
        # real submodules up front: `from google.colab import drive` looks at attributes first
        for sub_name in COLAB_SUBMODULES:
            full = f"{name}.{sub_name}"
            if full not in sys.modules:
                sub_mod = _build_colab(full)
                sub_mod.__spec__ = _spec(full, _build_colab)
                sys.modules[full] = sub_mod
            setattr(mod, sub_name, sys.modules[full])
        return mod
    sub = name.split(".")[-1]
    if name == "google.colab.drive":
        mod.mount = _noop_factory("drive.mount")
        mod.flush_and_unmount = _noop_factory("drive.flush_and_unmount")
    elif name == "google.colab.files":
        mod.upload = _noop_factory("files.upload", dict)
        mod.download = _noop_factory("files.download")
    elif name == "google.colab.output":
        for fn in ("clear", "enable_custom_widget_manager", "disable_custom_widget_manager", "eval_js",
                   "register_callback", "no_vertical_scroll", "serve_kernel_port_as_window"):
            setattr(mod, fn, _noop_factory(f"output.{fn}"))
    elif name == "google.colab.patches":
        mod.cv2_imshow = _noop_factory("patches.cv2_imshow")
    elif name == "google.colab.userdata":
        mod.get = _noop_factory("userdata.get")
    if sub != "colab":
        parent = sys.modules.get("google.colab")
        if parent is not None:
            setattr(parent, sub, mod)
    return mod


def _build_tqdm(name: str) -> types.ModuleType:
    RECORDER.add(f"{name} -> plain tqdm")
    import tqdm.std as std

    mod = types.ModuleType(name)
    mod.tqdm = std.tqdm
    mod.trange = std.trange
    mod.tnrange = std.trange
    mod.tqdm_notebook = std.tqdm
    mod.__all__ = ["tqdm", "trange"]
    return mod


def install_import_shims(shims: dict[str, Any]) -> None:
    if shims.get("tqdm_plain", True):
        import tqdm as tqdm_pkg

        for n in ("tqdm.notebook", "tqdm.auto", "tqdm.autonotebook"):
            sys.modules.pop(n, None)
            short = n.split(".")[1]
            if short in tqdm_pkg.__dict__:
                delattr(tqdm_pkg, short)
        if "tqdm_notebook" in tqdm_pkg.__dict__:
            tqdm_pkg.tqdm_notebook = tqdm_pkg.tqdm
    forced = set(shims.get("forced_stand_ins", ()))
    for n in list(sys.modules):
        if n.split(".")[0] in forced:
            del sys.modules[n]
    sys.meta_path.insert(0, FrontFinder(shims))
    back = [n for n in shims.get("stand_ins", ()) if n.split(".")[0] not in forced]
    if back:
        sys.meta_path.append(BackFinder(back))


# ---------------------------------------------------------------------------------------
# numpy aliases

NUMPY_ALIASES: dict[str, str] = {
    "unicode_": "str_", "string_": "bytes_", "float_": "float64", "complex_": "complex128",
    "cfloat": "complex128", "longfloat": "longdouble", "singlecomplex": "complex64",
    "clongfloat": "clongdouble", "longcomplex": "clongdouble", "int0": "intp", "uint0": "uintp",
    "bool8": "bool_", "object0": "object_", "str0": "str_", "bytes0": "bytes_", "void0": "void",
    "NaN": "nan", "NAN": "nan", "Inf": "inf", "Infinity": "inf", "infty": "inf", "PINF": "inf",
    "product": "prod", "cumproduct": "cumprod", "sometrue": "any", "alltrue": "all", "round_": "round",
    "asfarray": None, "NINF": None, "NZERO": None, "PZERO": None, "float": None, "int": None,
    "object": None, "str": None, "long": None, "unicode": None,
}


def install_numpy_aliases() -> None:
    import numpy as np

    original = np.__dict__.get("__getattr__")
    extra: dict[str, Any] = {
        "asfarray": lambda a, dtype=np.float64: np.asarray(a, dtype=dtype if np.dtype(dtype).kind in "fc" else np.float64),
        "NINF": -np.inf, "NZERO": -0.0, "PZERO": 0.0, "float": float, "int": int, "object": object,
        "str": str, "long": int, "unicode": str,
    }

    def __getattr__(attr: str) -> Any:
        if attr in NUMPY_ALIASES:
            target = NUMPY_ALIASES[attr]
            try:
                value = extra[attr] if target is None else np.__dict__.get(target, getattr(np, target))
            except AttributeError:
                value = None
            if value is not None:
                RECORDER.add(f"numpy alias np.{attr} (removed in NumPy 2)")
                return value
        if original is not None:
            return original(attr)
        raise AttributeError(f"module 'numpy' has no attribute {attr!r}")

    np.__getattr__ = __getattr__  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# matplotlib


def install_matplotlib() -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    def show(*args: Any, **kwargs: Any) -> None:
        return None

    def use(backend: Any, *args: Any, **kwargs: Any) -> None:
        if str(backend).lower() != "agg":
            RECORDER.add(f"matplotlib.use({backend!r}) ignored (Agg)")

    plt.show = show
    matplotlib.use = use


def close_figures() -> None:
    try:
        import matplotlib.pyplot as plt

        plt.close("all")
    except Exception:  # noqa: BLE001 - student may have broken pyplot
        pass


# ---------------------------------------------------------------------------------------
# cuda -> cpu


def install_cuda_to_cpu() -> None:
    """Make CUDA-minded code run on the CPU. ``torch.cuda.is_available()`` stays False.

    Patched: ``Tensor.cuda``/``Module.cuda`` (return the CPU object), ``Tensor.to``/
    ``Module.to`` (a cuda device becomes cpu), ``torch.device('cuda')`` (gives cpu, and
    ``isinstance(x, torch.device)`` still works), factory functions (``torch.zeros`` ...
    ``device='cuda'``), ``Tensor.new_*``, ``Tensor.pin_memory``, ``torch.load`` (default
    ``map_location='cpu'``), ``torch.cuda.synchronize``/``empty_cache`` (no-ops).
    """
    import torch
    import torch.nn as nn

    real_device = torch.device

    def is_cuda(d: Any) -> bool:
        if isinstance(d, str):
            return d.strip().lower().startswith("cuda")
        if type(d) is real_device:
            return d.type == "cuda"
        return False

    def fix(d: Any, what: str) -> Any:
        if is_cuda(d):
            RECORDER.add(f"cuda_to_cpu: {what}")
            return real_device("cpu")
        return d

    class _DeviceMeta(type):
        def __instancecheck__(cls, obj: Any) -> bool:
            return isinstance(obj, real_device)

        def __subclasscheck__(cls, sub: Any) -> bool:
            return issubclass(sub, real_device)

    class device(metaclass=_DeviceMeta):  # noqa: N801 - mirrors torch.device
        def __new__(cls, *args: Any, **kwargs: Any) -> Any:
            if args and is_cuda(args[0]):
                RECORDER.add("cuda_to_cpu: torch.device('cuda')")
                return real_device("cpu")
            if kwargs.get("type") and is_cuda(kwargs["type"]):
                RECORDER.add("cuda_to_cpu: torch.device('cuda')")
                return real_device("cpu")
            return real_device(*args, **kwargs)

    device.__module__ = "torch"
    device.__qualname__ = device.__name__ = "device"
    torch.device = device  # type: ignore[misc]

    t_to = torch.Tensor.to
    m_to = nn.Module.to

    def fix_to_args(args: tuple, kwargs: dict, what: str) -> tuple[tuple, dict]:
        if args:
            a0 = args[0]
            if is_cuda(a0) or (type(a0) is int and not isinstance(a0, bool)):
                if type(a0) is int:
                    RECORDER.add(f"cuda_to_cpu: {what}")
                args = (real_device("cpu") if type(a0) is int else fix(a0, what),) + tuple(args[1:])
        if "device" in kwargs:
            kwargs = dict(kwargs)
            kwargs["device"] = fix(kwargs["device"], what)
        return args, kwargs

    def tensor_to(self: Any, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = fix_to_args(args, kwargs, ".to('cuda')")
        return t_to(self, *args, **kwargs)

    def module_to(self: Any, *args: Any, **kwargs: Any) -> Any:
        args, kwargs = fix_to_args(args, kwargs, "module.to('cuda')")
        return m_to(self, *args, **kwargs)

    def tensor_cuda(self: Any, *args: Any, **kwargs: Any) -> Any:
        RECORDER.add("cuda_to_cpu: .cuda()")
        return self

    def module_cuda(self: Any, *args: Any, **kwargs: Any) -> Any:
        RECORDER.add("cuda_to_cpu: module.cuda()")
        return self

    def pin_memory(self: Any, *args: Any, **kwargs: Any) -> Any:
        return self

    torch.Tensor.to = tensor_to
    torch.Tensor.cuda = tensor_cuda
    torch.Tensor.pin_memory = pin_memory
    nn.Module.to = module_to
    nn.Module.cuda = module_cuda

    def wrap_factory(owner: Any, name: str) -> None:
        fn = getattr(owner, name, None)
        if fn is None:
            return

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if "device" in kwargs:
                kwargs["device"] = fix(kwargs["device"], f"{name}(device='cuda')")
            return fn(*args, **kwargs)

        wrapped.__name__ = name
        wrapped.__qualname__ = name
        wrapped.__doc__ = getattr(fn, "__doc__", None)
        setattr(owner, name, wrapped)

    for name in ("tensor", "as_tensor", "zeros", "ones", "empty", "full", "rand", "randn", "randint",
                 "randperm", "arange", "range", "linspace", "logspace", "eye", "zeros_like", "ones_like",
                 "empty_like", "full_like", "rand_like", "randn_like", "randint_like", "normal",
                 "tril_indices", "triu_indices", "scalar_tensor", "sparse_coo_tensor"):
        wrap_factory(torch, name)
    for name in ("new_zeros", "new_ones", "new_empty", "new_full", "new_tensor"):
        wrap_factory(torch.Tensor, name)

    real_load = torch.load

    def load(*args: Any, **kwargs: Any) -> Any:
        if "map_location" not in kwargs and len(args) < 2:
            kwargs["map_location"] = "cpu"
        elif "map_location" in kwargs and is_cuda(kwargs["map_location"]):
            kwargs["map_location"] = "cpu"
        return real_load(*args, **kwargs)

    torch.load = load
    torch.cuda.synchronize = lambda *a, **k: None
    torch.cuda.empty_cache = lambda *a, **k: None


# ---------------------------------------------------------------------------------------
# guards


def install_exit_guards(real_exit: Callable[[int], Any]) -> None:
    import posix

    def _exit(code: int = 0, *args: Any) -> Any:
        raise StudentExit(f"os._exit({code!r}) was called")

    def abort() -> Any:
        raise StudentExit("os.abort() was called")

    os._exit = _exit
    posix._exit = _exit
    os.abort = abort
    posix.abort = abort


def install(shims: dict[str, Any], real_exit: Callable[[int], Any]) -> None:
    install_exit_guards(real_exit)
    install_matplotlib()
    install_import_shims(shims)
    if shims.get("numpy_aliases", True):
        install_numpy_aliases()
    if shims.get("cuda_to_cpu", True):
        install_cuda_to_cpu()
