"""The numeric settings a grading runs under: which CPU kernels and how many torch threads.

Other machines pick other kernels: torch's own (``ATEN_CPU_CAPABILITY``), oneDNN's
(``ONEDNN_MAX_CPU_ISA``) and MKL's (``MKL_CBWR``). Each changes the last bits of a matmul,
a convolution or an LSTM, so on one machine they stand in for others: a TA reproduces
another machine's run, and calibration checks that no verdict depends on them. The
variables pass from the grader's environment to the sandbox server and its children
(the libraries read them when they load, so the server must start with them), and the
torch thread count (``HW2_GRADER_TORCH_THREADS``, default 1) applies to the children and
to the grader's own judging alike.

Only known values pass (an allowlist per variable): nothing arbitrary reaches the
sandbox's environment, and a typo is a one-line error instead of a silently ignored
setting (torch only warns about an unknown capability and uses the best one).
Deliberately light (no torch import): the sandbox server imports it before torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import UsageError

ENV_TORCH_THREADS = "HW2_GRADER_TORCH_THREADS"
MAX_TORCH_THREADS = 64

# torch compares the exact lower-case strings (aten/src/ATen/native/DispatchStub.cpp);
# a capability the CPU lacks falls back to the best one it has.
_ATEN = ("default", "avx2", "avx512")
# oneDNN's dnnl_cpu_isa names (either case; the library upper-cases them).
_ONEDNN = ("ALL", "DEFAULT", "SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX2_VNNI_2", "AVX512_CORE", "AVX512_CORE_VNNI",
           "AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX512_CORE_AMX_FP16", "AVX10_1_512",
           "AVX10_1_512_AMX", "AVX10_1_512_AMX_FP16", "AVX10_2_512", "AVX10_2_512_AMX_2")
# MKL's conditional numerical reproducibility branches (either case), optionally ",STRICT".
_MKL_BRANCHES = ("AUTO", "COMPATIBLE", "SSE2", "SSE3", "SSSE3", "SSE4_1", "SSE4_2", "AVX", "AVX2", "AVX512",
                 "AVX512_E1", "AVX512_MIC", "AVX512_MIC_E1")
_MKL = _MKL_BRANCHES + tuple(f"{b},STRICT" for b in _MKL_BRANCHES if b not in ("AUTO", "COMPATIBLE"))

KERNEL_VARIABLES: dict[str, tuple[tuple[str, ...], bool]] = {  # name -> (allowed values, case-sensitive)
    "ATEN_CPU_CAPABILITY": (_ATEN, True),
    "ONEDNN_MAX_CPU_ISA": (_ONEDNN, False),
    "MKL_CBWR": (_MKL, False),
}


def _checked(name: str, value: str) -> str:
    allowed, exact = KERNEL_VARIABLES[name]
    ok = value in allowed if exact else value.upper() in allowed
    if not ok:
        shown = ", ".join(allowed if name != "MKL_CBWR" else _MKL_BRANCHES + ("<branch>,STRICT",))
        raise UsageError(f"{name}={value!r} is not a known value (use one of: {shown}; or unset it)")
    return value


def _threads(raw: str | None) -> int:
    if raw is None or raw.strip() == "":
        return 1
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= MAX_TORCH_THREADS:
        raise UsageError(f"{ENV_TORCH_THREADS}={raw!r} must be a whole number from 1 to {MAX_TORCH_THREADS}")
    return int(text)


@dataclass(frozen=True)
class NumericSettings:
    """Kernel variables that are set (validated, as given) and the torch thread count."""

    kernels: tuple[tuple[str, str], ...] = ()
    torch_threads: int = 1

    def env(self) -> dict[str, str]:
        """The variables to put in the sandbox server's environment."""
        return dict(self.kernels)

    def cache_material(self) -> str:
        """What makes runs differ ("" for the defaults, so existing batch caches stay valid)."""
        if not self.kernels and self.torch_threads == 1:
            return ""
        return ";".join([f"{k}={v}" for k, v in self.kernels] + [f"threads={self.torch_threads}"])

    def provenance(self) -> dict[str, Any]:
        """The settings as `--timings` JSON records them (None: not set)."""
        out: dict[str, Any] = {name: None for name in KERNEL_VARIABLES}
        out.update(self.kernels)
        out["torch_threads"] = self.torch_threads
        return out


def from_environ(environ: Mapping[str, str] | None = None) -> NumericSettings:
    """Read and validate the settings; a value outside the allowlist raises `UsageError`."""
    env = os.environ if environ is None else environ
    kernels = tuple((name, _checked(name, env[name])) for name in KERNEL_VARIABLES if env.get(name, "") != "")
    return NumericSettings(kernels=kernels, torch_threads=_threads(env.get(ENV_TORCH_THREADS)))
