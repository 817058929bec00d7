"""Numeric settings (grader.numerics): the kernel variables and the torch thread count reach
the sandbox child, are recorded as provenance, and only known values pass."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.errors import UsageError
from grader.numerics import ENV_TORCH_THREADS, KERNEL_VARIABLES, NumericSettings, from_environ
from grader.registry import SandboxLimits
from grader.sandbox import ProbeRequest

from .conftest import make_job

# -------------------------------------------------------------------------- validation (no sandbox)


def test_defaults_when_nothing_is_set():
    s = from_environ({})
    assert s == NumericSettings() and s.env() == {} and s.torch_threads == 1
    assert s.cache_material() == ""  # default runs keep their batch cache keys
    assert s.provenance() == {"ATEN_CPU_CAPABILITY": None, "ONEDNN_MAX_CPU_ISA": None, "MKL_CBWR": None,
                              "torch_threads": 1}


def test_known_values_pass_as_given():
    env = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "avx2", "MKL_CBWR": "AVX2,STRICT",
           ENV_TORCH_THREADS: "4", "HOME": "/root"}
    s = from_environ(env)
    assert s.env() == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "avx2", "MKL_CBWR": "AVX2,STRICT"}
    assert s.torch_threads == 4
    assert s.cache_material() != from_environ({"ATEN_CPU_CAPABILITY": "default"}).cache_material() != ""
    assert from_environ({ENV_TORCH_THREADS: "2"}).cache_material() != ""
    assert from_environ({"ATEN_CPU_CAPABILITY": ""}) == NumericSettings()  # empty = unset


@pytest.mark.parametrize("name,value", [
    ("ATEN_CPU_CAPABILITY", "avx3"),
    ("ATEN_CPU_CAPABILITY", "AVX2"),  # torch compares lower-case strings: it would ignore this one
    ("ATEN_CPU_CAPABILITY", "avx2; rm -rf /"),
    ("ONEDNN_MAX_CPU_ISA", "AVX9"),
    ("MKL_CBWR", "COMPATIBLE,STRICT"),
    ("MKL_CBWR", "$(id)"),
])
def test_unknown_kernel_value_is_one_clear_error(name, value):
    with pytest.raises(UsageError) as err:
        from_environ({name: value})
    text = str(err.value)
    assert "\n" not in text and text.startswith(f"{name}={value!r} is not a known value")
    assert KERNEL_VARIABLES[name][0][0] in text  # it lists what would work


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "65"])
def test_bad_thread_count_is_one_clear_error(value):
    with pytest.raises(UsageError, match=f"{ENV_TORCH_THREADS}='{value}' must be a whole number from 1 to 64"):
        from_environ({ENV_TORCH_THREADS: value})


# -------------------------------------------------------------------------- through the sandbox

PROBE_CELL = (
    "import os, torch\n"
    "seen = {'capability': torch.backends.cpu.get_cpu_capability(), 'threads': torch.get_num_threads(),\n"
    "        'env': {k: os.environ.get(k) for k in ('ATEN_CPU_CAPABILITY', 'ONEDNN_MAX_CPU_ISA', 'MKL_CBWR')}}"
)
SETTINGS = {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "COMPATIBLE",
            ENV_TORCH_THREADS: "2"}


@pytest.fixture(scope="module")
def kernel_runner():
    """A runner started under non-default settings (the grader's environment, as a TA sets it)."""
    if os.name != "posix":  # pragma: no cover
        pytest.skip("the sandbox needs Linux")
    from grader.sandbox_runner import open_runner

    import torch

    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        for k, v in SETTINGS.items():
            mp.setenv(k, v)
        with open_runner() as r:
            yield r
    torch.set_num_threads(before)


def test_child_runs_with_the_settings(kernel_runner, tmp_path):
    run = kernel_runner.server.run_notebook(make_job(tmp_path, [PROBE_CELL],
                                                     probes=(ProbeRequest("seen", "value", {"name": "seen"}),)))
    seen = run.replies["seen"].value
    assert seen["capability"] == "DEFAULT"  # torch in the child really picked the default kernels
    assert seen["threads"] == 2
    assert seen["env"] == {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "COMPATIBLE"}
    assert run.protections["cpu_capability"] == "DEFAULT" and run.protections["threads"] == 2


def test_runner_records_the_settings_as_provenance(kernel_runner, tmp_path):
    import torch

    nb = make_job(tmp_path, ["x = 1"]).notebook_path
    kernel_runner.run(Path(nb), tmp_path / "scratch", "full", SandboxLimits(), {})
    prov = kernel_runner.provenance()
    assert prov == {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_CBWR": "COMPATIBLE",
                    "torch_threads": 2, "cpu_capability": "DEFAULT",
                    "grader_cpu_capability": torch.backends.cpu.get_cpu_capability()}
    assert torch.get_num_threads() == 2  # the grader's own judging uses the same thread count


def test_bad_value_stops_before_the_sandbox_starts(monkeypatch):
    from grader.sandbox import SandboxServer
    from grader.sandbox_runner import open_runner

    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "avx1024")
    with pytest.raises(UsageError, match="ATEN_CPU_CAPABILITY='avx1024' is not a known value"):
        with open_runner():
            pass  # pragma: no cover
    with pytest.raises(UsageError, match="avx1024"):  # the client checks too: no way around the allowlist
        SandboxServer().start()


@pytest.mark.parametrize("command", ["grade", "batch"])
def test_cli_says_what_is_wrong_in_one_line(command, tmp_path):
    from click.testing import CliRunner

    from grader.cli import main

    (tmp_path / "abc1234.zip").write_bytes(b"PK\x05\x06" + bytes(18))  # an empty zip: never opened here
    target = tmp_path / "abc1234.zip" if command == "grade" else tmp_path
    result = CliRunner().invoke(main, [command, str(target), "--json"], env={"MKL_CBWR": "FASTEST"})
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [
        "grader: error: MKL_CBWR='FASTEST' is not a known value (use one of: AUTO, COMPATIBLE, SSE2, SSE3, SSSE3, "
        "SSE4_1, SSE4_2, AVX, AVX2, AVX512, AVX512_E1, AVX512_MIC, AVX512_MIC_E1, <branch>,STRICT; or unset it)"]
